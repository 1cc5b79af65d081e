package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/mailsend"
	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// harness is the real app on SQLite plus an SMTP sink of our own that only
// our worker talks to. The app's own background worker is kept away from the
// rows under test: its sink is never started and SMTP is switched off in its
// settings, so it can't dial anything and never touches a row.
type harness struct {
	env  *testkit.Env
	sink *testkit.SMTPSink

	dials   atomic.Int32
	dialErr atomic.Pointer[error]
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	sink := testkit.NewSMTPSink(t)
	sink.Start(t)
	return newHarnessWith(t, sink)
}

// newRelayHarness is the harness with a misbehaving relay.
func newRelayHarness(t *testing.T, opts testkit.RelayOptions) *harness {
	t.Helper()
	return newHarnessWith(t, testkit.NewRelay(t, opts))
}

func newHarnessWith(t *testing.T, sink *testkit.SMTPSink) *harness {
	t.Helper()
	env := testkit.Start(t, testkit.Options{SMTPDown: true})
	s := env.App.Settings()
	s.SMTP.Enabled = false
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	return &harness{env: env, sink: sink}
}

func (h *harness) dial(ctx context.Context) (mailsend.Sender, error) {
	h.dials.Add(1)
	if p := h.dialErr.Load(); p != nil {
		return nil, *p
	}
	return mailsend.Dial(ctx, mailsend.Config{Host: "127.0.0.1", Port: h.sink.Port, Timeout: 10 * time.Second})
}

func (h *harness) worker(cfg outbox.Config) *outbox.Worker {
	return outbox.NewWorker(h.env.App, cfg, h.dial)
}

func (h *harness) enqueue(t *testing.T, m outbox.Mail) *core.Record {
	t.Helper()
	if m.Kind == "" {
		m.Kind = vocab.KindWelcome
	}
	if m.Subject == "" {
		m.Subject = "Welcome to the park"
	}
	if m.Text == "" {
		m.Text = "Thanks for joining."
	}
	if m.HTML == "" {
		m.HTML = "<p>Thanks for joining.</p>"
	}
	r, err := outbox.Enqueue(h.env.App, m)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *harness) row(t *testing.T, id string) *core.Record {
	t.Helper()
	r, err := h.env.App.FindRecordById(vocab.Outbox, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (h *harness) setColumn(t *testing.T, id, column string, at time.Time) {
	t.Helper()
	_, err := h.env.App.DB().Update(vocab.Outbox,
		dbx.Params{column: at.UTC().Format(types.DefaultDateLayout)},
		dbx.HashExp{"id": id}).Execute()
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) supporter(t *testing.T, email string) *core.Record {
	t.Helper()
	col, err := h.env.App.FindCollectionByNameOrId(vocab.Supporters)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(col)
	r.Set("email", email)
	r.Set("status", vocab.StatusSubscribed)
	if err := h.env.App.Save(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func runOnce(t *testing.T, w *outbox.Worker) int {
	t.Helper()
	n, err := w.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

func smtpErr(code int, enh smtp.EnhancedCode, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: enh, Message: msg}
}

// within checks that got lies in [lo, hi], allowing for the millisecond
// precision the database stores.
func within(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	if got.Before(lo.Add(-time.Millisecond)) || got.After(hi.Add(time.Millisecond)) {
		t.Errorf("%s = %s, want between %s and %s", what, got.Format(time.RFC3339Nano), lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
	}
}

func TestEnqueueValidates(t *testing.T) {
	h := newHarness(t)
	for name, m := range map[string]outbox.Mail{
		"no recipient": {Kind: vocab.KindWelcome, Subject: "s"},
		"no subject":   {To: "a@example.org", Kind: vocab.KindWelcome},
		"no kind":      {To: "a@example.org", Subject: "s"},
		"unknown kind": {To: "a@example.org", Subject: "s", Kind: "spam"},
		"bad address":  {To: "not-an-address", Subject: "s", Kind: vocab.KindWelcome},
	} {
		if r, err := outbox.Enqueue(h.env.App, m); err == nil {
			t.Errorf("%s: Enqueue accepted it as %s", name, r.Id)
		}
	}
	if n := h.env.Count(t, vocab.Outbox, ""); n != 0 {
		t.Errorf("%d rows stored after invalid enqueues", n)
	}
}

func TestEnqueueThenRunOnceDelivers(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	before := time.Now()
	r := h.enqueue(t, outbox.Mail{
		To: "ada@example.org", ToName: "Ada Lovelace", Kind: vocab.KindConfirm,
		Subject: "Please confirm", Text: "Confirm here", HTML: "<p>Confirm here</p>",
		Headers: []mailsend.Header{{Name: "List-Unsubscribe", Value: "<https://crm.example/unsubscribe?t=abc>"}},
	})
	q := h.row(t, r.Id)
	if q.GetString("status") != vocab.OutboxQueued || q.GetInt("attempts") != 0 {
		t.Fatalf("new row status %q attempts %d", q.GetString("status"), q.GetInt("attempts"))
	}
	within(t, "next_attempt_at of a new row", q.GetDateTime("next_attempt_at").Time(), before, time.Now())

	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want 1", n)
	}
	after := time.Now()
	mails := h.sink.To("ada@example.org")
	if len(mails) != 1 {
		t.Fatalf("relay got %d mails, want 1", len(mails))
	}
	m := mails[0]
	if m.From != h.env.App.Settings().Meta.SenderAddress {
		t.Errorf("envelope from = %q, want the app's sender address", m.From)
	}
	if m.Header.Get("Subject") != "Please confirm" || strings.TrimSpace(m.Text) != "Confirm here" || strings.TrimSpace(m.HTML) != "<p>Confirm here</p>" {
		t.Errorf("mail subject %q text %q html %q", m.Header.Get("Subject"), m.Text, m.HTML)
	}
	if !strings.Contains(m.Header.Get("To"), "Ada Lovelace") {
		t.Errorf("To = %q, want the name", m.Header.Get("To"))
	}
	if lu := m.Header.Get("List-Unsubscribe"); lu != "<https://crm.example/unsubscribe?t=abc>" {
		t.Errorf("List-Unsubscribe = %q", lu)
	}

	s := h.row(t, r.Id)
	if s.GetString("status") != vocab.OutboxSent || s.GetInt("attempts") != 1 || s.GetString("last_error") != "" {
		t.Errorf("row after send: status %q attempts %d last_error %q", s.GetString("status"), s.GetInt("attempts"), s.GetString("last_error"))
	}
	id := s.GetString("message_id")
	if id == "" || m.Header.Get("Message-ID") != "<"+id+">" {
		t.Errorf("row message_id %q, mail Message-ID %q", id, m.Header.Get("Message-ID"))
	}
	within(t, "sent_at", s.GetDateTime("sent_at").Time(), before, after)

	if n := runOnce(t, w); n != 0 {
		t.Errorf("second RunOnce sent %d, want 0", n)
	}
	if got := len(h.sink.Mails()); got != 1 {
		t.Errorf("relay has %d mails after a second run, want 1", got)
	}
}

func TestBatchesUseOneConnectionEach(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{Batch: 2})
	var ids []string
	for i := range 5 {
		ids = append(ids, h.enqueue(t, outbox.Mail{To: fmt.Sprintf("b%d@example.org", i)}).Id)
	}
	if n := runOnce(t, w); n != 5 {
		t.Fatalf("RunOnce sent %d, want 5", n)
	}
	if d := h.dials.Load(); d != 3 {
		t.Errorf("5 mails in batches of 2 used %d connections, want 3", d)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		r := h.row(t, id)
		if r.GetString("status") != vocab.OutboxSent {
			t.Errorf("row %s status %q", id, r.GetString("status"))
		}
		if seen[r.GetString("message_id")] {
			t.Errorf("message_id %q used twice", r.GetString("message_id"))
		}
		seen[r.GetString("message_id")] = true
	}
	if len(h.sink.Mails()) != 5 {
		t.Errorf("relay got %d mails, want 5", len(h.sink.Mails()))
	}
}

func TestTemporaryRefusalRetriesAndDeliversOnce(t *testing.T) {
	h := newHarness(t)
	const base = 200 * time.Millisecond
	w := h.worker(outbox.Config{RetryBase: base, RetryMax: time.Second})
	const rcpt = "greylisted@example.org"
	var secondAttempt atomic.Int64
	h.sink.SetPolicy(func(to string, attempt int) error {
		if to != rcpt {
			return nil
		}
		if attempt == 1 {
			return smtpErr(451, smtp.EnhancedCode{4, 7, 1}, "greylisted, try again later")
		}
		secondAttempt.Store(time.Now().UnixNano())
		return nil
	})
	r := h.enqueue(t, outbox.Mail{To: rcpt})
	other := h.enqueue(t, outbox.Mail{To: "fine@example.org"})

	before := time.Now()
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want 1 (the refusal of one mail must not stop the other)", n)
	}
	after := time.Now()
	q := h.row(t, r.Id)
	if q.GetString("status") != vocab.OutboxQueued || q.GetInt("attempts") != 1 {
		t.Fatalf("after 451: status %q attempts %d, want queued 1", q.GetString("status"), q.GetInt("attempts"))
	}
	if le := q.GetString("last_error"); !strings.Contains(le, "451") {
		t.Errorf("last_error = %q, want the 451 reply", le)
	}
	next := q.GetDateTime("next_attempt_at").Time()
	within(t, "next_attempt_at after 451", next, before.Add(base/2), after.Add(base))
	if h.row(t, other.Id).GetString("status") != vocab.OutboxSent {
		t.Errorf("the other mail was not sent")
	}
	if len(h.sink.To(rcpt)) != 0 {
		t.Fatalf("refused mail was delivered")
	}

	// Keep running the worker until the retry is due and delivered.
	sent := 0
	deadline := time.Now().Add(15 * time.Second)
	for h.row(t, r.Id).GetString("status") == vocab.OutboxQueued {
		if time.Now().After(deadline) {
			t.Fatalf("retry not delivered by the deadline; row %v", h.row(t, r.Id).FieldsData())
		}
		sent += runOnce(t, w)
		time.Sleep(10 * time.Millisecond)
	}
	if sent != 1 {
		t.Errorf("retry runs sent %d, want 1", sent)
	}
	s := h.row(t, r.Id)
	if s.GetString("status") != vocab.OutboxSent || s.GetInt("attempts") != 2 || s.GetString("last_error") != "" || s.GetString("message_id") == "" {
		t.Errorf("after retry: status %q attempts %d last_error %q message_id %q",
			s.GetString("status"), s.GetInt("attempts"), s.GetString("last_error"), s.GetString("message_id"))
	}
	if at := time.Unix(0, secondAttempt.Load()); at.Before(next) {
		t.Errorf("retried at %s, before next_attempt_at %s", at.Format(time.RFC3339Nano), next.Format(time.RFC3339Nano))
	}
	if n := runOnce(t, w); n != 0 {
		t.Errorf("RunOnce after delivery sent %d", n)
	}
	if got := len(h.sink.To(rcpt)); got != 1 {
		t.Errorf("delivered %d times, want exactly 1", got)
	}
	if got := h.sink.RcptCount(rcpt); got != 2 {
		t.Errorf("relay saw %d attempts for %s, want 2", got, rcpt)
	}
}

func TestRetryBackoffWaitsAndDoubles(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{RetryBase: time.Hour, RetryMax: 3 * time.Hour})
	h.sink.SetPolicy(func(string, int) error { return smtpErr(451, smtp.EnhancedCode{4, 3, 0}, "busy") })
	r := h.enqueue(t, outbox.Mail{To: "busy@example.org"})
	for attempt, window := range [][2]time.Duration{
		{30 * time.Minute, time.Hour},
		{time.Hour, 2 * time.Hour},
		{90 * time.Minute, 3 * time.Hour}, // 4h capped at RetryMax
		{90 * time.Minute, 3 * time.Hour},
	} {
		before := time.Now()
		if n := runOnce(t, w); n != 0 {
			t.Fatalf("attempt %d sent %d", attempt+1, n)
		}
		after := time.Now()
		q := h.row(t, r.Id)
		if q.GetString("status") != vocab.OutboxQueued || q.GetInt("attempts") != attempt+1 {
			t.Fatalf("attempt %d: status %q attempts %d", attempt+1, q.GetString("status"), q.GetInt("attempts"))
		}
		within(t, fmt.Sprintf("next_attempt_at after attempt %d", attempt+1), q.GetDateTime("next_attempt_at").Time(), before.Add(window[0]), after.Add(window[1]))

		// Not due yet: the worker leaves it alone.
		runOnce(t, w)
		if got := h.sink.RcptCount("busy@example.org"); got != attempt+1 {
			t.Fatalf("relay saw %d attempts before the retry was due, want %d", got, attempt+1)
		}
		h.setColumn(t, r.Id, "next_attempt_at", time.Now().Add(-time.Second))
	}
}

func TestPermanentRefusalFailsAtOnce(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{RetryBase: 10 * time.Millisecond})
	const rcpt = "nobody@example.org"
	h.sink.SetPolicy(func(to string, _ int) error {
		if to == rcpt {
			return smtpErr(550, smtp.EnhancedCode{5, 1, 1}, "no such user")
		}
		return nil
	})
	r := h.enqueue(t, outbox.Mail{To: rcpt})
	ok := h.enqueue(t, outbox.Mail{To: "ok@example.org"})
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want 1", n)
	}
	f := h.row(t, r.Id)
	if f.GetString("status") != vocab.OutboxFailed || f.GetInt("attempts") != 1 || !strings.Contains(f.GetString("last_error"), "550") {
		t.Fatalf("after 550: status %q attempts %d last_error %q", f.GetString("status"), f.GetInt("attempts"), f.GetString("last_error"))
	}
	if !f.GetDateTime("sent_at").IsZero() || f.GetString("message_id") != "" {
		t.Errorf("failed row has sent_at %v message_id %q", f.GetDateTime("sent_at"), f.GetString("message_id"))
	}
	if h.row(t, ok.Id).GetString("status") != vocab.OutboxSent {
		t.Error("the other mail in the batch was not sent")
	}

	// Never retried, even when due and the relay would now accept it.
	h.sink.SetPolicy(nil)
	h.setColumn(t, r.Id, "next_attempt_at", time.Now().Add(-time.Hour))
	for range 3 {
		if n := runOnce(t, w); n != 0 {
			t.Fatalf("failed mail was retried (sent %d)", n)
		}
	}
	if got := h.sink.RcptCount(rcpt); got != 1 {
		t.Errorf("relay saw %d attempts for a permanently refused mail, want 1", got)
	}
	if len(h.sink.To(rcpt)) != 0 || h.row(t, r.Id).GetString("status") != vocab.OutboxFailed {
		t.Error("permanently refused mail was delivered or changed")
	}
}

func TestGiveUpAfterMarksFailed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		giveUp  time.Duration // 0 = the 72h default
		age     time.Duration
		outcome string
	}{
		{"default 72h exceeded", 0, 73 * time.Hour, vocab.OutboxFailed},
		{"default 72h not reached", 0, 71 * time.Hour, vocab.OutboxQueued},
		{"custom 1h exceeded", time.Hour, 2 * time.Hour, vocab.OutboxFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			w := h.worker(outbox.Config{GiveUpAfter: tc.giveUp, RetryBase: time.Hour})
			h.sink.SetPolicy(func(string, int) error { return smtpErr(451, smtp.EnhancedCode{4, 4, 1}, "later") })
			r := h.enqueue(t, outbox.Mail{To: "old@example.org"})
			h.setColumn(t, r.Id, "created", time.Now().Add(-tc.age))
			if n := runOnce(t, w); n != 0 {
				t.Fatalf("sent %d", n)
			}
			q := h.row(t, r.Id)
			if q.GetString("status") != tc.outcome || q.GetInt("attempts") != 1 || !strings.Contains(q.GetString("last_error"), "451") {
				t.Errorf("status %q attempts %d last_error %q, want %s", q.GetString("status"), q.GetInt("attempts"), q.GetString("last_error"), tc.outcome)
			}
		})
	}
}

func TestRelayUnreachableLeavesRowsUntouched(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	var ids []string
	for i := range 3 {
		ids = append(ids, h.enqueue(t, outbox.Mail{To: fmt.Sprintf("u%d@example.org", i)}).Id)
	}
	snapshot := func() map[string]string {
		out := map[string]string{}
		for _, id := range ids {
			r := h.row(t, id)
			out[id] = fmt.Sprint(r.GetString("status"), "|", r.GetInt("attempts"), "|", r.GetString("last_error"), "|",
				r.GetString("next_attempt_at"), "|", r.GetString("updated"))
		}
		return out
	}
	orig := snapshot()

	// A real relay that is down: connection refused.
	h.sink.Stop()
	if c, err := net.Dial("tcp", h.sink.Addr); err == nil {
		c.Close()
		t.Fatal("the relay is still listening after stop")
	}
	n, err := w.RunOnce(context.Background())
	if err == nil || n != 0 {
		t.Fatalf("RunOnce with the relay down = %d, %v; want 0 and an error", n, err)
	}
	if !mailsend.IsConnectionError(err) {
		t.Errorf("relay down: error %v is not a connection error", err)
	}
	// A DialFunc failure of any other kind.
	notConfigured := outbox.ErrNotConfigured
	h.dialErr.Store(&notConfigured)
	if n, err := w.RunOnce(context.Background()); !errors.Is(err, outbox.ErrNotConfigured) || n != 0 {
		t.Fatalf("RunOnce with dial failing = %d, %v", n, err)
	}
	if got := snapshot(); fmt.Sprint(got) != fmt.Sprint(orig) {
		t.Errorf("rows changed while the relay was unreachable:\nbefore %v\nafter  %v", orig, got)
	}

	h.dialErr.Store(nil)
	h.sink.Start(t) // back up on the same port
	if n := runOnce(t, w); n != 3 {
		t.Fatalf("after the relay came back RunOnce sent %d, want 3", n)
	}
	for _, id := range ids {
		if r := h.row(t, id); r.GetString("status") != vocab.OutboxSent || r.GetInt("attempts") != 1 {
			t.Errorf("row %s: status %q attempts %d", id, r.GetString("status"), r.GetInt("attempts"))
		}
	}
}

func TestCancelQueued(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	ann := h.supporter(t, "ann@example.org")
	bob := h.supporter(t, "bob@example.org")

	annSent := h.enqueue(t, outbox.Mail{To: "ann@example.org", SupporterID: ann.Id, Kind: vocab.KindConfirm})
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("sent %d", n)
	}
	ann1 := h.enqueue(t, outbox.Mail{To: "ann@example.org", SupporterID: ann.Id})
	ann2 := h.enqueue(t, outbox.Mail{To: "ann@example.org", SupporterID: ann.Id, Kind: vocab.KindAlreadySubscribed})
	bob1 := h.enqueue(t, outbox.Mail{To: "bob@example.org", SupporterID: bob.Id})
	anon := h.enqueue(t, outbox.Mail{To: "staff@example.org", Kind: vocab.KindAlert})

	n, err := outbox.CancelQueued(h.env.App, ann.Id)
	if err != nil || n != 2 {
		t.Fatalf("CancelQueued(ann) = %d, %v; want 2", n, err)
	}
	for _, id := range []string{ann1.Id, ann2.Id} {
		r := h.row(t, id)
		if r.GetString("status") != vocab.OutboxCancelled || !strings.Contains(r.GetString("last_error"), "cancelled") {
			t.Errorf("ann's row %s: status %q last_error %q", id, r.GetString("status"), r.GetString("last_error"))
		}
	}
	if s := h.row(t, annSent.Id).GetString("status"); s != vocab.OutboxSent {
		t.Errorf("ann's already sent row became %q", s)
	}
	if n, err := outbox.CancelQueued(h.env.App, ann.Id); err != nil || n != 0 {
		t.Errorf("second CancelQueued(ann) = %d, %v; want 0", n, err)
	}
	if n, err := outbox.CancelQueued(h.env.App, "nosuchsupporter"); err != nil || n != 0 {
		t.Errorf("CancelQueued(unknown) = %d, %v; want 0", n, err)
	}

	if n := runOnce(t, w); n != 2 {
		t.Fatalf("RunOnce sent %d, want 2 (bob and the staff alert)", n)
	}
	for _, id := range []string{bob1.Id, anon.Id} {
		if s := h.row(t, id).GetString("status"); s != vocab.OutboxSent {
			t.Errorf("row %s status %q, want sent", id, s)
		}
	}
	for _, id := range []string{ann1.Id, ann2.Id} {
		if s := h.row(t, id).GetString("status"); s != vocab.OutboxCancelled {
			t.Errorf("cancelled row %s became %q", id, s)
		}
	}
	if got := len(h.sink.To("ann@example.org")); got != 1 {
		t.Errorf("ann got %d mails, want only the one sent before cancelling", got)
	}
	if got := len(h.sink.To("bob@example.org")); got != 1 {
		t.Errorf("bob got %d mails, want 1", got)
	}
}

// A row cancelled after the worker read its batch is still not sent.
func TestCancelDuringBatchIsHonoured(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	bob := h.supporter(t, "bob@example.org")
	first := h.enqueue(t, outbox.Mail{To: "first@example.org"})
	h.setColumn(t, first.Id, "next_attempt_at", time.Now().Add(-time.Minute)) // sorts first
	later := h.enqueue(t, outbox.Mail{To: "bob@example.org", SupporterID: bob.Id})

	var cancelled atomic.Int32
	var cancelErr atomic.Pointer[error]
	h.sink.SetPolicy(func(to string, _ int) error {
		if to == "first@example.org" {
			// The batch has been read; bob unsubscribes while it is being sent.
			n, err := outbox.CancelQueued(h.env.App, bob.Id)
			if err != nil {
				cancelErr.Store(&err)
			}
			cancelled.Store(int32(n))
		}
		return nil
	})
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want 1", n)
	}
	if p := cancelErr.Load(); p != nil {
		t.Fatalf("CancelQueued: %v", *p)
	}
	if cancelled.Load() != 1 {
		t.Fatalf("CancelQueued during the batch cancelled %d rows, want 1", cancelled.Load())
	}
	if got := len(h.sink.To("bob@example.org")); got != 0 {
		t.Errorf("bob got %d mails after cancelling", got)
	}
	if s := h.row(t, later.Id).GetString("status"); s != vocab.OutboxCancelled {
		t.Errorf("bob's row is %q, want cancelled", s)
	}
}

func TestQueuedSince(t *testing.T) {
	h := newHarness(t)
	before := time.Now().Add(-2 * time.Second)
	r := h.enqueue(t, outbox.Mail{To: "q@example.org", Kind: vocab.KindConfirm})
	created := r.GetDateTime("created").Time()
	for _, tc := range []struct {
		to, kind string
		since    time.Time
		want     bool
	}{
		{"q@example.org", vocab.KindConfirm, before, true},
		{"q@example.org", vocab.KindConfirm, before.In(time.FixedZone("UTC+5", 5*3600)), true},
		{"q@example.org", vocab.KindConfirm, created.Add(-time.Second), true},
		{"q@example.org", vocab.KindConfirm, created.Add(time.Second), false},
		{"q@example.org", vocab.KindConfirm, time.Now().Add(time.Hour), false},
		{"q@example.org", vocab.KindWelcome, before, false},
		{"other@example.org", vocab.KindConfirm, before, false},
	} {
		got, err := outbox.QueuedSince(h.env.App, tc.to, tc.kind, tc.since)
		if err != nil || got != tc.want {
			t.Errorf("QueuedSince(%s, %s, %s) = %v, %v; want %v", tc.to, tc.kind, tc.since.Format(time.RFC3339), got, err, tc.want)
		}
	}
	// Sending or cancelling a message does not hide it from the flood check.
	s := h.supporter(t, "q@example.org")
	r2 := h.enqueue(t, outbox.Mail{To: "q@example.org", Kind: vocab.KindWelcome, SupporterID: s.Id})
	if _, err := outbox.CancelQueued(h.env.App, s.Id); err != nil {
		t.Fatal(err)
	}
	if st := h.row(t, r2.Id).GetString("status"); st != vocab.OutboxCancelled {
		t.Fatalf("status %q", st)
	}
	if got, err := outbox.QueuedSince(h.env.App, "q@example.org", vocab.KindWelcome, before); err != nil || !got {
		t.Errorf("QueuedSince after cancel = %v, %v; want true", got, err)
	}
}

func TestRunSendsOnWakeAndStops(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{PollInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	r := h.enqueue(t, outbox.Mail{To: "wake@example.org"})
	w.Wake()
	deadline := time.Now().Add(15 * time.Second)
	for len(h.sink.To("wake@example.org")) == 0 || h.row(t, r.Id).GetString("status") != vocab.OutboxSent {
		if time.Now().After(deadline) {
			t.Fatal("row not marked sent")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if got := len(h.sink.To("wake@example.org")); got != 1 {
		t.Errorf("delivered %d times, want 1", got)
	}
}

func TestSMTPConfig(t *testing.T) {
	h := newHarness(t)
	s, err := h.env.App.Settings().Clone()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := outbox.SMTPConfig(s); ok {
		t.Error("SMTPConfig reported enabled for disabled settings")
	}
	s.SMTP.Enabled = true
	s.SMTP.Host = "smtp.example.org"
	s.SMTP.Port = 465
	s.SMTP.TLS = true
	s.SMTP.Username = "user"
	s.SMTP.Password = "pass"
	s.SMTP.AuthMethod = "LOGIN"
	s.SMTP.LocalName = "crm.example.org"
	cfg, ok := outbox.SMTPConfig(s)
	want := mailsend.Config{Host: "smtp.example.org", Port: 465, ImplicitTLS: true, Username: "user", Password: "pass", AuthMethod: "LOGIN", HELO: "crm.example.org"}
	if !ok || cfg != want {
		t.Errorf("SMTPConfig = %+v, %v; want %+v", cfg, ok, want)
	}
	s.SMTP.Host = ""
	if _, ok := outbox.SMTPConfig(s); ok {
		t.Error("SMTPConfig reported enabled without a host")
	}
	if _, err := outbox.DialSettings(h.env.App, nil)(context.Background()); !errors.Is(err, outbox.ErrNotConfigured) {
		t.Errorf("DialSettings with SMTP off = %v, want ErrNotConfigured", err)
	}
}

// SMTPSink.Stop right after Start must close the port, even before go-smtp's
// Serve goroutine has run.
func TestSinkStopRightAfterStart(t *testing.T) {
	for i := range 20 {
		s := testkit.NewSMTPSink(t)
		s.Start(t)
		s.Stop()
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			t.Fatalf("round %d: sink still accepts connections after Stop", i)
		}
	}
}

// An empty supporter id must not match every queued mail without a supporter.
func TestCancelQueuedRefusesEmptySupporter(t *testing.T) {
	env := testkit.Start(t, testkit.Options{SMTPDown: true})
	if _, err := outbox.Enqueue(env.App, outbox.Mail{To: "staff@example.org", Kind: vocab.KindAlert, Subject: "Alert", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	if n, err := outbox.CancelQueued(env.App, ""); err == nil || n != 0 {
		t.Fatalf("CancelQueued(\"\") = %d, %v; want an error", n, err)
	}
	if n := env.Count(t, vocab.Outbox, "status = 'queued'"); n != 1 {
		t.Fatalf("queued rows = %d, want 1", n)
	}
}
