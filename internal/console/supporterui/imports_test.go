package supporterui_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/console/supporterui"
	"supportercrm/internal/csvio"
	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// csvFile writes content to a file and opens it, as an upload is spooled.
func csvFile(t testing.TB, content string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upload.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Left at its end, as a spooled upload is.
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	return f
}

func rowsFile(n int) string {
	var b strings.Builder
	b.WriteString("email,first_name,topics,consent_source,consent_date\n")
	for i := range n {
		fmt.Fprintf(&b, "bulk%06d@example.org,Bulk%d,newsletter,paper form at the fair,2025-06-01\n", i, i)
	}
	return b.String()
}

func imports(t testing.TB) (*supporterui.Imports, *testkitApp, chan supporterui.Job) {
	t.Helper()
	app := newApp(t)
	finished := make(chan supporterui.Job, 4)
	im := &supporterui.Imports{
		Importer: &importer.Importer{App: app, Signup: &signup.Service{App: app}, Now: time.Now},
		Finished: func(j supporterui.Job) { finished <- j },
	}
	t.Cleanup(im.Wait)
	return im, &testkitApp{app}, finished
}

func TestImportRunsInTheBackgroundWithProgressAndReport(t *testing.T) {
	im, app, finished := imports(t)
	staff := app.staff(t)
	file := rowsFile(3000) + "not-an-address,Bad,newsletter,,\n"
	started, err := im.Start(csvFile(t, file), staff, false)
	if err != nil {
		t.Fatal(err)
	}
	id := started.ID
	// Progress moves through the file while the import runs, never back.
	var seen []int
	for deadline := time.Now().Add(30 * time.Second); ; {
		j, ok := im.Job(id)
		if !ok {
			t.Fatal("job not found")
		}
		if len(seen) == 0 || seen[len(seen)-1] != j.Percent() {
			seen = append(seen, j.Percent())
		}
		if !j.Running() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("import did not finish")
		}
		time.Sleep(2 * time.Millisecond)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] {
			t.Errorf("progress went back: %v", seen)
		}
	}
	if seen[len(seen)-1] != 100 {
		t.Errorf("progress ended at %v", seen)
	}
	j := <-finished
	if j.ID != id || j.By != staff.Id || j.Failed != "" {
		t.Errorf("finished job: %+v", j)
	}
	rep := j.Report
	if rep.Rows != 3001 || rep.Created != 3000 || rep.ErrorCount != 1 || len(rep.Errors) != 1 || rep.Errors[0].Line != 3002 {
		t.Errorf("report: rows %d created %d errors %d %+v", rep.Rows, rep.Created, rep.ErrorCount, rep.Errors)
	}
	if n := app.count(t, vocab.Supporters); n != 3000 {
		t.Errorf("%d supporters stored, want 3000", n)
	}
	if got := im.Recent(); len(got) != 1 || got[0].ID != id {
		t.Errorf("recent: %+v", got)
	}
}

func TestImportRefusesAFileThatIsNotUTF8AndChangesNothing(t *testing.T) {
	im, app, _ := imports(t)
	addSupporter(t, app.TestApp, "keep@example.org", "Keep", "", vocab.StatusSubscribed)
	before := testkit.Dump(t, app.TestApp, vocab.Supporters, vocab.Consents)
	// Windows-1252, as Excel's plain "CSV" saves it: é is one byte, 0xE9.
	latin1 := "email,first_name\nrene@example.org,Ren\xe9\nkeep@example.org,Changed\n"
	_, err := im.Start(csvFile(t, latin1), app.staff(t), false)
	var fe *csvio.FileError
	if !errors.As(err, &fe) || !errors.Is(err, csvio.ErrNotUTF8) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("non-UTF-8 file: %v", err)
	}
	if !strings.Contains(err.Error(), "CSV UTF-8") {
		t.Errorf("the message doesn't say how to fix it: %v", err)
	}
	if len(im.Recent()) != 0 {
		t.Error("a refused file started a job")
	}
	if testkit.Dump(t, app.TestApp, vocab.Supporters, vocab.Consents) != before {
		t.Error("a refused file changed the data")
	}
	// No email column: refused the same way.
	if _, err := im.Start(csvFile(t, "name\nRene\n"), app.staff(t), false); !errors.As(err, &fe) {
		t.Errorf("file without an email column: %v", err)
	}
}

func TestImportOneAtATime(t *testing.T) {
	im, app, finished := imports(t)
	staff := app.staff(t)
	if _, err := im.Start(csvFile(t, rowsFile(5000)), staff, false); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Start(csvFile(t, rowsFile(1)), staff, false); !errors.Is(err, supporterui.ErrImportRunning) {
		t.Errorf("second import while one runs: %v", err)
	}
	<-finished
	if _, err := im.Start(csvFile(t, rowsFile(1)), staff, false); err != nil {
		t.Errorf("import after the first finished: %v", err)
	}
}
