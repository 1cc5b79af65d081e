package supporterui

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/exporter"
	"supportercrm/internal/vocab"
)

// PerPage is how many supporters a page of results lists.
const PerPage = 25

// MaxPage is the last page a search reaches; past it, narrow the search.
const MaxPage = 400

// countCap is where a result count stops counting ("10,000 or more"), so a
// broad filter over a large list never costs a full scan to count.
const countCap = 10000

// Query is a supporter search as staff type it.
type Query struct {
	Text   string // the start of an address, or of a first and/or last name
	Status string // a supporter status, or "" for all but erased
	Topic  string // a topic's slug
	Tag    string
	Page   int // from 1
}

// Row is one supporter in a list of results.
type Row struct {
	ID        string `db:"id"`
	Email     string `db:"email"`
	FirstName string `db:"first_name"`
	LastName  string `db:"last_name"`
	Status    string `db:"status"`
	Topics    string `db:"topics"` // JSON list of topic ids
	Tags      string `db:"tags"`   // JSON list
}

// Name is the supporter's name as one string, "" when none is known.
func (r Row) Name() string { return strings.TrimSpace(r.FirstName + " " + r.LastName) }

// TagList is the supporter's tags.
func (r Row) TagList() []string { return jsonList(r.Tags) }

// Result is one page of a search.
type Result struct {
	Rows []Row
	Page int
	More bool // a further page exists
	// Total is how many supporters match, up to countCap; Capped means
	// there are at least that many.
	Total  int
	Capped bool
}

// FieldErrors are the search fields that can't be used, with a message each.
type FieldErrors map[string]string

// Check validates the query's filters against the database (the topic must
// exist) and returns a message per bad field, or nil.
func (q *Query) Check(app core.App) FieldErrors {
	errs := FieldErrors{}
	q.Text = strings.TrimSpace(q.Text)
	switch n := utf8.RuneCountInString(q.Text); {
	case n > 200:
		errs["q"] = "Type at most 200 characters: the start of a name or an address."
	case n == 1:
		// One letter matches a tenth of a list, in no useful order.
		errs["q"] = "Type at least 2 characters of a name or an address."
	}
	if q.Status != "" && (!slices.Contains(vocab.SupporterStatuses, q.Status) || q.Status == vocab.StatusErased) {
		errs["status"] = "Choose a status from the list."
	}
	if q.Topic != "" {
		if _, err := app.FindFirstRecordByData(vocab.Topics, "slug", q.Topic); err != nil {
			errs["topic"] = "There is no such topic; choose one from the list."
		}
	}
	if utf8.RuneCountInString(q.Tag) > 40 {
		errs["tag"] = "A tag is at most 40 characters."
	}
	if q.Page < 1 {
		q.Page = 1
	}
	if q.Page > MaxPage {
		errs["page"] = "That page is too far in: narrow the search instead."
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Search runs a checked query. Names match case-insensitively (A to Z) at
// the start of the first name, the last name, or "first last" / "last
// first" for two words; text with an @ matches the start of the address.
// Every match is an index range (see the 1764086720 migration). Results
// with text come in name order, without it newest first.
func Search(app core.App, q Query) (Result, error) {
	res := Result{Page: max(q.Page, 1)}
	rows, order, err := q.selection(app, "s.id", "s.email", "s.first_name", "s.last_name", "s.status",
		"coalesce(s.topics, '') AS topics", "coalesce(s.tags, '') AS tags")
	if err != nil {
		return res, err
	}
	err = rows.OrderBy(order...).Limit(PerPage + 1).Offset(int64((res.Page - 1) * PerPage)).All(&res.Rows)
	if err != nil {
		return res, err
	}
	if len(res.Rows) > PerPage {
		res.Rows, res.More = res.Rows[:PerPage], true
	}
	ids, _, err := q.selection(app, "s.id")
	if err != nil {
		return res, err
	}
	capped := ids.Limit(countCap + 1).Build()
	if err := app.DB().NewQuery("SELECT count(*) FROM (" + capped.SQL() + ")").Bind(capped.Params()).Row(&res.Total); err != nil {
		return res, err
	}
	if res.Total > countCap {
		res.Total, res.Capped = countCap, true
	}
	return res, nil
}

// selection selects cols of the supporters (as s) that match q, and says
// the order of its results. Text, when given, drives the query: the
// supporters whose names or address match (m, found by index ranges) come
// first, CROSS JOIN keeping that order of the loops, and only then are the
// filters checked on each. Without it SQLite, which has no statistics
// here, may walk the whole status index instead, ten times slower.
func (q Query) selection(app core.App, cols ...string) (*dbx.SelectQuery, []string, error) {
	where, err := exporter.Filter{Status: q.Status, Topic: q.Topic, Tag: q.Tag}.Where(app)
	if err != nil {
		return nil, nil, err
	}
	sel := app.DB().Select(cols...)
	match, params := textMatch(q.Text)
	if match == "" {
		return sel.From(vocab.Supporters + " s").Where(where), []string{"s.created DESC", "s.id DESC"}, nil
	}
	sel = sel.From("(SELECT id FROM "+vocab.Supporters+" WHERE "+match+") m").
		Join("CROSS JOIN", vocab.Supporters+" s", dbx.NewExp("s.id = m.id")).Where(where).Bind(params)
	if strings.Contains(q.Text, "@") {
		return sel, []string{"s.email"}, nil
	}
	return sel, []string{"lower(s.last_name)", "lower(s.first_name)", "s.email"}, nil
}

// textMatch is the SQL condition for the search text and its parameters,
// "" for no text.
func textMatch(text string) (string, dbx.Params) {
	text = foldASCII(strings.Join(strings.Fields(text), " "))
	p := dbx.Params{}
	switch first, rest, two := strings.Cut(text, " "); {
	case text == "":
		return "", nil
	case strings.Contains(text, "@"):
		return prefix(p, "email", text, "e"), p
	case !two:
		return prefix(p, "lower(first_name)", text, "a") + " OR " + prefix(p, "lower(last_name)", text, "b") + " OR " + prefix(p, "email", text, "e"), p
	default:
		return "(" + prefix(p, "lower(first_name)", first, "a") + " AND " + prefix(p, "lower(last_name)", rest, "b") + ") OR (" +
			prefix(p, "lower(last_name)", first, "c") + " AND " + prefix(p, "lower(first_name)", rest, "d") + ")", p
	}
}

// prefix is "expr starts with v" as a range the index on expr serves,
// v <= expr < the next string after every one that starts with v, its
// bounds added to p under name.
func prefix(p dbx.Params, expr, v, name string) string {
	p[name+"lo"], p[name+"hi"] = v, successor(v)
	return "(" + expr + " >= {:" + name + "lo} AND " + expr + " < {:" + name + "hi})"
}

// successor is the least string greater than every string that starts
// with p, in SQLite's byte order. p is never empty here.
func successor(p string) string {
	b := []byte(p)
	for len(b) > 0 && b[len(b)-1] == 0xff {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "\U0010FFFF\U0010FFFF"
	}
	b[len(b)-1]++
	return string(b)
}

// foldASCII lowers A to Z only, as SQLite's lower() does, so the search
// text and the indexed names fold alike: "smi" finds "SMITH", and "Év"
// finds "Éva" (but "év" does not).
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// jsonList reads a stored JSON list of strings, empty when there is none.
func jsonList(raw string) []string {
	var l []string
	if raw == "" || json.Unmarshal([]byte(raw), &l) != nil {
		return nil
	}
	return l
}
