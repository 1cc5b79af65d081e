package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
)

// Form is a posted form and its errors, one message per field, for pages
// that show the form again with what was typed and what to fix. Nothing is
// saved while it has errors.
type Form struct {
	Values url.Values
	Errors map[string]string
}

// NewForm reads the posted form (a nil request gives an empty form for a
// page's first showing).
func NewForm(e *core.RequestEvent) *Form {
	f := &Form{Values: url.Values{}, Errors: map[string]string{}}
	if e != nil && e.Request.Method != http.MethodGet {
		if err := e.Request.ParseForm(); err == nil {
			f.Values = e.Request.PostForm
		}
	}
	return f
}

// Get is the trimmed value of a field.
func (f *Form) Get(name string) string {
	if f == nil {
		return ""
	}
	return strings.TrimSpace(f.Values.Get(name))
}

// Fail records a message for a field; the first message per field is kept.
func (f *Form) Fail(name, message string) {
	if _, ok := f.Errors[name]; !ok {
		f.Errors[name] = message
	}
}

// Error is the message for a field, or "".
func (f *Form) Error(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// OK reports whether no field failed.
func (f *Form) OK() bool { return len(f.Errors) == 0 }

// Require fails each named field that is empty with "Enter <label>." and
// reports whether all were given. labels pairs names with labels.
func (f *Form) Require(labels ...string) bool {
	ok := true
	for i := 0; i+1 < len(labels); i += 2 {
		if f.Get(labels[i]) == "" {
			f.Fail(labels[i], "Enter "+labels[i+1]+".")
			ok = false
		}
	}
	return ok
}

const flashCookie = "staff_flash"

// setFlash keeps a one-line message for the next page the member sees.
func setFlash(e *core.RequestEvent, msg string) {
	if len(msg) > 300 {
		msg = msg[:300]
	}
	e.SetCookie(&http.Cookie{Name: flashCookie, Value: url.QueryEscape(msg), Path: Prefix, HttpOnly: true,
		Secure: secure(e), SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// takeFlash returns the waiting message, once.
func takeFlash(e *core.RequestEvent) string {
	ck, err := e.Request.Cookie(flashCookie)
	if err != nil || ck.Value == "" {
		return ""
	}
	e.SetCookie(&http.Cookie{Name: flashCookie, Path: Prefix, HttpOnly: true, Secure: secure(e),
		SameSite: http.SameSiteStrictMode, MaxAge: -1, Expires: time.Unix(0, 0)})
	msg, _ := url.QueryUnescape(ck.Value)
	return msg
}

// FailFrom copies the field errors of a failed PocketBase save (validation
// errors keyed by field) onto the form, in PocketBase's words where the
// form has no message of its own yet, and reports whether err was one.
func (f *Form) FailFrom(err error) bool {
	var ve validation.Errors
	if !errors.As(err, &ve) {
		return false
	}
	for field, e := range ve {
		msg := e.Error()
		if len(msg) > 0 {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		f.Fail(field, msg)
	}
	return true
}
