// Package groupcommit runs many small write transactions as one. SQLite has a
// single writer and every commit appends to the WAL, so under load most of a
// signup's time is waiting for, and paying for, its own commit. A Committer
// takes the jobs that arrived while the previous batch was committing, runs
// them in one transaction, and reports each job's own result: if a batch
// fails, its jobs are retried one by one so one bad job can't fail the rest.
package groupcommit

import (
	"sync"

	"github.com/pocketbase/pocketbase/core"
)

// Job is one unit of writes. It may run more than once (a failed batch is
// retried job by job), so it must reset any state it sets outside tx.
type Job func(tx core.App) error

type request struct {
	job  Job
	done chan error
}

// Committer batches jobs. Its zero value is not usable; call New.
type Committer struct {
	app      core.App
	maxBatch int
	queue    chan request
	stopOnce sync.Once
	stopped  chan struct{}
	mu       sync.RWMutex // held for reading while submitting, for writing to stop
	closed   bool
}

// New starts a committer that runs up to maxBatch jobs per transaction.
func New(app core.App, maxBatch int) *Committer {
	c := &Committer{app: app, maxBatch: maxBatch, queue: make(chan request, maxBatch), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// Do runs job in a transaction, possibly shared with other jobs, and returns
// its own error once the transaction has committed (or failed).
func (c *Committer) Do(job Job) error {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return c.app.RunInTransaction(job)
	}
	r := request{job: job, done: make(chan error, 1)}
	c.queue <- r
	c.mu.RUnlock()
	return <-r.done
}

// Stop finishes the queued jobs and ends the loop; later jobs run on their own.
func (c *Committer) Stop() {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		close(c.queue)
		c.mu.Unlock()
		<-c.stopped
	})
}

func (c *Committer) loop() {
	defer close(c.stopped)
	batch := make([]request, 0, c.maxBatch)
	for first := range c.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < c.maxBatch {
			select {
			case r, ok := <-c.queue:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.run(batch)
	}
}

func (c *Committer) run(batch []request) {
	if len(batch) == 1 {
		batch[0].done <- c.app.RunInTransaction(batch[0].job)
		return
	}
	err := c.app.RunInTransaction(func(tx core.App) error {
		for _, r := range batch {
			if err := r.job(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, r := range batch {
			r.done <- nil
		}
		return
	}
	for _, r := range batch {
		r.done <- c.app.RunInTransaction(r.job)
	}
}
