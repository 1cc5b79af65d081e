package testkit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// Collection returns the named collection or fails the test.
func Collection(t testing.TB, app core.App, name string) *core.Collection {
	t.Helper()
	c, err := app.FindCollectionByNameOrId(name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Subscribers creates n subscribed supporters in the newsletter topic,
// reader00000@example.org upwards, first names Reader0 upwards, in one
// transaction.
func Subscribers(t testing.TB, app core.App, n int) []*core.Record {
	t.Helper()
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	col := Collection(t, app, vocab.Supporters)
	out := make([]*core.Record, n)
	err = app.RunInTransaction(func(tx core.App) error {
		for i := range n {
			r := core.NewRecord(col)
			r.Set("email", fmt.Sprintf("reader%05d@example.org", i))
			r.Set("first_name", fmt.Sprintf("Reader%d", i))
			r.Set("status", vocab.StatusSubscribed)
			r.Set("topics", []string{topic.Id})
			if err := tx.SaveNoValidate(r); err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// DueCampaign saves a Markdown campaign to the newsletter topic, scheduled
// for now, as the dashboard would.
func DueCampaign(t testing.TB, app core.App, subject, body string) *core.Record {
	t.Helper()
	topic, err := app.FindFirstRecordByData(vocab.Topics, "slug", "newsletter")
	if err != nil {
		t.Fatal(err)
	}
	c := core.NewRecord(Collection(t, app, vocab.Campaigns))
	c.Set("name", subject)
	c.Set("subject", subject)
	c.Set("body_format", vocab.FormatMarkdown)
	c.Set("body", body)
	c.Set("topics", []string{topic.Id})
	c.Set("status", vocab.CampaignScheduled)
	c.Set("send_at", time.Now())
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Dump is every record of the named collections, by id, as JSON: to check
// that something which should change nothing changed nothing.
func Dump(t testing.TB, app core.App, collections ...string) string {
	t.Helper()
	var b strings.Builder
	for _, coll := range collections {
		recs, err := app.FindRecordsByFilter(coll, "", "id", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(recs)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
	}
	return b.String()
}
