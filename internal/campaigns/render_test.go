package campaigns

import (
	"strings"
	"testing"

	"supportercrm/internal/charity"
	"supportercrm/internal/vocab"
	"supportercrm/templates"
)

var testIdentity = charity.Identity{Name: "Lanternhouse Trust", Number: "1209876", Address: "PO Box 4127, Leeds LS1 9XW", Website: "https://www.lanternhouse.org.uk", LogoURL: "https://crm.example.org/static/logo.svg"}

func compile(t *testing.T, c Content) *Compiled {
	t.Helper()
	cc, err := Compile(c, templates.FS, testIdentity, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

func TestRenderMarkdownPerRecipient(t *testing.T) {
	cc := compile(t, Content{
		Subject:   "News for {{.FirstName}}",
		Preheader: "The spring update",
		Format:    vocab.FormatMarkdown,
		Body:      "# Hello {{.FirstName}}\n\nOur **safe houses** are full. [Change what you get]({{.PreferencesURL}}).\n\n<script>alert(1)</script><p onclick=\"x()\">Thanks</p>",
	})
	m, err := cc.Render(Recipient{FirstName: `<b>Zoë</b>`, Email: "z@example.org", UnsubscribeURL: "https://crm.example.org/unsubscribe?token=u.1", PreferencesURL: "https://crm.example.org/preferences?token=p.1", WebURL: "https://crm.example.org/view?token=w.1"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "News for <b>Zoë</b>" {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, want := range []string{
		"Hello &lt;b&gt;Zoë&lt;/b&gt;", "<strong>safe houses</strong>",
		`href="https://crm.example.org/preferences?token=p.1"`, `href="https://crm.example.org/unsubscribe?token=u.1"`,
		`href="https://crm.example.org/view?token=w.1"`, "PO Box 4127", "The spring update",
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "onclick", "<b>Zoë", "tplx", "<style"} {
		if strings.Contains(m.HTML, bad) {
			t.Errorf("html contains %q", bad)
		}
	}
	if !strings.Contains(m.HTML, `style="`) {
		t.Error("css was not inlined")
	}
	for _, want := range []string{"Zoë", "https://crm.example.org/unsubscribe?token=u.1", "PO Box 4127"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.Text, "spring update") || strings.Contains(m.Text, "<") && strings.Contains(m.Text, "<strong") {
		t.Errorf("text part has the preheader or markup:\n%s", m.Text)
	}
	other, _ := cc.Render(Recipient{Email: "x@example.org", UnsubscribeURL: "https://crm.example.org/unsubscribe?token=u.2"})
	if !strings.Contains(other.HTML, "Hello friend") || !strings.Contains(other.HTML, "token=u.2") {
		t.Error("second recipient did not get their own copy")
	}
}

func TestCompileRejectsWhatWouldFail(t *testing.T) {
	for name, c := range map[string]Content{
		"unknown field":  {Subject: "Hi", Body: "Dear {{.Nickname}}"},
		"broken action":  {Subject: "Hi", Body: "Dear {{.FirstName"},
		"bad subject":    {Subject: "Hi {{.Nope}}", Body: "x"},
		"unknown layout": {Subject: "Hi", Body: "x", Layout: "fancy"},
	} {
		if _, err := Compile(c, templates.FS, testIdentity, nil); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}

// The engine renders into pooled buffers reused from message to message:
// each render must equal Render's, whatever the buffers held before
// (a longer message, an empty first name).
func TestRenderIntoReusedBuffersMatchesRender(t *testing.T) {
	cc := compile(t, Content{Subject: "News for {{.FirstName}}", Preheader: "Spring",
		Body: "# Dear {{.FirstName}} {{.LastName}}\n\n" + strings.Repeat("A long paragraph about the safe house. ", 60) +
			"\n\n[Unsubscribe]({{.UnsubscribeURL}}) or [choose]({{.PreferencesURL}}); [view]({{.WebURL}}).\n", Format: vocab.FormatMarkdown})
	bufs := new(msgBufs)
	for i, r := range []Recipient{
		{FirstName: "Bartholomew-Maximilian", LastName: "O'Connor & <Sons>", Email: "b@example.org", UnsubscribeURL: "https://crm.example.org/unsubscribe?token=" + strings.Repeat("x", 300) + "&d=1", PreferencesURL: "https://crm.example.org/p?t=1", WebURL: "https://crm.example.org/v?t=1"},
		{FirstName: "", LastName: "Li", Email: "l@example.org", UnsubscribeURL: "https://crm.example.org/u?t=2", PreferencesURL: "https://crm.example.org/p?t=2", WebURL: "https://crm.example.org/v?t=2"},
		{FirstName: "Ann", LastName: "Bo", Email: "a@example.org", UnsubscribeURL: "javascript:alert(1)", PreferencesURL: "https://crm.example.org/p?t=3", WebURL: "https://crm.example.org/v?t=3"},
	} {
		want, err := cc.Render(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cc.renderInto(r, bufs)
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != want.Subject || got.HTML != want.HTML || got.Text != want.Text {
			t.Errorf("recipient %d: renderInto differs from Render", i)
		}
	}
}
