package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/console"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// An admin invites a new member by email; the signed link lets them choose
// a password once; they sign in with it and the emailed code; and the trail
// records the invitation, the password and the sign-in.
func TestInviteSetPasswordAndSignIn(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	admin, _ := signedIn(t, env, vocab.RoleAdmin)
	const newcomer = "new.colleague@example.org"

	// Bad input: a message per field, nothing made.
	a := admin.submit("/staff/staff", "/staff/staff/invite", url.Values{"email": {"not an address"}, "role": {"boss"}})
	if a.status != http.StatusBadRequest || !strings.Contains(a.body, "Enter an email address") || !strings.Contains(a.body, "Choose comms or admin") {
		t.Fatalf("bad invitation: HTTP %d:\n%s", a.status, a.body)
	}
	a = admin.submit("/staff/staff", "/staff/staff/invite", url.Values{"email": {newcomer}, "name": {"New Colleague"}, "role": {"comms"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("invitation: HTTP %d:\n%s", a.status, a.body)
	}
	mail := env.SMTP.WaitFor(t, newcomer, 1, 10*time.Second)[0]
	link := env.Link(t, mail.Text, "/staff/invite?token=")
	path := strings.TrimPrefix(link, env.URL)

	// An invited member can't sign in before choosing a password.
	if n := env.Count(t, vocab.Staff, "email = '"+newcomer+"' && verified = false"); n != 1 {
		t.Fatalf("want one unverified staff record, got %d", n)
	}

	them := newClient(t, env)
	if a := them.get(path); a.status != http.StatusOK || !strings.Contains(a.body, newcomer) {
		t.Fatalf("invitation page: HTTP %d", a.status)
	}
	form := func(pw, confirm string) url.Values {
		u, _ := url.Parse(link)
		return url.Values{"token": {u.Query().Get("token")}, "password": {pw}, "confirm": {confirm}}
	}
	if a := them.submit(path, "/staff/invite", form("short", "short")); a.status != http.StatusBadRequest || !strings.Contains(a.body, "at least 12 characters") {
		t.Fatalf("short password: HTTP %d", a.status)
	}
	if a := them.submit(path, "/staff/invite", form("a-good-long-password", "another-long-password")); a.status != http.StatusBadRequest || !strings.Contains(a.body, "not the same") {
		t.Fatalf("mismatched passwords: HTTP %d", a.status)
	}
	if a := them.submit(path, "/staff/invite", form("a-good-long-password", "a-good-long-password")); a.status != http.StatusSeeOther || a.location != "/staff/login" {
		t.Fatalf("set password: HTTP %d to %q", a.status, a.location)
	}
	// The link worked once.
	if a := them.get(path); a.status != http.StatusBadRequest || !strings.Contains(a.body, "already been used") {
		t.Fatalf("the invitation link works twice: HTTP %d", a.status)
	}
	if a := them.submit("/staff/login", "/staff/invite", form("an-attacker-password", "an-attacker-password")); a.status != http.StatusBadRequest {
		t.Fatalf("the used link set a password again: HTTP %d", a.status)
	}
	them.login(newcomer, "a-good-long-password")
	if a := them.get("/staff/"); a.status != http.StatusOK || !strings.Contains(a.body, "comms") {
		t.Fatalf("home after sign-in: HTTP %d", a.status)
	}

	rec, err := env.App.FindAuthRecordByEmail(vocab.Staff, newcomer)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"staff.invite", "staff.set_password", "staff.sign_in"} {
		if n := env.Count(t, vocab.Audit, "action = '"+action+"' && target = 'staff/"+rec.Id+"'"); n != 1 {
			t.Errorf("audit rows for %s: %d, want 1", action, n)
		}
	}
}

// An admin changes a role and disables an account: both are audited, and
// the disabled member's session ends at once. The last admin can't be
// demoted.
func TestRoleChangeAndDisable(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	admin, adminEmail := signedIn(t, env, vocab.RoleAdmin)
	member, email := signedIn(t, env, vocab.RoleComms)
	rec, err := env.App.FindAuthRecordByEmail(vocab.Staff, email)
	if err != nil {
		t.Fatal(err)
	}
	if a := admin.submit("/staff/staff", "/staff/staff/"+rec.Id+"/role", url.Values{"role": {"admin"}}); a.status != http.StatusSeeOther {
		t.Fatalf("role change: HTTP %d", a.status)
	}
	if n := env.Count(t, vocab.Audit, "action = 'staff.role' && target = 'staff/"+rec.Id+"' && detail = 'comms → admin' && staff_email = '"+adminEmail+"'"); n != 1 {
		t.Fatalf("role change audit rows: %d", n)
	}
	if a := member.get("/staff/staff"); a.status != http.StatusOK {
		t.Fatalf("promoted member opens the staff page: HTTP %d", a.status)
	}
	if a := admin.submit("/staff/staff", "/staff/staff/"+rec.Id+"/disable", url.Values{}); a.status != http.StatusSeeOther {
		t.Fatalf("disable: HTTP %d", a.status)
	}
	if a := member.get("/staff/"); a.status != http.StatusSeeOther {
		t.Fatalf("a disabled member's session still works: HTTP %d", a.status)
	}
	if a := newClient(t, env).submit("/staff/login", "/staff/login", url.Values{"email": {email}, "password": {password}}); a.status != http.StatusBadRequest {
		t.Fatalf("a disabled member can sign in: HTTP %d", a.status)
	}
	// The REST API refuses them too (the auth rule).
	if status, _ := env.PostJSON(t, "/api/collections/staff/auth-with-password", `{"identity":"`+email+`","password":"`+password+`"}`); status == http.StatusOK || status == http.StatusUnauthorized {
		t.Fatalf("a disabled member authenticates through the API: HTTP %d", status)
	}
	// The only other admin is the first one: they can't demote themselves.
	self, err := env.App.FindAuthRecordByEmail(vocab.Staff, adminEmail)
	if err != nil {
		t.Fatal(err)
	}
	if a := admin.submit("/staff/staff", "/staff/staff/"+self.Id+"/role", url.Values{"role": {"comms"}}); a.status != http.StatusBadRequest || !strings.Contains(a.body, "only active admin") {
		t.Fatalf("demoting the last admin: HTTP %d", a.status)
	}
}

// The audit trail is append-only: the app's own code can add rows but not
// change or delete them, and the REST API can do neither, for superusers too.
func TestAuditRowsCannotBeChangedOrDeleted(t *testing.T) {
	t.Parallel()
	env := testkit.Start(t, testkit.Options{})
	if err := console.Audit(env.App, nil, "test.action", "campaigns/x", "a detail"); err != nil {
		t.Fatal(err)
	}
	row, err := env.App.FindFirstRecordByData(vocab.Audit, "action", "test.action")
	if err != nil {
		t.Fatal(err)
	}
	row.Set("detail", "rewritten")
	if err := env.App.Save(row); err == nil {
		t.Fatal("the app rewrote an audit row")
	}
	if err := env.App.Delete(row); err == nil {
		t.Fatal("the app deleted an audit row")
	}
	err = env.App.RunInTransaction(func(tx core.App) error { return tx.Delete(row) })
	if err == nil {
		t.Fatal("a transaction deleted an audit row")
	}
	super := testkit.Login(t, env, "superuser")
	if status, _ := env.Call(t, super, http.MethodPatch, "/api/collections/audit/records/"+row.Id, `{"detail":"rewritten"}`); status != http.StatusBadRequest {
		t.Errorf("superuser PATCH: HTTP %d", status)
	}
	if status, _ := env.Call(t, super, http.MethodDelete, "/api/collections/audit/records/"+row.Id, ""); status != http.StatusBadRequest {
		t.Errorf("superuser DELETE: HTTP %d", status)
	}
	admin := testkit.Login(t, env, vocab.RoleAdmin)
	if status, _ := env.Call(t, admin, http.MethodDelete, "/api/collections/audit/records/"+row.Id, ""); status != http.StatusForbidden {
		t.Errorf("admin DELETE: HTTP %d", status)
	}
	got, err := env.App.FindRecordById(vocab.Audit, row.Id)
	if err != nil || got.GetString("detail") != "a detail" {
		t.Fatalf("the row changed: %v %q", err, got.GetString("detail"))
	}
}
