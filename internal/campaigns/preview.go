package campaigns

import (
	"regexp"
	"strings"
	"supportercrm/internal/charity"

	"supportercrm/internal/vocab"
)

// Preview renders c as the engine would send it, for the supporter with id
// supporterID or, when that is "", for a sample reader (Alex Example),
// without sending or recording anything. Its personal links are the test
// copy's (see testLinks), so nothing done from a preview changes anyone's
// subscription. A campaign that doesn't render gives its problems instead.
func (e *Engine) Preview(c Content, supporterID string) (Message, []Problem, error) {
	r := sample
	if supporterID != "" {
		s, err := e.App.FindRecordById(vocab.Supporters, supporterID)
		if err != nil || s.GetString("status") == vocab.StatusErased {
			return Message{}, []Problem{{Field: "supporter", Msg: "there is no such supporter to preview for"}}, nil
		}
		r = Recipient{FirstName: s.GetString("first_name"), LastName: s.GetString("last_name"), Email: s.GetString("email")}
	}
	compiled, id, problems, err := e.build(c)
	if problems != nil || err != nil {
		return Message{}, problems, err
	}
	r.UnsubscribeURL, r.PreferencesURL, r.WebURL = testLinks(id.AppURL)
	m, err := compiled.Render(r)
	if err != nil {
		return Message{}, []Problem{compileProblem(err)}, nil
	}
	return m, nil, nil
}

// build compiles c as the engine would, or explains why it can't.
func (e *Engine) build(c Content) (*Compiled, charity.Identity, []Problem, error) {
	id, err := e.Identity()
	if err != nil {
		return nil, id, nil, err
	}
	var funcs map[string]any
	if e.Funcs != nil {
		funcs = e.Funcs()
	}
	compiled, err := Compile(c, e.Layouts, id, funcs)
	if err != nil {
		return nil, id, Explain(c, e.Layouts, id, funcs), nil
	}
	return compiled, id, nil, nil
}

// testLinks are the personal links of a preview or test copy: they lead to
// the pages a supporter would see, with a token that no one's subscription
// answers to.
func testLinks(appURL string) (unsubscribe, preferences, web string) {
	return appURL + "/unsubscribe?token=test-copy", appURL + "/preferences?token=test-copy", appURL + "/preview?token=test-copy"
}

// TestCopyNote is what a test copy says at its top, in both parts.
const TestCopyNote = "This is a test copy. Its unsubscribe, preferences and view-in-browser links are not linked to anyone's subscription, so they won't work."

var bodyTagRe = regexp.MustCompile(`(?i)<body[^>]*>`)

// asTestCopy marks a rendered copy as a test: "[Test]" before the subject
// and TestCopyNote at the top of both parts.
func asTestCopy(m Message) Message {
	note := `<p style="background:#fff3cd;color:#3d2e00;padding:8px 12px;font:14px/1.4 sans-serif;margin:0">` + TestCopyNote + `</p>`
	if loc := bodyTagRe.FindStringIndex(m.HTML); loc != nil {
		m.HTML = m.HTML[:loc[1]] + note + m.HTML[loc[1]:]
	} else {
		m.HTML = note + m.HTML
	}
	m.Text = TestCopyNote + "\n\n" + m.Text
	m.Subject = "[Test] " + strings.TrimPrefix(m.Subject, "[Test] ")
	return m
}
