package campaigns_test

import (
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// fast makes retries and result writes quick enough for tests.
func fast(more func(*pb_hooks.Config)) func(*pb_hooks.Config) {
	return func(c *pb_hooks.Config) {
		c.Campaigns.RetryBase = 50 * time.Millisecond
		c.Campaigns.FlushInterval = 20 * time.Millisecond
		c.Campaigns.WatchInterval = 50 * time.Millisecond
		if more != nil {
			more(c)
		}
	}
}

// seed creates n subscribed supporters in the newsletter topic.
func seed(t testing.TB, env *testkit.Env, n int) []*core.Record {
	return testkit.Subscribers(t, env.App, n)
}

// schedule saves a personalised campaign due now.
func schedule(t testing.TB, env *testkit.Env) *core.Record {
	return testkit.DueCampaign(t, env.App, "Spring news for {{.FirstName}}",
		"# Dear {{.FirstName}}\n\nThe new safe house opened this month. Thank you.\n\n[Not for you? Unsubscribe]({{.UnsubscribeURL}})")
}

// waitStatus polls until the campaign has the status, or fails.
func waitStatus(t testing.TB, env *testkit.Env, id, status string, timeout time.Duration) *core.Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := env.App.FindRecordById(vocab.Campaigns, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.GetString("status") == status {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign is %q after %s, want %q (sent %d of %d, last error %q)", c.GetString("status"), timeout, status, c.GetInt("sent"), c.GetInt("total"), c.GetString("last_error"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertOncePerRecipient checks each supporter got exactly one message and
// has exactly one sent delivery.
func assertOncePerRecipient(t *testing.T, env *testkit.Env, sups []*core.Record, campaignID string) {
	t.Helper()
	got := map[string]int{}
	for _, m := range env.SMTP.Mails() {
		for _, r := range m.To {
			got[r]++
		}
	}
	for _, s := range sups {
		if n := got[s.GetString("email")]; n != 1 {
			t.Errorf("%s got %d messages", s.GetString("email"), n)
		}
	}
	if n := env.Count(t, vocab.Deliveries, "campaign = '"+campaignID+"' && status = 'sent'"); n != len(sups) {
		t.Errorf("sent deliveries = %d, want %d", n, len(sups))
	}
}

func TestCampaignReachesEveryoneOnceWithListHeaders(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	sups := seed(t, env, 2000)
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	if done.GetInt("total") != 2000 || done.GetInt("sent") != 2000 || done.GetInt("failed") != 0 || done.GetDateTime("finished_at").IsZero() {
		t.Errorf("counters total %d sent %d failed %d", done.GetInt("total"), done.GetInt("sent"), done.GetInt("failed"))
	}
	mails := env.SMTP.Mails()
	if len(mails) != 2000 {
		t.Fatalf("sink got %d messages, want 2000", len(mails))
	}
	assertOncePerRecipient(t, env, sups, c.Id)
	ids := map[string]bool{}
	for _, m := range mails {
		h := m.Header
		if id := h.Get("Message-Id"); id == "" || ids[id] {
			t.Fatalf("missing or repeated Message-ID %q", id)
		} else {
			ids[id] = true
		}
		if lu := h.Get("List-Unsubscribe"); !strings.HasPrefix(lu, "<"+env.URL+"/unsubscribe?token=") || strings.Contains(lu, "mailto:") {
			t.Fatalf("List-Unsubscribe = %q, want the one-click URL only (no unsubscribe mailbox is configured)", lu)
		}
		if h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" || h.Get("Precedence") != "bulk" ||
			!strings.Contains(h.Get("List-Id"), "<newsletter.lanternhouse.org.uk>") {
			t.Fatalf("list headers: %v", h)
		}
		if !strings.Contains(m.Text, testkit.IdentityAddress) || !strings.Contains(m.HTML, testkit.IdentityAddress) || m.Text == "" {
			t.Fatal("a message lacks the text part or the postal address")
		}
	}
	// The one-click URL from a header unsubscribes its supporter.
	m := env.SMTP.To("reader00042@example.org")[0]
	if !strings.Contains(m.Header.Get("Subject"), "Reader42") || !strings.Contains(m.HTML, "Dear Reader42") {
		t.Errorf("not personalised: %q", m.Header.Get("Subject"))
	}
	oneClick := strings.Trim(m.Header.Get("List-Unsubscribe"), "<>")
	status, _ := env.Do(t, http.MethodPost, strings.TrimPrefix(oneClick, env.URL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if status != http.StatusOK {
		t.Fatalf("one-click = %d", status)
	}
	s, _ := env.App.FindFirstRecordByData(vocab.Supporters, "email", "reader00042@example.org")
	if s.GetString("status") != vocab.StatusUnsubscribed {
		t.Fatalf("after one-click status = %s", s.GetString("status"))
	}
	// It counts against this campaign, once.
	if got, _ := env.App.FindRecordById(vocab.Campaigns, c.Id); got.GetInt("unsubscribed") != 1 {
		t.Errorf("campaign unsubscribed counter = %d, want 1", got.GetInt("unsubscribed"))
	}
	// Another supporter's link edited to name reader 42's delivery unsubscribes
	// that supporter but counts nothing against the campaign.
	other := strings.Trim(env.SMTP.To("reader00043@example.org")[0].Header.Get("List-Unsubscribe"), "<>")
	d42 := oneClick[strings.Index(oneClick, "&d="):]
	forged := other[:strings.Index(other, "&d=")] + d42
	if status, _ := env.Do(t, http.MethodPost, strings.TrimPrefix(forged, env.URL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); status != http.StatusOK {
		t.Fatalf("forged one-click = %d", status)
	}
	if got, _ := env.App.FindRecordById(vocab.Campaigns, c.Id); got.GetInt("unsubscribed") != 1 {
		t.Errorf("after an edited link the counter = %d, want still 1", got.GetInt("unsubscribed"))
	}
}

func TestTemporaryRefusalsAreRetried(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	sups := seed(t, env, 500)
	refused := 0
	for _, s := range sups {
		if crc32.ChecksumIEEE([]byte(s.GetString("email")))%10 == 0 {
			refused++
		}
	}
	env.SMTP.SetPolicy(func(rcpt string, attempt int) error {
		if attempt == 1 && crc32.ChecksumIEEE([]byte(rcpt))%10 == 0 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	})
	c := schedule(t, env)
	waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	if n := env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"' && attempts = 2"); n != refused || refused == 0 {
		t.Errorf("deliveries that needed two attempts = %d, want %d", n, refused)
	}
}

func TestPermanentRefusalsBounceAndHardBouncesSuppress(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	sups := seed(t, env, 50)
	env.SMTP.SetPolicy(func(rcpt string, _ int) error {
		switch rcpt {
		case "reader00007@example.org":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case "reader00008@example.org":
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "mailbox full"}
		}
		return nil
	})
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if done.GetInt("sent") != 48 || done.GetInt("bounced") != 2 {
		t.Errorf("sent %d bounced %d, want 48 and 2", done.GetInt("sent"), done.GetInt("bounced"))
	}
	if n := env.SMTP.RcptCount("reader00007@example.org"); n != 1 {
		t.Errorf("a 5xx was tried %d times, want once", n)
	}
	hard, _ := env.App.FindRecordById(vocab.Supporters, sups[7].Id)
	full, _ := env.App.FindRecordById(vocab.Supporters, sups[8].Id)
	if hard.GetString("status") != vocab.StatusBounced || full.GetString("status") != vocab.StatusSubscribed {
		t.Errorf("after bounces: 5.1.1 supporter %s, 5.2.2 supporter %s", hard.GetString("status"), full.GetString("status"))
	}
	if n := env.Count(t, vocab.Suppressions, "reason = 'hard_bounce'"); n != 1 {
		t.Errorf("suppressions = %d, want 1", n)
	}
}

func TestUnsubscribeMidSendStopsTheRest(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.PerSecond = 300 })})
	sups := seed(t, env, 900)
	c := schedule(t, env)
	for len(env.SMTP.Mails()) < 100 {
		time.Sleep(5 * time.Millisecond)
	}
	// Unsubscribe the last 100 by delivery order, still far from being sent.
	late, err := env.App.FindRecordsByFilter(vocab.Deliveries, "campaign = {:c} && status = 'queued'", "-id", 100, 0, map[string]any{"c": c.Id})
	if err != nil || len(late) != 100 {
		t.Fatalf("queued deliveries: %d, %v", len(late), err)
	}
	gone := map[string]bool{}
	err = env.App.RunInTransaction(func(tx core.App) error { // at once, well ahead of the sender
		for _, d := range late {
			s, err := tx.FindRecordById(vocab.Supporters, d.GetString("supporter"))
			if err != nil {
				return err
			}
			s.Set("status", vocab.StatusUnsubscribed)
			if err := tx.Save(s); err != nil {
				return err
			}
			gone[s.GetString("email")] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	for addr := range gone {
		if n := len(env.SMTP.To(addr)); n != 0 {
			t.Errorf("%s got %d messages after unsubscribing", addr, n)
		}
	}
	if done.GetInt("skipped") != 100 || done.GetInt("sent") != len(sups)-100 {
		t.Errorf("sent %d skipped %d", done.GetInt("sent"), done.GetInt("skipped"))
	}
}

func TestRelayDownWaitsThenPausesAndResumes(t *testing.T) {
	env := testkit.Start(t, testkit.Options{SMTPDown: true, Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.MaxConnDown = 500 * time.Millisecond })})
	sups := seed(t, env, 200)
	admin := core.NewRecord(testkit.Collection(t, env.App, vocab.Staff))
	admin.SetEmail("admin@lanternhouse.org.uk")
	admin.SetPassword("a-long-password-1")
	admin.Set("role", vocab.RoleAdmin)
	if err := env.App.Save(admin); err != nil {
		t.Fatal(err)
	}
	c := schedule(t, env)
	paused := waitStatus(t, env, c.Id, vocab.CampaignPaused, 30*time.Second)
	if !strings.Contains(paused.GetString("last_error"), "unreachable") {
		t.Errorf("pause note = %q", paused.GetString("last_error"))
	}
	if n := env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"' && status = 'queued' && attempts = 0"); n != 200 {
		t.Errorf("untouched queued deliveries while down = %d, want 200 (the list must not burn)", n)
	}
	// The alert is queued just after the status changes: wait for it.
	alerts := func() int {
		return env.Count(t, vocab.Outbox, "kind = 'staff_alert' && to = 'admin@lanternhouse.org.uk'")
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return alerts() > 0 })
	env.SMTP.Start(t)
	paused.Set("status", vocab.CampaignSending) // "resume" in the dashboard
	if err := env.App.Save(paused); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	if n := alerts(); n != 1 {
		t.Errorf("staff alerts = %d, want 1", n)
	}
}

// An address put on the suppression list after it subscribed (here while
// still "subscribed") is skipped at send time.
func TestSuppressedAddressIsSkipped(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	sups := seed(t, env, 20)
	s := core.NewRecord(testkit.Collection(t, env.App, vocab.Suppressions))
	s.Set("email_hash", sups[3].GetString("email")) // hashed on save
	s.Set("reason", vocab.SuppressManual)
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if n := len(env.SMTP.To(sups[3].GetString("email"))); n != 0 {
		t.Errorf("suppressed address got %d messages", n)
	}
	if done.GetInt("sent") != 19 || done.GetInt("skipped") != 1 {
		t.Errorf("sent %d skipped %d, want 19 and 1", done.GetInt("sent"), done.GetInt("skipped"))
	}
}

// With an unsubscribe mailbox configured, List-Unsubscribe offers a mailto
// beside the one-click URL.
func TestListUnsubscribeMailtoWhenConfigured(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) {
		c.Campaigns.UnsubscribeMailto = "unsubscribe@lanternhouse.org.uk"
	})})
	sups := seed(t, env, 5)
	c := schedule(t, env)
	waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	for _, m := range env.SMTP.Mails() {
		lu := m.Header.Get("List-Unsubscribe")
		if !strings.HasPrefix(lu, "<"+env.URL+"/unsubscribe?token=") || !strings.HasSuffix(lu, ", <mailto:unsubscribe@lanternhouse.org.uk?subject=unsubscribe>") {
			t.Fatalf("List-Unsubscribe = %q", lu)
		}
		if m.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Fatalf("List-Unsubscribe-Post = %q", m.Header.Get("List-Unsubscribe-Post"))
		}
	}
}

// A temporary refusal that never clears is tried MaxAttempts times, then
// recorded as failed (not a bounce, no suppression); the rest still go.
func TestTemporaryFailuresGiveUpAfterMaxAttempts(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.MaxAttempts = 3 })})
	sups := seed(t, env, 30)
	stuck := sups[5]
	env.SMTP.SetPolicy(func(rcpt string, _ int) error {
		if rcpt == stuck.GetString("email") {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	})
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if done.GetInt("sent") != 29 || done.GetInt("failed") != 1 || done.GetInt("bounced") != 0 {
		t.Errorf("sent %d failed %d bounced %d, want 29, 1 and 0", done.GetInt("sent"), done.GetInt("failed"), done.GetInt("bounced"))
	}
	if n := env.SMTP.RcptCount(stuck.GetString("email")); n != 3 {
		t.Errorf("the refused address was tried %d times, want 3 (MaxAttempts)", n)
	}
	d, err := env.App.FindFirstRecordByFilter(vocab.Deliveries, "campaign = {:c} && supporter = {:s}", map[string]any{"c": c.Id, "s": stuck.Id})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetString("status") != vocab.DeliveryFailed || d.GetInt("attempts") != 3 || !strings.Contains(d.GetString("last_error"), "451") {
		t.Errorf("delivery: status %q attempts %d last_error %q", d.GetString("status"), d.GetInt("attempts"), d.GetString("last_error"))
	}
	if s, _ := env.App.FindRecordById(vocab.Supporters, stuck.Id); s.GetString("status") != vocab.StatusSubscribed {
		t.Errorf("after temporary failures the supporter is %q", s.GetString("status"))
	}
	if n := env.Count(t, vocab.Suppressions, ""); n != 0 {
		t.Errorf("suppressions = %d, want 0", n)
	}
}

// A campaign scheduled through the REST API for a moment later starts on
// the engine's cron tick, with nothing else saved meanwhile, and not before
// its time.
func TestFutureCampaignStartsOnTheTick(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	sups := seed(t, env, 20)
	sendAt := time.Now().Add(2 * time.Second).UTC().Format("2006-01-02 15:04:05.000Z")
	id := apiMustCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled, "send_at": sendAt})
	done := waitStatus(t, env, id, vocab.CampaignSent, 30*time.Second)
	assertOncePerRecipient(t, env, sups, id)
	if started, due := done.GetDateTime("started_at").Time(), done.GetDateTime("send_at").Time(); started.Before(due) {
		t.Errorf("started at %v, before its send_at %v", started, due)
	}
}

// The relay goes away in the middle of a send for less than MaxConnDown:
// the campaign waits (progress stays on the record), carries on by itself
// when the relay is back, and nobody is missed; only messages cut off in
// flight may arrive twice.
func TestRelayDropsMidSendAndComesBack(t *testing.T) {
	const n = 1000
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.PerSecond = 300 })})
	sups := seed(t, env, n)
	c := schedule(t, env)
	for len(env.SMTP.Mails()) < 100 {
		time.Sleep(5 * time.Millisecond)
	}
	env.SMTP.Stop()
	atStop := len(env.SMTP.Mails())
	time.Sleep(1500 * time.Millisecond) // down for a while (MaxConnDown is 2 minutes)

	// Progress is on the record while it waits: the counter and the
	// deliveries, read in one statement, agree.
	var progress struct {
		Status string `db:"status"`
		Sent   int    `db:"sent"`
		Rows   int    `db:"rows"`
	}
	err := env.App.DB().NewQuery(`SELECT status, sent, (SELECT count(*) FROM deliveries WHERE campaign = {:c} AND status = 'sent') AS rows
		FROM campaigns WHERE id = {:c}`).Bind(map[string]any{"c": c.Id}).One(&progress)
	if err != nil {
		t.Fatal(err)
	}
	if atStop >= n || progress.Status != vocab.CampaignSending || progress.Sent == 0 || progress.Sent >= n || progress.Sent != progress.Rows {
		t.Fatalf("while the relay is down (%d mails at the stop): %+v, want sending with 0 < sent = sent deliveries < %d", atStop, progress, n)
	}

	env.SMTP.Start(t)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	per := map[string]int{}
	for _, m := range env.SMTP.Mails() {
		for _, r := range m.To {
			per[r]++
		}
	}
	dups := 0
	for _, s := range sups {
		switch got := per[s.GetString("email")]; {
		case got == 0:
			t.Errorf("%s was missed", s.GetString("email"))
		case got > 1:
			dups += got - 1
		}
	}
	if limit := 8; dups > limit { // one cut-off message per connection at most
		t.Errorf("%d duplicates, want at most %d", dups, limit)
	}
	if done.GetInt("sent") != n || done.GetInt("failed") != 0 || done.GetString("last_error") != "" {
		t.Errorf("sent %d failed %d last_error %q", done.GetInt("sent"), done.GetInt("failed"), done.GetString("last_error"))
	}
	if left := env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"' && status != 'sent'"); left != 0 {
		t.Errorf("%d deliveries not sent", left)
	}
	if alerts := env.Count(t, vocab.Outbox, "kind = 'staff_alert'"); alerts != 0 {
		t.Errorf("%d staff alerts for a short outage", alerts)
	}
}

// The writer updates a delivery by the rowid it was read at, checking the
// id: a row that has moved since (VACUUM renumbers rowids) is still
// updated, by id, and the row now at that rowid is left alone.
func TestResultWriteFindsMovedRows(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	seed(t, env, 3)
	c := testkit.DueCampaign(t, env.App, "Hello", "Body")
	c.Set("status", vocab.CampaignDraft) // the engine leaves drafts alone
	if err := env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	if _, err := campaigns.SnapshotForTest(env.App, c); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID    string `db:"id"`
		RowID int64  `db:"rowid"`
	}
	if err := env.App.DB().NewQuery("SELECT id, rowid FROM {{deliveries}} WHERE campaign = {:c} ORDER BY id").Bind(dbx.Params{"c": c.Id}).All(&rows); err != nil || len(rows) != 3 {
		t.Fatalf("deliveries %v, %v", rows, err)
	}
	for _, w := range []struct {
		id    string
		rowid int64
	}{
		{rows[0].ID, rows[0].RowID},       // where it was read
		{rows[1].ID, rows[2].RowID},       // moved: another delivery is there now
		{rows[2].ID + "x", rows[2].RowID}, // gone: nothing is written
	} {
		if err := campaigns.RecordSentForTest(env.App, c.Id, w.id, w.rowid, "mid-"+w.id); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{vocab.DeliverySent, vocab.DeliverySent, vocab.DeliveryQueued} {
		d, err := env.App.FindRecordById(vocab.Deliveries, rows[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.GetString("status") != want {
			t.Errorf("delivery %d is %s, want %s", i, d.GetString("status"), want)
		}
		if want == vocab.DeliverySent && d.GetString("message_id") != "mid-"+rows[i].ID {
			t.Errorf("delivery %d has message id %q", i, d.GetString("message_id"))
		}
	}
}

// addAdmin adds an admin, who gets staff alerts.
func addAdmin(t testing.TB, env *testkit.Env) string {
	t.Helper()
	admin := core.NewRecord(testkit.Collection(t, env.App, vocab.Staff))
	admin.SetEmail("admin@lanternhouse.org.uk")
	admin.SetPassword("a-long-password-1")
	admin.Set("role", vocab.RoleAdmin)
	if err := env.App.Save(admin); err != nil {
		t.Fatal(err)
	}
	return admin.Email()
}

// refuseAll makes the sink answer every recipient with a temporary refusal.
func refuseAll(env *testkit.Env) {
	env.SMTP.SetPolicy(func(string, int) error {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "sending quota exceeded, try again later"}
	})
}

// alertsTo counts the staff alerts queued for addr whose subject has about.
func alertsTo(t testing.TB, env *testkit.Env, addr, about string) int {
	t.Helper()
	return env.Count(t, vocab.Outbox, "kind = 'staff_alert' && to = '"+addr+"' && subject ~ '"+about+"'")
}

// A relay that answers and refuses every message for a while (quota used
// up, misconfigured) pauses the campaign, with one alert, instead of burning
// the list: nothing is marked failed, and a resume through the API once the
// relay accepts mail again reaches everyone once.
func TestRelayRefusingEverythingPausesAndResumes(t *testing.T) {
	const n = 200
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	admin := addAdmin(t, env)
	sups := seed(t, env, n)
	refuseAll(env)
	c := schedule(t, env)

	paused := waitStatus(t, env, c.Id, vocab.CampaignPaused, 30*time.Second)
	if note := paused.GetString("last_error"); !strings.Contains(note, "refused 50 messages in a row") || !strings.Contains(note, "451") {
		t.Errorf("pause note = %q", note)
	}
	testkit.Eventually(t, 10*time.Second, func() bool { return alertsTo(t, env, admin, "refuses its messages") > 0 })
	filter := "campaign = '" + c.Id + "'"
	if failed := env.Count(t, vocab.Deliveries, filter+" && status = 'failed'"); failed != 0 || paused.GetInt("failed") != 0 {
		t.Errorf("failed deliveries = %d (counter %d), want none: the list must not burn", failed, paused.GetInt("failed"))
	}
	if queued := env.Count(t, vocab.Deliveries, filter+" && status = 'queued'"); queued != n {
		t.Errorf("queued deliveries = %d, want %d", queued, n)
	}
	// Only the refusals that made the run (and those in flight on the other
	// connections when it paused) used up an attempt, one each.
	if tried, limit := env.Count(t, vocab.Deliveries, filter+" && attempts > 0"), 50+8; tried > limit || tried == 0 {
		t.Errorf("%d deliveries used an attempt, want 1 to %d", tried, limit)
	}
	if twice := env.Count(t, vocab.Deliveries, filter+" && attempts > 1"); twice != 0 {
		t.Errorf("%d deliveries were tried more than once before the pause", twice)
	}
	if got := len(env.SMTP.Mails()); got != 0 {
		t.Fatalf("the refusing sink stored %d messages", got)
	}

	env.SMTP.SetPolicy(nil) // the relay accepts mail again
	if status, body := apiPatch(t, env, comms, c.Id, `{"status":"sending"}`); status != http.StatusOK {
		t.Fatalf("resume = %d %s", status, body)
	}
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	if done.GetInt("sent") != n || done.GetInt("failed") != 0 || done.GetString("last_error") != "" {
		t.Errorf("after the resume: sent %d failed %d last_error %q", done.GetInt("sent"), done.GetInt("failed"), done.GetString("last_error"))
	}
	if got := env.Count(t, vocab.Outbox, "kind = 'staff_alert'"); got != 1 {
		t.Errorf("staff alerts = %d, want 1", got)
	}
}

// A campaign with fewer recipients than MaxRefusedInRow, every one refused,
// pauses before any of them uses up its attempts.
func TestSmallCampaignRefusedEverywherePausesBeforeFailing(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	admin := addAdmin(t, env)
	sups := seed(t, env, 5)
	refuseAll(env)
	c := schedule(t, env)

	paused := waitStatus(t, env, c.Id, vocab.CampaignPaused, 30*time.Second)
	testkit.Eventually(t, 10*time.Second, func() bool { return alertsTo(t, env, admin, "refuses its messages") > 0 })
	filter := "campaign = '" + c.Id + "'"
	if failed := env.Count(t, vocab.Deliveries, filter+" && status = 'failed'"); failed != 0 || paused.GetInt("failed") != 0 {
		t.Errorf("failed deliveries = %d (counter %d), want none", failed, paused.GetInt("failed"))
	}
	if spent := env.Count(t, vocab.Deliveries, filter+" && attempts >= 5"); spent != 0 {
		t.Errorf("%d deliveries used up their attempts", spent)
	}

	env.SMTP.SetPolicy(nil)
	paused.Set("status", vocab.CampaignSending) // "resume" in the dashboard
	if err := env.App.Save(paused); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	if got := env.Count(t, vocab.Outbox, "kind = 'staff_alert'"); got != 1 {
		t.Errorf("staff alerts = %d, want 1", got)
	}
}

// Permanent refusals are answers about the recipients, not relay trouble:
// a relay bouncing every message doesn't pause the campaign.
func TestPermanentRefusalsDoNotPause(t *testing.T) {
	const n = 120
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	seed(t, env, n)
	env.SMTP.SetPolicy(func(string, int) error {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "message refused"}
	})
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if done.GetInt("bounced") != n || done.GetInt("failed") != 0 {
		t.Errorf("bounced %d failed %d, want %d and 0", done.GetInt("bounced"), done.GetInt("failed"), n)
	}
	if alerts := env.Count(t, vocab.Outbox, "kind = 'staff_alert'"); alerts != 0 {
		t.Errorf("%d staff alerts for bounces", alerts)
	}
}

// A few addresses refused to the end are retried in a row once everyone
// else has their message, more times than MaxRefusedInRow, but they are a
// few deliveries, not the relay refusing everything: they fail and the
// campaign finishes without pausing.
func TestFewStuckAddressesFailWithoutPausing(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) {
		c.Campaigns.MaxAttempts = 3
		c.Campaigns.MaxRefusedInRow = 5
	})})
	sups := seed(t, env, 40)
	stuck := map[string]bool{}
	for _, s := range sups[10:13] {
		stuck[s.GetString("email")] = true
	}
	env.SMTP.SetPolicy(func(rcpt string, _ int) error {
		if stuck[rcpt] {
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		}
		return nil
	})
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if done.GetInt("sent") != 37 || done.GetInt("failed") != 3 {
		t.Errorf("sent %d failed %d, want 37 and 3", done.GetInt("sent"), done.GetInt("failed"))
	}
	for addr := range stuck {
		if got := env.SMTP.RcptCount(addr); got != 3 {
			t.Errorf("%s was tried %d times, want 3", addr, got)
		}
	}
	if alerts := env.Count(t, vocab.Outbox, "kind = 'staff_alert'"); alerts != 0 {
		t.Errorf("%d staff alerts for three stuck addresses", alerts)
	}
}
