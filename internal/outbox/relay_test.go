package outbox_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/outbox"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// dueNow makes every waiting row due, so a run would retry anything the
// worker had scheduled again.
func (h *harness) dueNow(t *testing.T) {
	t.Helper()
	_, err := h.env.App.DB().Update(vocab.Outbox, dbx.Params{"next_attempt_at": "2000-01-01 00:00:00.000Z"},
		dbx.HashExp{"status": vocab.OutboxQueued}).Execute()
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) expectRow(t *testing.T, r *core.Record, status string, attempts int) *core.Record {
	t.Helper()
	got := h.row(t, r.Id)
	if got.GetString("status") != status || got.GetInt("attempts") != attempts {
		t.Errorf("%s: status %q attempts %d (last_error %q), want %s after %d", got.GetString("to"),
			got.GetString("status"), got.GetInt("attempts"), got.GetString("last_error"), status, attempts)
	}
	return got
}

// A confirmation the relay accepted is recorded sent and never sent again,
// though the line dropped right after the relay's 250 (issue 9.1). No RSET
// follows an accepted message (the 250 ends the transaction), so a relay
// that would answer one with 421 never gets the chance.
func TestAcceptedMailIsSentOnce(t *testing.T) {
	h := newRelayHarness(t, testkit.RelayOptions{})
	w := h.worker(outbox.Config{RetryBase: time.Millisecond, RetryMax: time.Millisecond})
	var rows []*core.Record
	for i, to := range []string{"dropped@example.org", "reset@example.org", "after@example.org"} {
		r := h.enqueue(t, outbox.Mail{To: to, Kind: vocab.KindConfirm})
		h.setColumn(t, r.Id, "next_attempt_at", time.Now().Add(time.Duration(i-10)*time.Second)) // in this order
		rows = append(rows, r)
	}
	h.sink.Fail(testkit.AfterData, testkit.Fault{Rcpt: "dropped@example.org", First: 1})
	h.sink.Fail(testkit.AtRset, testkit.Fault{Code: 421, First: 1})

	n, err := w.RunOnce(t.Context())
	if err != nil || n != 3 {
		t.Errorf("RunOnce = %d, %v; want all 3 sent", n, err)
	}
	if h.sink.Fired(testkit.AfterData) != 1 || h.sink.Fired(testkit.AtRset) != 0 {
		t.Fatalf("faults fired: drop after 250 %d, 421 to RSET %d; want 1 and none", h.sink.Fired(testkit.AfterData), h.sink.Fired(testkit.AtRset))
	}
	for range 3 { // anything scheduled for a retry would go now
		h.dueNow(t)
		if _, err := w.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		got := h.expectRow(t, r, vocab.OutboxSent, 1)
		if got.GetString("message_id") == "" || got.GetString("last_error") != "" {
			t.Errorf("%s: message_id %q last_error %q", got.GetString("to"), got.GetString("message_id"), got.GetString("last_error"))
		}
	}
	for _, to := range []string{"dropped@example.org", "reset@example.org", "after@example.org"} {
		if got := h.sink.Accepted()[to]; got != 1 {
			t.Errorf("%s: relay accepted %d copies, want exactly 1", to, got)
		}
	}
}

// A connection that died while idle costs no message: the next message is
// sent on a new connection at once, with one attempt; and when the relay
// cannot be reached again, the message goes back unsent, no attempt counted
// and no nearer giving up, however old it is (issue 9.2).
func TestDeadConnectionCostsNoAttempt(t *testing.T) {
	h := newRelayHarness(t, testkit.RelayOptions{IdleTimeout: 300 * time.Millisecond})
	const slow, gone = "slow@example.org", "gone@example.org"
	var down atomic.Bool
	w := h.worker(outbox.Config{Suppressed: func(_ core.App, to string) (bool, error) {
		switch to {
		case slow: // a pause between messages, past the relay's idle limit
			time.Sleep(time.Second)
		case gone: // a pause, and meanwhile the relay stops answering
			time.Sleep(time.Second)
			if down.Load() {
				h.sink.Fail(testkit.AtGreeting, testkit.Fault{Code: 421})
			}
		}
		return false, nil
	}})
	first := h.enqueue(t, outbox.Mail{To: "first@example.org"})
	h.setColumn(t, first.Id, "next_attempt_at", time.Now().Add(-time.Minute))
	second := h.enqueue(t, outbox.Mail{To: slow})

	if n := runOnce(t, w); n != 2 {
		t.Errorf("RunOnce sent %d, want 2", n)
	}
	if h.sink.IdleCloses() == 0 {
		t.Fatal("the relay closed no idle connection: the test did not test anything")
	}
	h.expectRow(t, first, vocab.OutboxSent, 1)
	h.expectRow(t, second, vocab.OutboxSent, 1)

	// Now the relay goes away while the connection idles, for a message
	// older than GiveUpAfter.
	down.Store(true)
	old := h.enqueue(t, outbox.Mail{To: gone})
	h.setColumn(t, old.Id, "created", time.Now().Add(-100*time.Hour))
	if n, err := w.RunOnce(t.Context()); err == nil || n != 0 {
		t.Errorf("RunOnce with the relay gone = %d, %v; want 0 and an error", n, err)
	}
	got := h.expectRow(t, old, vocab.OutboxQueued, 0)
	if due := got.GetDateTime("next_attempt_at").Time(); due.After(time.Now()) {
		t.Errorf("the message unsent is due at %s, want now", due)
	}
	h.sink.Heal()
	down.Store(false)
	if n := runOnce(t, w); n != 1 {
		t.Errorf("RunOnce with the relay back sent %d, want 1", n)
	}
	h.expectRow(t, old, vocab.OutboxSent, 1)
	for _, to := range []string{"first@example.org", slow, gone} {
		if got := h.sink.Accepted()[to]; got != 1 {
			t.Errorf("%s: relay accepted %d copies, want 1", to, got)
		}
	}
}

// Messages that cannot go (addresses that need SMTPUTF8 from a relay that
// lacks it) fail at once with a clear reason and never hold up an ordinary
// confirmation queued after them: it goes in the same pass, on the same
// connection (issue 9.3). Names with odd quotes and commas go like any
// other (a backslash in a name is refused at signup).
func TestUnsendableNeverDelaysOthers(t *testing.T) {
	h := newRelayHarness(t, testkit.RelayOptions{}) // no SMTPUTF8
	w := h.worker(outbox.Config{RetryBase: time.Millisecond, RetryMax: time.Millisecond})
	signup := func(email, name string) {
		t.Helper()
		body := fmt.Sprintf(`{"email":%q,"first_name":%q,"topics":["newsletter"],"consent":true}`, email, name)
		if status, answer := h.env.PostJSON(t, "/api/subscribe", body); status != http.StatusAccepted {
			t.Fatalf("signup %s %s = %d %s", email, name, status, answer)
		}
	}
	var odd []string
	for i := range 4 {
		email := fmt.Sprintf("name%d@example.org", i)
		signup(email, []string{`O"Brien`, `Robert "Bob" Smith, Jr.`}[i%2])
		odd = append(odd, email)
	}
	for i := range 4 {
		email := fmt.Sprintf("zoë%d@example.org", i)
		signup(email, "Zoë")
		odd = append(odd, email)
	}
	signup("ordinary@example.org", "Ada")
	if n := h.env.Count(t, vocab.Outbox, "status = 'queued'"); n != 9 {
		t.Fatalf("%d confirmations queued, want 9", n)
	}

	if _, err := w.RunOnce(t.Context()); err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	ordinary, err := h.env.App.FindFirstRecordByData(vocab.Outbox, "to", "ordinary@example.org")
	if err != nil {
		t.Fatal(err)
	}
	h.expectRow(t, ordinary, vocab.OutboxSent, 1)
	if got := h.sink.Conns(); got != 1 {
		t.Errorf("the pass used %d connections, want 1 (a message that cannot go is no connection problem)", got)
	}

	// Nothing is tried again, however often the worker runs.
	for range 3 {
		h.dueNow(t)
		if _, err := w.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	failed := 0
	for _, email := range odd {
		r, err := h.env.App.FindFirstRecordByData(vocab.Outbox, "to", email)
		if err != nil {
			t.Fatal(err)
		}
		switch r.GetString("status") {
		case vocab.OutboxSent: // buildable after all (a name is only text)
			h.expectRow(t, r, vocab.OutboxSent, 1)
		default:
			failed++
			h.expectRow(t, r, vocab.OutboxFailed, 1)
			if le := r.GetString("last_error"); !strings.HasPrefix(le, "this message cannot be sent: ") || strings.Contains(le, email) {
				t.Errorf("%s: last_error %q, want a clear reason without the address", email, le)
			}
		}
	}
	t.Logf("%d of the %d odd messages could not be sent, the others went", failed, len(odd))
	if failed < 4 {
		t.Errorf("%d messages failed, want at least the 4 that need SMTPUTF8", failed)
	}
	if got := h.sink.Accepted()["ordinary@example.org"]; got != 1 {
		t.Errorf("the ordinary confirmation arrived %d times, want 1", got)
	}
}
