package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/exporter"
	"supportercrm/internal/giving"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// TestExportsWriteOnlyData runs every command that writes data to standard
// output (the exports and the Gift Aid claim) from the real binary in dev mode (as under `go run`, or any binary
// in the temp dir), where PocketBase prints each SQL statement: standard
// output parses as CSV with exactly the expected rows, and the log lines are
// on standard error.
func TestExportsWriteOnlyData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	configure(t, dataDir, "http://127.0.0.1:8090", 2525, func(app core.App) {
		sups := testkit.Subscribers(t, app, 3)
		saveGiftAid(t, app, sups[0], "2026-03-02 12:00:00.000Z")
	})

	for _, c := range []struct {
		args   []string
		header []string
		first  []string // the first cell of each row after the header
		report string   // what the command tells the admin, on stderr
	}{
		{[]string{"export", "supporters"}, exporter.SupporterColumns, []string{"reader00000@example.org", "reader00001@example.org", "reader00002@example.org"}, "Exported 3 rows."},
		{[]string{"export", "consents"}, exporter.ConsentColumns, nil, "Exported 0 rows."},
		{[]string{"export", "gift-aid"}, giving.Header, []string{"Mr"}, "Preview: nothing is marked"},
		{[]string{"claim", "gift-aid", "2026-11"}, giving.Header, []string{"Mr"}, "Claim 2026-11: 1 donations marked"},
		{[]string{"export", "gift-aid", "--claim", "2026-11"}, giving.Header, []string{"Mr"}, "Total £12.50 in 1 donations"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, append(c.args, "--dir", dataDir, "--dev")...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			body, ok := strings.CutPrefix(stdout.String(), "\ufeff")
			if !ok {
				t.Fatalf("stdout does not start with the CSV's BOM:\n%.400s", stdout.String())
			}
			recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatalf("stdout is not CSV: %v\n%.400s", err, body)
			}
			if !slices.Equal(recs[0], c.header) {
				t.Fatalf("header = %q", recs[0])
			}
			var first []string
			for _, r := range recs[1:] {
				first = append(first, r[0])
			}
			slices.Sort(first) // supporters made in the same millisecond come in id order
			if !slices.Equal(first, c.first) {
				t.Errorf("rows start %q, want %q", first, c.first)
			}
			// Dev mode was on: the logs exist, on stderr, beside the report.
			if !strings.Contains(stderr.String(), "SELECT") {
				t.Errorf("no SQL log on stderr; was dev mode on?\n%.400s", stderr.String())
			}
			if !strings.Contains(stderr.String(), c.report) {
				t.Errorf("stderr lacks %q", c.report)
			}
		})
	}
}

// saveGiftAid gives sup a declaration (title Mr) and an eligible donation
// of £12.50 on each date (UTC), oldest first.
func saveGiftAid(t *testing.T, app core.App, sup *core.Record, dates ...string) {
	t.Helper()
	d := core.NewRecord(testkit.Collection(t, app, vocab.Declarations))
	d.Load(map[string]any{
		"supporter": sup.Id, "title": "Mr", "first_name": "Reader0", "last_name": "Lee", "house": "7", "address": "7 Mill Lane, Leeds",
		"postcode": "LS1 1AA", "declared_on": "2026-01-01 00:00:00.000Z", "scope": vocab.ScopePastAndFuture, "method": vocab.DeclaredWritten,
	})
	if err := app.Save(d); err != nil {
		t.Fatal(err)
	}
	for i, on := range dates {
		g := core.NewRecord(testkit.Collection(t, app, vocab.Donations))
		g.Load(map[string]any{
			"supporter": sup.Id, "amount_pence": 1250, "currency": "GBP", "donated_on": on,
			"method": vocab.DonationMethods[0], "provider": "stripe", "reference": fmt.Sprintf("tx-%d", i), "gift_aid_eligible": true,
		})
		if err := app.Save(g); err != nil {
			t.Fatal(err)
		}
	}
}
