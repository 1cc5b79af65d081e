package campaigns

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"supportercrm/internal/clip"
)

// Audience is who a campaign goes to: subscribed supporters in any of
// Topics (ids) and, when Tags is not empty, with at least one of Tags.
type Audience struct {
	Topics []string
	Tags   []string
	// Segment, when set, narrows it further (segment.go).
	Segment *Segment
}

// Tag limits, as the supporter import's.
const (
	maxTags   = 100
	maxTagLen = 40
)

// AudienceError names the field that can't be read, for a 400 on save and
// the note on a campaign that failed.
type AudienceError struct {
	Field, Msg string
}

func (e *AudienceError) Error() string { return `"` + e.Field + `": ` + e.Msg }

// AudienceOf reads the audience of a campaign or schedule record. Tags are
// a JSON list of strings (["leeds", "york"]), or one string that lists them
// separated by commas ("leeds" or "leeds, york"): what a form post or a
// person typing JSON by hand gives, with one obvious meaning. Anything else
// is an error, never "no tag filter": a filter that can't be read must not
// widen the audience to the whole topic.
func AudienceOf(r *core.Record) (Audience, error) {
	a := Audience{Topics: r.GetStringSlice("topics")}
	if len(a.Topics) == 0 {
		return a, &AudienceError{"topics", "choose at least one topic"}
	}
	raw, _ := r.GetRaw("tags").(types.JSONRaw)
	tags, err := decodeTags(raw)
	if err != nil {
		return a, &AudienceError{"tags", err.Error()}
	}
	a.Tags = tags
	return a, nil
}

// NormalizeAudience reads r's audience and writes it back in one form (tags
// as a JSON list, possibly empty), so that every later reader, the snapshot
// above all, sees a plain list.
func NormalizeAudience(r *core.Record) *AudienceError {
	a, err := AudienceOf(r)
	if err != nil {
		var ae *AudienceError
		errors.As(err, &ae)
		return ae
	}
	r.Set("topics", a.Topics)
	r.Set("tags", a.Tags)
	return nil
}

// Validation is the error as PocketBase reports a field's problem (the data of
// a 400, naming the field).
func (e *AudienceError) Validation() validation.Errors {
	return validation.Errors{e.Field: validation.NewError("invalid_"+e.Field, e.Msg)}
}

var errNotTags = errors.New(`must be a list of tags such as ["leeds", "york"], or text such as "leeds, york"`)

// decodeTags reads a tags value; empty (absent, null, "" or []) means no filter.
func decodeTags(raw types.JSONRaw) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	var items []string
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return []string{}, nil
	case raw[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, errNotTags
		}
		if strings.TrimSpace(text) == "" {
			return []string{}, nil
		}
		items = strings.Split(text, ",")
	case raw[0] == '[':
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return nil, errNotTags
		}
		for _, v := range list {
			var tag string
			if err := json.Unmarshal(v, &tag); err != nil {
				return nil, fmt.Errorf("%w (%s is not text)", errNotTags, clip.Runes(string(v), 20))
			}
			if strings.TrimSpace(tag) == "" {
				return nil, errors.New("has an empty tag")
			}
			items = append(items, tag)
		}
	default:
		return nil, errNotTags
	}
	out := []string{}
	for _, tag := range items {
		tag = strings.TrimSpace(tag)
		switch {
		case tag == "":
			continue // "leeds, " or "leeds,,york"
		case utf8.RuneCountInString(tag) > maxTagLen:
			return nil, fmt.Errorf("a tag is at most %d characters", maxTagLen)
		case strings.ContainsFunc(tag, unicode.IsControl):
			return nil, errors.New("a tag can't hold control characters")
		}
		if !slices.Contains(out, tag) {
			out = append(out, tag)
		}
	}
	if len(out) == 0 && len(items) > 0 {
		return nil, errors.New("has no tag in it") // e.g. ",": meant as a filter, but names none
	}
	if len(out) > maxTags {
		return nil, fmt.Errorf("at most %d tags", maxTags)
	}
	return out, nil
}

// inTopicsSQL and taggedSQL are the audience test of supporter s, given the
// audience's topics and tags as SQL expressions of JSON lists: one of the
// topics and, when the tag list is not empty, one of the tags. The snapshot
// and the send-time check both use them, so the two always agree.
func inTopicsSQL(topics string) string {
	return "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(s.topics) THEN s.topics ELSE '[]' END) t " +
		"WHERE t.value IN (SELECT value FROM json_each(" + topics + ")))"
}

func taggedSQL(tags string) string {
	return "(" + tags + " = '[]' OR EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(s.tags) THEN s.tags ELSE '[]' END) g " +
		"WHERE g.value IN (SELECT value FROM json_each(" + tags + "))))"
}
