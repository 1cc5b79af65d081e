package importer_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/erasure"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// A row whose address reads as another one (an RFC 2047 encoded word of an
// erased supporter's address) or whose name is an encoded word hiding CR/LF
// header text is refused, naming its line, and the good rows go in. Asked
// to confirm, the import mails only the good row.
func TestImportRefusesEncodedAddressesAndNames(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	gone := testkit.Subscribers(t, env.App, 1)[0] // reader00000@example.org
	if _, err := (&erasure.Eraser{App: env.App, Hash: signup.HashEmail}).Erase(gone.Id); err != nil {
		t.Fatal(err)
	}
	bcc := "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte("Ann\r\nBcc: evil@example.net")) + "?="
	file := []byte("email,first_name,topics\n" +
		"good@example.org,Gail,newsletter\n" +
		"=?utf-8?q?reader00000?=@example.org,Rita,newsletter\n" +
		"\"\"\"reader00000\"\"@example.org\",Rita,newsletter\n" + // "reader00000"@example.org
		"name@example.org,\"" + bcc + "\",newsletter\n" +
		"tab@example.org,\"Ta\tb\",newsletter\n")
	status, rep, body := upload(t, env, testkit.Login(t, env, "admin"), "?confirm=true", file)
	if status != http.StatusOK {
		t.Fatalf("import = %d %s", status, body)
	}
	if rep.Created != 1 || rep.ErrorCount != 4 {
		t.Errorf("created %d, errors %d; want 1 and 4\n%s", rep.Created, rep.ErrorCount, body)
	}
	want := map[int]string{3: "email", 4: "email", 5: "first_name", 6: "first_name"}
	for _, p := range rep.Errors {
		if field, ok := want[p.Line]; !ok || !strings.Contains(p.Reason, field) {
			t.Errorf("line %d: %s; want a problem with %s", p.Line, p.Reason, want[p.Line])
		}
		delete(want, p.Line)
	}
	if len(want) > 0 {
		t.Errorf("no problem reported for lines %v", want)
	}
	env.SMTP.WaitFor(t, "good@example.org", 1, 10*time.Second)
	if n := len(env.SMTP.Mails()); n != 1 {
		t.Errorf("the sink got %d messages, want the good row's only", n)
	}
	if n := env.Count(t, vocab.Supporters, "status != 'erased'"); n != 1 {
		t.Errorf("%d supporters stored, want 1", n)
	}
}
