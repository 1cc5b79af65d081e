package campaigns

import (
	"regexp"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

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

// peakHeap is the most heap f holds in live and unswept objects at once
// over what was in use before, sampled every millisecond.
func peakHeap(f func()) uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base, peak := read(), uint64(0)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			peak = max(peak, read())
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return max(peak, read()) - min(base, peak)
}

// Content that would render without bound fails with a clear error and
// allocates little: loops that write, loops that write nothing, values
// doubled in a loop, wide printf padding, templates that call themselves.
// A loop writing a byte at a time passes 2 MB in well under 2 s, unless the
// machine is slow (the race detector): either limit may stop it.
func TestCompileBoundsTheRender(t *testing.T) {
	for _, c := range []struct{ name, subject, body, want string }{
		{"loop writing", "Hi", "{{range 300000000}}x{{end}}", "renders larger than 2 MB|takes longer"},
		{"loop in the subject", "{{range 300000000}}x{{end}}", "Hello", "renders larger than 2 MB|takes longer"},
		{"silent loop", "Hi", "{{range 300000000}}{{end}}", "takes longer than"},
		{"nested silent loops", "Hi", "{{range 100000}}{{range 100000}}{{end}}{{end}}", "takes longer than"},
		{"printf doubling", "Hi", `{{$x := "ab"}}{{range 64}}{{$x = printf "%s%s" $x $x}}{{end}}`, "renders larger than 2 MB"},
		{"print doubling", "Hi", `{{$x := "ab"}}{{range 64}}{{$x = print $x $x}}{{end}}`, "renders larger than 2 MB"},
		{"html growing", "Hi", `{{$x := "<>"}}{{range 64}}{{$x = html $x $x}}{{end}}`, "renders larger than 2 MB"},
		{"urlquery as an argument", "Hi", `{{$x := "<>"}}{{range 64}}{{$x = printf "%s%s" $x (urlquery $x)}}{{end}}`, "renders larger than 2 MB"},
		{"wide padding", "Hi", `{{printf "%0999999d" 1}}`, "printf widths"},
		{"padding from an argument", "Hi", `{{printf "%0*d" 999999 1}}`, "printf widths"},
		{"recursion", "Hi", `{{define "r"}}{{template "r" .}}{{template "r" .}}{{end}}{{template "r" .}}`, "can't be used in a campaign"},
		{"block", "Hi", `{{block "r" .}}x{{end}}`, "can't be used in a campaign"},
	} {
		var err error
		heap := peakHeap(func() {
			_, err = Compile(Content{Subject: c.subject, Body: c.body, Format: vocab.FormatHTML}, templates.FS, testIdentity, nil)
		})
		if err == nil || !regexp.MustCompile(c.want).MatchString(err.Error()) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if heap > 64<<20 {
			t.Errorf("%s: compiling held %d MB", c.name, heap>>20)
		}
	}
}

// The limits leave ordinary templates as they were: loops over data, the
// string builtins (as commands, pipes and arguments), escaping.
func TestLimitedTemplatesRenderAsBefore(t *testing.T) {
	items := []string{"Leeds fair", "Quiz & <curry> night"}
	cc, err := Compile(Content{
		Subject: `{{printf "%s's news" .FirstName}}`,
		Format:  vocab.FormatHTML,
		Body: `<p>{{range $i, $e := items}}{{if $i}}, {{end}}{{$e}}{{end}}</p>` +
			`<p>{{.FirstName | printf "%-8s|"}} {{print "a" 1}} {{len (print .LastName)}} {{urlquery .LastName}}</p>` +
			`<p>{{range 3}}{{.}}{{else}}none{{end}}</p>`,
	}, templates.FS, testIdentity, map[string]any{"items": func() []string { return items }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cc.Render(Recipient{FirstName: "Zoë", LastName: "O'Neil & Co", Email: "z@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "Zoë's news" {
		t.Errorf("subject = %q", m.Subject)
	}
	for _, want := range []string{"Leeds fair, Quiz &amp; &lt;curry&gt; night", "Zoë     | a1 11 O%27Neil&#43;%26&#43;Co", "012"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("html lacks %q:\n%s", want, m.HTML)
		}
	}
}
