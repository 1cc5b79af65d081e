package outbox_test

import (
	"strings"
	"sync/atomic"
	"testing"

	"supportercrm/internal/erasure"
	"supportercrm/internal/outbox"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// An erasure that happens while the worker is handing a message to the relay
// holds: the worker writes only the outcome (the message did go), never its
// copy of the address, subject and body.
func TestErasureDuringSendStaysErased(t *testing.T) {
	h := newHarness(t)
	w := h.worker(outbox.Config{})
	const email = "ada@example.org"
	ada := h.supporter(t, email)
	r := h.enqueue(t, outbox.Mail{To: email, ToName: "Ada Lovelace", SupporterID: ada.Id, Kind: vocab.KindWelcome,
		Subject: "Welcome, Ada", Text: "Hello Ada", HTML: "<p>Hello Ada</p>", Unsubscribe: outbox.LinkOrigin + "/unsubscribe?token=ada"})

	eraser := &erasure.Eraser{App: h.env.App, Hash: signup.HashEmail}
	var erased atomic.Pointer[erasure.Result]
	var eraseErr atomic.Pointer[error]
	h.sink.SetPolicy(func(to string, _ int) error {
		if to == email { // the worker is in the middle of this message's transaction
			res, err := eraser.Erase(ada.Id)
			if err != nil {
				eraseErr.Store(&err)
			}
			erased.Store(&res)
		}
		return nil
	})
	if n := runOnce(t, w); n != 1 {
		t.Fatalf("RunOnce sent %d, want 1", n)
	}
	if p := eraseErr.Load(); p != nil {
		t.Fatalf("erase: %v", *p)
	}
	if res := erased.Load(); res == nil || res.EmailsAnonymised != 1 || res.EmailsCancelled != 0 {
		t.Errorf("erasure result %+v, want the row cleared and nothing cancelled (it was being sent)", res)
	}
	if got := len(h.sink.To(email)); got != 1 {
		t.Fatalf("relay got %d copies, want the one in flight", got)
	}

	row := h.row(t, r.Id)
	if row.GetString("to") != erasure.Placeholder(ada.Id) || row.GetString("to_name") != "" || row.GetString("subject") != "(erased)" ||
		row.GetString("html") != "" || row.GetString("text") != "" || row.GetString("unsubscribe_url") != "" {
		t.Errorf("erased row restored after the send: %v", row.FieldsData())
	}
	if row.GetString("status") != vocab.OutboxSent || row.GetInt("attempts") != 1 || row.GetString("message_id") == "" || row.GetDateTime("sent_at").IsZero() {
		t.Errorf("outcome not recorded: status %q attempts %d message_id %q sent_at %v",
			row.GetString("status"), row.GetInt("attempts"), row.GetString("message_id"), row.GetDateTime("sent_at"))
	}
	dump := testkit.Dump(t, h.env.App, vocab.Outbox)
	for _, personal := range []string{email, "Ada", "Lovelace"} {
		if strings.Contains(dump, personal) {
			t.Errorf("%q is stored in the outbox after the erasure", personal)
		}
	}
}
