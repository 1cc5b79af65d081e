package importer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"supportercrm/internal/clip"
	"supportercrm/internal/csvio"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/signup"
	"supportercrm/internal/tz"
	"supportercrm/internal/vocab"
)

// Columns are the supporter file's column names (the README documents them).
var Columns = []string{
	"email", "first_name", "last_name", "topics", "tags", "postcode", "address", "source", "notes",
	"status", "consent_source", "consent_date", "consent_wording",
}

// aliases map the names other tools give these columns onto ours.
var aliases = map[string]string{
	"email_address": "email", "e_mail": "email", "e_mail_address": "email",
	"first": "first_name", "firstname": "first_name", "forename": "first_name", "given_name": "first_name",
	"last": "last_name", "lastname": "last_name", "surname": "last_name", "family_name": "last_name",
	"lists": "topics", "topic": "topics", "tag": "tags", "post_code": "postcode", "zip": "postcode",
	"consent_method": "consent_source", "consented_at": "consent_date", "consent_given": "consent_date",
}

// row is one validated line of a supporter file.
type row struct {
	line                         int
	email                        string
	first, last                  string
	postcode, address            string
	source, notes                string
	topicIDs, slugs              []string
	tags                         []string
	status                       string // "", pending, subscribed or unsubscribed
	evidence, wording            string
	givenAt                      time.Time
	hasFirst, hasLast, hasStatus bool
}

// consented is true when the row carries evidence of consent.
func (r *row) consented() bool { return r.evidence != "" }

// parse checks one record against the rules of the README's import section.
// topics maps every topic's slug (public or not) to its id.
func parse(in csvio.Row, topics map[string]string, now time.Time) (*row, error) {
	r := &row{line: in.Line}
	var msg string
	if r.email, msg = signup.NormalizeEmail(in.Get("email")); msg != "" {
		if in.Get("email") == "" {
			return nil, errors.New("no email address")
		}
		return nil, fmt.Errorf("email %q: %s", clipForReport(in.Get("email")), msg)
	}
	if r.first, msg = signup.CleanName(in.Get("first_name")); msg != "" {
		return nil, fmt.Errorf("first_name: %s", msg)
	}
	if r.last, msg = signup.CleanName(in.Get("last_name")); msg != "" {
		return nil, fmt.Errorf("last_name: %s", msg)
	}
	r.hasFirst, r.hasLast = r.first != "", r.last != ""
	var err error
	if r.postcode, err = postcode(in.Get("postcode")); err != nil {
		return nil, err
	}
	if r.address, err = text("address", in.Get("address"), 500, true); err != nil {
		return nil, err
	}
	if r.source, err = text("source", in.Get("source"), 100, false); err != nil {
		return nil, err
	}
	if r.notes, err = text("notes", in.Get("notes"), 10000, true); err != nil {
		return nil, err
	}
	for _, slug := range split(strings.ToLower(in.Get("topics"))) {
		id, ok := topics[slug]
		if !ok {
			return nil, fmt.Errorf("unknown topic %q (topics are: %s)", clipForReport(slug), strings.Join(sortedKeys(topics), ", "))
		}
		if !slices.Contains(r.topicIDs, id) {
			r.topicIDs, r.slugs = append(r.topicIDs, id), append(r.slugs, slug)
		}
	}
	for _, tag := range split(in.Get("tags")) {
		if t, err := text("tags", tag, 40, false); err != nil {
			return nil, err
		} else if !slices.Contains(r.tags, t) {
			r.tags = append(r.tags, t)
		}
	}
	if err := r.parseConsent(in, now); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *row) parseConsent(in csvio.Row, now time.Time) error {
	var err error
	if r.evidence, err = text("consent_source", in.Get("consent_source"), 500, false); err != nil {
		return err
	}
	if r.wording, err = text("consent_wording", in.Get("consent_wording"), 5000, true); err != nil {
		return err
	}
	date := in.Get("consent_date")
	switch {
	case r.evidence == "" && date == "":
	case r.evidence == "" || date == "":
		return errors.New("consent_source and consent_date go together: give both, or neither to import the row as pending")
	default:
		if r.givenAt, err = parseDate(date); err != nil {
			return err
		}
		if r.givenAt.After(now) {
			return fmt.Errorf("consent_date %s is in the future", date)
		}
	}
	r.status = strings.ToLower(in.Get("status"))
	r.hasStatus = r.status != ""
	switch r.status {
	case "", vocab.StatusPending, vocab.StatusUnsubscribed:
	case vocab.StatusSubscribed:
		if !r.consented() {
			return errors.New("status subscribed needs consent_source and consent_date (the evidence of consent)")
		}
	default:
		return fmt.Errorf("status %q can't be imported (use pending, subscribed or unsubscribed; add bounced or complained addresses to suppressions)", clipForReport(r.status))
	}
	if r.status == vocab.StatusPending && r.consented() {
		return errors.New("status pending contradicts the consent evidence given")
	}
	return nil
}

// dateLayouts are the consent_date forms accepted: ISO dates and times (our
// own export's, in UTC, among them) and UK day/month/year. Dates without a
// zone are London time.
var dateLayouts = []struct {
	layout string
	utc    bool
}{
	{"2006-01-02 15:04:05.000Z", true}, {"2006-01-02 15:04:05Z", true}, {time.RFC3339, false},
	{"2006-01-02", false}, {"2006-01-02 15:04:05", false}, {"2006-01-02T15:04:05", false},
	{"02/01/2006", false}, {"2/1/2006", false}, {"02/01/2006 15:04", false}, {"02/01/2006 15:04:05", false},
}

func parseDate(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		loc := tz.London
		if l.utc {
			loc = time.UTC
		}
		if t, err := time.ParseInLocation(l.layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("consent_date %q isn't a date (use 2025-03-31 or 31/03/2025)", clipForReport(s))
}

// postcode keeps a UK postcode in HMRC's form and any other as given.
func postcode(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if pc, ok := giftaid.NormalizePostcode(s); ok {
		return pc, nil
	}
	return text("postcode", s, 10, false)
}

// text checks a free-text cell: its length in characters, and no control
// characters (newlines only where multiline is allowed).
func text(field, s string, max int, multiline bool) (string, error) {
	if utf8.RuneCountInString(s) > max {
		return "", fmt.Errorf("%s is longer than %d characters", field, max)
	}
	for _, c := range s {
		if unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\r' || c == '\t')) {
			return "", fmt.Errorf("%s contains a control character", field)
		}
	}
	return s, nil
}

// split reads a list cell: values separated by semicolons, commas or bars.
func split(s string) []string {
	var out []string
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '|' }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// clipForReport keeps error messages short when a cell is long.
func clipForReport(s string) string {
	if c := clip.Runes(s, 60); c != s {
		return c + "…"
	}
	return s
}
