package console_test

import (
	"net/http"
	"strings"
	"testing"

	"supportercrm/internal/console"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// While the charity record holds the shipped example identity, the home
// page's checklist says so and no campaign can be scheduled, through the
// API (a 400 naming the status field) or the app's own saves; once the
// identity is the charity's own, scheduling works.
func TestSampleIdentityBlocksScheduling(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{SampleIdentity: true})
	if !console.SampleIdentity(env.App) {
		t.Fatal("the shipped identity doesn't count as the example")
	}
	c, _ := signedIn(t, env, vocab.RoleComms)
	if a := c.get("/staff/"); !strings.Contains(a.body, "To do: Set the charity&#39;s identity") {
		t.Fatalf("the checklist doesn't ask for the identity:\n%s", a.body)
	}
	topic, err := env.App.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	token := testkit.Login(t, env, vocab.RoleComms)
	body := `{"name":"First","subject":"Hello","body_format":"markdown","body":"Hi","topics":["` + topic.Id + `"],"status":"scheduled","send_at":"2099-01-01 09:00:00.000Z"}`
	status, answer := env.Call(t, token, http.MethodPost, "/api/collections/campaigns/records", body)
	if status != http.StatusBadRequest || !strings.Contains(answer, "shipped example") || !strings.Contains(answer, `"status":{"code":"sample_identity"`) {
		t.Fatalf("scheduling under the example identity: HTTP %d %s", status, answer)
	}
	if n := env.Count(t, vocab.Campaigns, ""); n != 0 {
		t.Fatalf("the refused campaign was saved (%d)", n)
	}
	// Changing only the name is not enough: every part must be the charity's.
	ch, err := env.App.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	ch.Set("name", "Harbour Light Refuge")
	if err := env.App.Save(ch); err != nil {
		t.Fatal(err)
	}
	if status, _ := env.Call(t, token, http.MethodPost, "/api/collections/campaigns/records", body); status != http.StatusBadRequest {
		t.Fatalf("with the example address still in place: HTTP %d", status)
	}
	testkit.RealIdentity(t, env.App)
	if status, answer := env.Call(t, token, http.MethodPost, "/api/collections/campaigns/records", body); status != http.StatusOK {
		t.Fatalf("scheduling under a real identity: HTTP %d %s", status, answer)
	}
	if a := c.get("/staff/"); !strings.Contains(a.body, "Done: Set the charity&#39;s identity") {
		t.Fatalf("the checklist still asks for the identity")
	}
}
