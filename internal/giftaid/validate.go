package giftaid

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Input is a declaration as the donor typed it.
type Input struct {
	Title     string
	FirstName string
	LastName  string
	House     string
	Address   string
	Postcode  string
	// Confirm is the ticked box: the donor wants Gift Aid and has read the
	// taxpayer statement.
	Confirm bool
	// SameHome is the donor confirming the home of their latest declaration,
	// which the page never shows, instead of typing one.
	SameHome bool
}

// FieldErrors maps a form field to a message written for the donor.
type FieldErrors map[string]string

// HMRC's claim schedule limits (title 4, names 35 characters each).
const (
	maxTitle   = 4
	maxName    = 35
	maxHouse   = 100
	maxAddress = 500
)

// The inward code's letters never include C, I, K, M, O or V.
var postcodeRe = regexp.MustCompile(`^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][ABD-HJLNP-UW-Z]{2}$`)

// Outward is a postcode's outward part, the district before the space ("LS6"
// of "LS6 3QR"): all a page may show of a stored home. It is empty for
// anything that isn't a UK postcode.
func Outward(postcode string) string {
	pc, ok := NormalizePostcode(postcode)
	if !ok {
		return ""
	}
	return pc[:strings.IndexByte(pc, ' ')]
}

// NormalizePostcode returns a UK postcode in HMRC's form, capitals with one
// space before the last three characters ("ls1 1aa" gives "LS1 1AA"), and
// whether it is one.
func NormalizePostcode(s string) (string, bool) {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if !postcodeRe.MatchString(s) {
		return "", false
	}
	return s[:len(s)-3] + " " + s[len(s)-3:], true
}

// Validate cleans a declaration and reports every problem at once. Only a
// fully valid declaration is ever stored.
func Validate(in Input) (Input, FieldErrors) {
	errs := FieldErrors{}
	var c Input
	var msg string
	if c.Title, msg = cleanLine(in.Title, maxTitle, false); msg != "" {
		errs["title"] = msg
	} else if strings.IndexFunc(c.Title, func(r rune) bool { return !unicode.IsLetter(r) }) >= 0 {
		errs["title"] = "A title is letters only, such as Mr, Mrs, Ms, Miss or Dr."
	}
	if c.FirstName, msg = cleanLine(in.FirstName, maxName, true); msg != "" {
		errs["first_name"] = msg
	}
	if c.LastName, msg = cleanLine(in.LastName, maxName, true); msg != "" {
		errs["last_name"] = msg
	}
	if c.House, msg = cleanLine(in.House, maxHouse, true); msg != "" {
		errs["house"] = msg
	}
	if c.Address, msg = cleanAddress(in.Address); msg != "" {
		errs["address"] = msg
	}
	if strings.TrimSpace(in.Postcode) == "" {
		errs["postcode"] = "Enter your postcode: HMRC needs it for Gift Aid."
	} else if pc, ok := NormalizePostcode(in.Postcode); !ok {
		errs["postcode"] = "Enter a UK postcode, like LS1 1AA."
	} else {
		c.Postcode = pc
	}
	if !in.Confirm {
		errs["confirm"] = "Please tick the box to confirm you are a UK taxpayer and want to Gift Aid your donations."
	}
	c.Confirm = in.Confirm
	if len(errs) > 0 {
		return Input{}, errs
	}
	return c, nil
}

// cleanLine trims a one-line field and refuses control characters (CR and
// LF among them) and bidi overrides.
func cleanLine(s string, max int, required bool) (string, string) {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		return "", "This is needed for Gift Aid."
	case !utf8.ValidString(s) || strings.IndexFunc(s, badRune) >= 0:
		return "", "Please use letters, numbers and ordinary punctuation only."
	case utf8.RuneCountInString(s) > max:
		return "", "Please keep this to " + strconv.Itoa(max) + " characters."
	}
	return s, ""
}

// cleanAddress allows several lines (the form's text box), stored with
// plain newlines.
func cleanAddress(s string) (string, string) {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var kept []string
	for _, l := range lines {
		l, msg := cleanLine(l, maxAddress, false)
		if msg != "" {
			return "", msg
		}
		if l != "" {
			kept = append(kept, l)
		}
	}
	out := strings.Join(kept, "\n")
	switch {
	case out == "":
		return "", "Enter your home address (not a work address): HMRC needs it for Gift Aid."
	case utf8.RuneCountInString(out) > maxAddress:
		return "", "Please keep the address to " + strconv.Itoa(maxAddress) + " characters."
	}
	return out, ""
}

func badRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
