package bounces_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture reads testdata/name with the placeholders filled in: the VERP
// address the report came back to, the recipient, and the Message-ID of the
// message that bounced; the report's own Message-ID gets a part made from
// them, so reports about different messages differ and a copy is the same.
// Lines end in CRLF, as on the wire.
func fixture(t testing.TB, name, token, rcpt, msgID string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	local, _, _ := strings.Cut(rcpt, "@")
	sum := sha256.Sum256([]byte(name + token + rcpt + msgID))
	s := strings.NewReplacer("{{TOKEN}}", token, "{{RCPT}}", rcpt, "{{MSGID}}", msgID, "{{LOCAL}}", local, "{{ID}}", hex.EncodeToString(sum[:6])).Replace(string(raw))
	return []byte(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n"))
}

// fixtures is every message in testdata and what it is: the format, and for
// a bounce or complaint its one report's kind and status, and whether it
// quotes the VERP address, the recipient and the original Message-ID (a
// redacted complaint gives only the Message-ID; Exim's delay warning no
// copy of the message).
var fixtures = []struct {
	name              string
	format            string
	kind, status      string
	hasToken, hasRcpt bool
	hasID             bool
}{
	{"dsn_postfix_hard.eml", "dsn", "hard", "5.1.1", true, true, true},
	{"dsn_gmail_delayed.eml", "dsn", "soft", "4.4.1", true, true, true},
	{"dsn_exchange_hard.eml", "dsn", "hard", "5.1.10", true, true, true},
	{"arf_abuse.eml", "arf", "complaint", "", true, true, true},
	{"arf_redacted.eml", "arf", "complaint", "", false, false, true},
	{"text_postfix.eml", "text", "hard", "5.1.1", true, true, true},
	{"text_exim.eml", "text", "hard", "5.2.1", true, true, true},
	{"text_exim_delay.eml", "text", "soft", "4.2.2", true, true, false},
	{"text_exchange.eml", "text", "hard", "5.1.1", true, true, true},
	{"autoreply_ooo.eml", "auto-reply", "", "", false, false, false},
	{"autoreply_vacation.eml", "auto-reply", "", "", false, false, false},
	{"junk.eml", "other", "", "", false, false, false},
	{"human_reply.eml", "other", "", "", false, false, false},
}
