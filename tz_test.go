package main

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
)

// withoutZoneinfo runs the binary as on a host with no zone database
// (distroless, scratch): in a mount namespace with an empty directory over
// each place Go looks for one, ZONEINFO on an empty directory, GOROOT (whose
// lib/time/zoneinfo.zip Go also reads) nowhere, and TZ naming no zone.
func withoutZoneinfo(t *testing.T, bin string, args ...string) *exec.Cmd {
	t.Helper()
	if err := exec.Command("unshare", "--mount", "--map-root-user", "true").Run(); err != nil {
		t.Skipf("needs a mount namespace (unshare --mount --map-root-user): %v", err)
	}
	const hide = `for d in /usr/share/zoneinfo /usr/share/lib/zoneinfo /usr/lib/locale/TZ /etc/zoneinfo; do
		if [ -d "$d" ]; then mount -t tmpfs none "$d" || exit 97; fi
	done
	[ -z "$(ls -A /usr/share/zoneinfo 2>/dev/null)" ] || exit 98
	exec "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--map-root-user", "sh", "-c", hide, "sh", bin}, args...)...)
	cmd.Env = append(os.Environ(), "ZONEINFO="+t.TempDir(), "GOROOT="+t.TempDir(), "TZ=Nowhere/Atlantis")
	return cmd
}

// TestRunsWithoutZoneinfo: the binary starts and serves on a host without
// a zone database, and reads dates in London time on both sides of the
// October clock change (the Gift Aid schedule's donation dates).
func TestRunsWithoutZoneinfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	configure(t, dataDir, "http://127.0.0.1:8090", 2525, func(app core.App) {
		sup := testkit.Subscribers(t, app, 1)[0]
		saveGiftAid(t, app, sup, "2026-10-24 23:30:00.000Z", "2026-10-25 23:30:00.000Z", "2026-10-26 00:30:00.000Z")
	})

	var stdout, stderr bytes.Buffer
	cmd := withoutZoneinfo(t, bin, "export", "gift-aid", "--dir", dataDir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("export without zoneinfo: %v\n%.2000s", err, stderr.String())
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(stdout.String(), "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var dates []string
	for _, r := range recs[1:] {
		dates = append(dates, r[7])
	}
	// 23:30 UTC is 00:30 the next day in summer time (BST, +1) and 23:30 the
	// same day after the clocks go back (GMT) at 01:00 UTC on 25 October.
	if want := []string{"25/10/26", "25/10/26", "26/10/26"}; !slices.Equal(dates, want) {
		t.Errorf("donation dates = %q, want %q", dates, want)
	}

	// The public events page shows dates in London time.
	addr := freeAddr(t)
	serveUntilHealthy(t, withoutZoneinfo(t, bin, "serve", "--dir", dataDir, "--http", addr), addr)
	res, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /events without zoneinfo = %d", res.StatusCode)
	}
}
