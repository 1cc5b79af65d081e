package main

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Two serve processes on one pb_data, as in an overlapping deploy, with one
// due campaign: one of them holds its lease and sends; when that one is
// stopped (SIGTERM) mid-send it releases the lease and the other finishes
// the campaign. Each supporter gets it exactly once.
func TestTwoProcessesSendACampaignOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const n = 2000
	bin := buildBinary(t)
	dataDir := t.TempDir()
	sink := testkit.NewSMTPSink(t)
	sink.Start(t)
	addrs := []string{freeAddr(t), freeAddr(t)}
	configure(t, dataDir, "http://"+addrs[0], sink.Port, func(app core.App) {
		testkit.Subscribers(t, app, n)
		testkit.DueCampaign(t, app, "Our spring appeal, {{.FirstName}}", "Dear {{.FirstName}},\n\nThe third house opens in May.")
	})
	env := []string{"CRM_SEND_RATE=400", "CRM_SMTP_CONNECTIONS=4"}
	procs := map[int]*exec.Cmd{}
	for _, addr := range addrs {
		srv := start(t, bin, dataDir, addr, env...)
		procs[srv.Process.Pid] = srv
	}

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir}) // a third reader
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	campaign := func() *core.Record {
		c, err := app.FindFirstRecordByFilter(vocab.Campaigns, "")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for len(sink.Mails()) < n/4 {
		time.Sleep(5 * time.Millisecond)
	}
	if got, mails := unique(sink), len(sink.Mails()); got != mails {
		t.Fatalf("%d mails to %d recipients while both processes ran", mails, got)
	}
	holder := campaign().GetString("lease_holder") // host:pid:random
	var pid int
	if parts := strings.Split(holder, ":"); len(parts) == 3 {
		pid, _ = strconv.Atoi(parts[1])
	}
	first, ok := procs[pid]
	if !ok {
		t.Fatalf("lease holder %q is neither serving process (%v)", holder, procs)
	}
	if err := first.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	atStop := len(sink.Mails())
	if atStop >= n {
		t.Fatalf("the campaign finished before the SIGTERM (%d mails); slow it down", atStop)
	}

	var c *core.Record
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c = campaign(); c.GetString("status") == vocab.CampaignSent {
			break
		}
	}
	if c.GetString("status") != vocab.CampaignSent || c.GetInt("sent") != n {
		t.Fatalf("campaign is %s with %d sent of %d after the holder stopped at %d mails (lease %q)",
			c.GetString("status"), c.GetInt("sent"), n, atStop, c.GetString("lease_holder"))
	}
	// The runner releases the lease just after it marks the campaign sent.
	testkit.Eventually(t, 5*time.Second, func() bool { return campaign().GetString("lease_holder") == "" })
	if got, mails := unique(sink), len(sink.Mails()); got != n || mails != n {
		t.Fatalf("%d mails to %d recipients, want %d to %d (the first process stopped at %d)", mails, got, n, n, atStop)
	}
	for pid, srv := range procs {
		if pid != first.Process.Pid {
			srv.Process.Signal(syscall.SIGTERM)
			srv.Wait()
		}
	}
}
