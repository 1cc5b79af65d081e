package pb_hooks

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPprofAddrLoopbackOnly: CRM_PPROF_ADDR is refused, naming the variable,
// unless it is a loopback host and a port; loopback ones are kept.
func TestPprofAddrLoopbackOnly(t *testing.T) {
	for _, addr := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "10.1.2.3:6060", "example.org:6060", "127.0.0.1", "127.0.0.1:x"} {
		t.Setenv("CRM_PPROF_ADDR", addr)
		if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "CRM_PPROF_ADDR") {
			t.Errorf("CRM_PPROF_ADDR=%q: err = %v, want a refusal naming the variable", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:6060", "[::1]:6060", "localhost:6060"} {
		t.Setenv("CRM_PPROF_ADDR", addr)
		c, err := ConfigFromEnv()
		if err != nil || c.PprofAddr != addr {
			t.Errorf("CRM_PPROF_ADDR=%q: PprofAddr %q, err %v", addr, c.PprofAddr, err)
		}
	}
}

// TestPprofServesProfiles: the endpoint serves the CPU profile and the
// block and mutex profiles with samples being taken, and stops serving
// when stopped.
func TestPprofServesProfiles(t *testing.T) {
	at, stop, err := startPprof("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + at.String() + "/debug/pprof/"
	for _, path := range []string{"block?debug=1", "mutex?debug=1", "heap?debug=1", "profile?seconds=1"} {
		res, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || len(body) == 0 {
			t.Fatalf("%s = %d, %d bytes", path, res.StatusCode, len(body))
		}
		if path == "mutex?debug=1" && !strings.Contains(string(body), "sampling period=10") {
			t.Errorf("mutex profiling is not on:\n%s", body)
		}
	}
	stop()
	if res, err := http.Get(base + "heap"); err == nil {
		res.Body.Close()
		t.Fatalf("still serving after stop: %d", res.StatusCode)
	}
}
