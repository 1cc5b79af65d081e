package supporterui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/erasure"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// editFields are the supporter fields an admin edits, in form order. Status
// and topics are not among them: those change through consent (signup,
// preferences, unsubscribe), which records its evidence.
var editFields = []string{"email", "first_name", "last_name", "address", "postcode", "tags", "notes"}

type editView struct {
	Supporter *core.Record
	Form      *console.Form
}

func (p *Pages) editPage(e *core.RequestEvent, sup *core.Record) error {
	if sup.GetString("status") == vocab.StatusErased {
		return console.Redirect(e, "/supporters/"+sup.Id, "This supporter was erased: there is nothing to edit.")
	}
	f := console.NewForm(nil)
	for _, name := range editFields {
		f.Values.Set(name, sup.GetString(name))
	}
	f.Values.Set("tags", strings.Join(sup.GetStringSlice("tags"), ", "))
	return p.c.Render(e, "supporters/edit", editView{Supporter: sup, Form: f})
}

// edit saves the admin's changes, or shows the form again with a message
// for each field to fix and nothing saved.
func (p *Pages) edit(e *core.RequestEvent, sup *core.Record) error {
	if sup.GetString("status") == vocab.StatusErased {
		return console.Redirect(e, "/supporters/"+sup.Id, "This supporter was erased: there is nothing to edit.")
	}
	f := console.NewForm(e)
	vals, err := p.checkEdit(f, sup)
	if err != nil {
		return err
	}
	if f.OK() {
		var changed []string
		for _, name := range editFields {
			same := sup.GetString(name) == vals[name]
			if name == "tags" {
				same = slices.Equal(sup.GetStringSlice("tags"), vals["tags"].([]string))
			}
			if !same {
				sup.Set(name, vals[name])
				changed = append(changed, name)
			}
		}
		if len(changed) == 0 {
			return console.Redirect(e, "/supporters/"+sup.Id, "Nothing was changed.")
		}
		err = p.app.RunInTransaction(func(tx core.App) error {
			if err := tx.Save(sup); err != nil {
				return err
			}
			return console.AuditRequest(tx, e, "supporter.edit", "supporters/"+sup.Id, "changed "+strings.Join(changed, ", "))
		})
		var verrs validation.Errors
		switch {
		case errors.As(err, &verrs):
			for name, msg := range verrs {
				f.Fail(name, msg.Error())
			}
		case err != nil:
			return err
		default:
			return console.Redirect(e, "/supporters/"+sup.Id, "Saved.")
		}
	}
	return p.c.RenderStatus(e, http.StatusBadRequest, "supporters/edit", editView{Supporter: sup, Form: f})
}

// checkEdit checks each field as the signup form and the import do, and
// returns the values to save. Failures are on f; an error is a fault.
func (p *Pages) checkEdit(f *console.Form, sup *core.Record) (map[string]any, error) {
	vals := map[string]any{}
	email, msg := signup.NormalizeEmail(f.Get("email"))
	switch {
	case msg != "":
		f.Fail("email", msg)
	case email != sup.GetString("email"):
		bad, err := signup.IsSuppressed(p.app, email)
		if err != nil {
			return nil, err
		}
		if other, err := p.app.FindFirstRecordByData(vocab.Supporters, "email", email); err == nil && other.Id != sup.Id {
			f.Fail("email", "Another supporter has this address.")
		} else if bad {
			f.Fail("email", "This address is on the suppression list (erased, complained or hard-bounced), so it can't be used.")
		}
	}
	vals["email"] = email
	for _, name := range []string{"first_name", "last_name"} {
		v, msg := signup.CleanName(f.Get(name))
		if msg != "" {
			f.Fail(name, msg)
		}
		vals[name] = v
	}
	vals["address"] = freeText(f, "address", "The address", 500, true)
	pc := f.Get("postcode")
	if norm, ok := giftaid.NormalizePostcode(pc); ok {
		pc = norm
	} else if utf8.RuneCountInString(pc) > 10 {
		f.Fail("postcode", "A postcode is at most 10 characters, e.g. LS1 1AA.")
	}
	vals["postcode"] = pc
	vals["notes"] = freeText(f, "notes", "Notes", 10000, true)
	tags := []string{}
	for _, t := range strings.Split(f.Get("tags"), ",") {
		t = strings.TrimSpace(t)
		switch {
		case t == "" || slices.Contains(tags, t):
		case utf8.RuneCountInString(t) > 40 || strings.IndexFunc(t, unicode.IsControl) >= 0:
			f.Fail("tags", fmt.Sprintf("The tag %q is too long or holds a control character: tags are at most 40 characters.", clipped(t)))
		default:
			tags = append(tags, t)
		}
	}
	if len(tags) > 30 {
		f.Fail("tags", "A supporter has at most 30 tags.")
	}
	vals["tags"] = tags
	return vals, nil
}

// freeText checks a text field's length and that it holds no control
// characters (but new lines where multiline), and returns it.
func freeText(f *console.Form, name, label string, maxLen int, multiline bool) string {
	v := strings.ReplaceAll(f.Get(name), "\r\n", "\n")
	if utf8.RuneCountInString(v) > maxLen {
		f.Fail(name, fmt.Sprintf("%s is longer than %d characters.", label, maxLen))
	}
	if strings.IndexFunc(v, func(c rune) bool { return unicode.IsControl(c) && !(multiline && (c == '\n' || c == '\t')) }) >= 0 {
		f.Fail(name, label+" holds a control character; type it again as plain text.")
	}
	return v
}

// clipped keeps a value quoted in a message short.
func clipped(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

type eraseView struct {
	Supporter *core.Record
	Form      *console.Form
}

func (p *Pages) erasePage(e *core.RequestEvent, sup *core.Record) error {
	if sup.GetString("status") == vocab.StatusErased {
		return console.Redirect(e, "/supporters/"+sup.Id, "This supporter was erased already.")
	}
	return p.c.Render(e, "supporters/erase", eraseView{Supporter: sup, Form: console.NewForm(nil)})
}

// erase erases the supporter once the admin has typed their address, and
// records who did it in the audit trail, in the erasure's transaction.
func (p *Pages) erase(e *core.RequestEvent, sup *core.Record) error {
	if sup.GetString("status") == vocab.StatusErased {
		return console.Redirect(e, "/supporters/"+sup.Id, "This supporter was erased already.")
	}
	f := console.NewForm(e)
	if !strings.EqualFold(f.Get("confirm"), sup.GetString("email")) {
		msg := "Type the supporter's email address exactly, to confirm. Nothing was erased."
		if f.Get("confirm") == "" {
			msg = "Type the supporter's email address to confirm. Nothing was erased."
		}
		f.Fail("confirm", msg)
		return p.c.RenderStatus(e, http.StatusBadRequest, "supporters/erase", eraseView{Supporter: sup, Form: f})
	}
	var res erasure.Result
	err := p.app.RunInTransaction(func(tx core.App) error {
		var err error
		if res, err = (&erasure.Eraser{App: tx, Hash: p.eraser.Hash}).Erase(sup.Id); err != nil {
			return err
		}
		return console.AuditRequest(tx, e, "supporter.erase", "supporters/"+sup.Id, erasedDetail(res))
	})
	if err != nil {
		return err
	}
	return console.Redirect(e, "/supporters/"+sup.Id, "Erased. "+erasedDetail(res))
}

// erasedDetail says what an erasure did, for the audit trail and the admin.
func erasedDetail(r erasure.Result) string {
	s := fmt.Sprintf("Personal data removed and the address suppressed; kept without personal data: %d consent rows, %d campaign deliveries, %d emails (%d queued, now cancelled).",
		r.ConsentsAnonymised, r.DeliveriesAnonymised, r.EmailsAnonymised, r.EmailsCancelled)
	switch {
	case r.DeclarationsKept > 0:
		s += fmt.Sprintf(" %d Gift Aid declaration(s) kept whole until %s, as HMRC requires.", r.DeclarationsKept, r.KeptUntil)
	case r.DeclarationsDeleted > 0:
		s += fmt.Sprintf(" %d Gift Aid declaration(s) deleted.", r.DeclarationsDeleted)
	}
	return s
}
