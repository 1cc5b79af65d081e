package campaigns_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/tokens"
	"supportercrm/internal/vocab"
)

// bomb is a body that renders to 300 MB.
const bomb = "Dear {{.FirstName}}\n\n{{range 300000000}}x{{end}}"

// overBudget reports whether an answer names one of the render's limits:
// the size, usually, or the time on a slow machine (the race detector)
// that takes 2 s to write the first 2 MB.
func overBudget(body string) bool {
	return strings.Contains(body, "renders larger than 2 MB") || strings.Contains(body, "takes longer than 2s to render")
}

// A body that renders too large is refused when scheduled (the save hook's
// trial render), shown as an error on its preview, and an error on a
// supporter's "view in browser" page, each quickly and without holding the
// rendered text.
func TestOversizedRenderIsAClearErrorEverywhere(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	sups := seed(t, env, 2)

	peak := testkit.StartPeak()
	status, _, body := apiCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled, "body": bomb,
		"send_at": time.Now().UTC().Format("2006-01-02 15:04:05.000Z")})
	if mb := peak.Stop(); mb > 64 {
		t.Errorf("the save held %.0f MB", mb)
	}
	if status != http.StatusBadRequest || !overBudget(body) {
		t.Errorf("scheduling = %d %s", status, body)
	}

	// A draft isn't rendered on save; its preview is.
	draft := storedCampaign(t, env, apiMustCreate(t, env, comms, map[string]any{"body": bomb}))
	peak = testkit.StartPeak()
	status, page := env.Do(t, http.MethodGet, strings.TrimPrefix(draft.GetString("preview_url"), env.URL), "", "")
	if mb := peak.Stop(); mb > 64 {
		t.Errorf("the preview held %.0f MB", mb)
	}
	if status != http.StatusBadRequest || !overBudget(page) {
		t.Errorf("preview = %d %s", status, clipPage(page))
	}

	// A campaign sent before its body was made too large (here by a direct
	// write, as one saved before these limits could be).
	c := schedule(t, env)
	waitStatus(t, env, c.Id, vocab.CampaignSent, 30*time.Second)
	if _, err := env.App.DB().NewQuery("UPDATE campaigns SET body = {:b} WHERE id = {:id}").Bind(map[string]any{"b": bomb, "id": c.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	d, err := env.App.FindFirstRecordByFilter(vocab.Deliveries, "campaign = {:c} && supporter = {:s}", map[string]any{"c": c.Id, "s": sups[0].Id})
	if err != nil {
		t.Fatal(err)
	}
	peak = testkit.StartPeak()
	status, page = env.Do(t, http.MethodGet, "/view?token="+testkit.Signer(t).Sign(tokens.View, d.Id, time.Hour), "", "")
	if mb := peak.Stop(); mb > 64 {
		t.Errorf("the view held %.0f MB", mb)
	}
	if status != http.StatusInternalServerError || !strings.Contains(page, "can't be shown") || strings.Contains(page, "xxxx") {
		t.Errorf("view = %d %s", status, clipPage(page))
	}
}

func clipPage(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
