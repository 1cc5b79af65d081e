package campaigns_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/schedules"
	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
	"supportercrm/pb_hooks"
)

// These tests drive the campaign hooks (hooks.go) and pages (http.go) the way
// the dashboard does: through the REST API with a staff member's token.

const campaignsAPI = "/api/collections/" + vocab.Campaigns + "/records"

func apiPatch(t testing.TB, env *testkit.Env, token, id, body string) (int, string) {
	t.Helper()
	return env.Call(t, token, http.MethodPatch, campaignsAPI+"/"+id, body)
}

// create posts a campaign and returns the response; fields are merged over a
// valid draft to the newsletter topic.
func apiCreate(t testing.TB, env *testkit.Env, token string, fields map[string]any) (int, map[string]any, string) {
	t.Helper()
	c := map[string]any{
		"name": "API campaign", "subject": "News for {{.FirstName}}", "body_format": vocab.FormatMarkdown,
		"body": "# Dear {{.FirstName}}\n\nThe garden is finished.", "topics": []string{topicID(t, env, "newsletter")},
	}
	for k, v := range fields {
		c[k] = v
	}
	b, _ := json.Marshal(c)
	status, body := env.Call(t, token, http.MethodPost, campaignsAPI, string(b))
	var rec map[string]any
	_ = json.Unmarshal([]byte(body), &rec)
	return status, rec, body
}

// mustCreate creates a campaign through the API and returns its id.
func apiMustCreate(t testing.TB, env *testkit.Env, token string, fields map[string]any) string {
	t.Helper()
	status, rec, body := apiCreate(t, env, token, fields)
	if status != http.StatusOK {
		t.Fatalf("create = %d %s", status, body)
	}
	return rec["id"].(string)
}

func topicID(t testing.TB, env *testkit.Env, slug string) string {
	t.Helper()
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", slug)
	if err != nil {
		t.Fatal(err)
	}
	return topic.Id
}

func storedCampaign(t testing.TB, env *testkit.Env, id string) *core.Record {
	t.Helper()
	c, err := env.App.FindRecordById(vocab.Campaigns, id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// export is the stored row, field by field.
func exportCampaign(t testing.TB, env *testkit.Env, id string) map[string]string {
	t.Helper()
	m, err := storedCampaign(t, env, id).DBExport(env.App)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	// The lease is the engine's bookkeeping: a "sending" campaign's runner
	// takes it whenever its tick comes, before or after a refused change.
	delete(out, "lease_holder")
	delete(out, "lease_expires")
	return out
}

// inState saves a campaign with the given status directly (as the engine
// would), bypassing the request hooks. A "sending" one gets a delivery due in
// 2099, so its runner stays alive and sends nothing; a "scheduled" one is due
// in 2099 too; a "preparing" one is leased to another process until 2099.
func inState(t testing.TB, env *testkit.Env, status string) *core.Record {
	t.Helper()
	c := core.NewRecord(testkit.Collection(t, env.App, vocab.Campaigns))
	c.Set("name", "In state "+status)
	c.Set("subject", "Hello {{.FirstName}}")
	c.Set("body_format", vocab.FormatMarkdown)
	c.Set("body", "Original body")
	c.Set("topics", []string{topicID(t, env, "newsletter")})
	c.Set("status", status)
	c.Set("total", 7)
	c.Set("sent", 3)
	c.Set("last_error", "earlier trouble")
	c.Set("started_at", "2025-06-07 08:09:10.000Z")
	if status == vocab.CampaignScheduled {
		c.Set("send_at", "2099-01-01 00:00:00.000Z")
	}
	if status == vocab.CampaignPreparing { // another process's, so this one's engine leaves it be
		c.Set("lease_holder", "elsewhere:1:000000000000")
		c.Set("lease_expires", "2099-01-01 00:00:00.000Z")
	}
	if err := env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	if status == vocab.CampaignSending {
		sup := core.NewRecord(testkit.Collection(t, env.App, vocab.Supporters))
		sup.Set("email", "held-"+c.Id+"@example.org")
		sup.Set("status", vocab.StatusSubscribed)
		if err := env.App.Save(sup); err != nil {
			t.Fatal(err)
		}
		d := core.NewRecord(testkit.Collection(t, env.App, vocab.Deliveries))
		d.Set("campaign", c.Id)
		d.Set("supporter", sup.Id)
		d.Set("email", sup.GetString("email"))
		d.Set("status", vocab.DeliveryQueued)
		d.Set("next_attempt_at", "2099-01-01 00:00:00.000Z")
		if err := env.App.Save(d); err != nil {
			t.Fatal(err)
		}
	}
	return storedCampaign(t, env, c.Id)
}

func assertUnchanged(t testing.TB, env *testkit.Env, id string, before map[string]string) {
	t.Helper()
	if after := exportCampaign(t, env, id); !reflect.DeepEqual(after, before) {
		t.Fatalf("refused change altered the campaign:\nbefore %v\nafter  %v", before, after)
	}
}

func TestCreateDraftSetsAWorkingPreview(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	comms := testkit.Login(t, env, vocab.RoleComms)
	status, rec, body := apiCreate(t, env, comms, map[string]any{
		"body": "# Hello {{.FirstName}}\n\nThe preview body text.\n\n<script>alert(1)</script>",
	})
	if status != http.StatusOK {
		t.Fatalf("create = %d %s", status, body)
	}
	id := rec["id"].(string)
	c := storedCampaign(t, env, id)
	preview := c.GetString("preview_url")
	if c.GetString("status") != vocab.CampaignDraft || !strings.HasPrefix(preview, env.URL+"/preview?token=") || rec["preview_url"] != preview {
		t.Fatalf("stored status %q preview_url %q (response %v)", c.GetString("status"), preview, rec["preview_url"])
	}

	status, page := env.Do(t, http.MethodGet, strings.TrimPrefix(preview, env.URL), "", "")
	if status != http.StatusOK || !strings.Contains(page, "Hello Alex") || !strings.Contains(page, "The preview body text.") {
		t.Fatalf("preview = %d:\n%s", status, page)
	}
	if strings.Contains(page, "<script") {
		t.Fatalf("preview has a script:\n%s", page)
	}

	other := apiMustCreate(t, env, comms, map[string]any{"name": "Other"})
	token := strings.TrimPrefix(preview, env.URL+"/preview?token=")
	parts := strings.Split(token, ".")
	if len(parts) != 5 || parts[1] != id {
		t.Fatalf("unexpected token shape %q", token)
	}
	signer := testkit.Signer(t)
	last := parts[4][len(parts[4])-1:]
	flip := map[bool]string{true: "B", false: "A"}[last == "A"]
	for name, tok := range map[string]string{
		"another campaign's id": strings.Replace(token, "."+id+".", "."+other+".", 1),
		"tampered signature":    token[:len(token)-1] + flip,
		"view token":            signer.Sign(tokens.View, id, time.Hour),
		"empty":                 "",
	} {
		if status, body := env.Do(t, http.MethodGet, "/preview?token="+tok, "", ""); status != http.StatusBadRequest || strings.Contains(body, "Hello Alex") {
			t.Errorf("%s: preview = %d, want 400", name, status)
		}
	}
}

func TestSchedulingRefusesWhatWontRender(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	comms := testkit.Login(t, env, vocab.RoleComms)
	bad := map[string]any{"body": "Dear {{.Nickname}}, hello."}

	// A draft isn't compiled, so it may be saved half-written.
	id := apiMustCreate(t, env, comms, bad)
	before := exportCampaign(t, env, id)
	status, body := apiPatch(t, env, comms, id, `{"status":"scheduled","send_at":"2099-01-01 00:00:00.000Z"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "doesn't render") || !strings.Contains(body, "Nickname") {
		t.Fatalf("scheduling = %d %s, want 400 naming Nickname", status, body)
	}
	assertUnchanged(t, env, id, before)
	if c := storedCampaign(t, env, id); c.GetString("status") != vocab.CampaignDraft || !c.GetDateTime("send_at").IsZero() {
		t.Fatalf("after refusal: status %q send_at %v", c.GetString("status"), c.GetDateTime("send_at"))
	}

	// Nor may one be created scheduled, by staff or a superuser.
	for _, who := range []string{comms, testkit.Login(t, env, "superuser")} {
		n := env.Count(t, vocab.Campaigns, "")
		withStatus := map[string]any{"body": bad["body"], "status": vocab.CampaignScheduled, "send_at": "2099-01-01 00:00:00.000Z"}
		if status, _, body := apiCreate(t, env, who, withStatus); status != http.StatusBadRequest || !strings.Contains(body, "Nickname") {
			t.Errorf("create scheduled = %d %s, want 400", status, body)
		}
		if got := env.Count(t, vocab.Campaigns, ""); got != n {
			t.Errorf("refused create changed the count from %d to %d", n, got)
		}
	}

	// Nor may a scheduled campaign be edited into one that won't render.
	sched := apiMustCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled, "send_at": "2099-01-01 00:00:00.000Z"})
	before = exportCampaign(t, env, sched)
	if status, body := apiPatch(t, env, comms, sched, `{"body":"Hi {{.Nickname}}"}`); status != http.StatusBadRequest || !strings.Contains(body, "Nickname") {
		t.Fatalf("editing a scheduled campaign = %d %s, want 400", status, body)
	}
	assertUnchanged(t, env, sched, before)
}

// Scheduling through the API with send_at set to now starts the campaign at
// once; each recipient's "view in browser" page then shows their own copy.
func TestScheduleNowSendsAndViewShowsOwnCopy(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.PerSecond = 100 })})
	comms := testkit.Login(t, env, vocab.RoleComms)
	sups := seed(t, env, 50)
	id := apiMustCreate(t, env, comms, nil)

	before := time.Now().Add(-time.Second)
	if status, body := apiPatch(t, env, comms, id, `{"status":"scheduled","send_at":"`+sendNow()+`"}`); status != http.StatusOK {
		t.Fatalf("scheduling = %d %s", status, body)
	}
	after := time.Now().Add(time.Second)
	c := storedCampaign(t, env, id)
	if at := c.GetDateTime("send_at").Time(); at.Before(before) || at.After(after) {
		t.Fatalf("send_at = %v, want now", at)
	}

	seen := map[string]bool{}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c = storedCampaign(t, env, id)
		seen[c.GetString("status")] = true
		if c.GetString("status") == vocab.CampaignSent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign is %q after 10s (saw %v)", c.GetString("status"), seen)
		}
	}
	if !seen[vocab.CampaignSending] || c.GetInt("total") != 50 || c.GetInt("sent") != 50 {
		t.Fatalf("saw %v; total %d sent %d", seen, c.GetInt("total"), c.GetInt("sent"))
	}
	assertOncePerRecipient(t, env, sups, id)

	sup := sups[3]
	d, err := env.App.FindFirstRecordByFilter(vocab.Deliveries, "campaign = {:c} && supporter = {:s}", map[string]any{"c": id, "s": sup.Id})
	if err != nil {
		t.Fatal(err)
	}
	viewPath := "/view?token=" + testkit.Signer(t).Sign(tokens.View, d.Id, time.Hour)
	status, page := env.Do(t, http.MethodGet, viewPath, "", "")
	if status != http.StatusOK || !strings.Contains(page, "Dear Reader3") || strings.Contains(page, "Alex") {
		t.Fatalf("view = %d:\n%s", status, page)
	}
	if status, _ := env.Do(t, http.MethodGet, "/view?token="+testkit.Signer(t).Sign(tokens.Preview, d.Id, time.Hour), "", ""); status != http.StatusBadRequest {
		t.Errorf("view with a preview token = %d, want 400", status)
	}

	sup.Set("status", vocab.StatusErased)
	if err := env.App.Save(sup); err != nil {
		t.Fatal(err)
	}
	if status, page := env.Do(t, http.MethodGet, viewPath, "", ""); status != http.StatusNotFound || strings.Contains(page, "Reader3") {
		t.Fatalf("erased supporter's view = %d:\n%s", status, page)
	}
}

func TestStatusTransitions(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	who := map[string]string{"comms": testkit.Login(t, env, vocab.RoleComms), "superuser": testkit.Login(t, env, "superuser")}
	for _, tc := range []struct {
		from, to, who string
		want          int
	}{
		{vocab.CampaignDraft, vocab.CampaignSending, "comms", 400},
		{vocab.CampaignDraft, vocab.CampaignSending, "superuser", 400},
		{vocab.CampaignDraft, vocab.CampaignSent, "comms", 400},
		{vocab.CampaignSending, vocab.CampaignDraft, "comms", 400},
		{vocab.CampaignSending, vocab.CampaignSent, "comms", 400},
		{vocab.CampaignSent, vocab.CampaignScheduled, "comms", 400},
		{vocab.CampaignSent, vocab.CampaignScheduled, "superuser", 400},
		{vocab.CampaignCancelled, vocab.CampaignSending, "comms", 400},
		{vocab.CampaignPaused, vocab.CampaignSent, "comms", 400},
		{vocab.CampaignScheduled, vocab.CampaignDraft, "comms", 200},
		{vocab.CampaignPaused, vocab.CampaignSending, "comms", 200},
		{vocab.CampaignSending, vocab.CampaignPaused, "comms", 200},
		{vocab.CampaignDraft, vocab.CampaignCancelled, "comms", 200},
		{vocab.CampaignFailed, vocab.CampaignDraft, "superuser", 200},
		{vocab.CampaignPreparing, vocab.CampaignCancelled, "comms", 200},
		{vocab.CampaignPreparing, vocab.CampaignPaused, "comms", 400},
		{vocab.CampaignPreparing, vocab.CampaignSending, "comms", 400},
		{vocab.CampaignPreparing, vocab.CampaignDraft, "superuser", 400},
	} {
		t.Run(fmt.Sprintf("%s→%s/%s", tc.from, tc.to, tc.who), func(t *testing.T) {
			c := inState(t, env, tc.from)
			before := exportCampaign(t, env, c.Id)
			status, body := apiPatch(t, env, who[tc.who], c.Id, fmt.Sprintf(`{"status":%q}`, tc.to))
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
			if status != http.StatusOK {
				if !strings.Contains(body, "can't go from "+tc.from+" to "+tc.to) {
					t.Errorf("refusal doesn't say why: %s", body)
				}
				assertUnchanged(t, env, c.Id, before)
				return
			}
			after := storedCampaign(t, env, c.Id)
			if after.GetString("status") != tc.to {
				t.Fatalf("stored status %q, want %q", after.GetString("status"), tc.to)
			}
			if tc.from == vocab.CampaignFailed && after.GetString("last_error") != "" {
				t.Errorf("failed → draft kept last_error %q", after.GetString("last_error"))
			}
		})
	}
}

func TestContentLockedOnceSendingStarts(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	other := core.NewRecord(testkit.Collection(t, env.App, vocab.Topics))
	other.Set("name", "Volunteering")
	other.Set("slug", "volunteering")
	other.Set("public", true)
	if err := env.App.Save(other); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{vocab.CampaignSending, vocab.CampaignPaused, vocab.CampaignSent} {
		for field, body := range map[string]string{
			"body":   `{"body":"Changed body"}`,
			"topics": fmt.Sprintf(`{"topics":[%q]}`, other.Id),
		} {
			t.Run(from+"/"+field, func(t *testing.T) {
				c := inState(t, env, from)
				before := exportCampaign(t, env, c.Id)
				status, resp := apiPatch(t, env, comms, c.Id, body)
				if status != http.StatusBadRequest || !strings.Contains(resp, "The "+field+" can't change") {
					t.Fatalf("edit = %d %s, want 400 naming %s", status, resp, field)
				}
				assertUnchanged(t, env, c.Id, before)
			})
		}
	}
	// Before sending starts, content may change.
	c := inState(t, env, vocab.CampaignScheduled)
	if status, resp := apiPatch(t, env, comms, c.Id, `{"body":"Changed body"}`); status != http.StatusOK || storedCampaign(t, env, c.Id).GetString("body") != "Changed body" {
		t.Fatalf("editing a scheduled campaign = %d %s", status, resp)
	}
}

func TestEngineFieldsIgnoredInPatch(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	for _, from := range []string{vocab.CampaignDraft, vocab.CampaignPaused} {
		t.Run(from, func(t *testing.T) {
			c := inState(t, env, from)
			before := exportCampaign(t, env, c.Id)
			status, body := apiPatch(t, env, comms, c.Id, `{"name":"Renamed","sent":999,"total":999,"failed":5,"last_error":"forged","started_at":"2001-01-01 00:00:00.000Z","finished_at":"2001-01-02 00:00:00.000Z"}`)
			if status != http.StatusOK {
				t.Fatalf("patch = %d %s", status, body)
			}
			after := exportCampaign(t, env, c.Id)
			if after["name"] != "Renamed" {
				t.Fatalf("name = %q, the allowed part of the edit was lost", after["name"])
			}
			for _, f := range []string{"sent", "total", "failed", "last_error", "started_at", "finished_at", "status"} {
				if after[f] != before[f] {
					t.Errorf("%s changed from %q to %q", f, before[f], after[f])
				}
			}
		})
	}
}

func TestTestSendsGoThroughTheOutboxOnly(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	comms := testkit.Login(t, env, vocab.RoleComms)
	seed(t, env, 3) // would-be recipients, who must get nothing
	id := apiMustCreate(t, env, comms, map[string]any{"subject": "Garden news for {{.FirstName}}"})
	before := exportCampaign(t, env, id)

	status, body := apiPatch(t, env, comms, id, `{"test_addresses":"a@example.org, b@example.org"}`)
	if status != http.StatusOK {
		t.Fatalf("test send = %d %s", status, body)
	}
	rows, err := env.App.FindRecordsByFilter(vocab.Outbox, "kind = 'test'", "to", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].GetString("to") != "a@example.org" || rows[1].GetString("to") != "b@example.org" {
		t.Fatalf("outbox test rows: %d", len(rows))
	}
	for _, r := range rows {
		if !strings.HasPrefix(r.GetString("subject"), "[Test] Garden news for Alex") {
			t.Errorf("outbox subject %q", r.GetString("subject"))
		}
		if !strings.Contains(r.GetString("html"), campaigns.TestCopyNote) || !strings.HasPrefix(r.GetString("text"), campaigns.TestCopyNote) {
			t.Error("a test copy does not say that it is one")
		}
	}
	after := exportCampaign(t, env, id)
	if after["test_addresses"] != "" {
		t.Errorf("test_addresses kept: %q", after["test_addresses"])
	}
	for k := range before {
		if k != "updated" && k != "preview_url" && after[k] != before[k] {
			t.Errorf("%s changed from %q to %q", k, before[k], after[k])
		}
	}
	for _, to := range []string{"a@example.org", "b@example.org"} {
		m := env.SMTP.WaitFor(t, to, 1, 5*time.Second)
		if len(m) != 1 || !strings.HasPrefix(m[0].Header.Get("Subject"), "[Test] ") {
			t.Errorf("%s got %d mails (subject %q)", to, len(m), m[0].Header.Get("Subject"))
		}
	}
	if n := env.Count(t, vocab.Deliveries, ""); n != 0 {
		t.Errorf("a test send created %d deliveries", n)
	}

	before = exportCampaign(t, env, id)
	status, body = apiPatch(t, env, comms, id, `{"test_addresses":"c@example.org, not an address"}`)
	if status != http.StatusBadRequest || !strings.Contains(body, "not an address") {
		t.Fatalf("invalid test address = %d %s, want 400", status, body)
	}
	assertUnchanged(t, env, id, before)
	if n := env.Count(t, vocab.Outbox, "kind = 'test'"); n != 2 {
		t.Errorf("outbox test rows after a refused send = %d, want 2", n)
	}
}

// Pausing and cancelling through the API stop a send within a second;
// resuming finishes it with everyone reached once; a cancelled campaign stays
// cancelled.
func TestPauseResumeAndCancelThroughTheAPI(t *testing.T) {
	const n = 300
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.PerSecond = 100 })})
	comms := testkit.Login(t, env, vocab.RoleComms)
	sups := seed(t, env, n)
	a := apiMustCreate(t, env, comms, map[string]any{"subject": "Pause test for {{.FirstName}}", "status": vocab.CampaignScheduled, "send_at": sendNow()})
	b := apiMustCreate(t, env, comms, map[string]any{"subject": "Cancel test for {{.FirstName}}", "status": vocab.CampaignScheduled, "send_at": sendNow()})
	count := func(prefix string) (int, map[string]int) {
		per := map[string]int{}
		total := 0
		for _, m := range env.SMTP.Mails() {
			if strings.HasPrefix(m.Header.Get("Subject"), prefix) {
				total++
				for _, r := range m.To {
					per[r]++
				}
			}
		}
		return total, per
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		na, _ := count("Pause test")
		nb, _ := count("Cancel test")
		if na >= 30 && nb >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sends didn't start: %d and %d mails after 10s", na, nb)
		}
	}
	if status, body := apiPatch(t, env, comms, a, `{"status":"paused"}`); status != http.StatusOK {
		t.Fatalf("pause = %d %s", status, body)
	}
	if status, body := apiPatch(t, env, comms, b, `{"status":"cancelled"}`); status != http.StatusOK {
		t.Fatalf("cancel = %d %s", status, body)
	}
	time.Sleep(time.Second)
	a1, _ := count("Pause test")
	b1, _ := count("Cancel test")
	time.Sleep(time.Second)
	a2, _ := count("Pause test")
	b2, _ := count("Cancel test")
	if a1 != a2 || b1 != b2 || a2 >= n || b2 >= n {
		t.Fatalf("still sending a second after pause/cancel: paused %d → %d, cancelled %d → %d (of %d)", a1, a2, b1, b2, n)
	}
	if s := storedCampaign(t, env, a).GetString("status"); s != vocab.CampaignPaused {
		t.Fatalf("paused campaign is %q", s)
	}

	if status, body := apiPatch(t, env, comms, a, `{"status":"sending"}`); status != http.StatusOK {
		t.Fatalf("resume = %d %s", status, body)
	}
	waitStatus(t, env, a, vocab.CampaignSent, 10*time.Second)
	total, per := count("Pause test")
	for _, s := range sups {
		if got := per[s.GetString("email")]; got != 1 {
			t.Errorf("%s got %d copies of the paused campaign", s.GetString("email"), got)
		}
	}
	if total != n || env.Count(t, vocab.Deliveries, "campaign = '"+a+"' && status = 'sent'") != n {
		t.Errorf("paused campaign: %d mails, want %d, each with a sent delivery", total, n)
	}

	// By now the engine has ticked several times: the cancelled campaign
	// was never resumed.
	cb := storedCampaign(t, env, b)
	nb, _ := count("Cancel test")
	queued := env.Count(t, vocab.Deliveries, "campaign = '"+b+"' && status = 'queued'")
	if cb.GetString("status") != vocab.CampaignCancelled || !cb.GetDateTime("finished_at").IsZero() || nb != b2 || queued == 0 {
		t.Fatalf("cancelled campaign: status %q finished_at %v, %d mails (was %d), %d deliveries queued",
			cb.GetString("status"), cb.GetDateTime("finished_at"), nb, b2, queued)
	}
	if status, _ := apiPatch(t, env, comms, b, `{"status":"sending"}`); status != http.StatusBadRequest {
		t.Errorf("resuming a cancelled campaign = %d, want 400", status)
	}
}

// Staff edits saved while a campaign sends must not overwrite the counters
// (or status) the engine writes meanwhile.
func TestStaffEditsDuringSendKeepEngineCounters(t *testing.T) {
	const n = 300
	env := testkit.Start(t, testkit.Options{Configure: fast(func(c *pb_hooks.Config) { c.Campaigns.PerSecond = 200 })})
	comms := testkit.Login(t, env, vocab.RoleComms)
	seed(t, env, n)
	id := apiMustCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled, "send_at": sendNow()})
	edits := 0
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s := storedCampaign(t, env, id).GetString("status")
		if s == vocab.CampaignSent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("campaign is %q after 15s", s)
		}
		if s == vocab.CampaignSending { // renaming is allowed while sending
			status, body := apiPatch(t, env, comms, id, fmt.Sprintf(`{"name":"Spring update (%d)"}`, edits))
			if status != http.StatusOK && storedCampaign(t, env, id).GetString("status") == vocab.CampaignSending {
				t.Fatalf("rename = %d %s", status, body)
			}
			edits++
		}
	}
	c := waitStatus(t, env, id, vocab.CampaignSent, time.Second)
	delivered := env.Count(t, vocab.Deliveries, "campaign = '"+id+"' && status = 'sent'")
	if c.GetInt("sent") != delivered || delivered != n {
		t.Fatalf("after %d renames while sending: sent counter %d, sent deliveries %d, want %d", edits, c.GetInt("sent"), delivered, n)
	}
}

// A campaign created by Go code, as a schedule's run creates its draft, gets
// a working preview link too, and the staff email about the draft gives it.
func TestScheduleDraftsGetAPreview(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	s := core.NewRecord(testkit.Collection(t, env.App, vocab.Schedules))
	s.Set("name", "Monthly news")
	s.Set("enabled", true)
	s.Set("spec", "@monthly")
	s.Set("subject", "Monthly news for {{.FirstName}}")
	s.Set("body_format", vocab.FormatMarkdown)
	s.Set("body", "Dear {{.FirstName}}, the monthly preview body.")
	s.Set("topics", []string{topicID(t, env, "newsletter")})
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	// A runner of its own, on a clock past the schedule's next run.
	later := s.GetDateTime("next_run_at").Time().Add(time.Minute)
	var alerts []string
	runner := &schedules.Runner{App: env.App, Now: func() time.Time { return later }, Alert: func(_, text string) { alerts = append(alerts, text) }}
	runner.Tick()

	c, err := env.App.FindFirstRecordByFilter(vocab.Campaigns, "status = 'draft'")
	if err != nil {
		t.Fatalf("no draft from the schedule: %v", err)
	}
	preview := c.GetString("preview_url")
	if !strings.HasPrefix(preview, env.URL+"/preview?token=") {
		t.Fatalf("draft preview_url = %q", preview)
	}
	status, page := env.Do(t, http.MethodGet, strings.TrimPrefix(preview, env.URL), "", "")
	if status != http.StatusOK || !strings.Contains(page, "the monthly preview body") || !strings.Contains(page, "Dear Alex") {
		t.Fatalf("preview = %d:\n%s", status, page)
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], preview) {
		t.Errorf("staff alerts %q don't give the preview link", alerts)
	}
}
