package journeys_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// clock is the journeys' fixed clock: it moves only when the test moves it,
// and counts how often it is read (each pass of the worker with nothing due
// reads it once).
type clock struct {
	mu    sync.Mutex
	now   time.Time
	reads atomic.Int64
}

func (c *clock) Now() time.Time {
	c.reads.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// passes waits until the worker has begun at least two passes since now,
// so one has run whole on the clock as it is.
func (c *clock) passes(t *testing.T) {
	t.Helper()
	from := c.reads.Load()
	testkit.Eventually(t, 10*time.Second, func() bool { return c.reads.Load() >= from+3 })
}

// T0 is when the series starts, on the fixed clock.
var T0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// welcomeSubject is the shipped welcome step's subject.
const welcomeSubject = "Welcome, and thank you for confirming"

type series struct {
	env   *testkit.Env
	clk   *clock
	comms string // a comms staff member's token
	steps [3]string
}

// newSeries starts the app on a fixed clock and makes the shipped Welcome
// journey a 3-step series through the REST API, as comms staff would: the
// welcome at once, a story after 3 days, a request after 2 weeks.
func newSeries(t *testing.T) *series {
	clk := &clock{now: T0}
	env := testkit.Start(t, testkit.Options{Configure: func(c *pb_hooks.Config) {
		c.Journeys.Now = clk.Now
		c.Journeys.Poll = 20 * time.Millisecond
		c.Campaigns.RetryBase = 50 * time.Millisecond
	}})
	s := &series{env: env, clk: clk, comms: testkit.Login(t, env, vocab.RoleComms)}
	welcome, err := env.App.FindFirstRecordByData(vocab.Journeys, "name", "Welcome")
	if err != nil {
		t.Fatal(err)
	}
	first, err := env.App.FindFirstRecordByData(vocab.JourneySteps, "journey", welcome.Id)
	if err != nil {
		t.Fatal(err)
	}
	s.steps[0] = first.Id
	for i, st := range []struct{ hours, subject string }{
		{"72", "A story for {{.FirstName}}"},
		{"336", "Two weeks on, {{.FirstName}}"},
	} {
		status, body := env.Call(t, s.comms, http.MethodPost, "/api/collections/journey_steps/records",
			`{"journey":"`+welcome.Id+`","delay_hours":`+st.hours+`,"subject":"`+st.subject+`","body_format":"markdown","body":"Dear {{.FirstName}},\n\nStep `+st.hours+`.\n\n[Unsubscribe]({{.UnsubscribeURL}})"}`)
		if status != http.StatusOK {
			t.Fatalf("create step = %d %s", status, body)
		}
		s.steps[i+1] = id(t, body)
	}
	return s
}

func id(t *testing.T, body string) string {
	t.Helper()
	var v struct{ ID string }
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.ID == "" {
		t.Fatalf("no id in %s", body)
	}
	return v.ID
}

// join signs email up and confirms it, returning the supporter; the
// confirmation is the only mail waited for.
func (s *series) join(t *testing.T, email, first string) *core.Record {
	t.Helper()
	env := s.env
	status, body := env.PostJSON(t, "/api/subscribe", `{"email":"`+email+`","first_name":"`+first+`","topics":["newsletter"],"consent":true}`)
	if status != http.StatusAccepted {
		t.Fatalf("signup %s = %d %s", email, status, body)
	}
	confirm := env.SMTP.WaitFor(t, email, 1, 10*time.Second)[0]
	if status, _ := env.Do(t, http.MethodGet, strings.TrimPrefix(env.Link(t, confirm.Text, "/confirm"), env.URL), "", ""); status != http.StatusOK {
		t.Fatalf("confirm %s = %d", email, status)
	}
	sup, err := env.App.FindFirstRecordByData(vocab.Supporters, "email", email)
	if err != nil {
		t.Fatal(err)
	}
	return sup
}

// subjects are the subjects of the mail to email after the confirmation.
func (s *series) subjects(email string) []string {
	var out []string
	for _, m := range s.env.SMTP.To(email)[1:] {
		out = append(out, m.Header.Get("Subject"))
	}
	return out
}

func (s *series) expect(t *testing.T, email string, want ...string) {
	t.Helper()
	if got := s.subjects(email); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s has %q, want %q", email, got, want)
	}
}

// send is the row of a supporter's step.
func (s *series) send(t *testing.T, step int, sup *core.Record) *core.Record {
	t.Helper()
	r, err := s.env.App.FindFirstRecordByFilter(vocab.JourneySends, "step = {:s} && supporter = {:p}", dbx.Params{"s": s.steps[step], "p": sup.Id})
	if err != nil {
		t.Fatalf("no send of step %d to %s: %v", step+1, sup.GetString("email"), err)
	}
	return r
}

// at moves the clock and waits for the worker to pass on it.
func (s *series) at(t *testing.T, d time.Duration) {
	t.Helper()
	s.clk.set(T0.Add(d))
	s.clk.passes(t)
}

func TestSeriesArrivesOnTimeOnceEachAcrossARestart(t *testing.T) {
	s := newSeries(t)
	ada := s.join(t, "ada@example.org", "Ada")
	bob := s.join(t, "bob@example.org", "Bob")

	// The confirmation starts the series: the welcome at once.
	s.env.SMTP.WaitFor(t, "ada@example.org", 2, 10*time.Second)
	s.env.SMTP.WaitFor(t, "bob@example.org", 2, 10*time.Second)
	s.expect(t, "ada@example.org", welcomeSubject)
	welcome := s.env.SMTP.To("ada@example.org")[1]
	h := welcome.Header
	if lu := h.Get("List-Unsubscribe"); !strings.HasPrefix(lu, "<"+s.env.URL+"/unsubscribe?token=") || h.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
		h.Get("Precedence") != "bulk" || !strings.Contains(h.Get("List-Id"), "<news.") || h.Get("Message-Id") == "" {
		t.Errorf("the welcome lacks the campaign headers: %v", h)
	}
	if !strings.Contains(welcome.Text, "Hello Ada") || !strings.Contains(welcome.Text, testkit.IdentityAddress) || !strings.Contains(welcome.HTML, "View this email in your browser") {
		t.Errorf("the welcome is not the campaign layout, personalised:\n%s", welcome.Text)
	}
	// Its view-in-browser link shows Ada's copy.
	view := s.env.Link(t, welcome.HTML, "/view")
	if status, body := s.env.Do(t, http.MethodGet, strings.TrimPrefix(strings.ReplaceAll(view, "&amp;", "&"), s.env.URL), "", ""); status != http.StatusOK || !strings.Contains(body, "Hello Ada") {
		t.Errorf("view in browser = %d", status)
	}
	if r := s.send(t, 0, ada); r.GetString("status") != vocab.DeliverySent || !r.GetDateTime("sent_at").Time().Equal(T0) {
		t.Errorf("welcome send: %s at %s", r.GetString("status"), r.GetDateTime("sent_at"))
	}
	for i, hours := range []int{72, 336} {
		if due := s.send(t, i+1, ada).GetDateTime("due_at").Time(); !due.Equal(T0.Add(time.Duration(hours) * time.Hour)) {
			t.Errorf("step %d due %s, want %d hours after the start", i+2, due, hours)
		}
	}

	// Bob leaves with the welcome's one-click link.
	oneClick := strings.Trim(s.env.SMTP.To("bob@example.org")[1].Header.Get("List-Unsubscribe"), "<>")
	if status, _ := s.env.Do(t, http.MethodPost, strings.TrimPrefix(oneClick, s.env.URL), "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click"); status != http.StatusOK {
		t.Fatalf("one-click = %d", status)
	}
	for step := 1; step < 3; step++ {
		if r := s.send(t, step, bob); r.GetString("status") != vocab.DeliverySkipped || !strings.Contains(r.GetString("last_error"), "unsubscribed") {
			t.Errorf("Bob's step %d after unsubscribing: %s %q", step+1, r.GetString("status"), r.GetString("last_error"))
		}
	}

	// Not a minute early.
	s.at(t, 72*time.Hour-time.Minute)
	s.expect(t, "ada@example.org", welcomeSubject)
	s.clk.set(T0.Add(72 * time.Hour))
	s.env.SMTP.WaitFor(t, "ada@example.org", 3, 10*time.Second)
	s.expect(t, "ada@example.org", welcomeSubject, "A story for Ada")

	// A restart between steps: the new process knows only the database.
	s.env = s.env.Restart(t)
	s.at(t, 336*time.Hour-time.Minute)
	s.expect(t, "ada@example.org", welcomeSubject, "A story for Ada")
	s.clk.set(T0.Add(336 * time.Hour))
	s.env.SMTP.WaitFor(t, "ada@example.org", 4, 10*time.Second)
	s.at(t, 60*24*time.Hour)

	s.expect(t, "ada@example.org", welcomeSubject, "A story for Ada", "Two weeks on, Ada")
	s.expect(t, "bob@example.org", welcomeSubject)
	for i, hours := range []int{0, 72, 336} {
		if at := s.send(t, i, ada).GetDateTime("sent_at").Time(); !at.Equal(T0.Add(time.Duration(hours) * time.Hour)) {
			t.Errorf("step %d sent at %s, want %d hours after the start", i+1, at, hours)
		}
	}
	// Each step's results, and Ada's timeline.
	for i, want := range [][2]int{{2, 0}, {1, 1}, {1, 1}} {
		st, err := s.env.App.FindRecordById(vocab.JourneySteps, s.steps[i])
		if err != nil {
			t.Fatal(err)
		}
		if st.GetInt("sent") != want[0] || st.GetInt("skipped") != want[1] {
			t.Errorf("step %d: sent %d skipped %d, want %v", i+1, st.GetInt("sent"), st.GetInt("skipped"), want)
		}
	}
	rows, err := s.env.App.FindRecordsByFilter(vocab.Timeline, "supporter = {:s} && kind = 'journey'", "at", 0, 0, dbx.Params{"s": ada.Id})
	if err != nil || len(rows) != 3 || !strings.Contains(rows[1].GetString("summary"), "Welcome: A story for {{.FirstName}} (sent)") {
		t.Errorf("Ada's timeline has %d journey rows (%v)", len(rows), err)
	}
}

func TestEditedAndRemovedStepsWhilePeopleWait(t *testing.T) {
	s := newSeries(t)
	cy := s.join(t, "cy@example.org", "Cy")
	s.env.SMTP.WaitFor(t, "cy@example.org", 2, 10*time.Second)

	// While Cy waits: step 2 is rewritten and brought forward a day, step 3 removed.
	status, body := s.env.Call(t, s.comms, http.MethodPatch, "/api/collections/journey_steps/records/"+s.steps[1],
		`{"delay_hours":48,"subject":"Rewritten for {{.FirstName}}","sent":1000}`)
	if status != http.StatusOK {
		t.Fatalf("edit step = %d %s", status, body)
	}
	if status, body := s.env.Call(t, s.comms, http.MethodDelete, "/api/collections/journey_steps/records/"+s.steps[2], ""); status != http.StatusNoContent {
		t.Fatalf("remove step = %d %s", status, body)
	}
	// A step that doesn't render is refused, naming the problem, and changes nothing.
	if status, body := s.env.Call(t, s.comms, http.MethodPatch, "/api/collections/journey_steps/records/"+s.steps[1], `{"body":"{{.Nickname}}"}`); status != http.StatusBadRequest || !strings.Contains(body, "Nickname") {
		t.Errorf("unrenderable step = %d %s", status, body)
	}
	if r := s.send(t, 2, cy); r.GetString("status") != vocab.DeliverySkipped || r.GetString("last_error") != "the step was removed" {
		t.Errorf("removed step's send: %s %q", r.GetString("status"), r.GetString("last_error"))
	}

	s.at(t, 48*time.Hour-time.Minute)
	s.expect(t, "cy@example.org", welcomeSubject)
	s.clk.set(T0.Add(48 * time.Hour))
	s.env.SMTP.WaitFor(t, "cy@example.org", 3, 10*time.Second)
	s.at(t, 60*24*time.Hour)
	s.expect(t, "cy@example.org", welcomeSubject, "Rewritten for Cy")
	if st, _ := s.env.App.FindRecordById(vocab.JourneySteps, s.steps[1]); st.GetInt("sent") != 1 {
		t.Errorf("edited step's sent = %d, want 1 (the API can't set counters)", st.GetInt("sent"))
	}
}

func TestBouncedAndErasedSupportersLeave(t *testing.T) {
	s := newSeries(t)
	dee := s.join(t, "dee@example.org", "Dee")
	eve := s.join(t, "eve@example.org", "Eve")
	s.env.SMTP.WaitFor(t, "dee@example.org", 2, 10*time.Second)
	s.env.SMTP.WaitFor(t, "eve@example.org", 2, 10*time.Second)

	// Dee's mailbox is gone by day three; Eve asks to be erased.
	s.env.SMTP.SetPolicy(func(rcpt string, _ int) error {
		if rcpt == "dee@example.org" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	})
	if _, err := (&erasure.Eraser{App: s.env.App, Hash: signup.HashEmail}).Erase(eve.Id); err != nil {
		t.Fatal(err)
	}
	s.clk.set(T0.Add(72 * time.Hour))
	testkit.Eventually(t, 10*time.Second, func() bool { return s.send(t, 1, dee).GetString("status") == vocab.DeliveryBounced })
	s.at(t, 60*24*time.Hour)

	if got, _ := s.env.App.FindRecordById(vocab.Supporters, dee.Id); got.GetString("status") != vocab.StatusBounced {
		t.Errorf("Dee after a hard bounce: %s", got.GetString("status"))
	}
	if n, _ := s.env.App.CountRecords(vocab.Suppressions, dbx.HashExp{"email_hash": signup.HashEmail("dee@example.org"), "reason": vocab.SuppressHardBounce}); n != 1 {
		t.Errorf("Dee's address suppressions = %d", n)
	}
	if r := s.send(t, 2, dee); r.GetString("status") != vocab.DeliverySkipped || !strings.Contains(r.GetString("last_error"), "bounced") {
		t.Errorf("Dee's last step: %s %q", r.GetString("status"), r.GetString("last_error"))
	}
	for step := 1; step < 3; step++ {
		if r := s.send(t, step, eve); r.GetString("status") != vocab.DeliverySkipped || strings.Contains(r.GetString("last_error"), "eve@") {
			t.Errorf("Eve's step %d after erasure: %s %q", step+1, r.GetString("status"), r.GetString("last_error"))
		}
	}
	s.expect(t, "eve@example.org", welcomeSubject)
	if n := s.env.SMTP.RcptCount("dee@example.org"); n != 3 {
		t.Errorf("RCPT TO Dee %d times, want 3 (confirmation, welcome, the bounced step)", n)
	}
}
