package groupcommit_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"supportercrm/internal/groupcommit"
	_ "supportercrm/pb_migrations"
)

func newApp(t *testing.T) *tests.TestApp {
	t.Helper()
	app, err := tests.NewTestApp(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Cleanup)
	return app
}

// insertTopic is a job that writes one row; bad slugs fail validation.
func insertTopic(slug string) groupcommit.Job {
	return func(tx core.App) error {
		col, err := tx.FindCachedCollectionByNameOrId("topics")
		if err != nil {
			return err
		}
		r := core.NewRecord(col)
		r.Set("slug", slug)
		r.Set("name", slug)
		return tx.Save(r)
	}
}

func TestConcurrentJobsAllCommitAndFailuresStayTheirOwn(t *testing.T) {
	app := newApp(t)
	c := groupcommit.New(app, 16)
	defer c.Stop()
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			slug := fmt.Sprintf("topic-%d", i)
			if i%25 == 0 {
				slug = "Not A Slug!" // fails the field's pattern
			}
			errs[i] = c.Do(insertTopic(slug))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if bad := i%25 == 0; bad != (err != nil) {
			t.Errorf("job %d: err = %v", i, err)
		}
	}
	// 3 seeded topics, plus every good job exactly once.
	if got, err := app.CountRecords("topics"); err != nil || got != 3+n-n/25 {
		t.Fatalf("topics = %d (%v), want %d", got, err, 3+n-n/25)
	}
}

func TestJobsAfterStopRunAlone(t *testing.T) {
	app := newApp(t)
	c := groupcommit.New(app, 4)
	c.Stop()
	c.Stop() // idempotent
	if err := c.Do(insertTopic("after-stop")); err != nil {
		t.Fatal(err)
	}
	wantErr := errors.New("refused")
	if err := c.Do(func(core.App) error { return wantErr }); !errors.Is(err, wantErr) {
		t.Fatalf("err = %v, want %v", err, wantErr)
	}
	if _, err := app.FindFirstRecordByData("topics", "slug", "after-stop"); err != nil {
		t.Fatal(err)
	}
}
