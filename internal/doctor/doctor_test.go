package doctor_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/doctor"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// world is a compliant charity: zones on a loopback DNS server, the real
// app behind TLS, and an already-unsubscribed supporter to one-click.
type world struct {
	dns    *testkit.DNS
	key    *rsa.PrivateKey
	tls    *httptest.Server
	cfg    doctor.Config
	env    *testkit.Env
	noopID string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	env := testkit.Start(t, testkit.Options{})
	sup := testkit.Subscribers(t, env.App, 1)[0]
	sup.Set("status", vocab.StatusUnsubscribed)
	if err := env.App.SaveNoValidate(sup); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(env.URL)
	srv := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-certificate case's handshake errors
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	w := &world{dns: testkit.NewDNS(t), key: key, tls: srv, env: env, noopID: sup.Id}
	w.dns.Set(t, w.compliant()...)
	w.cfg = doctor.Config{
		FromDomain: "charity.org.uk", DKIMDomain: "charity.org.uk", DKIMSelector: "crm2026", DKIMKey: &key.PublicKey,
		BounceDomain: "bounces.charity.org.uk", AppURL: srv.URL,
		OneClickURL:  srv.URL + "/unsubscribe?token=" + url.QueryEscape(testkit.Signer(t).Sign(tokens.Unsubscribe, sup.Id, time.Hour)),
		OneClickNoop: true,
		Resolver:     w.dns.Addr, RootCAs: roots, Timeout: 5 * time.Second,
	}
	return w
}

// compliant is every record a well-set-up charity publishes.
func (w *world) compliant() []string {
	return []string{
		`charity.org.uk. 300 IN TXT "v=spf1 include:_spf.relay.example -all"`,
		`charity.org.uk. 300 IN TXT "google-site-verification=abc"`,
		`bounces.charity.org.uk. 300 IN TXT "v=spf1 include:_spf.relay.example -all"`,
		`_spf.relay.example. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 a mx ~all"`,
		dkimRecord("crm2026._domainkey.charity.org.uk.", "v=DKIM1; k=rsa; p="+pubKey(w.key)),
		`_dmarc.charity.org.uk. 300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@charity.org.uk"`,
		`bounces.charity.org.uk. 300 IN MX 10 mx.charity.org.uk.`,
		`mx.charity.org.uk. 300 IN A 127.0.0.1`,
	}
}

func pubKey(k *rsa.PrivateKey) string {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

// dkimRecord writes a TXT record in 255-byte strings, as DNS holds long keys.
func dkimRecord(name, value string) string {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, `"`+value[:255]+`"`)
		value = value[255:]
	}
	parts = append(parts, `"`+value+`"`)
	return name + " 300 IN TXT " + strings.Join(parts, " ")
}

// without drops the records that start with prefix and adds extra.
func without(records []string, prefix string, extra ...string) []string {
	out := slices.DeleteFunc(slices.Clone(records), func(r string) bool { return strings.HasPrefix(r, prefix) })
	return append(out, extra...)
}

func TestCompliantDomainPassesEveryCheck(t *testing.T) {
	w := newWorld(t)
	before := testkit.Dump(t, w.env.App, vocab.Supporters, vocab.Consents)
	rep := doctor.Run(context.Background(), w.cfg)
	for _, c := range rep.Checks {
		if c.Status != doctor.OK {
			t.Errorf("%s: %s (%s) %s", c.ID, c.Status, c.Found, c.Advice)
		}
	}
	if len(rep.Checks) != 7 {
		t.Errorf("got %d checks, want 7", len(rep.Checks))
	}
	for _, v := range rep.Verdicts {
		if !v.Ready || len(v.Needs) != 0 || len(v.Watch) == 0 {
			t.Errorf("%s verdict: %+v", v.Provider, v)
		}
	}
	if c, _ := rep.Check(doctor.CheckOneClick); !strings.Contains(c.Found, "200") {
		t.Errorf("one-click: %s", c.Found)
	}
	if c, _ := rep.Check(doctor.CheckDKIM); !strings.Contains(c.Found, "2048 bits") {
		t.Errorf("dkim: %s", c.Found)
	}
	if after := testkit.Dump(t, w.env.App, vocab.Supporters, vocab.Consents); after != before {
		t.Error("the one-click check changed supporters or consents")
	}
	var out strings.Builder
	if err := rep.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[OK  ] SPF record", "Gmail: nothing this check can see.", "Outlook: nothing", "Postmaster Tools"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("printed report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestEachMissingOrWeakRecord breaks one thing at a time in the compliant
// world and checks that exactly that finding, and the providers' verdicts
// that depend on it, say so.
func TestEachMissingOrWeakRecord(t *testing.T) {
	w := newWorld(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const dkimName = "crm2026._domainkey.charity.org.uk."
	const bounceSPF = `bounces.charity.org.uk. 300 IN TXT "v=spf1`
	many := []string{bounceSPF + ` include:a.relay.example include:b.relay.example -all"`}
	for _, sub := range []string{"a", "b"} {
		rec := sub + `.relay.example. 300 IN TXT "v=spf1`
		for i := range 5 {
			rec += " a:h" + string(rune('0'+i)) + ".relay.example"
		}
		many = append(many, rec+` -all"`)
	}
	cases := []struct {
		name     string
		records  func([]string) []string
		config   func(*doctor.Config)
		check    string
		status   doctor.Status
		advice   string
		unready  []string // providers whose verdict must now need something
		needWord string
	}{
		{name: "no SPF", records: func(r []string) []string { return without(r, bounceSPF) },
			check: doctor.CheckSPF, status: doctor.Fail, advice: "Publish a TXT record at bounces.charity.org.uk", unready: []string{"Gmail", "Yahoo", "Outlook"}, needWord: "SPF"},
		{name: "two SPF records", records: func(r []string) []string { return append(r, bounceSPF+` -all"`) },
			check: doctor.CheckSPF, status: doctor.Fail, advice: "exactly one", unready: []string{"Gmail"}, needWord: "SPF"},
		{name: "SPF +all", records: func(r []string) []string { return without(r, bounceSPF, bounceSPF+` include:_spf.relay.example +all"`) },
			check: doctor.CheckSPF, status: doctor.Fail, advice: "+all", unready: []string{"Yahoo"}},
		{name: "SPF over ten lookups", records: func(r []string) []string { return append(without(r, bounceSPF), many...) },
			check: doctor.CheckSPF, status: doctor.Fail, advice: "12 DNS lookups"},
		{name: "SPF include without a record", records: func(r []string) []string { return without(r, "_spf.relay.example.") },
			check: doctor.CheckSPF, status: doctor.Fail, advice: "names _spf.relay.example, which has no SPF record"},
		{name: "SPF without all", records: func(r []string) []string { return without(r, bounceSPF, bounceSPF+` include:_spf.relay.example"`) },
			check: doctor.CheckSPF, status: doctor.Warn, advice: "~all or -all"},
		{name: "SPF checked at the From domain without VERP", records: func(r []string) []string { return without(r, `charity.org.uk. 300 IN TXT "v=spf1`) },
			config: func(c *doctor.Config) { c.BounceDomain = "" }, check: doctor.CheckSPF, status: doctor.Fail, advice: "Publish a TXT record at charity.org.uk"},
		{name: "no DKIM record", records: func(r []string) []string { return without(r, dkimName) },
			check: doctor.CheckDKIM, status: doctor.Fail, advice: "Publish the public key", unready: []string{"Gmail", "Yahoo", "Outlook"}, needWord: "DKIM"},
		{name: "no DKIM selector configured", config: func(c *doctor.Config) { c.DKIMSelector = "" },
			check: doctor.CheckDKIM, status: doctor.Fail, advice: "CRM_DKIM_SELECTOR"},
		{name: "DKIM key revoked", records: func(r []string) []string { return without(r, dkimName, dkimName+` 300 IN TXT "v=DKIM1; k=rsa; p="`) },
			check: doctor.CheckDKIM, status: doctor.Fail, advice: "revoked"},
		{name: "DKIM key not ours", records: func(r []string) []string {
			return without(r, dkimName, dkimRecord(dkimName, "v=DKIM1; p="+pubKey(other)))
		}, check: doctor.CheckDKIM, status: doctor.Fail, advice: "not the public half"},
		{name: "DKIM key of 1024 bits", records: func(r []string) []string {
			return without(r, dkimName, dkimRecord(dkimName, "v=DKIM1; p="+pubKey(weak)))
		}, config: func(c *doctor.Config) { c.DKIMKey = &weak.PublicKey }, check: doctor.CheckDKIM, status: doctor.Warn, advice: "1024 bits"},
		{name: "DKIM key garbled", records: func(r []string) []string {
			return without(r, dkimName, dkimName+` 300 IN TXT "v=DKIM1; p=!!notbase64"`)
		},
			check: doctor.CheckDKIM, status: doctor.Fail, advice: "not base64"},
		{name: "no DMARC", records: func(r []string) []string { return without(r, "_dmarc.") },
			check: doctor.CheckDMARC, status: doctor.Fail, advice: "v=DMARC1; p=none", unready: []string{"Gmail", "Yahoo", "Outlook"}, needWord: "DMARC"},
		{name: "DMARC without a policy", records: func(r []string) []string {
			return without(r, "_dmarc.", `_dmarc.charity.org.uk. 300 IN TXT "v=DMARC1; rua=mailto:d@charity.org.uk"`)
		}, check: doctor.CheckDMARC, status: doctor.Fail, advice: "no p= policy"},
		{name: "DMARC without reports", records: func(r []string) []string {
			return without(r, "_dmarc.", `_dmarc.charity.org.uk. 300 IN TXT "v=DMARC1; p=reject"`)
		}, check: doctor.CheckDMARC, status: doctor.OK, advice: "rua=mailto"},
		{name: "DMARC found at the organisational domain", records: func(r []string) []string {
			return append(r, dkimRecord("crm2026._domainkey.news.charity.org.uk.", "p="+pubKey(w.key)))
		}, config: func(c *doctor.Config) { c.FromDomain, c.DKIMDomain = "news.charity.org.uk", "news.charity.org.uk" },
			check: doctor.CheckDMARC, status: doctor.OK},
		{name: "nothing aligned", records: func(r []string) []string {
			return append(r, `bounce.relay.example. 300 IN TXT "v=spf1 -all"`, `bounce.relay.example. 300 IN MX 10 mx.charity.org.uk.`,
				dkimRecord("crm2026._domainkey.relay.example.", "p="+pubKey(w.key)))
		}, config: func(c *doctor.Config) { c.BounceDomain, c.DKIMDomain = "bounce.relay.example", "relay.example" },
			check: doctor.CheckAlign, status: doctor.Fail, advice: "Neither", unready: []string{"Gmail", "Yahoo", "Outlook"}, needWord: "aligned"},
		{name: "strict SPF alignment with a subdomain bounce domain, DKIM still aligned", records: func(r []string) []string {
			return without(r, "_dmarc.", `_dmarc.charity.org.uk. 300 IN TXT "v=DMARC1; p=none; aspf=s; rua=mailto:d@charity.org.uk"`)
		}, check: doctor.CheckAlign, status: doctor.OK, advice: "Only one of SPF and DKIM"},
		{name: "no bounce MX", records: func(r []string) []string { return without(r, "bounces.charity.org.uk. 300 IN MX") },
			check: doctor.CheckBounceMX, status: doctor.Fail, advice: "Publish an MX record at bounces.charity.org.uk"},
		{name: "null bounce MX", records: func(r []string) []string {
			return without(r, "bounces.charity.org.uk. 300 IN MX", "bounces.charity.org.uk. 300 IN MX 0 .")
		}, check: doctor.CheckBounceMX, status: doctor.Fail, advice: "null MX"},
		{name: "bounce MX host without an address", records: func(r []string) []string { return without(r, "mx.charity.org.uk.") },
			check: doctor.CheckBounceMX, status: doctor.Fail, advice: "has no address"},
		{name: "no bounce domain", config: func(c *doctor.Config) { c.BounceDomain = "" },
			check: doctor.CheckBounceMX, status: doctor.Skipped, advice: "CRM_BOUNCE_DOMAIN"},
		{name: "app URL over http", config: func(c *doctor.Config) { c.AppURL = strings.Replace(c.AppURL, "https", "http", 1) },
			check: doctor.CheckTLS, status: doctor.Fail, advice: "https", unready: []string{"Gmail", "Yahoo"}, needWord: "one-click"},
		{name: "certificate not trusted", config: func(c *doctor.Config) { c.RootCAs = x509.NewCertPool() },
			check: doctor.CheckTLS, status: doctor.Fail, advice: "Install a certificate"},
		{name: "certificate about to expire", config: func(c *doctor.Config) {
			c.Now = func() time.Time { return w.tls.Certificate().NotAfter.Add(-3 * 24 * time.Hour) }
		}, check: doctor.CheckTLS, status: doctor.Warn, advice: "expires in"},
		{name: "one-click for nobody refused without a redirect", config: func(c *doctor.Config) {
			c.OneClickURL = w.tls.URL + "/unsubscribe?token=" + testkit.Signer(t).Sign(tokens.Unsubscribe, "nobody-at-all", time.Hour)
			c.OneClickNoop = false
		}, check: doctor.CheckOneClick, status: doctor.OK},
		{name: "one-click that must answer 200 refused", config: func(c *doctor.Config) {
			c.OneClickURL = w.tls.URL + "/unsubscribe?token=forged"
		}, check: doctor.CheckOneClick, status: doctor.Fail, advice: "must answer 200"},
		{name: "one-click redirected by a proxy", config: func(c *doctor.Config) {
			redirect := httptest.NewTLSServer(http.RedirectHandler("https://example.org/unsubscribed", http.StatusSeeOther))
			t.Cleanup(redirect.Close)
			c.RootCAs.AddCert(redirect.Certificate())
			c.OneClickURL = redirect.URL + "/unsubscribe?token=x"
		}, check: doctor.CheckOneClick, status: doctor.Fail, advice: "redirects", unready: []string{"Gmail", "Yahoo"}, needWord: "one-click"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			records := w.compliant()
			if tc.records != nil {
				records = tc.records(records)
			}
			w.dns.Set(t, records...)
			cfg := w.cfg
			cfg.RootCAs = w.cfg.RootCAs.Clone()
			if tc.config != nil {
				tc.config(&cfg)
			}
			rep := doctor.Run(context.Background(), cfg)
			c, ok := rep.Check(tc.check)
			if !ok {
				t.Fatalf("no %s check", tc.check)
			}
			if c.Status != tc.status || !strings.Contains(c.Advice+" "+c.Found, tc.advice) {
				t.Errorf("%s: got %s, %q / %q; want %s mentioning %q", tc.check, c.Status, c.Found, c.Advice, tc.status, tc.advice)
			}
			for _, v := range rep.Verdicts {
				if slices.Contains(tc.unready, v.Provider) {
					if v.Ready || !strings.Contains(strings.Join(v.Needs, ";"), tc.needWord) {
						t.Errorf("%s verdict should need %s: %+v", v.Provider, tc.needWord, v)
					}
				}
			}
		})
	}
}

func TestUnreachableResolverIsAFinding(t *testing.T) {
	rep := doctor.Run(context.Background(), doctor.Config{FromDomain: "charity.org.uk", DKIMSelector: "s", Resolver: "127.0.0.1:1", Timeout: 300 * time.Millisecond, AppURL: "http://127.0.0.1:1"})
	c, _ := rep.Check(doctor.CheckSPF)
	if c.Status != doctor.Fail || !strings.Contains(c.Found, "DNS lookup of TXT charity.org.uk failed") {
		t.Errorf("spf: %+v", c)
	}
	if !rep.Failed() {
		t.Error("report should have failed")
	}
}
