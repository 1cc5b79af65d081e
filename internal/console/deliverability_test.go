package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Admins run the deliverability check from the console and read its
// findings (here from a DNS server on loopback: SPF and DMARC published, no
// DKIM key); comms staff get 403 on the page and the action.
func TestDeliverabilityPageIsForAdmins(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	from := env.App.Settings().Meta.SenderAddress
	domain := from[strings.LastIndexByte(from, '@')+1:]
	dns := testkit.NewDNS(t,
		domain+`. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`_dmarc.`+domain+`. 300 IN TXT "v=DMARC1; p=quarantine"`,
	)
	t.Setenv("CRM_DNS_RESOLVER", dns.Addr)

	comms, _ := signedIn(t, env, vocab.RoleComms)
	if a := comms.get("/staff/deliverability"); a.status != http.StatusForbidden {
		t.Errorf("comms GET: HTTP %d, want 403", a.status)
	}
	if a := comms.submit("/staff/", "/staff/deliverability", url.Values{}); a.status != http.StatusForbidden {
		t.Errorf("comms POST: HTTP %d, want 403", a.status)
	}

	admin, _ := signedIn(t, env, vocab.RoleAdmin)
	if a := admin.get("/staff/deliverability"); a.status != http.StatusOK || strings.Contains(a.body, `id="check-spf"`) {
		t.Fatalf("admin GET: HTTP %d; the check must wait for the button", a.status)
	}
	a := admin.submit("/staff/deliverability", "/staff/deliverability", url.Values{})
	if a.status != http.StatusOK {
		t.Fatalf("admin POST: HTTP %d\n%s", a.status, a.body)
	}
	for _, want := range []string{`id="check-spf"`, `status-ok`, `status-fail`, "v=spf1 ip4:192.0.2.0/24 -all", "Gmail"} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the findings lack %q", want)
		}
	}
}
