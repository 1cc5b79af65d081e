package importer_test

import (
	"os"
	"testing"
	"time"

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
