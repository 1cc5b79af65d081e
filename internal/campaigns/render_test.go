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
