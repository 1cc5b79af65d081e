package bounces

import (
	"regexp"
	"strings"
)

// anyAddress matches anything shaped like an email address, so a report's
// diagnostic can be kept without the addresses receiving servers put in it
// (theirs, ours, forwarding targets).
var anyAddress = regexp.MustCompile(`[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+`)

// withoutAddresses replaces every address in s with <address> and folds it
// onto one line.
func withoutAddresses(s string) string {
	s = anyAddress.ReplaceAllLiteralString(s, "<address>")
	return strings.Join(strings.Fields(s), " ")
}
