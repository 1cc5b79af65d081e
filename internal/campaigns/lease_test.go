package campaigns_test

import (
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/charity"
	"supportercrm/internal/outbox"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/views"
	"supportercrm/internal/vocab"
	"supportercrm/templates"
)

// bareEnv is an app on a fresh database with its mail settings on a running
// SMTP sink, and no engine of its own: tests start theirs with bareEngine,
// as many as they like, as several serving processes would.
func bareEnv(t *testing.T) *testkit.Env {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	sink := testkit.NewSMTPSink(t)
	sink.Start(t)
	s := app.Settings()
	s.Meta.AppURL = "http://127.0.0.1:1"
	s.SMTP.Enabled = true
	s.SMTP.Host = "127.0.0.1"
	s.SMTP.Port = sink.Port
	if err := app.Save(s); err != nil {
		t.Fatal(err)
	}
	return &testkit.Env{App: app, SMTP: sink}
}

// bareEngine starts an engine on env's app, wired as pb_hooks wires one, and
// ticks it every 20 ms until the test ends (tick false: the test ticks it).
func bareEngine(t *testing.T, env *testkit.Env, cfg campaigns.Config, tick bool) *campaigns.Engine {
	t.Helper()
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 20 * time.Millisecond
	}
	if cfg.WatchInterval == 0 {
		cfg.WatchInterval = 50 * time.Millisecond
	}
	e := &campaigns.Engine{
		App: env.App, Config: cfg, Dial: outbox.DialSettings(env.App, nil), Signer: testkit.Signer(t),
		Identity: charity.NewSource(env.App).Get, Layouts: views.Overlay("", templates.FS), Hash: signup.HashEmail,
		Alert: func(string, string) {},
	}
	e.Start()
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		<-stopped
		e.Stop(10 * time.Second)
	})
	go func() {
		defer close(stopped)
		for tick {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				e.Tick()
			}
		}
		<-done
	}()
	return e
}

// Two engines on one database (two serving processes in an overlapping
// deploy) both tick the same due campaign: one of them prepares and sends
// it, and each supporter gets it once.
func TestTwoEnginesSendACampaignOnce(t *testing.T) {
	env := bareEnv(t)
	sups := seed(t, env, 1500)
	cfg := campaigns.Config{PerSecond: 1000}
	bareEngine(t, env, cfg, true)
	bareEngine(t, env, cfg, true)
	c := schedule(t, env)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	if len(env.SMTP.Mails()) != len(sups) || done.GetInt("sent") != len(sups) || done.GetInt("total") != len(sups) {
		t.Errorf("mails %d, campaign sent %d of %d; want %d", len(env.SMTP.Mails()), done.GetInt("sent"), done.GetInt("total"), len(sups))
	}
	assertOncePerRecipient(t, env, sups, c.Id)
}

// leaseOf reads a campaign's lease.
func leaseOf(t *testing.T, env *testkit.Env, id string) (holder string, expires types.DateTime) {
	t.Helper()
	c := storedCampaign(t, env, id)
	return c.GetString("lease_holder"), c.GetDateTime("lease_expires")
}

// setLease writes a campaign's lease as another process would.
func setLease(t *testing.T, env *testkit.Env, id, holder string, expires time.Time) {
	t.Helper()
	_, err := env.App.DB().NewQuery("UPDATE {{campaigns}} SET lease_holder = {:h}, lease_expires = {:x} WHERE id = {:id}").
		Bind(dbx.Params{"id": id, "h": holder, "x": expires.UTC().Format(types.DefaultDateLayout)}).Execute()
	if err != nil {
		t.Fatal(err)
	}
}

// An engine whose lease another process has taken (it could not renew it
// in time, say, and it expired) stops sending at once, though the campaign
// is still "sending"; it sends the rest once that lease has expired.
func TestLostLeaseStopsSending(t *testing.T) {
	env := bareEnv(t)
	const n = 3000
	sups := seed(t, env, n)
	bareEngine(t, env, campaigns.Config{PerSecond: 200, LeaseTTL: 600 * time.Millisecond}, true)
	c := schedule(t, env)
	testkit.Eventually(t, 30*time.Second, func() bool { return len(env.SMTP.Mails()) >= 200 })
	if holder, _ := leaseOf(t, env, c.Id); holder == "" {
		t.Fatal("a sending campaign has no lease holder")
	}
	setLease(t, env, c.Id, "other-host:1:000000000000", time.Now().Add(time.Hour))

	time.Sleep(time.Second) // ten renewals: the engine has seen its lease go
	stoppedAt := len(env.SMTP.Mails())
	time.Sleep(time.Second) // at 200 a second it would send 200 more
	if now := len(env.SMTP.Mails()); now != stoppedAt || now >= n {
		t.Fatalf("mails went on after the lease was lost: %d, then %d", stoppedAt, now)
	}
	if got := storedCampaign(t, env, c.Id); got.GetString("status") != vocab.CampaignSending {
		t.Fatalf("status %q, want still sending (another process holds it)", got.GetString("status"))
	}
	testkit.Eventually(t, 5*time.Second, func() bool {
		return env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"' && status = 'sent'") == stoppedAt
	})

	setLease(t, env, c.Id, "other-host:1:000000000000", time.Now().Add(-time.Second)) // it expired
	waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	assertOncePerRecipient(t, env, sups, c.Id)
	// The runner releases the lease just after it marks the campaign sent.
	testkit.Eventually(t, 5*time.Second, func() bool { holder, _ := leaseOf(t, env, c.Id); return holder == "" })
}

// The snapshot is written in chunks, each moving a cursor on the campaign:
// an engine stopped after the first chunk leaves the campaign "preparing"
// with part of its audience (some of it sent and recorded); another engine resumes it from the cursor once
// the stopped one's lease has expired (a crash leaves it held), and every
// supporter gets one delivery and one message.
func TestSnapshotResumesAfterAStopMidway(t *testing.T) {
	env := bareEnv(t)
	const n = 1000
	sups := seed(t, env, n)
	first := bareEngine(t, env, campaigns.Config{SnapshotChunk: 100, SnapshotPause: 200 * time.Millisecond}, false)
	c := schedule(t, env)
	first.Tick()
	testkit.Eventually(t, 10*time.Second, func() bool { return storedCampaign(t, env, c.Id).GetInt("snapshot_cursor") > 0 })
	first.Stop(10 * time.Second)

	mid := storedCampaign(t, env, c.Id)
	total := mid.GetInt("total")
	if mid.GetString("status") != vocab.CampaignPreparing || total == 0 || total >= n {
		t.Fatalf("after the stop: status %q, total %d; want preparing with part of %d", mid.GetString("status"), total, n)
	}
	if rows := env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"'"); rows != total {
		t.Fatalf("%d deliveries written, campaign total %d", rows, total)
	}
	// The run sends each chunk once it is written (issue 15): what it sent
	// before the stop is recorded, so the resumed run sends it no more.
	if sent, mails := env.Count(t, vocab.Deliveries, "campaign = '"+c.Id+"' && status = 'sent'"), len(env.SMTP.Mails()); sent != mails {
		t.Fatalf("%d mails sent before the stop, %d deliveries recorded sent", mails, sent)
	}
	// As after a crash: the lease is still held, for a little while.
	expires := time.Now().Add(500 * time.Millisecond)
	setLease(t, env, c.Id, "crashed-host:1:000000000000", expires)

	bareEngine(t, env, campaigns.Config{SnapshotChunk: 100}, true)
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	if done.GetInt("total") != n || done.GetInt("sent") != n {
		t.Errorf("total %d sent %d, want %d", done.GetInt("total"), done.GetInt("sent"), n)
	}
	var distinct int
	if err := env.App.DB().Select("count(DISTINCT supporter)").From(vocab.Deliveries).Where(dbx.HashExp{"campaign": c.Id}).Row(&distinct); err != nil || distinct != n {
		t.Errorf("deliveries for %d distinct supporters (%v), want %d", distinct, err, n)
	}
	assertOncePerRecipient(t, env, sups, c.Id)
	var early int
	err := env.App.DB().NewQuery("SELECT count(*) FROM {{deliveries}} WHERE campaign = {:c} AND created > {:mid} AND created < {:x}").
		Bind(dbx.Params{"c": c.Id, "mid": mid.GetDateTime("updated").String(), "x": expires.UTC().Format(types.DefaultDateLayout)}).Row(&early)
	if err != nil || early != 0 {
		t.Errorf("%d deliveries written while the crashed engine's lease held (%v)", early, err)
	}
}

// A stopped engine gives its leases up: another process need not wait for
// them to expire, and sends the rest before the lease would have.
func TestStopReleasesTheLease(t *testing.T) {
	env := bareEnv(t)
	sups := seed(t, env, 500)
	first := bareEngine(t, env, campaigns.Config{PerSecond: 100}, true)
	c := schedule(t, env)
	testkit.Eventually(t, 30*time.Second, func() bool { return len(env.SMTP.Mails()) >= 20 })
	holder, expires := leaseOf(t, env, c.Id)
	if holder == "" || !expires.Time().After(time.Now()) {
		t.Fatalf("lease %q until %v while sending", holder, expires)
	}
	first.Stop(10 * time.Second)
	if holder, expires := leaseOf(t, env, c.Id); holder != "" || !expires.IsZero() {
		t.Fatalf("lease still held by %q until %v after a graceful stop", holder, expires)
	}
	if got := storedCampaign(t, env, c.Id); got.GetString("status") != vocab.CampaignSending {
		t.Fatalf("status %q after the stop, want sending", got.GetString("status"))
	}
	bareEngine(t, env, campaigns.Config{PerSecond: 500}, true)
	waitStatus(t, env, c.Id, vocab.CampaignSent, time.Until(expires.Time()))
	assertOncePerRecipient(t, env, sups, c.Id)
}
