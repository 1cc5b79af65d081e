package signup_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkSignupAnswerTime measures how long POST /api/subscribe takes to
// answer for a new address, a known (subscribed) one, a suppressed one and
// an erased supporter's, one request at a time, each address used once,
// the four kinds taken in turn so drift in the machine falls on all alike.
// The answers must not tell the four apart, by content or by time. Run
// with a fixed count for a few hundred tries of each:
//
//	go test ./internal/signup -run '^$' -bench SignupAnswerTime -benchtime 400x
func BenchmarkSignupAnswerTime(b *testing.B) {
	env := testkit.Start(b, testkit.Options{})
	app := env.App
	kinds := []string{"new", "known", "suppressed", "erased"}
	addr := func(kind string, i int) string { return fmt.Sprintf("%s%05d@example.org", kind, i) }
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		b.Fatal(err)
	}
	supporters := testkit.Collection(b, app, vocab.Supporters)
	suppressions := testkit.Collection(b, app, vocab.Suppressions)
	var erase []string
	err = app.RunInTransaction(func(tx core.App) error {
		for i := range b.N {
			for _, kind := range []string{"known", "erased"} {
				r := core.NewRecord(supporters)
				r.Load(map[string]any{"email": addr(kind, i), "status": vocab.StatusSubscribed, "topics": []string{topic.Id}, "first_name": "Kim"})
				if err := tx.Save(r); err != nil {
					return err
				}
				if kind == "erased" {
					erase = append(erase, r.Id)
				}
			}
			s := core.NewRecord(suppressions)
			s.Load(map[string]any{"email_hash": addr("suppressed", i), "reason": vocab.SuppressManual})
			if err := tx.Save(s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	eraser := &erasure.Eraser{App: app, Hash: signup.HashEmail}
	for _, id := range erase {
		if _, err := eraser.Erase(id); err != nil {
			b.Fatal(err)
		}
	}
	client := &http.Client{Timeout: 30 * time.Second}
	lat := map[string][]time.Duration{}
	answers := map[string]string{}
	b.ResetTimer()
	for i := range b.N {
		for k := range kinds {
			kind := kinds[(i+k)%len(kinds)]
			body := `{"email":"` + addr(kind, i) + `","first_name":"Kim","topics":["newsletter"],"consent":true}`
			t0 := time.Now()
			res, err := client.Post(env.URL+"/api/subscribe", "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			lat[kind] = append(lat[kind], time.Since(t0))
			if res.StatusCode != http.StatusAccepted {
				b.Fatalf("%s: HTTP %d %s", kind, res.StatusCode, got)
			}
			answers[string(got)] = kind
		}
	}
	b.StopTimer()
	if len(answers) != 1 {
		b.Fatalf("the four kinds got %d different answers: %v", len(answers), answers)
	}
	for _, kind := range kinds {
		slices.Sort(lat[kind])
		b.ReportMetric(ms(percentile(lat[kind], 0.50)), kind+"-p50-ms")
		b.ReportMetric(ms(percentile(lat[kind], 0.99)), kind+"-p99-ms")
	}
}
