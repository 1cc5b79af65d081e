package testkit

import (
	"testing"

	"github.com/pocketbase/pocketbase/core"
)

// Restart stops the app as `serve` stops on SIGTERM (the HTTP server, then
// the terminate hooks: workers finish what is in flight and stop) and starts
// a new one, with the same options and relay, on the database as the first
// left it. Nothing in memory carries over; the old Env must not be used
// again. The new app listens on another port.
func (e *Env) Restart(t testing.TB) *Env {
	t.Helper()
	e.srv.Close()
	if err := e.App.OnTerminate().Trigger(&core.TerminateEvent{App: e.App}); err != nil {
		t.Fatal(err)
	}
	// Everything written so far is in the main database file before it is copied.
	if _, err := e.App.DB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.AuxDB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		t.Fatal(err)
	}
	return start(t, e.opts, e.App.DataDir(), e.SMTP)
}
