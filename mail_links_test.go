package main

import (
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
)

// The real binary says once, when it starts, that the Application URL is
// not https (here PocketBase's default, never set), since every link in
// every email starts with it.
func TestAppURLWarningAtStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	addr := freeAddr(t)
	configure(t, dataDir, "http://localhost:8090", testkit.NewSMTPSink(t).Port, nil)
	srv := start(t, bin, dataDir, addr)
	stop(t, srv)

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	var n int
	err := app.AuxDB().Select("count(*)").From(core.LogsTableName).
		Where(dbx.Like("message", "The Application URL is not set").Match(false, true)).Row(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the start-up warning was logged %d times, want once", n)
	}
}
