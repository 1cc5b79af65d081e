package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// open gives one connection of a fresh database, as PocketBase's writer has.
func open(t *testing.T) (*sql.DB, *sql.Conn) {
	t.Helper()
	db, err := Connect(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c, err := db.DB().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.ExecContext(context.Background(), "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)"); err != nil {
		t.Fatal(err)
	}
	return db.DB(), c
}

// cached lists the connection's cached statements, most recent first.
func cached(t *testing.T, c *sql.Conn) []*entry {
	t.Helper()
	var out []*entry
	err := c.Raw(func(dc any) error {
		for el := dc.(*conn).recent.Front(); el != nil; el = el.Next() {
			out = append(out, el.Value.(*entry))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func names(t *testing.T, c *sql.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := c.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAStatementIsCompiledOnceAndRunsWithEachCallsValues(t *testing.T) {
	ctx := context.Background()
	_, c := open(t)
	const insert = "INSERT INTO t (name) VALUES (?)"
	for _, name := range []string{"ada", "grace", "mary"} {
		if _, err := c.ExecContext(ctx, insert, name); err != nil {
			t.Fatal(err)
		}
	}
	const byName = "SELECT name FROM t WHERE name = ?"
	for _, name := range []string{"grace", "ada", "nobody", "mary"} {
		got := names(t, c, byName, name)
		if name == "nobody" && len(got) != 0 || name != "nobody" && (len(got) != 1 || got[0] != name) {
			t.Fatalf("%s: got %q", name, got)
		}
	}
	first := cached(t, c)
	if len(first) != 3 || first[0].query != byName || first[1].query != insert {
		t.Fatalf("cached %d statements, want the select, the insert and the CREATE", len(first))
	}
	names(t, c, byName, "ada")
	if again := cached(t, c); again[0] != first[0] {
		t.Fatal("the select was compiled again rather than reused")
	}
}

func TestTheSameQueryInsideItsOwnOpenRowsRunsOnItsOwnStatement(t *testing.T) {
	ctx := context.Background()
	_, c := open(t)
	for _, name := range []string{"ada", "grace"} {
		if _, err := c.ExecContext(ctx, "INSERT INTO t (name) VALUES (?)", name); err != nil {
			t.Fatal(err)
		}
	}
	const all = "SELECT name FROM t WHERE name > ? ORDER BY name"
	rows, err := c.QueryContext(ctx, all, "")
	if err != nil {
		t.Fatal(err)
	}
	var outer []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		outer = append(outer, s)
		// The cached statement is mid-iteration: this must not reset it.
		if inner := names(t, c, all, s); len(inner) != 2-len(outer) {
			t.Fatalf("after %s: inner query got %q", s, inner)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(outer) != "[ada grace]" {
		t.Fatalf("outer rows %q, want [ada grace]", outer)
	}
	if got := names(t, c, all, "b"); fmt.Sprint(got) != "[grace]" {
		t.Fatalf("after the rows closed: %q", got)
	}
}

func TestACachedSelectSeesAColumnAddedSince(t *testing.T) {
	ctx := context.Background()
	db, c := open(t)
	if _, err := c.ExecContext(ctx, "INSERT INTO t (name) VALUES ('ada')"); err != nil {
		t.Fatal(err)
	}
	const star = "SELECT * FROM t"
	cols := func() []string {
		rows, err := c.QueryContext(ctx, star)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		names, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	if got := cols(); len(got) != 2 {
		t.Fatalf("columns %q", got)
	}
	// Another connection changes the schema, as a migration would.
	if _, err := db.ExecContext(ctx, "ALTER TABLE t ADD COLUMN note TEXT DEFAULT 'x'"); err != nil {
		t.Fatal(err)
	}
	if got := cols(); fmt.Sprint(got) != "[id name note]" {
		t.Fatalf("columns after ALTER TABLE: %q", got)
	}
}

func TestTheCacheKeepsItsSizeAndTheRecentStatements(t *testing.T) {
	ctx := context.Background()
	_, c := open(t)
	for i := range cacheSize + 20 {
		var n int
		if err := c.QueryRowContext(ctx, fmt.Sprintf("SELECT %d + ?", i), 1).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	got := cached(t, c)
	if len(got) != cacheSize || got[0].query != fmt.Sprintf("SELECT %d + ?", cacheSize+19) {
		t.Fatalf("%d cached, the most recent %q", len(got), got[0].query)
	}
}

func TestABadStatementIsAnErrorAndNotCached(t *testing.T) {
	_, c := open(t)
	before := len(cached(t, c))
	if _, err := c.ExecContext(context.Background(), "INSERT INTO missing (x) VALUES (1)"); err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	if _, err := c.QueryContext(context.Background(), "SELEC 1"); err == nil {
		t.Fatal("a syntax error succeeded")
	}
	if after := len(cached(t, c)); after != before {
		t.Fatalf("%d statements cached, was %d", after, before)
	}
}

func TestTransactionsCommitAndRollBackThroughCachedStatements(t *testing.T) {
	ctx := context.Background()
	_, c := open(t)
	const insert = "INSERT INTO t (name) VALUES (?)"
	for _, commit := range []bool{true, false} {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, insert, fmt.Sprint(commit)); err != nil {
			t.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := names(t, c, "SELECT name FROM t"); fmt.Sprint(got) != "[true]" {
		t.Fatalf("rows %q, want only the committed one", got)
	}
}

func TestTheWALIsCopiedBackWithoutACommitDoingIt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data.db")
	db, err := Connect(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.DB().ExecContext(ctx, "CREATE TABLE big (v BLOB)"); err != nil {
		t.Fatal(err)
	}
	// 2 MB of rows, far past the 1,000 pages at which SQLite's own
	// checkpoint (off here) would run.
	if _, err := db.DB().ExecContext(ctx, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 2000) INSERT INTO big SELECT randomblob(1000) FROM n"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > 2_000_000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes 10 s after 2 MB was committed: the WAL was not checkpointed", fi.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Closing stops the checkpoints (Close waits for them).
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
