package campaigns_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// A hard bounce is stored as its codes only: the relay's text, which names
// the recipient, reaches neither the suppression's note nor the delivery's
// last_error. A bounce that arrives after the supporter unsubscribed, or
// was erased, while the message was on its way leaves them as they are now.
func TestBouncesKeepNoAddressAndNeverUndoAChange(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	sups := seed(t, env, 10)
	plain, unsubscribed, erased := sups[3], sups[4], sups[5]
	eraser := &erasure.Eraser{App: env.App, Hash: signup.HashEmail}
	env.SMTP.SetPolicy(func(rcpt string, _ int) error {
		switch rcpt {
		case unsubscribed.GetString("email"):
			s, err := env.App.FindRecordById(vocab.Supporters, unsubscribed.Id)
			if err != nil {
				return err
			}
			s.Set("status", vocab.StatusUnsubscribed)
			if err := env.App.Save(s); err != nil {
				return err
			}
		case erased.GetString("email"):
			if _, err := eraser.Erase(erased.Id); err != nil {
				return err
			}
		case plain.GetString("email"):
		default:
			return nil
		}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + rcpt + ">: Recipient address rejected: User unknown"}
	})
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if done.GetInt("bounced") != 3 || done.GetInt("sent") != 7 {
		t.Errorf("sent %d bounced %d, want 7 and 3", done.GetInt("sent"), done.GetInt("bounced"))
	}

	notes := map[string]string{}
	var rows []struct {
		Hash string `db:"email_hash"`
		Note string `db:"note"`
	}
	if err := env.App.DB().NewQuery("SELECT email_hash, note FROM suppressions").All(&rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		notes[r.Hash] = r.Note
	}
	for _, s := range []string{plain.GetString("email"), unsubscribed.GetString("email")} {
		if note := notes[signup.HashEmail(s)]; note != "campaign "+c.Id+": 550 5.1.1" {
			t.Errorf("suppression note for a hard bounce = %q, want the codes only", note)
		}
	}
	if note := notes[signup.HashEmail(erased.GetString("email"))]; strings.Contains(note, "@") || !strings.Contains(note, "Erased") {
		t.Errorf("the erased address's suppression note = %q, want the erasure's", note)
	}
	for _, s := range []struct {
		id, email, status string
	}{
		{plain.Id, plain.GetString("email"), vocab.StatusBounced},
		{unsubscribed.Id, unsubscribed.GetString("email"), vocab.StatusUnsubscribed},
		{erased.Id, erased.GetString("email"), vocab.StatusErased},
	} {
		if got, _ := env.App.FindRecordById(vocab.Supporters, s.id); got.GetString("status") != s.status {
			t.Errorf("%s is %s after the bounce, want %s", s.email, got.GetString("status"), s.status)
		}
		d, err := env.App.FindFirstRecordByFilter(vocab.Deliveries, "campaign = {:c} && supporter = {:s}", map[string]any{"c": c.Id, "s": s.id})
		if err != nil {
			t.Fatal(err)
		}
		if e := d.GetString("last_error"); strings.Contains(strings.ToLower(e), s.email) || !strings.Contains(e, "550") {
			t.Errorf("%s's delivery: last_error %q, want the reply without the address", s.email, e)
		}
	}
}
