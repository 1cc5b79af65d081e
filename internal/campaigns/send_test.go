package campaigns_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// A supporter who, after the audience was taken, unticks the campaign's
// topic on the preferences page (staying subscribed to another) or loses
// the campaign's tag is skipped at send time, like one who unsubscribed.
func TestSendTimeCheckCoversTopicsAndTags(t *testing.T) {
	const n = 60
	env := testkit.Start(t, testkit.Options{SMTPDown: true, Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	sups := seed(t, env, n)
	newsletter, events := topicID(t, env, "newsletter"), topicID(t, env, "events")
	err := env.App.RunInTransaction(func(tx core.App) error {
		for _, s := range sups {
			s.Set("topics", []string{newsletter, events})
			s.Set("tags", []string{"leeds"})
			if err := tx.Save(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	id := apiMustCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled,
		"send_at": time.Now().UTC().Format("2006-01-02 15:04:05.000Z"), "tags": []string{"leeds"}})
	// The relay is down: the audience is taken and nothing goes out yet.
	if c := waitStatus(t, env, id, vocab.CampaignSending, 30*time.Second); c.GetInt("total") != n {
		t.Fatalf("audience = %d, want %d", c.GetInt("total"), n)
	}

	signer := testkit.Signer(t)
	untick := sups[10:13]
	for _, s := range untick {
		path := "/preferences?token=" + url.QueryEscape(signer.Sign(tokens.Preferences, s.Id, tokens.PreferencesTTL))
		if status, body := env.PostForm(t, path, url.Values{"first_name": {s.GetString("first_name")}, "topics": {"events"}}); status != http.StatusOK {
			t.Fatalf("preferences save = %d %s", status, body)
		}
		if got, _ := env.App.FindRecordById(vocab.Supporters, s.Id); got.GetString("status") != vocab.StatusSubscribed || len(got.GetStringSlice("topics")) != 1 {
			t.Fatalf("after the preferences save: status %s topics %v", got.GetString("status"), got.GetStringSlice("topics"))
		}
	}
	untagged := sups[40:42]
	for _, s := range untagged {
		s, _ := env.App.FindRecordById(vocab.Supporters, s.Id)
		s.Set("tags", []string{"york"})
		if err := env.App.Save(s); err != nil {
			t.Fatal(err)
		}
	}

	env.SMTP.Start(t)
	done := waitStatus(t, env, id, vocab.CampaignSent, 30*time.Second)
	for _, s := range append(append([]*core.Record{}, untick...), untagged...) {
		if got := len(env.SMTP.To(s.GetString("email"))); got != 0 {
			t.Errorf("%s got %d messages after leaving the audience", s.GetString("email"), got)
		}
	}
	if done.GetInt("sent") != n-5 || done.GetInt("skipped") != 5 {
		t.Errorf("sent %d skipped %d, want %d and 5", done.GetInt("sent"), done.GetInt("skipped"), n-5)
	}
	for _, c := range []struct {
		s   *core.Record
		why string
	}{{untick[0], "topic"}, {untagged[0], "tag"}} {
		d, err := env.App.FindFirstRecordByFilter(vocab.Deliveries, "campaign = {:c} && supporter = {:s}", map[string]any{"c": id, "s": c.s.Id})
		if err != nil {
			t.Fatal(err)
		}
		if d.GetString("status") != vocab.DeliverySkipped || !strings.Contains(d.GetString("last_error"), c.why) {
			t.Errorf("delivery of a supporter who left by %s: %s %q", c.why, d.GetString("status"), d.GetString("last_error"))
		}
	}
}
