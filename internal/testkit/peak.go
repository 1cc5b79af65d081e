package testkit

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Peak samples the Go heap and stacks in use every 10 ms, from a
// garbage-collected baseline, for benchmarks that report peak memory.
type Peak struct {
	base uint64
	max  atomic.Uint64
	quit chan struct{}
	done chan struct{}
}

// StartPeak starts sampling.
func StartPeak() *Peak {
	runtime.GC()
	p := &Peak{base: inUse(), quit: make(chan struct{}), done: make(chan struct{})}
	p.max.Store(p.base)
	go func() {
		defer close(p.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if m := inUse(); m > p.max.Load() {
				p.max.Store(m)
			}
			select {
			case <-p.quit:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Stop ends sampling and returns the peak above the baseline, in MB.
func (p *Peak) Stop() float64 {
	close(p.quit)
	<-p.done
	return float64(p.max.Load()-p.base) / (1 << 20)
}

func inUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse + ms.StackInuse
}
