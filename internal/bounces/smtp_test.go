package bounces_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/emersion/go-smtp"

	"supportercrm/internal/bounces"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The inbound SMTP listener takes mail only for bounce addresses whose
// token verifies (550 for anything else, forged tokens included), and
// applies a DSN before it answers 250: the next send already skips the
// address. The same DSN again changes nothing.
func TestSMTPListener(t *testing.T) {
	env := start(t, nil)
	c, sups := sendCampaign(t, env, 2)
	l := &bounces.Listener{App: env.App, Addresses: bounces.Addresses{Signer: testkit.Signer(t), Domain: bounceDomain}}
	addr, err := l.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })

	sup := sups[0]
	verp := env.SMTP.To(sup.GetString("email"))[0].From
	dsn := fixture(t, "dsn_postfix_hard.eml", verp, sup.GetString("email"), delivery(t, env.App, c.Id, sup.Id).GetString("message_id"))
	forged := verp[:10] + map[bool]string{true: "b", false: "a"}[verp[10] == 'a'] + verp[11:]
	for _, to := range []string{forged, "postmaster@" + bounceDomain, "someone@example.org"} {
		err := sendTo(t, addr.String(), []string{to}, bytes.NewReader(dsn))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 550 {
			t.Errorf("mail to %s: %v, want 550", to, err)
		}
	}
	if ok, _ := signup.IsSuppressed(env.App, sup.GetString("email")); ok {
		t.Fatal("suppressed before the bounce came")
	}
	if err := sendTo(t, addr.String(), []string{verp}, bytes.NewReader(dsn)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := signup.IsSuppressed(env.App, sup.GetString("email")); !ok {
		t.Fatal("not suppressed once the listener answered 250")
	}
	if got := record(t, env.App, vocab.Supporters, sup.Id); got.GetString("status") != vocab.StatusBounced {
		t.Errorf("supporter is %s", got.GetString("status"))
	}
	before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports)
	if err := sendTo(t, addr.String(), []string{verp}, bytes.NewReader(dsn)); err != nil {
		t.Fatal(err)
	}
	if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Deliveries, vocab.Campaigns, vocab.Suppressions, vocab.BounceReports); after != before {
		t.Error("the same DSN again changed the data")
	}
}

// sendTo delivers raw to one address over plain SMTP, as an MTA would
// where the listener offers no STARTTLS.
func sendTo(t testing.TB, addr string, to []string, raw io.Reader) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.SendMail("", to, raw)
}
