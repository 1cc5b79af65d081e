package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// secretToken is the Page token; Facebook echoes tokens in some errors, so
// the fake Graph API does too.
const secretToken = "EAAGsecretPageToken0123456789"

// TestFacebookSyncFromTheBinary runs the real binary: the `facebook sync`
// command with an expired token, then `serve` syncing on its schedule
// through a malformed answer and a good one. The token appears in no log
// line, on the console or in the logs database.
func TestFacebookSyncFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	g := testkit.NewGraph(t)
	g.Set("posts", "["+testkit.EventPost("111", "Winter Sleep-Out", "2026-11-21T16:40:05+0000")+","+testkit.OrdinaryPost+"]",
		"["+testkit.EventPost("222", "Carol concert", "2026-11-22T10:00:00+0000")+"]")
	g.Fail("posts", 0, 400, `{"error":{"message":"Error validating access token: Session has expired for token `+secretToken+`","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AbC"}}`)
	env := []string{"FACEBOOK_PAGE_ID=" + testkit.GraphPageID, "FACEBOOK_ACCESS_TOKEN=" + secretToken, "FACEBOOK_GRAPH_URL=" + g.URL}

	cli := exec.Command(bin, "facebook", "sync", "--dir", dataDir, "--dev")
	cli.Env = append(os.Environ(), env...)
	out, err := cli.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "token invalid") {
		t.Fatalf("facebook sync with an expired token: %v\n%s", err, out)
	}
	console := string(out)

	g.Heal()
	g.Fail("posts", 1, 200, `{"data": [{"id": 5, "created_time": "yesterday"}]`) // malformed
	addr := freeAddr(t)
	srv := start(t, bin, dataDir, addr, append(env, "FACEBOOK_SYNC=@every 1s")...)
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	testkit.Eventually(t, 30*time.Second, func() bool { return mustCount(t, app, vocab.SyncRuns, "error ~ 'malformed'") > 0 })
	g.Heal()
	testkit.Eventually(t, 30*time.Second, func() bool { return mustCount(t, app, vocab.Events, "") == 2 })

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	srv.Wait()
	logs, err := os.ReadFile(filepath.Join(filepath.Dir(srv.Stdout.(*os.File).Name()), "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	console += string(logs)
	if !strings.Contains(console, "facebook sync") {
		t.Fatalf("the console shows no sync at all:\n%s", console)
	}
	if strings.Contains(console, secretToken) {
		t.Errorf("the token appears on the console:\n%s", console)
	}
	var stored []struct{ Message, Data string }
	if err := app.AuxDB().NewQuery("SELECT message, data FROM _logs").All(&stored); err != nil {
		t.Fatal(err)
	}
	if len(stored) == 0 {
		t.Fatal("nothing in the logs database")
	}
	for _, l := range stored {
		if strings.Contains(l.Message+l.Data, secretToken) {
			t.Errorf("the token appears in a stored log: %s %s", l.Message, l.Data)
		}
	}
	runs, _ := app.FindRecordsByFilter(vocab.SyncRuns, "", "", 0, 0)
	for _, r := range runs {
		if strings.Contains(r.GetString("error"), secretToken) {
			t.Errorf("the token appears in sync_runs: %s", r.GetString("error"))
		}
	}
}

// TestNoFacebookSettings runs the binary with no page id or token: the app
// serves as usual (the events page, a webhook that says it isn't set up),
// `facebook sync` says what is missing, and the server says so once.
func TestNoFacebookSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	dataDir := t.TempDir()
	unset := []string{"FACEBOOK_PAGE_ID=", "FACEBOOK_ACCESS_TOKEN=", "FACEBOOK_VERIFY_TOKEN=", "FACEBOOK_APP_SECRET="}

	cli := exec.Command(bin, "facebook", "sync", "--dir", dataDir)
	cli.Env = append(os.Environ(), unset...)
	if out, err := cli.CombinedOutput(); err == nil || !strings.Contains(string(out), "FACEBOOK_PAGE_ID and FACEBOOK_ACCESS_TOKEN") {
		t.Fatalf("facebook sync without settings: %v\n%s", err, out)
	}

	addr := freeAddr(t)
	srv := start(t, bin, dataDir, addr, append(unset, "FACEBOOK_SYNC=@every 1s")...)
	for path, want := range map[string]int{"/events": http.StatusOK, "/api/webhooks/facebook?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1": http.StatusNotFound} {
		res, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	srv.Wait()

	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dataDir})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	defer app.ClearBootstrap()
	var said int
	if err := app.AuxDB().NewQuery("SELECT COUNT(*) FROM _logs WHERE message LIKE 'facebook sync: not configured%'").Row(&said); err != nil {
		t.Fatal(err)
	}
	if said != 1 {
		t.Errorf("the server said %d times that the sync is not configured, want once", said)
	}
	if n := mustCount(t, app, vocab.SyncRuns, ""); n != 0 {
		t.Errorf("%d sync runs without settings", n)
	}
}
