package retention_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/erasure"
	"supportercrm/internal/retention"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

func signUp(t *testing.T, env *testkit.Env, email string) *core.Record {
	t.Helper()
	status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"Pat","last_name":"Pending","topics":["newsletter"],"consent":true}`)
	if status != http.StatusAccepted {
		t.Fatalf("signup %s = %d %s", email, status, body)
	}
	sup, err := env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatal(err)
	}
	return sup
}

// backdate moves a supporter's creation and signups back by d, as if they
// had happened then.
func backdate(t *testing.T, env *testkit.Env, sup *core.Record, d time.Duration) {
	t.Helper()
	when := types.NowDateTime().Add(-d).String()
	if _, err := env.App.DB().Update(vocab.Supporters, dbx.Params{"created": when}, dbx.HashExp{"id": sup.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := env.App.DB().Update(vocab.Consents, dbx.Params{"created": when}, dbx.HashExp{"supporter": sup.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
}

func exists(t *testing.T, env *testkit.Env, id string) bool {
	t.Helper()
	_, err := env.App.FindRecordById(vocab.Supporters, id)
	return err == nil
}

func TestUnconfirmedSignupsExpire(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	pending := signUp(t, env, "pending@example.org")
	donor := signUp(t, env, "donor@example.org")
	d := core.NewRecord(testkit.Collection(t, env.App, vocab.Donations))
	d.Load(map[string]any{"supporter": donor.Id, "amount_pence": 500, "currency": "GBP", "method": "other", "donated_on": time.Now()})
	if err := env.App.Save(d); err != nil {
		t.Fatal(err)
	}
	subscribed := testkit.Subscribers(t, env.App, 1)[0]
	env.SMTP.WaitFor(t, "pending@example.org", 1, 10*time.Second)
	consentIDs := func() []string {
		var ids []string
		if err := env.App.DB().Select("id").From(vocab.Consents).Where(dbx.HashExp{"supporter": pending.Id}).Column(&ids); err != nil {
			t.Fatal(err)
		}
		return ids
	}()
	if len(consentIDs) != 1 {
		t.Fatalf("%d consent rows for the signup", len(consentIDs))
	}

	now := time.Now()
	pruner := func(at time.Time, after time.Duration) *retention.Pruner {
		return &retention.Pruner{App: env.App, Now: func() time.Time { return at }, After: after, Anonymise: erasure.Anonymise}
	}
	// Day 29: nothing has expired.
	if n, err := pruner(now.Add(29*24*time.Hour), 0).Run(); err != nil || n != 0 {
		t.Fatalf("day 29: deleted %d (%v)", n, err)
	}
	// Day 31: the never-confirmed signup goes; the donor (pending too) and
	// the subscriber stay.
	if n, err := pruner(now.Add(31*24*time.Hour), 0).Run(); err != nil || n != 1 {
		t.Fatalf("day 31: deleted %d (%v), want 1", n, err)
	}
	if exists(t, env, pending.Id) || !exists(t, env, donor.Id) || !exists(t, env, subscribed.Id) {
		t.Fatalf("after day 31: pending %v donor %v subscribed %v", exists(t, env, pending.Id), exists(t, env, donor.Id), exists(t, env, subscribed.Id))
	}
	// Its consent row is kept, anonymised and unlinked; its mail is gone.
	c, err := env.App.FindRecordById(vocab.Consents, consentIDs[0])
	if err != nil {
		t.Fatalf("consent row lost: %v", err)
	}
	for _, f := range []string{"supporter", "email", "ip", "user_agent"} {
		if v := c.GetString(f); v != "" {
			t.Errorf("consent %s = %q", f, v)
		}
	}
	if v := c.GetString("details"); v != "" && v != "null" {
		t.Errorf("consent details = %q", v)
	}
	if c.GetString("action") != vocab.ActionGrant || c.GetString("wording") == "" || c.GetString("method") != vocab.MethodAPI {
		t.Errorf("consent evidence changed: %v", c.FieldsData())
	}
	if n := env.Count(t, vocab.Outbox, "to = 'pending@example.org'"); n != 0 {
		t.Errorf("%d outbox rows to the deleted signup", n)
	}
	// A second run finds nothing.
	if n, err := pruner(now.Add(31*24*time.Hour), 0).Run(); err != nil || n != 0 {
		t.Fatalf("second run deleted %d (%v)", n, err)
	}
}

// The period is configurable, counts from the latest signup (asking again
// restarts it), and large backlogs go in batches.
func TestRetentionWindow(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	old := signUp(t, env, "old@example.org")
	backdate(t, env, old, 10*24*time.Hour)
	again := signUp(t, env, "again@example.org")
	backdate(t, env, again, 10*24*time.Hour)
	env.SMTP.WaitFor(t, "again@example.org", 1, 10*time.Second)
	time.Sleep(5 * time.Millisecond)
	// Asking again today, after the resend limit has passed.
	if _, err := env.App.DB().Delete(vocab.Outbox, dbx.HashExp{"to": "again@example.org"}).Execute(); err != nil {
		t.Fatal(err)
	}
	signUp(t, env, "again@example.org")
	var batch []*core.Record
	for _, e := range []string{"b1@example.org", "b2@example.org", "b3@example.org"} {
		s := signUp(t, env, e)
		backdate(t, env, s, 10*24*time.Hour)
		batch = append(batch, s)
	}

	p := &retention.Pruner{App: env.App, Now: time.Now, After: 7 * 24 * time.Hour, Batch: 2, Anonymise: erasure.Anonymise}
	if n, err := p.Run(); err != nil || n != 4 {
		t.Fatalf("deleted %d (%v), want 4", n, err)
	}
	if exists(t, env, old.Id) || !exists(t, env, again.Id) {
		t.Fatalf("old kept %v, asked-again kept %v", exists(t, env, old.Id), exists(t, env, again.Id))
	}
	for _, s := range batch {
		if exists(t, env, s.Id) {
			t.Errorf("%s not deleted", s.GetString("email"))
		}
	}
}
