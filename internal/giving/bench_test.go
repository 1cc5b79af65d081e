package giving_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/giving"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// donors is how many supporters the benchmark's donations come from.
const donors = 10_000

// BenchmarkDonations imports n donation rows into a fresh database (10,000
// donors, each with a Gift Aid declaration), imports the same file again
// (every row skipped), then makes a claim of all of them and writes its
// schedule. It prints time and peak Go memory for each step: run
//
//	GOTOOLCHAIN=go1.27.3 go test ./internal/giving/ -run '^$' -bench Donations -benchtime 1x
func BenchmarkDonations(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		file := donationsFile(b, n)
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				env := testkit.Start(b, testkit.Options{})
				declared(b, env.App, testkit.Subscribers(b, env.App, donors))
				b.StartTimer()

				for _, run := range []string{"import", "again"} {
					f, err := os.Open(file)
					if err != nil {
						b.Fatal(err)
					}
					mem, start := testkit.StartPeak(), time.Now()
					sum, err := giving.Import(env.App, f, giving.Options{Provider: "stripe"})
					took, peak := time.Since(start), mem.Stop()
					f.Close()
					if err != nil || sum.Failed != 0 || sum.Created+sum.Skipped != n {
						b.Fatalf("%s: %v, created %d, skipped %d, failed %d", run, err, sum.Created, sum.Skipped, sum.Failed)
					}
					fmt.Printf("SUMMARY donations %s rows=%d seconds=%.2f rows/s=%.0f peak-MB=%.1f\n", run, n, took.Seconds(), float64(n)/took.Seconds(), peak)
				}

				mem, start := testkit.StartPeak(), time.Now()
				m, err := giving.MarkClaim(env.App, "bench")
				if err != nil || m.Marked != n {
					b.Fatalf("claim: %+v %v", m, err)
				}
				t, err := giving.WriteClaim(context.Background(), env.App, io.Discard, "bench")
				took, peak := time.Since(start), mem.Stop()
				if err != nil || t.Donations != n {
					b.Fatalf("claim file: %+v %v", t, err)
				}
				fmt.Printf("SUMMARY gift-aid claim rows=%d seconds=%.2f rows/s=%.0f peak-MB=%.1f\n", n, took.Seconds(), float64(n)/took.Seconds(), peak)
			}
		})
	}
}

// donationsFile writes n donations from the testkit subscribers, Gift Aid
// eligible, dated over the last year (none recent enough to be thanked).
func donationsFile(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "donations.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprint(w, "\ufeffTransaction ID,Created (UTC),Amount,Currency,Customer Email,Status,Gift Aid,Description\r\n")
	start := time.Now().AddDate(-1, 0, 0)
	for i := range n {
		on := start.Add(time.Duration(i%300) * 24 * time.Hour).Format(time.DateTime)
		fmt.Fprintf(w, "ch_%08d,%s,%d.%02d,gbp,reader%05d@example.org,Paid,yes,\"Room sponsorship, week %d\"\r\n",
			i, on, 2+i%40, i%100, i%donors, i%52+1)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// declared gives each supporter a declaration for past and future gifts
// (raw inserts: the benchmark measures donations, not declarations).
func declared(b *testing.B, app core.App, sups []*core.Record) {
	b.Helper()
	now := types.NowDateTime().String()
	err := app.RunInTransaction(func(tx core.App) error {
		for _, s := range sups {
			_, err := tx.DB().Insert(vocab.Declarations, dbx.Params{
				"id": core.GenerateDefaultRandomId(), "supporter": s.Id, "first_name": s.GetString("first_name"), "last_name": "Reader",
				"house": "1", "address": "1 Mill Lane, Leeds", "postcode": "LS1 1AA", "declared_on": now,
				"scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredOnline, "created": now, "updated": now,
			}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
