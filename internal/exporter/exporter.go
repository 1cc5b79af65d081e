// Package exporter writes supporters and consent records to CSV for admins:
// streamed from a database cursor (memory stays flat however long the list),
// every cell guarded against spreadsheet formula injection. Its supporter
// file is one the importer reads back.
package exporter

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/csvio"
	"supportercrm/internal/vocab"
)

// ErrBadFilter is a filter value that would match nothing by mistake.
var ErrBadFilter = errors.New("bad filter")

// Filter narrows a supporter export; empty fields match everyone.
type Filter struct {
	Status string // a supporter status
	Topic  string // a topic's slug
	Tag    string
}

// SupporterColumns is the supporter file's header: the importer's columns
// first (so an export imports elsewhere as it is), then the record's own.
var SupporterColumns = []string{
	"email", "first_name", "last_name", "status", "topics", "tags", "postcode", "address", "source", "notes",
	"consent_source", "consent_date", "id", "confirmed_at", "unsubscribed_at", "bounce_count", "created", "updated",
}

var supporterFields = []string{
	"email", "first_name", "last_name", "status", "topics", "tags", "postcode", "address", "source", "notes",
	"id", "confirmed_at", "unsubscribed_at", "bounce_count", "created", "updated",
}

// Supporters writes the supporters that match f, oldest first, and returns
// how many. Erased supporters hold no personal data and are left out.
func Supporters(app core.App, w io.Writer, f Filter) (int, error) {
	where, err := f.Where(app)
	if err != nil {
		return 0, err
	}
	slugs, err := topicSlugs(app)
	if err != nil {
		return 0, err
	}
	q := app.DB().Select(supporterFields...).From(vocab.Supporters).Where(where).OrderBy("created", "id")
	return stream(q, w, SupporterColumns, func(v map[string]string) []string {
		source, date := "", ""
		if v["status"] == vocab.StatusSubscribed && v["confirmed_at"] != "" {
			source, date = "supportercrm export (signed up by "+v["source"]+")", v["confirmed_at"]
		}
		return []string{
			v["email"], v["first_name"], v["last_name"], v["status"], names(v["topics"], slugs), names(v["tags"], nil),
			v["postcode"], v["address"], v["source"], v["notes"], source, date,
			v["id"], v["confirmed_at"], v["unsubscribed_at"], v["bounce_count"], v["created"], v["updated"],
		}
	})
}

// ConsentColumns is the consent file's header: the evidence as recorded.
var ConsentColumns = []string{
	"id", "supporter", "email", "action", "basis", "topics", "wording_version", "wording", "method",
	"evidence", "given_at", "ip", "user_agent", "created", "confirmed_at",
}

// Consents writes every consent row, oldest first, and returns how many.
func Consents(app core.App, w io.Writer) (int, error) {
	cols := slices.Clone(ConsentColumns)
	cols[slices.Index(cols, "topics")] = "topic_slugs"
	q := app.DB().Select(cols...).From(vocab.Consents).OrderBy("created", "id")
	return stream(q, w, ConsentColumns, func(v map[string]string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = v[c]
		}
		out[slices.Index(cols, "topic_slugs")] = names(v["topic_slugs"], nil)
		return out
	})
}

// stream writes a query's rows through row, one at a time.
func stream(q *dbx.SelectQuery, w io.Writer, header []string, row func(map[string]string) []string) (int, error) {
	out, err := csvio.NewWriter(w, header...)
	if err != nil {
		return 0, err
	}
	rows, err := q.Rows()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	v := make(map[string]string, len(cols))
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range cols {
			v[c] = vals[i].String
		}
		if err := out.Write(row(v)...); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	return n, out.Flush()
}

// Where is the filter's SQL condition on supporters (erased ones never
// match), refusing values that match nothing by mistake. The console's
// supporter search narrows its lists with it, so a list and its export
// always hold the same people.
func (f Filter) Where(app core.App) (dbx.Expression, error) {
	conds := []dbx.Expression{dbx.Not(dbx.HashExp{"status": vocab.StatusErased})}
	if f.Status != "" {
		if !slices.Contains(vocab.SupporterStatuses, f.Status) || f.Status == vocab.StatusErased {
			return nil, fmt.Errorf("%w: unknown status %q (use one of %s)", ErrBadFilter, f.Status, strings.Join(vocab.SupporterStatuses[:5], ", "))
		}
		conds = append(conds, dbx.HashExp{"status": f.Status})
	}
	if f.Topic != "" {
		t, err := app.FindFirstRecordByData(vocab.Topics, "slug", f.Topic)
		if err != nil {
			return nil, fmt.Errorf("%w: no topic has the slug %q", ErrBadFilter, f.Topic)
		}
		conds = append(conds, dbx.NewExp("instr([[topics]], {:topicq}) > 0 AND EXISTS (SELECT 1 FROM json_each([[topics]]) WHERE value = {:topic})",
			dbx.Params{"topic": t.Id, "topicq": quoted(t.Id)}))
	}
	if f.Tag != "" {
		conds = append(conds, dbx.NewExp("instr([[tags]], {:tagq}) > 0 AND EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid([[tags]]) THEN [[tags]] ELSE '[]' END) WHERE value = {:tag})",
			dbx.Params{"tag": f.Tag, "tagq": quoted(f.Tag)}))
	}
	return dbx.And(conds...), nil
}

// quoted is v as a JSON string. A list holding v holds this text, so the
// filters test for it first (instr is a fraction of json_each's cost on a
// row) and unpack the list only to be sure; it matters on lists of 100,000.
func quoted(v string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// topicSlugs maps topic ids to slugs.
func topicSlugs(app core.App) (map[string]string, error) {
	recs, err := app.FindAllRecords(vocab.Topics)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(recs))
	for _, t := range recs {
		m[t.Id] = t.GetString("slug")
	}
	return m, nil
}

// names turns a stored JSON list into "a;b", through lookup when given.
func names(raw string, lookup map[string]string) string {
	var list []string
	if raw == "" || json.Unmarshal([]byte(raw), &list) != nil {
		return ""
	}
	if lookup != nil {
		for i, id := range list {
			list[i] = lookup[id]
		}
	}
	return strings.Join(list, ";")
}
