package campaignui

import (
	"errors"
	"html/template"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/console"
	"supportercrm/internal/vocab"
)

// The content and audience fields that campaigns and schedules share, as a
// form: read from a record, written back, and checked with the engine's
// own compiler so a campaign that won't render is never saved.

// contentFields are the form's text fields that map one to one onto a record.
var contentFields = []string{"name", "subject", "preheader", "body_format", "body", "layout", "tags"}

type topicOption struct {
	ID, Name string
	Checked  bool
}

// editor is what a compose or schedule page shows around the form.
type editor struct {
	Form      *console.Form
	Topics    []topicOption
	Layouts   []string
	Formats   []string
	NameLabel string
	// Fields is the content and audience fields, rendered from
	// staff/campaigns/parts/content.html for both editors.
	Fields template.HTML
}

// formFromRecord fills a form with a record's content and audience.
func formFromRecord(r *core.Record) *console.Form {
	f := console.NewForm(nil)
	for _, k := range contentFields {
		f.Values.Set(k, r.GetString(k))
	}
	var tags []string
	_ = r.UnmarshalJSONField("tags", &tags)
	f.Values.Set("tags", strings.Join(tags, ", "))
	f.Values["topics"] = r.GetStringSlice("topics")
	if f.Get("body_format") == "" {
		f.Values.Set("body_format", vocab.FormatMarkdown)
	}
	return f
}

// contentOf is the content typed in the form.
func contentOf(f *console.Form) campaigns.Content {
	return campaigns.Content{Subject: f.Get("subject"), Preheader: f.Get("preheader"), Body: f.Values.Get("body"),
		Format: f.Get("body_format"), Layout: f.Get("layout")}
}

// audienceOf is the audience picked in the form; a tag list that can't be
// read fails the tags field.
func audienceOf(f *console.Form) campaigns.Audience {
	a := campaigns.Audience{Topics: slices.DeleteFunc(slices.Clone(f.Values["topics"]), func(s string) bool { return s == "" })}
	for _, t := range strings.Split(f.Get("tags"), ",") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(a.Tags, t) {
			a.Tags = append(a.Tags, t)
		}
	}
	return a
}

// checkContent fails each field that is missing or that stops the content
// rendering, in the engine's words for staff.
func (p *Pages) checkContent(f *console.Form, name string) {
	f.Require("name", name, "subject", "a subject", "body", "the body")
	if len(f.Get("name")) > 200 {
		f.Fail("name", "Keep the name to 200 characters.")
	}
	if utf8.RuneCountInString(f.Get("subject")) > 300 {
		f.Fail("subject", "Keep the subject to 300 characters.")
	}
	if utf8.RuneCountInString(f.Get("preheader")) > 300 {
		f.Fail("preheader", "Keep the preheader to 300 characters.")
	}
	if strings.ContainsFunc(f.Get("subject"), unicode.IsControl) {
		f.Fail("subject", "The subject must be one line.")
	}
	if s := f.Get("body_format"); s != vocab.FormatMarkdown && s != vocab.FormatHTML {
		f.Fail("body_format", "Choose Markdown or HTML.")
	}
	if len(audienceOf(f).Topics) == 0 {
		f.Fail("topics", "Choose at least one topic.")
	}
	if f.Get("body") == "" || f.Get("subject") == "" {
		return
	}
	_, problems, err := p.Engine.Preview(contentOf(f), "")
	if err != nil {
		f.Fail("body", "The campaign could not be checked: "+err.Error())
	}
	failProblems(f, problems)
}

// failProblems puts the engine's problems on their fields.
func failProblems(f *console.Form, problems []campaigns.Problem) {
	for _, pr := range problems {
		field := pr.Field
		if field == "supporter" {
			field = "preview_email"
		}
		f.Fail(field, problemText(pr))
	}
}

// problemText is a problem as a sentence: "Line 7: there is no field …".
func problemText(pr campaigns.Problem) string {
	msg := pr.Msg
	if pr.Line > 0 {
		return "Line " + strconv.Itoa(pr.Line) + ": " + strings.TrimSuffix(msg, ".") + "."
	}
	return sentence(msg)
}

// sentence is msg with a capital and one full stop.
func sentence(msg string) string {
	msg = strings.TrimSuffix(strings.TrimSpace(msg), ".")
	if msg == "" {
		return ""
	}
	return strings.ToUpper(msg[:1]) + msg[1:] + "."
}

// fill writes the form's content and audience onto r.
func fill(r *core.Record, f *console.Form) {
	for _, k := range []string{"name", "subject", "preheader", "body_format", "layout"} {
		r.Set(k, f.Get(k))
	}
	r.Set("body", f.Values.Get("body"))
	a := audienceOf(f)
	r.Set("topics", a.Topics)
	r.Set("tags", a.Tags)
}

// failSave puts a refused save's field errors on the form, or a general one.
func failSave(f *console.Form, err error) {
	var ve validation.Errors
	if errors.As(err, &ve) {
		for k, v := range ve {
			f.Fail(k, sentence(v.Error()))
		}
		return
	}
	f.Fail("form", "It was not saved: "+err.Error())
}

// editorFor lists the topics (with those in the form ticked) and layouts.
func (p *Pages) editorFor(f *console.Form, nameLabel string) (editor, error) {
	ed := editor{Form: f, Formats: []string{vocab.FormatMarkdown, vocab.FormatHTML}, NameLabel: nameLabel}
	topics, err := p.App.FindRecordsByFilter(vocab.Topics, "", "sort_order,name", 0, 0)
	if err != nil {
		return ed, err
	}
	for _, t := range topics {
		ed.Topics = append(ed.Topics, topicOption{ID: t.Id, Name: t.GetString("name"), Checked: slices.Contains(f.Values["topics"], t.Id)})
	}
	files, _ := fs.Glob(p.Templates, "campaigns/*.html")
	for _, file := range files {
		ed.Layouts = append(ed.Layouts, strings.TrimSuffix(path.Base(file), ".html"))
	}
	var b strings.Builder
	if err := p.parts.ExecuteTemplate(&b, "content-fields", ed); err != nil {
		return ed, err
	}
	ed.Fields = template.HTML(b.String()) // rendered by html/template: escaped
	return ed, nil
}
