package campaigns

import "sync"

// snapshotProgress tells a run how the snapshot written beside it is going:
// the run sends the deliveries already written, and waits for more until
// the audience is complete (or the snapshot stopped short).
type snapshotProgress struct {
	more     chan struct{} // a chunk was committed since the run last looked
	done     chan struct{} // closed when the snapshot has ended
	once     sync.Once
	complete bool // the audience is complete; read only once done is closed
}

func newSnapshotProgress() *snapshotProgress {
	return &snapshotProgress{more: make(chan struct{}, 1), done: make(chan struct{})}
}

// chunked signals that more deliveries may be read.
func (p *snapshotProgress) chunked() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// end records that the snapshot stopped: with the audience complete or not
// (cancelled, failed, or no longer this process's campaign).
func (p *snapshotProgress) end(complete bool) {
	p.once.Do(func() {
		p.complete = complete
		close(p.done)
	})
}

// ended reports whether the snapshot has ended, and if so whether complete.
func (p *snapshotProgress) ended() (ended, complete bool) {
	select {
	case <-p.done:
		return true, p.complete
	default:
		return false, false
	}
}
