package testkit

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// LatencyProxy is a TCP proxy on loopback that delivers every chunk it reads,
// in either direction, delay after it arrived, unchanged: a relay that is
// not on loopback, for throughput benchmarks. Chunks are queued, not slept
// on, so a pipelined stream keeps flowing at the delay, as over a network.
type LatencyProxy struct {
	Port int
}

// StartLatencyProxy proxies a free loopback port to 127.0.0.1:target with
// delay each way, for tb's lifetime.
func StartLatencyProxy(tb testing.TB, target int, delay time.Duration) *LatencyProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	tb.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(target))
			if err != nil {
				in.Close()
				continue
			}
			wg.Go(func() { delayed(out, in, delay) })
			wg.Go(func() { delayed(in, out, delay) })
		}
	})
	return &LatencyProxy{Port: l.Addr().(*net.TCPAddr).Port}
}

// chunk is bytes read and when they may be written.
type chunk struct {
	data []byte
	due  time.Time
}

// delayed copies src to dst, each chunk delay after it was read; when either
// side ends, both are closed.
func delayed(dst, src net.Conn, delay time.Duration) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{buf[:n], time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	src.Close()
	dst.Close()
	for range queue { // let the reader finish
	}
}
