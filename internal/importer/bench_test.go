package importer_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"supportercrm/internal/exporter"
	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
)

// BenchmarkImportExport imports a generated file into an empty database,
// every row with consent evidence (the heaviest kind: a supporter and a
// consent row each), imports it again (which changes nothing), then exports
// the supporters. It prints the time and the peak Go memory of each, at
// 10,000 and 100,000 rows, so the growth shows as a ratio. Run with:
//
//	GOTOOLCHAIN=go1.27.3 go test ./internal/importer/ -run '^$' -bench ImportExport -benchtime 1x
func BenchmarkImportExport(b *testing.B) {
	peaks := map[string]map[int]float64{"import": {}, "re-import": {}, "export": {}}
	for _, n := range benchSizes() {
		file := generate(b, n)
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				env := testkit.Start(b, testkit.Options{})
				f, err := os.Open(file)
				if err != nil {
					b.Fatal(err)
				}
				im := &importer.Importer{App: env.App, Signup: &signup.Service{App: env.App}, Now: time.Now}
				b.StartTimer()

				mem := testkit.StartPeak()
				start := time.Now()
				rep, err := im.Supporters(f, importer.Options{})
				took, peak := time.Since(start), mem.Stop()
				f.Close()
				if err != nil || rep.Created != n || rep.ErrorCount != 0 {
					b.Fatalf("import: %v %+v", err, rep)
				}
				peaks["import"][n] = max(peaks["import"][n], peak)
				fmt.Printf("SUMMARY import rows=%d seconds=%.2f rows/s=%.0f peak-MB=%.1f\n", n, took.Seconds(), float64(n)/took.Seconds(), peak)

				if f, err = os.Open(file); err != nil {
					b.Fatal(err)
				}
				mem = testkit.StartPeak()
				start = time.Now()
				rep, err = im.Supporters(f, importer.Options{})
				took, peak = time.Since(start), mem.Stop()
				f.Close()
				if err != nil || rep.Unchanged != n || rep.ErrorCount != 0 {
					b.Fatalf("re-import: %v %+v", err, rep)
				}
				peaks["re-import"][n] = max(peaks["re-import"][n], peak)
				fmt.Printf("SUMMARY re-import rows=%d seconds=%.2f rows/s=%.0f peak-MB=%.1f\n", n, took.Seconds(), float64(n)/took.Seconds(), peak)

				mem = testkit.StartPeak()
				start = time.Now()
				out, err := exporter.Supporters(env.App, io.Discard, exporter.Filter{})
				took, peak = time.Since(start), mem.Stop()
				if err != nil || out != n {
					b.Fatalf("export: %d rows, %v", out, err)
				}
				peaks["export"][n] = max(peaks["export"][n], peak)
				fmt.Printf("SUMMARY export rows=%d seconds=%.2f rows/s=%.0f peak-MB=%.1f\n", n, took.Seconds(), float64(n)/took.Seconds(), peak)
			}
		})
	}
	for _, what := range []string{"import", "re-import", "export"} {
		if p := peaks[what]; p[10_000] > 0 && p[100_000] > 0 {
			fmt.Printf("SUMMARY %s peak-MB 10000=%.1f 100000=%.1f growth=%.2fx\n", what, p[10_000], p[100_000], p[100_000]/p[10_000])
		}
	}
}

// generate writes a supporter file of n rows with consent evidence.
func generate(b *testing.B, n int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), fmt.Sprintf("supporters-%d.csv", n))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "email,first_name,last_name,topics,tags,postcode,address,consent_source,consent_date")
	for i := range n {
		fmt.Fprintf(w, "supporter%06d@example.org,Firstname%d,Lastname%d,newsletter;events,volunteer,LS1 %dAA,\"%d High Street, Leeds\",paper form at the summer fair,2025-06-01\n", i, i, i, i%10, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

// benchSizes are the file sizes measured; IMPORT_BENCH_ROWS picks one.
func benchSizes() []int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("IMPORT_BENCH_ROWS"), &n); err == nil && n > 0 {
		return []int{n}
	}
	return []int{10_000, 100_000}
}
