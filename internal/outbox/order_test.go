package outbox_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"supportercrm/internal/outbox"
	"supportercrm/internal/vocab"
)

// Each message's outcome is in the database before the next message is
// handed to the relay (the worker writes it together with the next claim),
// so a crash mid-batch can resend at most the one message in flight.
func TestOutcomeRecordedBeforeNextSend(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	const n = 6
	for i := range n {
		h.enqueue(t, outbox.Mail{To: fmt.Sprintf("order%d@example.org", i), Kind: vocab.KindConfirm, Subject: "Please confirm", Text: "Confirm here"})
	}
	var (
		mu       sync.Mutex
		seen     int
		problems []string
	)
	h.sink.SetPolicy(func(rcpt string, _ int) error {
		sent, err := h.env.App.CountRecords(vocab.Outbox, dbx.HashExp{"status": vocab.OutboxSent})
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			problems = append(problems, err.Error())
		} else if int(sent) != seen {
			problems = append(problems, fmt.Sprintf("handing over %s: %d messages recorded as sent, want %d", rcpt, sent, seen))
		}
		seen++
		return nil
	})
	if got := runOnce(t, w); got != n {
		t.Fatalf("RunOnce sent %d, want %d", got, n)
	}
	for _, p := range problems {
		t.Error(p)
	}
	if sent, _ := h.env.App.CountRecords(vocab.Outbox, dbx.HashExp{"status": vocab.OutboxSent}); sent != n {
		t.Errorf("%d rows sent after RunOnce, want %d", sent, n)
	}
}

// A backlog is shared among Connections senders, each on its own
// connection, and every message still goes exactly once; a short queue
// goes over one connection.
func TestConnectionsShareABacklog(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{Connections: 4})
	const n = 40
	for i := range n {
		h.enqueue(t, outbox.Mail{To: fmt.Sprintf("backlog%d@example.org", i), Kind: vocab.KindConfirm, Subject: "Please confirm", Text: "Confirm here"})
	}
	if got := runOnce(t, w); got != n {
		t.Fatalf("RunOnce sent %d, want %d", got, n)
	}
	if d := h.dials.Load(); d != 4 {
		t.Errorf("%d mails over 4 connections used %d, want 4", n, d)
	}
	for i := range n {
		if got := h.sink.RcptCount(fmt.Sprintf("backlog%d@example.org", i)); got != 1 {
			t.Errorf("backlog%d got %d mails, want 1", i, got)
		}
	}

	for i := range 5 {
		h.enqueue(t, outbox.Mail{To: fmt.Sprintf("few%d@example.org", i), Kind: vocab.KindConfirm, Subject: "Please confirm", Text: "Confirm here"})
	}
	if got := runOnce(t, w); got != 5 {
		t.Fatalf("RunOnce sent %d, want 5", got)
	}
	if d := h.dials.Load(); d != 5 {
		t.Errorf("5 more mails used %d more connections, want 1", d-4)
	}
}

// Mail queued while a connection is held up by a slow message goes out over
// another connection in the same run, without waiting for the slow one: the
// connections share one stream of due messages rather than fixed rounds.
func TestNewMailDoesNotWaitForASlowConnection(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{Connections: 2})
	const n = 20
	for i := range n {
		h.enqueue(t, outbox.Mail{To: fmt.Sprintf("s%d@example.org", i), Kind: vocab.KindConfirm, Subject: "Please confirm", Text: "Confirm here"})
	}
	var (
		once      sync.Once
		enqueued  error
		overtaken bool
	)
	h.sink.SetPolicy(func(rcpt string, _ int) error {
		if rcpt != "s0@example.org" {
			return nil
		}
		// The first message is slow, and a confirmation is queued meanwhile.
		once.Do(func() {
			_, enqueued = outbox.Enqueue(h.env.App, outbox.Mail{To: "late@example.org", Kind: vocab.KindConfirm, Subject: "Please confirm", Text: "Confirm here"})
		})
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if h.sink.RcptCount("late@example.org") == 1 {
				overtaken = true
				break
			}
		}
		return nil
	})
	if got := runOnce(t, w); got != n+1 {
		t.Fatalf("RunOnce sent %d, want %d", got, n+1)
	}
	if enqueued != nil {
		t.Fatal(enqueued)
	}
	if !overtaken {
		t.Error("the mail queued during the slow send waited for it")
	}
}
