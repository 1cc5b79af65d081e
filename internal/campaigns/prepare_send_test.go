package campaigns_test

import (
	"testing"
	"time"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Issue 15: a large campaign starts within a second of its send_at, so its
// run sends each chunk of the audience once written instead of waiting for
// the whole snapshot: the first message is accepted while the campaign is
// still preparing, and everyone still gets one copy.
func TestSendingBeginsWhileTheAudienceIsWritten(t *testing.T) {
	env := bareEnv(t)
	const n = 600 // 12 chunks of 50, 150 ms apart: the snapshot takes over 1.6 s
	sups := seed(t, env, n)
	bareEngine(t, env, campaigns.Config{SnapshotChunk: 50, SnapshotPause: 150 * time.Millisecond}, true)
	c := schedule(t, env)
	testkit.Eventually(t, 30*time.Second, func() bool { return len(env.SMTP.Mails()) > 0 })
	if status := storedCampaign(t, env, c.Id).GetString("status"); status != vocab.CampaignPreparing {
		t.Errorf("campaign is %q at its first message, want %q: sending waited for the whole audience", status, vocab.CampaignPreparing)
	}
	done := waitStatus(t, env, c.Id, vocab.CampaignSent, 60*time.Second)
	if done.GetInt("total") != n || done.GetInt("sent") != n {
		t.Errorf("total %d sent %d, want %d", done.GetInt("total"), done.GetInt("sent"), n)
	}
	assertOncePerRecipient(t, env, sups, c.Id)
}
