package supporterui

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/importer"
)

// ErrImportRunning refuses a second import while one runs: each writes in
// batches on the one writer connection, and the admin would want the
// first's report before the next.
var ErrImportRunning = errors.New("an import is running: wait for its report, then import the next file")

// keptJobs is how many finished imports' reports stay to be read.
const keptJobs = 20

// Job is one import started from the console. Its fields are read under
// the Imports lock: take a copy with Imports.Job.
type Job struct {
	ID       string
	By       string // the staff record's id
	Confirm  bool
	Started  time.Time
	Finished time.Time // zero while it runs
	Done     int64     // bytes of the file read so far
	Total    int64     // the file's size
	Report   importer.Report
	// Failed is what stopped an import part way (the report says how far
	// it got; the same file again carries on), "" otherwise.
	Failed string
}

// Running reports whether the import is still going.
func (j Job) Running() bool { return j.Finished.IsZero() }

// Percent is how much of the file is done, 0 to 100.
func (j Job) Percent() int {
	if j.Total <= 0 || !j.Running() {
		return 100
	}
	return int(j.Done * 100 / j.Total)
}

// Imports runs supporter imports in the background, one at a time, so a
// large file neither holds a request open nor loses its report when the
// browser goes away. Reports live in memory: after a restart an unfinished
// import is simply run again (a re-run changes nothing it already did).
type Imports struct {
	Importer *importer.Importer
	// Finished is told of every import once it ends (the console audits it).
	Finished func(Job)

	mu   sync.Mutex
	jobs []*Job // newest last
	wg   sync.WaitGroup
}

// Start checks the file from its start (UTF-8, a header with an email
// column) and, if it can be imported, imports it in the background and
// returns the job. A file refused is a *csvio.FileError, and nothing
// changed. The job owns f from then on and closes it.
func (im *Imports) Start(f *os.File, by *core.Record, confirm bool) (Job, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil { // a spooled upload is at its end
		return Job{}, err
	}
	total, err := importer.Check(f)
	if err != nil {
		return Job{}, err
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, j := range im.jobs {
		if j.Running() {
			return Job{}, ErrImportRunning
		}
	}
	j := &Job{ID: core.GenerateDefaultRandomId(), By: by.Id, Confirm: confirm, Started: time.Now(), Total: total}
	im.jobs = append(im.jobs, j)
	if len(im.jobs) > keptJobs {
		im.jobs = im.jobs[len(im.jobs)-keptJobs:]
	}
	im.wg.Add(1)
	go im.run(j, f)
	return *j, nil
}

func (im *Imports) run(j *Job, f io.ReadSeekCloser) {
	defer im.wg.Done()
	defer f.Close()
	rep, err := im.Importer.Supporters(f, importer.Options{
		Confirm: j.Confirm,
		Progress: func(done, total int64) {
			im.mu.Lock()
			j.Done, j.Total = done, total
			im.mu.Unlock()
		},
	})
	im.mu.Lock()
	j.Report, j.Finished = rep, time.Now()
	if err != nil {
		im.Importer.App.Logger().Error("console import stopped", "job", j.ID, "error", err.Error())
		j.Failed = fmt.Sprintf("The import stopped part way (%v). What it did is kept; importing the same file again carries on.", err)
	}
	done := *j
	im.mu.Unlock()
	if im.Finished != nil {
		im.Finished(done)
	}
}

// Job returns a copy of the job with that id.
func (im *Imports) Job(id string) (Job, bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	for _, j := range im.jobs {
		if j.ID == id {
			return *j, true
		}
	}
	return Job{}, false
}

// Recent lists copies of the jobs kept, newest first.
func (im *Imports) Recent() []Job {
	im.mu.Lock()
	defer im.mu.Unlock()
	out := make([]Job, 0, len(im.jobs))
	for i := len(im.jobs) - 1; i >= 0; i-- {
		out = append(out, *im.jobs[i])
	}
	return out
}

// Wait blocks until every import started has finished (tests, shutdown).
func (im *Imports) Wait() { im.wg.Wait() }
