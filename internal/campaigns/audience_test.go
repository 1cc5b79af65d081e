package campaigns_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/schedules"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// tagged seeds six subscribers in the newsletter topic: three tagged leeds
// (one of them york too), one york, two untagged.
func tagged(t *testing.T, env *testkit.Env) (leeds, york []string) {
	t.Helper()
	sups := seed(t, env, 6)
	for i, tags := range [][]string{{"leeds"}, {"leeds", "york"}, {"leeds"}, {"york"}, nil, nil} {
		if tags == nil {
			continue
		}
		sups[i].Set("tags", tags)
		if err := env.App.Save(sups[i]); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(tags, "leeds") {
			leeds = append(leeds, sups[i].GetString("email"))
		}
		if slices.Contains(tags, "york") {
			york = append(york, sups[i].GetString("email"))
		}
	}
	return leeds, york
}

// reached returns who got mail, sorted.
func reached(env *testkit.Env) []string {
	var got []string
	for _, m := range env.SMTP.Mails() {
		got = append(got, m.To...)
	}
	slices.Sort(got)
	return got
}

func sorted(v ...[]string) []string {
	out := slices.Concat(v...)
	slices.Sort(out)
	return slices.Compact(out)
}

func storedTags(t *testing.T, env *testkit.Env, collection, id string) []string {
	t.Helper()
	r, err := env.App.FindRecordById(collection, id)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	if err := r.UnmarshalJSONField("tags", &tags); err != nil {
		t.Fatalf("stored tags %s are not a list: %v", r.GetString("tags"), err)
	}
	return tags
}

// sendNow is an explicit "send at once" time.
func sendNow() string { return time.Now().UTC().Format("2006-01-02 15:04:05.000Z") }

// A campaign for the tag leeds, with the tag given as a bare string through
// the REST API, goes to the supporters tagged leeds and no one else; tags as
// a comma-separated form post are the list they name.
func TestBareStringTagLimitsTheAudience(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	leeds, york := tagged(t, env)

	id := apiMustCreate(t, env, comms, map[string]any{"tags": "leeds", "status": vocab.CampaignScheduled, "send_at": sendNow()})
	if got := storedTags(t, env, vocab.Campaigns, id); !slices.Equal(got, []string{"leeds"}) {
		t.Errorf("stored tags %q, want [leeds]", got)
	}
	done := waitStatus(t, env, id, vocab.CampaignSent, 30*time.Second)
	if got := reached(env); !slices.Equal(got, sorted(leeds)) || done.GetInt("total") != len(leeds) {
		t.Fatalf("a leeds campaign reached %q (total %d), want %q", got, done.GetInt("total"), sorted(leeds))
	}

	form := url.Values{
		"name": {"Form post"}, "subject": {"Hello {{.FirstName}}"}, "body_format": {vocab.FormatMarkdown}, "body": {"Dear {{.FirstName}}"},
		"topics": {topicID(t, env, "newsletter")}, "tags": {" leeds,york , "}, "status": {vocab.CampaignDraft},
	}
	a := env.Request(t, comms, http.MethodPost, campaignsAPI, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if a.Status != http.StatusOK {
		t.Fatalf("form post = %d %s", a.Status, a.Body)
	}
	var rec map[string]any
	_ = json.Unmarshal([]byte(a.Body), &rec)
	formID, _ := rec["id"].(string)
	if got := storedTags(t, env, vocab.Campaigns, formID); !slices.Equal(got, []string{"leeds", "york"}) {
		t.Errorf("form post stored tags %q, want [leeds york]", got)
	}
	before := len(env.SMTP.Mails())
	if status, body := apiPatch(t, env, comms, formID, `{"status":"scheduled","send_at":"`+sendNow()+`"}`); status != http.StatusOK {
		t.Fatalf("scheduling = %d %s", status, body)
	}
	waitStatus(t, env, formID, vocab.CampaignSent, 30*time.Second)
	if got := len(env.SMTP.Mails()) - before; got != len(sorted(leeds, york)) {
		t.Errorf("a leeds-or-york campaign sent %d mails, want %d", got, len(sorted(leeds, york)))
	}
}

// Topics and tags that can't be read are refused, 400 naming the field,
// on create and on update, and change nothing.
func TestMalformedAudienceIsRefused(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	draft := apiMustCreate(t, env, comms, nil)
	before := exportCampaign(t, env, draft)
	for _, tc := range []struct {
		field string
		value any
	}{
		{"tags", 5},
		{"tags", true},
		{"tags", map[string]any{"city": "leeds"}},
		{"tags", []any{1}},
		{"tags", []any{"leeds", 2}},
		{"tags", []any{"leeds", ""}},
		{"tags", []any{[]string{"leeds"}}},
		{"tags", ","},
		{"tags", strings.Repeat("x", 41)},
		{"topics", 5},
		{"topics", []string{}},
		{"topics", map[string]any{"id": "x"}},
		{"topics", []string{"no-such-topic"}},
	} {
		n := env.Count(t, vocab.Campaigns, "")
		status, _, body := apiCreate(t, env, comms, map[string]any{tc.field: tc.value, "status": vocab.CampaignScheduled, "send_at": sendNow()})
		if status != http.StatusBadRequest || !strings.Contains(body, `"`+tc.field+`"`) {
			t.Errorf("create with %s %v = %d %s, want 400 naming %s", tc.field, tc.value, status, body, tc.field)
		}
		if got := env.Count(t, vocab.Campaigns, ""); got != n {
			t.Errorf("a refused create changed the count from %d to %d", n, got)
		}
		patch, _ := json.Marshal(map[string]any{tc.field: tc.value})
		if status, body := apiPatch(t, env, comms, draft, string(patch)); status != http.StatusBadRequest || !strings.Contains(body, `"`+tc.field+`"`) {
			t.Errorf("update with %s %v = %d %s, want 400 naming %s", tc.field, tc.value, status, body, tc.field)
		}
		assertUnchanged(t, env, draft, before)
	}
	time.Sleep(1500 * time.Millisecond) // a tick or two
	if n := env.Count(t, vocab.Deliveries, ""); n != 0 || len(env.SMTP.Mails()) != 0 {
		t.Errorf("%d deliveries and %d mails after refused saves", n, len(env.SMTP.Mails()))
	}
}

// A due campaign whose stored tags can't be read (written around the API)
// is marked failed with the reason, and sent to no one: never to the whole
// topic.
func TestUnreadableStoredAudienceFailsTheCampaign(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	tagged(t, env)
	c := core.NewRecord(testkit.Collection(t, env.App, vocab.Campaigns))
	c.Set("name", "Leeds news")
	c.Set("subject", "Leeds news")
	c.Set("body_format", vocab.FormatMarkdown)
	c.Set("body", "Dear {{.FirstName}}")
	c.Set("topics", []string{topicID(t, env, "newsletter")})
	c.Set("status", vocab.CampaignDraft)
	if err := env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	_, err := env.App.DB().NewQuery("UPDATE {{campaigns}} SET tags = '{\"city\":\"leeds\"}', status = 'scheduled', send_at = {:now} WHERE id = {:id}").
		Bind(dbx.Params{"id": c.Id, "now": sendNow()}).Execute()
	if err != nil {
		t.Fatal(err)
	}
	failed := waitStatus(t, env, c.Id, vocab.CampaignFailed, 30*time.Second)
	if !strings.Contains(failed.GetString("last_error"), "tags") {
		t.Errorf("last_error %q doesn't name the tags", failed.GetString("last_error"))
	}
	time.Sleep(500 * time.Millisecond)
	if n := env.Count(t, vocab.Deliveries, ""); n != 0 || len(env.SMTP.Mails()) != 0 {
		t.Errorf("%d deliveries and %d mails for a campaign whose audience can't be read", n, len(env.SMTP.Mails()))
	}
}

// A schedule's tags, given as a bare string through the REST API, are
// stored as the list they name and copied into each run's campaign, which
// reaches the tagged supporters only; malformed ones are refused.
func TestScheduleRunsKeepTheAudience(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	leeds, _ := tagged(t, env)
	api := "/api/collections/" + vocab.Schedules + "/records"
	schedule := func(tags any) (int, string) {
		b, _ := json.Marshal(map[string]any{
			"name": "Leeds monthly", "enabled": true, "spec": "@monthly", "auto_send": true,
			"subject": "Leeds news for {{.FirstName}}", "body_format": vocab.FormatMarkdown, "body": "Dear {{.FirstName}}",
			"topics": []string{topicID(t, env, "newsletter")}, "tags": tags,
		})
		return env.Call(t, comms, http.MethodPost, api, string(b))
	}
	for _, bad := range []any{5, []any{"leeds", 2}, map[string]any{"city": "leeds"}} {
		if status, body := schedule(bad); status != http.StatusBadRequest || !strings.Contains(body, `"tags"`) {
			t.Errorf("schedule with tags %v = %d %s, want 400 naming tags", bad, status, body)
		}
	}
	status, body := schedule("leeds")
	if status != http.StatusOK {
		t.Fatalf("schedule = %d %s", status, body)
	}
	var rec map[string]any
	_ = json.Unmarshal([]byte(body), &rec)
	sid, _ := rec["id"].(string)
	if got := storedTags(t, env, vocab.Schedules, sid); !slices.Equal(got, []string{"leeds"}) {
		t.Errorf("schedule stored tags %q, want [leeds]", got)
	}

	s, err := env.App.FindRecordById(vocab.Schedules, sid)
	if err != nil {
		t.Fatal(err)
	}
	later := s.GetDateTime("next_run_at").Time().Add(time.Minute)
	runner := &schedules.Runner{App: env.App, Now: func() time.Time { return later }}
	runner.Tick()
	c, err := env.App.FindFirstRecordByFilter(vocab.Campaigns, "name ~ 'Leeds monthly'")
	if err != nil {
		t.Fatalf("no campaign from the run: %v", err)
	}
	if got := storedTags(t, env, vocab.Campaigns, c.Id); !slices.Equal(got, []string{"leeds"}) {
		t.Errorf("the run's campaign has tags %q, want [leeds]", got)
	}
	// The run's send_at is the clock the runner was given, in the future
	// here: bring it to now, as if that time had come.
	c.Set("send_at", time.Now())
	if err := env.App.Save(c); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if got := reached(env); !slices.Equal(got, sorted(leeds)) {
		t.Errorf("the run reached %q, want %q", got, sorted(leeds))
	}
}
