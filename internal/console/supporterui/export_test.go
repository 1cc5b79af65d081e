package supporterui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// Plan is SQLite's query plan for a search for text, one step a line.
func Plan(t testing.TB, app core.App, text string) string {
	t.Helper()
	sel, order, err := Query{Text: text, Status: vocab.StatusSubscribed}.selection(app, "s.id")
	if err != nil {
		t.Fatal(err)
	}
	b := sel.OrderBy(order...).Limit(26).Build()
	var rows []struct {
		Detail string `db:"detail"`
	}
	if err := app.DB().NewQuery("EXPLAIN QUERY PLAN " + b.SQL()).Bind(b.Params()).All(&rows); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprint(r.Detail))
	}
	return strings.Join(out, "\n")
}

// TimelinePlan is SQLite's plan for a supporter's timeline, one step a line.
func TimelinePlan(t testing.TB, app core.App, supporterID string) string {
	t.Helper()
	var rows []struct {
		Detail string `db:"detail"`
	}
	err := app.DB().NewQuery("EXPLAIN QUERY PLAN SELECT id FROM " + vocab.Timeline + " WHERE supporter = {:s} ORDER BY at DESC, id DESC LIMIT 101").
		Bind(map[string]any{"s": supporterID}).All(&rows)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Detail)
	}
	return strings.Join(out, "\n")
}
