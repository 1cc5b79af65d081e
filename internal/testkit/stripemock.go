package testkit

import (
	"errors"
	"fmt"
	"go/build"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// stripe-mock (Stripe's own mock API server, installed with
// `go install github.com/stripe/stripe-mock@v0.203.0`) loads Stripe's whole
// API description as it starts, which takes seconds: one server serves a
// test binary's tests (it keeps no state between requests).
var stripeMock struct {
	once sync.Once
	url  string
	err  error
	cmd  *exec.Cmd
}

// errNoStripeMock is a machine without stripe-mock.
var errNoStripeMock = errors.New("stripe-mock not found; install it with go install github.com/stripe/stripe-mock@v0.203.0")

// StripeMock returns the base URL of a stripe-mock on a loopback port,
// started on first use. Without the binary the test is skipped, except on
// CI, where that is a failure. A package that uses it runs its tests
// through StripeMockMain, which stops the server at the end.
func StripeMock(t testing.TB) string {
	t.Helper()
	stripeMock.once.Do(func() { stripeMock.url, stripeMock.err = startStripeMock() })
	if errors.Is(stripeMock.err, errNoStripeMock) {
		missing(t, stripeMock.err.Error())
	}
	if stripeMock.err != nil {
		t.Fatal(stripeMock.err)
	}
	return stripeMock.url
}

// StripeMockMain runs a package's tests (from TestMain) and then stops the
// stripe-mock they started, if any.
func StripeMockMain(m *testing.M) {
	code := m.Run()
	if c := stripeMock.cmd; c != nil {
		_ = c.Process.Kill()
		_ = c.Wait()
	}
	os.Exit(code)
}

func startStripeMock() (string, error) {
	path, err := exec.LookPath("stripe-mock")
	if err != nil {
		path = filepath.Join(build.Default.GOPATH, "bin", "stripe-mock")
		if _, err := exec.LookPath(path); err != nil {
			return "", errNoStripeMock
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(path, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start stripe-mock: %w", err)
	}
	stripeMock.cmd = cmd
	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/customers", nil)
		req.SetBasicAuth("sk_test_mock", "")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("stripe-mock didn't answer on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
