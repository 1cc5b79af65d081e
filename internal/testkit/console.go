package testkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// ConsoleOptions adjust a ConsoleBrowser site before its server starts.
type ConsoleOptions struct {
	// Setup adds data to the configured data dir (the server isn't running).
	Setup func(app core.App)
	// SampleIdentity keeps the shipped example identity instead of the real
	// one RealIdentity sets, for tests of the first-run checklist.
	SampleIdentity bool
	// Env adds environment variables (KEY=value) to the server's.
	Env []string
}

// StaffLogin is a staff account the harness made.
type StaffLogin struct{ Email, Password, Role string }

// ConsoleSite is the real binary serving the staff console on loopback,
// with a real SMTP server for its mail and a headless Chromium tab on it.
type ConsoleSite struct {
	URL     string
	SMTP    *SMTPSink
	DataDir string
	Ctx     context.Context // the browser tab
	// Comms and Admin are signed-up staff of each role; log in with Login.
	Comms, Admin StaffLogin
	// Out is the folder this test's screenshots go to.
	Out string
	log string
}

// ConsoleBrowser builds the binary (once per test run), prepares a data dir
// as an admin would (Application URL, SMTP to a loopback sink, a real
// charity identity, one comms and one admin account), starts `serve`, and
// opens Chromium. Without chromium the test is skipped, except on CI.
func ConsoleBrowser(t testing.TB, opts ConsoleOptions) *ConsoleSite {
	t.Helper()
	ctx := Browser(t, 5*time.Minute) // a bound, not a target: a loaded machine is slow
	bin := BuildBinary(t)
	sink := NewSMTPSink(t)
	sink.Start(t)
	addr := freeLoopback(t)
	s := &ConsoleSite{URL: "http://" + addr, SMTP: sink, DataDir: t.TempDir(), Ctx: ctx,
		Comms: StaffLogin{"comms-officer@example.org", "comms-password-1", vocab.RoleComms},
		Admin: StaffLogin{"admin-officer@example.org", "admin-password-1", vocab.RoleAdmin},
		Out:   outputDir(t)}
	prepare(t, s, sink.Port, opts)
	s.serve(t, bin, addr, opts.Env)
	return s
}

func prepare(t testing.TB, s *ConsoleSite, smtpPort int, opts ConsoleOptions) {
	t.Helper()
	ConfigureDataDir(t, s.DataDir, s.URL, smtpPort, !opts.SampleIdentity, func(app core.App) {
		for _, who := range []StaffLogin{s.Comms, s.Admin} {
			rec := core.NewRecord(Collection(t, app, vocab.Staff))
			rec.SetEmail(who.Email)
			rec.SetPassword(who.Password)
			rec.SetVerified(true)
			rec.Set("name", strings.ToUpper(who.Role[:1])+who.Role[1:]+" Officer")
			rec.Set("role", who.Role)
			if err := app.Save(rec); err != nil {
				t.Fatal(err)
			}
		}
		if opts.Setup != nil {
			opts.Setup(app)
		}
	})
}

// ConfigureDataDir prepares a data dir for the real binary as an admin
// would in the dashboard: migrations, the app URL, the SMTP relay on
// loopback and (realIdentity) the charity's identity; more, when given,
// adds data before the dir is closed.
func ConfigureDataDir(t testing.TB, dataDir, appURL string, smtpPort int, realIdentity bool, more func(app core.App)) {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	set := app.Settings()
	set.Meta.AppURL = appURL
	set.SMTP.Enabled = true
	set.SMTP.Host = "127.0.0.1"
	set.SMTP.Port = smtpPort
	if err := app.Save(set); err != nil {
		t.Fatal(err)
	}
	if realIdentity {
		RealIdentity(t, app) // campaigns can't be scheduled under the shipped example
	}
	if more != nil {
		more(app)
	}
}

// The identity RealIdentity gives test apps.
const (
	IdentityName    = "Harbour Light Refuge"
	IdentityAddress = "Harbour Light Refuge, PO Box 5521, Bristol BS1 9ZZ, United Kingdom"
)

// RealIdentity replaces the shipped example identity (which the console
// treats as not set, refusing to schedule campaigns) with a charity of the
// tests' own: name, number, postal address and sender address.
func RealIdentity(t testing.TB, app core.App) {
	t.Helper()
	rec, err := app.FindFirstRecordByFilter(vocab.Charity, "")
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("name", IdentityName)
	rec.Set("charity_number", "1187654")
	rec.Set("postal_address", IdentityAddress)
	if err := app.Save(rec); err != nil {
		t.Fatal(err)
	}
	set := app.Settings()
	set.Meta.SenderName = IdentityName
	set.Meta.SenderAddress = "news@lanternhouse.org.uk"
	if err := app.Save(set); err != nil {
		t.Fatal(err)
	}
}

func (s *ConsoleSite) serve(t testing.TB, bin, addr string, env []string) {
	t.Helper()
	s.log = filepath.Join(t.TempDir(), "serve.log")
	logFile, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--dir", s.DataDir, "--http", addr)
	// Named as when run from PATH: PocketBase takes a program in the temp
	// dir for one started by go run and runs it in dev mode.
	cmd.Args[0] = "supportercrm"
	cmd.Env = append(append(os.Environ(), "CRM_MIN_SUBMIT_SECONDS=0"), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logFile.Close()
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get(s.URL + "/api/health"); err == nil {
			res.Body.Close()
			return
		}
	}
	t.Fatalf("server did not start:\n%s", s.Log())
}

// Log is what the server has written so far.
func (s *ConsoleSite) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Logged counts the server's log entries (PocketBase's, in the data dir's
// auxiliary database, as the dashboard shows them) with this message,
// waiting a few seconds for the logger's batch to be written.
func (s *ConsoleSite) Logged(t testing.TB, message string) int {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: s.DataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := app.AuxDB().NewQuery("SELECT COUNT(*) FROM _logs WHERE message = {:m}").Bind(map[string]any{"m": message}).Row(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
	}
	return n
}

var codeInMail = regexp.MustCompile(`(?m)^\s*([0-9]{8})\s*$`)

// Login signs who in through the browser: email and password, then the
// code from the email the test SMTP server received. It ends on the
// console's home page.
func (s *ConsoleSite) Login(t testing.TB, who StaffLogin) {
	t.Helper()
	before := len(s.SMTP.To(who.Email))
	s.Do(t, "open the sign-in page", chromedp.Navigate(s.URL+"/staff/login"), chromedp.WaitVisible(chromedp.CSS("#f-email")))
	s.Do(t, "type email and password",
		chromedp.SendKeys(chromedp.CSS("#f-email"), who.Email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), who.Password),
		chromedp.Submit(chromedp.CSS("#f-password")),
		chromedp.WaitVisible(chromedp.CSS("#f-code")))
	code := s.Code(t, who.Email, before+1)
	s.Do(t, "type the code",
		chromedp.SendKeys(chromedp.CSS("#f-code"), code),
		chromedp.Submit(chromedp.CSS("#f-code")),
		chromedp.WaitVisible(chromedp.CSS(".signout")))
}

// Code waits for the nth mail to addr and returns the sign-in code in it.
func (s *ConsoleSite) Code(t testing.TB, addr string, n int) string {
	t.Helper()
	mails := s.SMTP.WaitFor(t, addr, n, 20*time.Second)
	m := codeInMail.FindStringSubmatch(mails[n-1].Text)
	if m == nil {
		t.Fatalf("no code in the sign-in mail:\n%s", mails[n-1].Text)
	}
	return m[1]
}

// Logout signs the browser out with the layout's button.
func (s *ConsoleSite) Logout(t testing.TB) {
	t.Helper()
	s.Do(t, "sign out", chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.CSS("#f-email")))
}

// Do runs browser steps, failing the test (with the server's log) on error.
func (s *ConsoleSite) Do(t testing.TB, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(s.Ctx, steps...); err != nil {
		t.Fatalf("%s: %v\nserver log:\n%s", what, err, tail(s.Log(), 3000))
	}
}

// Visit opens path (under the site), checks the HTTP status, and Checks
// the page under name.
func (s *ConsoleSite) Visit(t testing.TB, path string, status int, name string) {
	t.Helper()
	res, err := chromedp.RunResponse(s.Ctx, chromedp.Navigate(s.URL+path))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	if int(res.Status) != status {
		t.Fatalf("open %s: HTTP %d, want %d", path, res.Status, status)
	}
	s.Check(t, name)
}

// Check runs axe-core on the open page at desktop (1280 px) and phone
// (390 px) width, failing on any serious or critical violation or a page
// wider than the window (tables and charts scroll inside their box), and saves a
// full-page screenshot at each width as Out/<name>-desktop.png and
// Out/<name>-phone.png.
func (s *ConsoleSite) Check(t testing.TB, name string) {
	t.Helper()
	for _, w := range []struct {
		label         string
		width, height int64
	}{{"desktop", 1280, 900}, {"phone", 390, 844}} {
		s.Do(t, "set the width", chromedp.EmulateViewport(w.width, w.height))
		wide, err := chromedp.Run(s.Ctx, chromedp.Evaluate[string](`(() => {
			const w = document.documentElement.scrollWidth;
			if (w <= innerWidth + 1) return "";
			const out = [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > innerWidth + 1 && !e.closest(".table-wrap, .chart"))
				.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""));
			return w + " px: " + out.join(", ");
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if wide != "" {
			t.Errorf("%s at %s width scrolls sideways, %s", name, w.label, wide)
		}
		if v := AxeSerious(t, s.Ctx); len(v) > 0 {
			t.Errorf("%s at %s width: serious accessibility problems:\n%s", name, w.label, strings.Join(v, "\n"))
		}
		png, err := chromedp.Run(s.Ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(s.Out, name+"-"+w.label+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s.Do(t, "reset the width", chromedp.EmulateViewport(1280, 900))
}

// Text is the open page's visible text.
func (s *ConsoleSite) Text(t testing.TB) string {
	t.Helper()
	v, err := chromedp.Run(s.Ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// OutputRoot is where tests keep files for people to look at (screenshots):
// $CRM_TEST_OUTPUT, or testdata/out at the module root. CI keeps it.
func OutputRoot(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CRM_TEST_OUTPUT"); d != "" {
		return d
	}
	return filepath.Join(moduleRoot(t), "testdata", "out")
}

func outputDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(OutputRoot(t), "console", regexp.MustCompile(`[^A-Za-z0-9_-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("find the module root: %v", err)
	}
	return filepath.Dir(gomod)
}

var (
	binBuild    sync.Once
	binPath     string
	binBuildErr error
)

// BuildBinary builds the app (the module's main package) once per test
// process, into a temp dir of its own, for tests that run the real binary.
func BuildBinary(t testing.TB) string {
	t.Helper()
	root := moduleRoot(t)
	binBuild.Do(func() {
		dir, err := os.MkdirTemp("", "supportercrm-bin")
		if err != nil {
			binBuildErr = err
			return
		}
		binPath = filepath.Join(dir, "supportercrm")
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", binPath, ".")
		build.Dir = root
		build.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		if out, err := build.CombinedOutput(); err != nil {
			binBuildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if binBuildErr != nil {
		t.Fatal(binBuildErr)
	}
	return binPath
}

func freeLoopback(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
