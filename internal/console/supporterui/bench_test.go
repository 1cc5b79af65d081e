package supporterui_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"supportercrm/internal/console/supporterui"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkSupporterSearch seeds 100,000 supporters (testkit.People) and
// times the searches staff type, each a whole Search call (the page of
// rows and the capped count), and prints their p50 and p95. Run with:
//
//	GOTOOLCHAIN=go1.27.3 go test ./internal/console/supporterui/ -run '^$' -bench SupporterSearch -benchtime 20x
func BenchmarkSupporterSearch(b *testing.B) {
	const n = 100_000
	app := newApp(b)
	testkit.People(b, app, n)
	queries := []supporterui.Query{
		{Text: "smi"}, {Text: "Oliver"}, {Text: "oliver smith"}, {Text: "khan pr"}, {Text: "o'ne"},
		{Text: "jo"}, {Text: "person04213"}, {Text: "person012345@example.org"}, {Text: "nobody-like-this"},
		{}, {Page: 200}, {Status: vocab.StatusPending}, {Topic: "events"}, {Tag: "volunteer"},
		{Text: "grace", Status: vocab.StatusSubscribed, Topic: "events"}, {Text: "de la", Tag: "donor"},
	}
	var took []time.Duration
	b.ResetTimer()
	for range b.N {
		for _, q := range queries {
			if errs := q.Check(app); errs != nil {
				b.Fatal(errs)
			}
			start := time.Now()
			if _, err := supporterui.Search(app, q); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
			if testing.Verbose() {
				fmt.Printf("%+v %v\n", q, time.Since(start))
			}
		}
	}
	b.StopTimer()
	slices.Sort(took)
	p := func(q float64) float64 { return float64(took[int(q*float64(len(took)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.95), "p95-ms")
	b.ReportMetric(0, "ns/op")
	fmt.Printf("SUMMARY supporter search over %d supporters: %d searches, p50 %.2f ms, p95 %.2f ms, max %.2f ms\n", n, len(took), p(0.50), p(0.95), p(1))
}
