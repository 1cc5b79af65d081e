package pb_hooks_test

import (
	"encoding/json"
	"strings"
	"testing"

	"supportercrm/internal/doctor"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// TestDoctorCommand runs `doctor` as the binary would against a running
// app: DNS from a loopback server, the one-click POST to the app with a
// link it signed for an already-unsubscribed supporter (answered 200,
// nothing changed), and a failing check (the app URL is http) making the
// command fail.
func TestDoctorCommand(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := testkit.Subscribers(t, env.App, 1)[0]
	sup.Set("status", vocab.StatusUnsubscribed)
	if err := env.App.SaveNoValidate(sup); err != nil {
		t.Fatal(err)
	}
	from := env.App.Settings().Meta.SenderAddress
	domain := from[strings.LastIndexByte(from, '@')+1:]
	dns := testkit.NewDNS(t,
		domain+`. 300 IN TXT "v=spf1 include:_spf.relay.example -all"`,
		`_spf.relay.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 -all"`,
		`_dmarc.`+domain+`. 300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@`+domain+`"`,
	)
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents)
	out, _, err := testkit.RunCommand(t, env.App, "doctor", "--json", "--resolver", dns.Addr)
	if err == nil || !strings.Contains(err.Error(), "some checks failed") {
		t.Errorf("doctor with failing checks: err %v", err)
	}
	var rep doctor.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("doctor --json printed %q: %v", out, err)
	}
	want := map[string]doctor.Status{
		doctor.CheckSPF: doctor.OK, doctor.CheckDMARC: doctor.OK, doctor.CheckOneClick: doctor.OK,
		doctor.CheckDKIM: doctor.Fail, doctor.CheckTLS: doctor.Fail, doctor.CheckBounceMX: doctor.Skipped,
	}
	for id, st := range want {
		if c, ok := rep.Check(id); !ok || c.Status != st {
			t.Errorf("%s: got %+v, want %s", id, c, st)
		}
	}
	if c, _ := rep.Check(doctor.CheckOneClick); !strings.Contains(c.Found, "200") {
		t.Errorf("one-click should have been answered 200 for the unsubscribed supporter: %s", c.Found)
	}
	if testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents) != before {
		t.Error("doctor changed supporters or consents")
	}
	text, _, _ := testkit.RunCommand(t, env.App, "doctor", "--resolver", dns.Addr)
	if !strings.Contains(text, "Gmail needs") || !strings.Contains(text, "one-click unsubscribe") {
		t.Errorf("printed report:\n%s", text)
	}
}
