package signup

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// ErrAppendOnly is returned for any edit or deletion of consent evidence.
var ErrAppendOnly = errors.New("consent records are evidence: they can't be edited or deleted; record a new one instead")

// BindGuards binds the model hooks that hold for every writer (REST API,
// dashboard, Go code): consents are append-only, supporter addresses and
// names pass the signup form's own checks, and the suppression list stores
// hashes only.
func BindGuards(app core.App) {
	app.OnRecordUpdate(vocab.Consents).BindFunc(func(e *core.RecordEvent) error {
		if err := checkConsentUpdate(e.Record); err != nil {
			return err
		}
		return e.Next()
	})
	bindAPIGuards(app)
	app.OnRecordDelete(vocab.Consents).BindFunc(func(e *core.RecordEvent) error {
		return ErrAppendOnly
	})
	// The relation isn't required (a deleted signup's rows outlive it,
	// anonymised), but every new row is someone's.
	app.OnRecordCreate(vocab.Consents).BindFunc(func(e *core.RecordEvent) error {
		if e.Record.GetString("supporter") == "" {
			return validation.Errors{"supporter": validation.NewError("required", "A consent row must name its supporter.")}
		}
		return e.Next()
	})
	app.OnRecordCreate(vocab.Supporters).BindFunc(func(e *core.RecordEvent) error {
		if err := checkSupporter(e.Record, false); err != nil {
			return err
		}
		return e.Next()
	})
	app.OnRecordUpdate(vocab.Supporters).BindFunc(func(e *core.RecordEvent) error {
		if err := checkSupporter(e.Record, true); err != nil {
			return err
		}
		return e.Next()
	})
	app.OnRecordCreate(vocab.Suppressions).BindFunc(func(e *core.RecordEvent) error {
		v := e.Record.GetString("email_hash")
		if strings.Contains(v, "@") {
			email, msg := NormalizeEmail(v)
			if msg != "" {
				return fmt.Errorf("email_hash: %s", msg)
			}
			e.Record.Set("email_hash", HashEmail(email))
		} else if len(v) != 64 || strings.Trim(v, "0123456789abcdef") != "" {
			return errors.New("email_hash: enter an email address or its SHA-256 hex hash")
		}
		return e.Next()
	})
	app.OnRecordUpdate(vocab.Suppressions).BindFunc(func(e *core.RecordEvent) error {
		return errors.New("suppressions can't be edited")
	})
}

// checkSupporter holds a supporter's address and names to the signup
// form's rules (NormalizeEmail, CleanName), storing them cleaned. On update
// only the fields that changed are checked, so a row stored before a rule
// was added can still be unsubscribed, bounced or erased.
func checkSupporter(r *core.Record, update bool) error {
	errs := validation.Errors{}
	for _, f := range []struct {
		name  string
		clean func(string) (string, string)
	}{{"email", NormalizeEmail}, {"first_name", CleanName}, {"last_name", CleanName}} {
		v := r.GetString(f.name)
		if update && v == r.Original().GetString(f.name) {
			continue
		}
		if v, msg := f.clean(v); msg != "" {
			errs[f.name] = validation.NewError("invalid_"+f.name, msg)
		} else {
			r.Set(f.name, v)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// anonymisable are the consent fields that hold personal data. Go code may
// clear them (erasure, retention) and nothing else; the supporter link may be
// cleared too, but only on a row already anonymised (a deleted signup).
var anonymisable = []string{"email", "details", "ip", "user_agent"}

// checkConsentUpdate allows exactly two kinds of change to a consent row from
// Go code: setting its confirmation time once, when the double opt-in link is
// followed; and anonymising it, which only ever clears fields.
func checkConsentUpdate(r *core.Record) error {
	orig := r.Original()
	for _, f := range r.Collection().Fields {
		name := f.GetName()
		if name == "confirmed_at" || fmt.Sprint(r.GetRaw(name)) == fmt.Sprint(orig.GetRaw(name)) {
			continue
		}
		cleared := isEmpty(r.GetRaw(name))
		switch {
		case cleared && slices.Contains(anonymisable, name):
		case cleared && name == "supporter" && anonymised(r):
		default:
			return ErrAppendOnly
		}
	}
	if !orig.GetDateTime("confirmed_at").IsZero() && r.GetDateTime("confirmed_at") != orig.GetDateTime("confirmed_at") {
		return ErrAppendOnly
	}
	return nil
}

func anonymised(r *core.Record) bool {
	for _, name := range anonymisable {
		if !isEmpty(r.GetRaw(name)) {
			return false
		}
	}
	return true
}

// isEmpty is true for a cleared text or JSON value.
func isEmpty(v any) bool {
	switch s := strings.TrimSpace(fmt.Sprint(v)); s {
	case "", "null", "{}", "[]", "<nil>":
		return true
	}
	return false
}
