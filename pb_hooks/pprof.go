package pb_hooks

import (
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"time"
)

// Profiling rates while CRM_PPROF_ADDR is set: one blocking event sampled
// per 10 µs spent blocked, and one mutex contention event in 10. Both cost
// a little on every channel operation and lock, so they stay off otherwise.
const (
	blockProfileRate     = 10_000 // ns
	mutexProfileFraction = 10
)

// checkPprofAddr accepts only a loopback host:port (127.0.0.1:6060,
// [::1]:6060, localhost:6060): profiles show the process's memory, so they
// must never be reachable from the network.
func checkPprofAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("CRM_PPROF_ADDR must be a loopback host:port such as 127.0.0.1:6060, got %q: %v", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return fmt.Errorf("CRM_PPROF_ADDR must be a loopback host:port such as 127.0.0.1:6060, got %q: bad port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("CRM_PPROF_ADDR must be on loopback (127.0.0.1, ::1 or localhost) so profiles never reach the network, got host %q", host)
	}
	return nil
}

// startPprof serves net/http/pprof on addr (checked by checkPprofAddr) and
// turns on block and mutex profiling. It returns the address listened on
// and a function that stops serving.
func startPprof(addr string) (net.Addr, func(), error) {
	if err := checkPprofAddr(addr); err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("CRM_PPROF_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	runtime.SetBlockProfileRate(blockProfileRate)
	runtime.SetMutexProfileFraction(mutexProfileFraction)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Printf("pprof: stopped: %v", err)
		}
	}()
	stop := func() {
		_ = srv.Close()
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
	}
	return l.Addr(), stop, nil
}
