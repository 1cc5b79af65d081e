package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// TestCrashDoesNotLoseSignups runs the real binary: a signup is accepted
// while SMTP is down, the server is killed with SIGKILL, and after a restart
// with SMTP up the confirmation arrives and works. A SIGTERM during normal
// running exits cleanly.
func TestCrashDoesNotLoseSignups(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	sink := testkit.NewSMTPSink(t)
	configure(t, dataDir, "http://"+addr, sink.Port, nil)

	srv := start(t, bin, dataDir, addr)
	res, err := http.Post("http://"+addr+"/api/subscribe", "application/json", strings.NewReader(`{"email":"crash@example.org","first_name":"Kit","topics":["newsletter"],"consent":true}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("signup = %d", res.StatusCode)
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.Wait()

	sink.Start(t)
	srv = start(t, bin, dataDir, addr)
	mails := sink.WaitFor(t, "crash@example.org", 1, 30*time.Second)
	link := mails[0].Text[strings.Index(mails[0].Text, "http://"+addr+"/confirm?token="):]
	link = link[:strings.IndexAny(link, "\r\n")]
	res, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("confirm after restart = %d", res.StatusCode)
	}
	sink.WaitFor(t, "crash@example.org", 2, 30*time.Second) // the welcome

	stop(t, srv)

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	sup, err := app.FindFirstRecordByData(vocab.Supporters, "email", "crash@example.org")
	if err != nil || sup.GetString("status") != vocab.StatusSubscribed {
		t.Fatalf("supporter after restart: %v %v", sup, err)
	}
	if n := len(sink.To("crash@example.org")); n != 2 {
		t.Errorf("mails = %d, want confirmation and welcome once each", n)
	}
}

// buildBinary builds the app once per test run.
func buildBinary(t testing.TB) string { return testkit.BuildBinary(t) }

// configure prepares a data dir as an admin would in the dashboard: app URL,
// SMTP relay and the charity's identity; more, when given, adds data.
func configure(t testing.TB, dataDir, appURL string, smtpPort int, more func(app core.App)) {
	t.Helper()
	testkit.ConfigureDataDir(t, dataDir, appURL, smtpPort, true, more)
}

func start(t testing.TB, bin, dataDir, addr string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--dir", dataDir, "--http", addr)
	cmd.Env = append(append(os.Environ(), "CRM_MIN_SUBMIT_SECONDS=0"), env...)
	serveUntilHealthy(t, cmd, addr)
	return cmd
}

// serveUntilHealthy starts cmd, a `serve` on addr, and waits until it answers.
func serveUntilHealthy(t testing.TB, cmd *exec.Cmd, addr string) {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/api/health"); err == nil {
			res.Body.Close()
			return
		}
	}
	log, _ := os.ReadFile(logFile.Name())
	t.Fatalf("server did not start:\n%s", log)
}

// stop sends srv SIGTERM and fails unless it exits cleanly within 30s.
func stop(t testing.TB, srv *exec.Cmd) {
	t.Helper()
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
}
