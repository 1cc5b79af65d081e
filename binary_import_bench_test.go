package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkBinaryImport measures the import as an admin runs it: the real
// binary's `import supporters FILE.csv` on a configured data dir, every row
// with consent evidence (a supporter and a consent row each). Per size it
// runs an import of a header-only file first (start-up and migrations, the
// floor under every figure), then the first import and a re-import of the
// same file (which must change nothing), and prints the time and peak RSS
// (rusage Maxrss) of each beside the targets.
//
//	GOTOOLCHAIN=go1.27.3 go test . -run '^$' -bench BinaryImport -benchtime 1x -timeout 30m
//
// SUPPORTERCRM_BENCH_SIZES=10000,100000 (comma-separated) sets the sizes
// (default 100000). SUPPORTERCRM_BENCH_BIN=PATH measures that binary
// instead of this tree's (one built from an older commit, to compare
// before and after in one sitting).
func BenchmarkBinaryImport(b *testing.B) {
	sizes := benchSizes(b, 100_000)
	bin := benchBinary(b)
	empty := filepath.Join(b.TempDir(), "empty.csv")
	if err := os.WriteFile(empty, []byte("email,first_name,last_name,topics,consent_source,consent_date\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			file := writeSupportersCSV(b, n)
			for range b.N {
				dataDir := b.TempDir()
				configure(b, dataDir, "http://127.0.0.1:1", 1, nil)
				base := runBin(b, bin, dataDir, "import", "supporters", empty)
				first := runBin(b, bin, dataDir, "import", "supporters", file)
				again := runBin(b, bin, dataDir, "import", "supporters", file)
				for _, r := range []struct {
					run  binRun
					want string
				}{
					{first, fmt.Sprintf("Rows: %d. Created %d, updated 0, unchanged 0, errors 0.", n, n)},
					{again, fmt.Sprintf("Rows: %d. Created 0, updated 0, unchanged %d, errors 0.", n, n)},
				} {
					if !strings.Contains(r.run.out, r.want) {
						b.Fatalf("import said %q, want %q", r.run.out, r.want)
					}
				}
				b.ReportMetric(first.took.Seconds(), "import-s")
				b.ReportMetric(first.cpu.Seconds(), "import-cpu-s")
				b.ReportMetric(first.peakMB, "import-peak-RSS-MB")
				b.ReportMetric(again.took.Seconds(), "reimport-s")
				b.ReportMetric(again.cpu.Seconds(), "reimport-cpu-s")
				b.ReportMetric(again.peakMB, "reimport-peak-RSS-MB")
				load, _ := os.ReadFile("/proc/loadavg")
				fmt.Printf("SUMMARY binary-import rows=%d load average %s", n, load)
				fmt.Printf("SUMMARY binary-import rows=%d empty file: %s (cpu %s), peak-RSS=%.0f MB\n",
					n, base.took.Round(10*time.Millisecond), base.cpu.Round(10*time.Millisecond), base.peakMB)
				fmt.Printf("SUMMARY binary-import rows=%d import: %s (cpu %s, %.0f rows/s), peak-RSS=%.0f MB (targets at 100,000: < 10s, <= 72 MB)\n",
					n, first.took.Round(10*time.Millisecond), first.cpu.Round(10*time.Millisecond), float64(n)/first.took.Seconds(), first.peakMB)
				fmt.Printf("SUMMARY binary-import rows=%d re-import: %s (cpu %s, %.0f rows/s), peak-RSS=%.0f MB (target at 100,000: < 3s)\n",
					n, again.took.Round(10*time.Millisecond), again.cpu.Round(10*time.Millisecond), float64(n)/again.took.Seconds(), again.peakMB)
			}
		})
	}
}
