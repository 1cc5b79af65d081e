package testkit

import (
	"go/build"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StripeMock starts Stripe's own mock API server (stripe-mock, installed
// with `go install github.com/stripe/stripe-mock@v0.203.0`) on a free
// loopback port for one test and returns its base URL. Without the binary
// the test is skipped, except on CI, where that is a failure.
func StripeMock(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("stripe-mock")
	if err != nil {
		path = filepath.Join(build.Default.GOPATH, "bin", "stripe-mock")
		if _, err := exec.LookPath(path); err != nil {
			missing(t, "stripe-mock not found; install it with go install github.com/stripe/stripe-mock@v0.203.0")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(path, "-http-addr", addr)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/v1/customers", nil)
		req.SetBasicAuth("sk_test_mock", "")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock didn't answer on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
