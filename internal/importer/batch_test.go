package importer_test

import (
	"net/http"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/importer"
	"supportercrm/internal/signup"
	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Each batch looks up its rows' supporters, suppressions and confirmations
// in one query apiece; cut into batches of one, two and three rows, the
// messy file imports exactly as it does whole, and again changes nothing.
func TestBatchesImportAsTheWholeFile(t *testing.T) {
	for _, size := range []int{1, 2, 3} {
		env := testkit.Start(t, testkit.Options{})
		seed(t, env)
		im := &importer.Importer{App: env.App, Signup: &signup.Service{App: env.App}, Now: time.Now}
		run := func() importer.Report {
			f, err := os.Open("testdata/messy.csv")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := im.Supporters(f, importer.Options{BatchSize: size})
			if err != nil {
				t.Fatalf("batches of %d: %v", size, err)
			}
			return rep
		}
		rep := run()
		if rep.Rows != 15 || rep.Created != 6 || rep.Updated != 1 || rep.Unchanged != 0 || rep.ErrorCount != 5 || len(rep.Warnings) != 2 ||
			rep.Skipped[importer.SkipDuplicate] != 1 || rep.Skipped[importer.SkipSuppressed] != 1 || rep.Skipped[importer.SkipUnsubscribed] != 1 {
			t.Errorf("batches of %d: %+v", size, rep)
		}
		if n := env.Count(t, vocab.Supporters, "email = 'erased@example.org'"); n != 0 {
			t.Errorf("batches of %d: the suppressed address was stored", size)
		}
		if n := env.Count(t, vocab.Consents, ""); n != 3 {
			t.Errorf("batches of %d: %d consent rows, want 3", size, n)
		}
		before := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents, vocab.Outbox)
		if again := run(); again.Created != 0 || again.Updated != 0 || again.Unchanged != 7 {
			t.Errorf("batches of %d, again: %+v", size, again)
		}
		if after := testkit.Dump(t, env.App, vocab.Supporters, vocab.Consents, vocab.Outbox); after != before {
			t.Errorf("batches of %d: the second run changed the database", size)
		}
	}
}

// The import caps the page cache of the connection it writes on while it
// runs, and gives the connection its own back when done.
func TestImportCapsItsConnectionCache(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	cache := func() int {
		var kb int
		if err := env.App.NonconcurrentDB().NewQuery("PRAGMA cache_size").Row(&kb); err != nil {
			t.Fatal(err)
		}
		return kb
	}
	was := cache()
	f, err := os.Open("testdata/messy.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var during []int
	im := &importer.Importer{App: env.App, Signup: &signup.Service{App: env.App}, Now: time.Now}
	if _, err := im.Supporters(f, importer.Options{BatchSize: 4, Progress: func(int64, int64) { during = append(during, cache()) }}); err != nil {
		t.Fatal(err)
	}
	if len(during) == 0 {
		t.Fatal("no progress reported")
	}
	for _, kb := range during {
		if kb != -8000 {
			t.Errorf("cache_size during the import = %d, want -8000 (8 MB; it was %d)", kb, was)
		}
	}
	if got := cache(); got != was {
		t.Errorf("cache_size after the import = %d, want %d as before", got, was)
	}
}

// A row for a known supporter is first decided on the few columns every
// batch reads; each kind of change must still reach the supporter's record:
// a confirmation for a pending one, topics and consent rows, a withdrawal,
// a new tag, while a row that changes nothing leaves the supporter as is.
func TestKnownSupportersGetEveryChange(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	col := testkit.Collection(t, env.App, vocab.Supporters)
	news := topicID(t, env.App, "newsletter")
	for _, s := range []struct{ email, status string }{
		{"invite@example.org", vocab.StatusPending}, {"topic@example.org", vocab.StatusSubscribed},
		{"confirm@example.org", vocab.StatusPending}, {"leave@example.org", vocab.StatusSubscribed},
		{"tag@example.org", vocab.StatusSubscribed}, {"same@example.org", vocab.StatusSubscribed},
	} {
		r := core.NewRecord(col)
		r.Set("email", s.email)
		r.Set("first_name", "Kit")
		r.Set("status", s.status)
		r.Set("topics", []string{news})
		if err := env.App.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	file := "email,first_name,topics,tags,status,consent_source,consent_date\n" +
		"invite@example.org,Kit,newsletter,,,,\n" +
		"topic@example.org,Kit,newsletter;events,,,paper form,2025-03-31\n" +
		"confirm@example.org,Kit,newsletter,,,paper form,2025-03-31\n" +
		"leave@example.org,Kit,,,unsubscribed,,\n" +
		"tag@example.org,Kit,newsletter,volunteer,,,\n" +
		"same@example.org,Kit,newsletter,,,,\n"
	status, rep, body := upload(t, env, testkit.Login(t, env, "admin"), "?confirm=true", []byte(file))
	if status != http.StatusOK {
		t.Fatalf("import = %d %s", status, body)
	}
	if rep.Created != 0 || rep.Updated != 4 || rep.Unchanged != 2 || rep.Confirmations != 1 || rep.ErrorCount != 0 {
		t.Errorf("created %d updated %d unchanged %d confirmations %d errors %v; want 0, 4, 2, 1, none", rep.Created, rep.Updated, rep.Unchanged, rep.Confirmations, rep.Errors)
	}
	if n := env.Count(t, vocab.Outbox, "to = 'invite@example.org' && kind = '"+vocab.KindConfirm+"'"); n != 1 {
		t.Errorf("%d confirmations queued for the pending supporter, want 1", n)
	}
	if got := supporter(t, env.App, "topic@example.org").GetStringSlice("topics"); len(got) != 2 {
		t.Errorf("topic@ has topics %v, want newsletter and events", got)
	}
	if got := supporter(t, env.App, "confirm@example.org").GetString("status"); got != vocab.StatusSubscribed {
		t.Errorf("confirm@ is %s, want subscribed on the evidence", got)
	}
	if got := supporter(t, env.App, "leave@example.org").GetString("status"); got != vocab.StatusUnsubscribed {
		t.Errorf("leave@ is %s, want unsubscribed", got)
	}
	if got := supporter(t, env.App, "tag@example.org").GetStringSlice("tags"); !slices.Equal(got, []string{"volunteer"}) {
		t.Errorf("tag@ has tags %v", got)
	}
	for email, want := range map[string]int{"topic@example.org": 1, "confirm@example.org": 1, "leave@example.org": 1, "same@example.org": 0, "tag@example.org": 0} {
		if n := env.Count(t, vocab.Consents, "email = '"+email+"'"); n != want {
			t.Errorf("%d consent rows for %s, want %d", n, email, want)
		}
	}
}
