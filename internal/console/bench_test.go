package console_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// BenchmarkHomeGrowth times the home page's figures over 100,000 supporters
// with a year of consents (100,000 grants, 70,000 confirmed, 5,000
// withdrawals): the growth chart's counts, and the subscribed count.
//
//	GOTOOLCHAIN=go1.27.3 go test ./internal/console/ -run '^$' -bench HomeGrowth -benchtime 20x
func BenchmarkHomeGrowth(b *testing.B) {
	env := seed(b)
	now := time.Now()
	b.ResetTimer()
	for b.Loop() {
		if _, err := console.Growth(env.App, now, 12); err != nil {
			b.Fatal(err)
		}
		if _, err := env.App.CountRecords(vocab.Supporters, dbx.HashExp{"status": vocab.StatusSubscribed}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/home")
}

// seed makes 100,000 supporters and their consents over the last year.
func seed(b *testing.B) *testkit.Env {
	env := testkit.Start(b, testkit.Options{})
	now := time.Now()
	err := env.App.RunInTransaction(func(tx core.App) error {
		for i := range 100000 {
			created := now.Add(-time.Duration(i%365) * 24 * time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")
			sup, con := fmt.Sprintf("s%014d", i), fmt.Sprintf("c%014d", i)
			status := vocab.StatusSubscribed
			confirmed := created
			if i%10 >= 7 {
				status, confirmed = vocab.StatusPending, ""
			}
			if _, err := tx.DB().Insert(vocab.Supporters, dbx.Params{"id": sup, "email": fmt.Sprintf("r%d@example.org", i), "status": status, "created": created, "updated": created}).Execute(); err != nil {
				return err
			}
			if _, err := tx.DB().Insert(vocab.Consents, dbx.Params{"id": con, "supporter": sup, "action": vocab.ActionGrant, "basis": vocab.BasisConsent, "method": vocab.MethodWebForm, "created": created, "confirmed_at": confirmed}).Execute(); err != nil {
				return err
			}
			if i%20 == 0 {
				if _, err := tx.DB().Insert(vocab.Consents, dbx.Params{"id": fmt.Sprintf("w%014d", i), "supporter": sup, "action": vocab.ActionWithdraw, "basis": vocab.BasisConsent, "method": vocab.MethodLink, "created": created}).Execute(); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return env
}
