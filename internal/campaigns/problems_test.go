package campaigns

import (
	"strings"
	"testing"

	"supportercrm/internal/vocab"
	"supportercrm/templates"
)

// Each broken campaign is explained in staff's words, naming the field and
// the line as they typed it (a Markdown body's line, never the generated
// HTML's), and never with the engine's internals.
func TestExplainPointsAtTheLineAsTyped(t *testing.T) {
	md := "# Spring news\n\nThe new house opened.\n\nThank you.\n\n"
	funcs := map[string]any{"events": func(n int) ([]struct{ Name string }, error) { return nil, nil }}
	for _, c := range []struct {
		name  string
		in    Content
		field string
		line  int
		want  string
	}{
		{"unknown field, Markdown", Content{Subject: "Hi", Format: vocab.FormatMarkdown, Body: md + "Dear {{.Firstname}},"},
			"body", 7, "there is no field Firstname — did you mean FirstName?"},
		{"unknown field, HTML", Content{Subject: "Hi", Format: vocab.FormatHTML, Body: "<p>Hello</p>\n<p>{{.Emial}}</p>"},
			"body", 2, "there is no field Emial — did you mean Email?"},
		{"unknown field, nothing close", Content{Subject: "Hi {{.Postcode}}", Body: "x"},
			"subject", 1, "there is no field Postcode; the fields are FirstName, LastName, Email, UnsubscribeURL, PreferencesURL and WebURL"},
		{"field by $", Content{Subject: "Hi", Body: "{{range events 3}}\n{{$.firstname}}{{end}}"},
			"body", 2, "there is no field firstname — did you mean FirstName?"},
		{"unclosed action", Content{Subject: "Hi", Body: md + "Dear {{.FirstName"},
			"body", 7, "{{ is not closed"},
		{"missing end", Content{Subject: "Hi", Body: "{{range events 3}}\n* {{.Name}}\n"},
			"body", 0, "missing its {{end}}"},
		{"stray end", Content{Subject: "Hi", Body: "a\nb {{end}}"},
			"body", 2, "{{end}} with nothing before it to end"},
		{"unknown function", Content{Subject: "Hi", Body: "x\n{{range evnts 3}}{{end}}"},
			"body", 2, "there is no function evnts — did you mean events?"},
		{"preheader", Content{Subject: "Hi", Preheader: "For {{.FristName}}", Body: "x"},
			"preheader", 1, "did you mean FirstName?"},
		{"wrong argument", Content{Subject: "Hi", Body: "one\ntwo\n{{range events \"x\"}}{{end}}"},
			"body", 3, `a whole number is needed here, not "x"`},
		{"template", Content{Subject: "Hi", Body: `{{define "x"}}y{{end}}`},
			"body", 0, "can't be used in a campaign"},
		{"no layout", Content{Subject: "Hi", Body: "x", Layout: "fancy"},
			"layout", 0, `there is no layout "fancy"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Explain(c.in, templates.FS, testIdentity, funcs)
			if len(got) == 0 {
				t.Fatal("no problem found")
			}
			p := got[0]
			if p.Field != c.field || p.Line != c.line || !strings.Contains(p.Msg, c.want) {
				t.Errorf("got %+v, want field %s line %d with %q", p, c.field, c.line, c.want)
			}
			for _, internal := range []string{"html:", "template:", "renderData", "tplx", "executing", "campaigns."} {
				if strings.Contains(p.Msg, internal) {
					t.Errorf("message %q shows the engine's internals (%s)", p.Msg, internal)
				}
			}
		})
	}
	if got := Explain(Content{Subject: "Hi {{.FirstName}}", Body: md + "{{range events 3}}{{.Name}}{{end}} [stop]({{.UnsubscribeURL}})"}, templates.FS, testIdentity, funcs); len(got) != 0 {
		t.Errorf("a good campaign has problems: %+v", got)
	}
}
