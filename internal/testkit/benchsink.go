package testkit

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// BenchSink is the cheap SMTP sink of a throughput benchmark: Postfix's
// smtp-sink when it is installed (the design's yardstick), else an
// in-process go-smtp server that discards the data.
type BenchSink struct {
	Name string
	Port int
	// Count is the number of messages accepted so far.
	Count func() int
}

// StartBenchSink starts a sink on a free loopback port for the benchmark's
// lifetime. SUPPORTERCRM_BENCH_SINK=go forces the in-process one.
func StartBenchSink(tb testing.TB) *BenchSink {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	bin, err := exec.LookPath("smtp-sink")
	if err != nil {
		bin, err = exec.LookPath("/usr/sbin/smtp-sink")
	}
	if err != nil || os.Getenv("SUPPORTERCRM_BENCH_SINK") == "go" {
		return startGoSink(tb, l)
	}
	l.Close()
	return startPostfixSink(tb, bin, port)
}

// Expect fails tb unless the sink accepted want messages (waiting briefly
// for its counter to catch up).
func (s *BenchSink) Expect(tb testing.TB, want int) {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := s.Count()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s accepted %d messages, want %d", s.Name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var sinkCountRe = regexp.MustCompile(`mesg=(\d+)`)

func startPostfixSink(tb testing.TB, bin string, port int) *BenchSink {
	// -c writes running counters ("sess=N quit=N mesg=N\r") to stdout; the
	// last one is at the end of the file, so Count reads only its tail.
	out := filepath.Join(tb.TempDir(), "smtp-sink.out")
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	args := []string{"-c", "-m", "1000"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	cmd := exec.Command(bin, append(args, "127.0.0.1:"+strconv.Itoa(port), "1024")...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("smtp-sink did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r, err := os.Open(out)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	tail := make([]byte, 256)
	return &BenchSink{Name: "postfix smtp-sink", Port: port, Count: func() int {
		end, err := r.Seek(0, io.SeekEnd)
		if err != nil {
			return -1
		}
		from := max(0, end-int64(len(tail)))
		k, _ := r.ReadAt(tail[:end-from], from)
		m := sinkCountRe.FindAllSubmatch(tail[:k], -1)
		if len(m) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(string(m[len(m)-1][1]))
		return n
	}}
}

func startGoSink(tb testing.TB, l net.Listener) *BenchSink {
	be := &discardBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "127.0.0.1"
	srv.MaxMessageBytes = 1 << 20
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	return &BenchSink{Name: "in-process go-smtp (discard)", Port: l.Addr().(*net.TCPAddr).Port, Count: func() int { return int(be.n.Load()) }}
}

type discardBackend struct{ n atomic.Int64 }

func (d *discardBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return discardSession{d}, nil }

type discardSession struct{ d *discardBackend }

func (discardSession) Reset()                               {}
func (discardSession) Logout() error                        { return nil }
func (discardSession) Mail(string, *smtp.MailOptions) error { return nil }
func (discardSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s discardSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.d.n.Add(1)
	return nil
}
