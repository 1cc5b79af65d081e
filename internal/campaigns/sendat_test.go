package campaigns_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// A send time the server can't read, or none, is refused when scheduling,
// 400 naming send_at with the accepted format, on create and on update, and
// the campaign is not sent. PocketBase would have dropped these values as
// the request body was loaded, leaving "no send time".
func TestUnreadableOrMissingSendAtIsRefused(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	seed(t, env, 20)
	draft := apiMustCreate(t, env, comms, nil)
	before := exportCampaign(t, env, draft)
	for _, at := range []any{"03/12/2026 09:00", "2026-12-03 09:00", "3 Dec 2026 9am", "tomorrow", 1796374800} {
		n := env.Count(t, vocab.Campaigns, "")
		status, _, body := apiCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled, "send_at": at})
		if status != http.StatusBadRequest || !strings.Contains(body, `"send_at"`) || !strings.Contains(body, "2026-12-03 09:00:00.000Z") {
			t.Errorf("create scheduled at %v = %d %s, want 400 naming send_at and its format", at, status, body)
		}
		if got := env.Count(t, vocab.Campaigns, ""); got != n {
			t.Errorf("a refused create changed the count from %d to %d", n, got)
		}
		patch := map[string]any{"status": vocab.CampaignScheduled, "send_at": at}
		if status, body := apiPatchJSON(t, env, comms, draft, patch); status != http.StatusBadRequest || !strings.Contains(body, `"send_at"`) {
			t.Errorf("scheduling at %v = %d %s, want 400 naming send_at", at, status, body)
		}
		// Nor is a draft saved with a time it can't read.
		if status, body := apiPatchJSON(t, env, comms, draft, map[string]any{"send_at": at}); status != http.StatusBadRequest || !strings.Contains(body, `"send_at"`) {
			t.Errorf("a draft's send_at %v = %d %s, want 400 naming send_at", at, status, body)
		}
		assertUnchanged(t, env, draft, before)
	}
	for name, fields := range map[string]map[string]any{
		"no send_at":    {"status": vocab.CampaignScheduled},
		"empty send_at": {"status": vocab.CampaignScheduled, "send_at": ""},
		"long past":     {"status": vocab.CampaignScheduled, "send_at": "2026-01-01 09:00:00.000Z"},
		"null send_at":  {"status": vocab.CampaignScheduled, "send_at": nil},
	} {
		if status, _, body := apiCreate(t, env, comms, fields); status != http.StatusBadRequest || !strings.Contains(body, `"send_at"`) {
			t.Errorf("create with %s = %d %s, want 400 naming send_at", name, status, body)
		}
		if status, body := apiPatchJSON(t, env, comms, draft, fields); status != http.StatusBadRequest || !strings.Contains(body, `"send_at"`) {
			t.Errorf("scheduling with %s = %d %s, want 400 naming send_at", name, status, body)
		}
		assertUnchanged(t, env, draft, before)
	}
	time.Sleep(1500 * time.Millisecond) // a tick or two
	if n := env.Count(t, vocab.Deliveries, ""); n != 0 || len(env.SMTP.Mails()) != 0 {
		t.Errorf("%d deliveries and %d mails after refused schedules", n, len(env.SMTP.Mails()))
	}
}

// The forms that are read are stored as the time they name.
func TestReadableSendAtIsStoredAsGiven(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	want := time.Date(2099, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, at := range []string{"2099-12-03 09:00:00.000Z", "2099-12-03 09:00:00Z", "2099-12-03T09:00:00Z", "2099-12-03T10:00:00+01:00", "2099-12-03T09:00:00.000Z"} {
		id := apiMustCreate(t, env, comms, map[string]any{"status": vocab.CampaignScheduled, "send_at": at})
		if got := storedCampaign(t, env, id).GetDateTime("send_at").Time(); !got.Equal(want) {
			t.Errorf("send_at %q stored as %v, want %v", at, got, want)
		}
	}
}

func apiPatchJSON(t testing.TB, env *testkit.Env, token, id string, fields map[string]any) (int, string) {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return apiPatch(t, env, token, id, string(b))
}
