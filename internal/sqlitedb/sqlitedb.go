// Package sqlitedb opens the app's SQLite databases for PocketBase
// (core.BaseAppConfig.DBConnect) with the same driver as PocketBase's own
// DefaultDBConnect and its pragmas but two, plus a cache of prepared
// statements on each connection.
//
// database/sql with modernc.org/sqlite parses every statement anew: under a
// burst of signups a fifth of the single writer's time went on
// sqlite3_prepare_v2 for the same eight statements (find the supporter, read
// the limits, three inserts, the quota, the outbox claim and its outcome).
// PocketBase binds every value as a parameter, so the same text comes back
// and one compiled statement serves it. SQLite recompiles a cached statement
// itself when the schema changes (sqlite3_prepare_v2), so a migration that
// adds a column is seen at once.
package sqlitedb

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"modernc.org/sqlite"
)

// pragmas are PocketBase's (core.DefaultDBConnect in v0.40.4) but two;
// busy_timeout must come first so that setting WAL waits for another
// connection.
//
//   - cache_size: 8 MB a connection rather than 32. Each of the pool's
//     connections (up to 15 kept idle) grows its own cache up to that, so
//     the process's memory grew with the database: 65 MB sending to 10,000
//     supporters, 128 MB to 100,000. The OS caches the file for all of
//     them; a page missing from a connection's cache costs one pread.
//     SQLite also walks the whole cache at the end of every write
//     transaction (pcache1TruncateUnsafe, 4% of the CPU of a 100,000
//     campaign), so a smaller one is cheaper to commit.
//   - wal_autocheckpoint: off; see checkpoints.
const pragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-8000)&_pragma=wal_autocheckpoint(0)&_defensive=1"

// checkpointEvery is how often the WAL is copied back into the database.
const checkpointEvery = 250 * time.Millisecond

// cacheSize is how many statements each connection keeps compiled. The app
// runs a few dozen distinct statements often; rarer ones (an IN list of a
// new length, a dashboard filter) push out the least recently used.
const cacheSize = 128

// Connect opens dbPath, as PocketBase's DBConnect, and checkpoints its WAL
// until the database is closed.
func Connect(dbPath string) (*dbx.DB, error) {
	inner, err := sqlite.NewConnector(dbPath + pragmas)
	if err != nil {
		return nil, err
	}
	c := &connector{Connector: inner, stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.checkpoints()
	return dbx.NewFromDB(sql.OpenDB(c), "sqlite"), nil
}

type connector struct {
	driver.Connector
	stop     chan struct{}
	stopped  chan struct{}
	stopOnce sync.Once
}

// checkpoints copies the WAL back into the database file every
// checkpointEvery, over a connection of its own, until Close. SQLite's
// automatic checkpoint would do it inside a commit, every 1,000 pages: in
// the single writer's turn, fsync and all (a tenth of a 100,000 campaign's
// audience snapshot, 7% of the writer's time under a burst of signups). A
// passive checkpoint from another connection runs beside the writer and the
// readers without blocking them, and a page written many times in a
// quarter of a second is copied once. A failed checkpoint (the database is
// busy or not yet created) is tried again at the next tick.
func (c *connector) checkpoints() {
	defer close(c.stopped)
	var dc driver.Conn
	defer func() {
		if dc != nil {
			dc.Close()
		}
	}()
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		if dc == nil {
			var err error
			if dc, err = c.Connector.Connect(context.Background()); err != nil {
				dc = nil
				continue
			}
		}
		if ex, ok := dc.(driver.ExecerContext); ok {
			_, _ = ex.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)", nil)
		}
	}
}

// Close stops the checkpoints; database/sql calls it when the DB is closed.
func (c *connector) Close() error {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.stopped
	return nil
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := dc.(innerConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("sqlitedb: the sqlite driver's connection (%T) lacks a method this cache relies on", dc)
	}
	return &conn{innerConn: inner, byQuery: map[string]*list.Element{}}, nil
}

// innerConn is what modernc's connection implements and database/sql uses.
type innerConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// innerStmt is what modernc's statement implements.
type innerStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// innerRows is what modernc's rows implement and database/sql asks of them.
type innerRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// conn is one connection with its statements. database/sql uses a
// connection from one goroutine at a time, so it needs no lock.
type conn struct {
	innerConn
	byQuery map[string]*list.Element // of *entry
	recent  list.List                // most recently used first
}

type entry struct {
	query   string
	stmt    innerStmt
	busy    bool // its rows are open: the next use of the query compiles its own
	evicted bool // pushed out while busy: close it when its rows close
}

// take returns query's cached statement, marked busy, compiling it if need
// be; nil when it is busy already (the caller runs the query uncached).
func (c *conn) take(ctx context.Context, query string) (*entry, error) {
	if el, ok := c.byQuery[query]; ok {
		e := el.Value.(*entry)
		if e.busy {
			return nil, nil
		}
		c.recent.MoveToFront(el)
		e.busy = true
		return e, nil
	}
	ds, err := c.innerConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s, ok := ds.(innerStmt)
	if !ok {
		ds.Close()
		return nil, nil
	}
	e := &entry{query: query, stmt: s, busy: true}
	c.byQuery[query] = c.recent.PushFront(e)
	for c.recent.Len() > cacheSize {
		c.evict(c.recent.Back())
	}
	return e, nil
}

func (c *conn) evict(el *list.Element) {
	e := c.recent.Remove(el).(*entry)
	delete(c.byQuery, e.query)
	if e.busy {
		e.evicted = true
		return
	}
	e.stmt.Close()
}

// release marks e free again, or closes it if it was pushed out meanwhile.
func (c *conn) release(e *entry) error {
	e.busy = false
	if e.evicted {
		return e.stmt.Close()
	}
	return nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, err := c.take(ctx, query)
	if err != nil || e == nil {
		if err != nil {
			return nil, err
		}
		return c.innerConn.ExecContext(ctx, query, args)
	}
	res, err := e.stmt.ExecContext(ctx, args)
	return res, errors.Join(err, c.release(e))
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	e, err := c.take(ctx, query)
	if err != nil || e == nil {
		if err != nil {
			return nil, err
		}
		return c.innerConn.QueryContext(ctx, query, args)
	}
	r, err := e.stmt.QueryContext(ctx, args)
	if err != nil {
		return nil, errors.Join(err, c.release(e))
	}
	full, ok := r.(innerRows)
	if !ok {
		r.Close()
		c.release(e)
		return nil, fmt.Errorf("sqlitedb: the sqlite driver's rows (%T) lack a method database/sql uses", r)
	}
	return &rows{innerRows: full, done: func() error { return c.release(e) }}, nil
}

// Close closes the cached statements, then the connection.
func (c *conn) Close() error {
	var errs []error
	for el := c.recent.Front(); el != nil; el = el.Next() {
		errs = append(errs, el.Value.(*entry).stmt.Close())
	}
	c.byQuery, c.recent = nil, list.List{}
	return errors.Join(append(errs, c.innerConn.Close())...)
}

// rows frees their statement for the next use when closed.
type rows struct {
	innerRows
	done func() error
}

func (r *rows) Close() error {
	err := r.innerRows.Close()
	if r.done != nil {
		err = errors.Join(err, r.done())
		r.done = nil
	}
	return err
}
