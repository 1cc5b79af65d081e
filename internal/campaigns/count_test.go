package campaigns_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// The live count for an audience is the number of deliveries its snapshot
// writes: for each tag filter, a campaign is sent and its total compared.
// An unsubscribed supporter in the topic counts for neither.
func TestCountAudienceIsTheSnapshotsTotal(t *testing.T) {
	env := testkit.Start(t, testkit.Options{Configure: fast(nil)})
	comms := testkit.Login(t, env, vocab.RoleComms)
	tagged(t, env)
	topic := topicID(t, env, "newsletter")
	gone := core.NewRecord(testkit.Collection(t, env.App, vocab.Supporters))
	gone.Set("email", "gone@example.org")
	gone.Set("status", vocab.StatusUnsubscribed)
	gone.Set("topics", []string{topic})
	gone.Set("tags", []string{"leeds"})
	if err := env.App.Save(gone); err != nil {
		t.Fatal(err)
	}
	for _, tags := range [][]string{nil, {"leeds"}, {"york"}, {"leeds", "york"}, {"hull"}} {
		want, err := campaigns.CountAudience(env.App, campaigns.Audience{Topics: []string{topic}, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		if len(tags) == 0 && want != 6 {
			t.Fatalf("whole topic counts %d, want the 6 subscribed", want)
		}
		if want == 0 {
			continue // a campaign for no one can't be scheduled: nothing to compare
		}
		id := apiMustCreate(t, env, comms, map[string]any{"tags": tags, "status": vocab.CampaignScheduled, "send_at": sendNow()})
		done := waitStatus(t, env, id, vocab.CampaignSent, 30*time.Second)
		if done.GetInt("total") != want {
			t.Errorf("tags %q: counted %d, the snapshot wrote %d", tags, want, done.GetInt("total"))
		}
	}
	if n, err := campaigns.CountAudience(env.App, campaigns.Audience{Topics: []string{"no-such-topic"}}); err != nil || n != 0 {
		t.Errorf("an unknown topic counts %d (%v), want 0", n, err)
	}
}

// BenchmarkCountAudience times the live count over n subscribed supporters
// (100,000 unless SUPPORTERCRM_BENCH_COUNT says otherwise), for the whole
// topic and with a tag filter that a tenth of them match:
//
//	go test ./internal/campaigns/ -run '^$' -bench CountAudience -benchtime 20x
func BenchmarkCountAudience(b *testing.B) {
	n := 100000
	if v := os.Getenv("SUPPORTERCRM_BENCH_COUNT"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("SUPPORTERCRM_BENCH_COUNT: bad size %q", v)
		}
	}
	env := testkit.Start(b, testkit.Options{SMTPDown: true})
	topic := topicID(b, env, "newsletter")
	seedFast(b, env, n, topic)
	if _, err := env.App.DB().NewQuery(`UPDATE {{supporters}} SET tags = '["leeds"]' WHERE rowid % 10 = 0`).Execute(); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		a    campaigns.Audience
		want int
	}{
		{"topic", campaigns.Audience{Topics: []string{topic}}, n},
		{"tag", campaigns.Audience{Topics: []string{topic}, Tags: []string{"leeds"}}, n / 10},
	} {
		b.Run(fmt.Sprintf("%s-%d", c.name, n), func(b *testing.B) {
			for range b.N {
				got, err := campaigns.CountAudience(env.App, c.a)
				if err != nil || got != c.want {
					b.Fatalf("counted %d (%v), want %d", got, err, c.want)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/count")
		})
	}
}
