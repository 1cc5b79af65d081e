package signup

import (
	"crypto/sha256"
	"encoding/hex"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what the public may submit.
const (
	MaxEmailLen  = 254
	MaxNameRunes = 100
	MaxTopics    = 20
)

// Input is a signup as submitted, before any cleaning.
type Input struct {
	Email     string
	FirstName string
	LastName  string
	Topics    []string
	Consent   bool
}

// Clean is a signup that passed validation: the address normalised, names
// trimmed, topic slugs de-duplicated.
type Clean struct {
	Email     string
	FirstName string
	LastName  string
	Topics    []string
}

// FieldErrors maps a field name to a message written for the supporter.
type FieldErrors map[string]string

var (
	slugRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// Validate checks everything that needs no database: address syntax, names,
// topic slug syntax and consent. Whether the topics exist is checked later.
func Validate(in Input) (Clean, FieldErrors) {
	errs := FieldErrors{}
	var c Clean
	var msg string
	if c.Email, msg = NormalizeEmail(in.Email); msg != "" {
		errs["email"] = msg
	}
	if c.FirstName, msg = CleanName(in.FirstName); msg != "" {
		errs["first_name"] = msg
	}
	if c.LastName, msg = CleanName(in.LastName); msg != "" {
		errs["last_name"] = msg
	}
	if c.Topics, msg = cleanTopics(in.Topics); msg != "" {
		errs["topics"] = msg
	}
	if !in.Consent {
		errs["consent"] = "Please tick the box to say you'd like to hear from us."
	}
	if len(errs) > 0 {
		return Clean{}, errs
	}
	return c, nil
}

// NormalizeEmail trims and lowercases an address and checks it is a plain
// addr-spec with a real domain, read the same way by everything it passes
// through: no display name, comments, quoted parts or angle brackets (which
// net/mail reads as another address), no RFC 2047 encoded words (which
// go-mail and mail servers may decode into another address), and nothing
// invisible. The address stored, hashed, checked against suppressions and
// mailed is then one and the same string. It returns the address, or "" and
// a message for the supporter.
func NormalizeEmail(s string) (string, string) {
	s = strings.ToLower(strings.TrimSpace(s))
	const bad = "Enter a valid email address, like name@example.org.uk."
	switch {
	case s == "":
		return "", "Enter your email address."
	case len(s) > MaxEmailLen:
		return "", "That email address is too long."
	case !utf8.ValidString(s) || strings.ContainsAny(s, "\"\\<>()[],;: \t\r\n"):
		return "", bad
	case strings.Contains(s, "=?"):
		return "", "Enter your email address as plain text, like name@example.org.uk (not encoded)."
	case strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", bad
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return "", bad
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 || strings.Count(s, "@") != 1 {
		return "", bad
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return "", bad
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return "", bad
		}
	}
	if tld := labels[len(labels)-1]; strings.IndexFunc(tld, unicode.IsDigit) >= 0 && !strings.HasPrefix(tld, "xn--") {
		return "", bad
	}
	return s, ""
}

// HashEmail is the suppression list's key: SHA-256 of the normalised address.
func HashEmail(normalized string) string {
	sum := sha256.Sum256([]byte(normalized))
	return hex.EncodeToString(sum[:])
}

// CleanName trims a name and checks it is plain text that every mail
// client shows as typed, since names go into the To: header (go-mail encodes
// them there). It refuses RFC 2047 encoded words (which clients decode, to
// header text with CR/LF as like as not), control characters (CR, LF and
// tabs among them, C0 and C1), line and paragraph separators, invisible
// format characters (bidi overrides, zero-width spaces), backslashes (the
// header escape character; no name has one) and web addresses (spammers put
// links in name fields to have us mail them).
func CleanName(s string) (string, string) {
	s = strings.TrimSpace(s)
	const plain = "Names can only contain letters, spaces and punctuation."
	switch {
	case !utf8.ValidString(s):
		return "", plain
	case utf8.RuneCountInString(s) > MaxNameRunes:
		return "", "Names can be at most 100 characters."
	case strings.Contains(s, "=?"):
		return "", "Type your name as plain text (not encoded)."
	case strings.IndexFunc(s, func(r rune) bool { return !nameRune(r) }) >= 0:
		return "", plain
	}
	lower := strings.ToLower(s)
	if strings.Contains(lower, "://") || strings.Contains(lower, "www.") {
		return "", "Names can't contain web addresses."
	}
	return s, ""
}

// nameRune allows letters, marks, digits, punctuation, symbols and spaces,
// and the two zero-width joiners that Persian and Indic names and emoji need.
func nameRune(r rune) bool {
	return (unicode.IsGraphic(r) && r != '\\') || r == '\u200c' || r == '\u200d'
}

// cleanSlugs lowercases and trims slugs without judging them.
func cleanSlugs(in []string) []string {
	out := make([]string, 0, len(in))
	for _, t := range in {
		if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func cleanTopics(in []string) ([]string, string) {
	seen := map[string]bool{}
	var out []string
	for _, t := range in {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" || seen[t] {
			continue
		}
		if !slugRe.MatchString(t) {
			return nil, "One of the topics chosen doesn't exist."
		}
		seen[t] = true
		out = append(out, t)
	}
	switch {
	case len(out) == 0:
		return nil, "Choose at least one topic."
	case len(out) > MaxTopics:
		return nil, "Too many topics chosen."
	}
	return out, ""
}
