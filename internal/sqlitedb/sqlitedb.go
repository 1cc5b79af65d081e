// Package sqlitedb opens the app's SQLite databases for PocketBase
// (core.BaseAppConfig.DBConnect) with the same driver and pragmas as
// PocketBase's own DefaultDBConnect, plus a cache of prepared statements on
// each connection.
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

	"github.com/pocketbase/dbx"
	"modernc.org/sqlite"
)

// pragmas are PocketBase's (core.DefaultDBConnect in v0.40.4); busy_timeout
// must come first so that setting WAL waits for another connection.
const pragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)&_defensive=1"

// cacheSize is how many statements each connection keeps compiled. The app
// runs a few dozen distinct statements often; rarer ones (an IN list of a
// new length, a dashboard filter) push out the least recently used.
const cacheSize = 128

// Connect opens dbPath, as PocketBase's DBConnect.
func Connect(dbPath string) (*dbx.DB, error) {
	c, err := sqlite.NewConnector(dbPath + pragmas)
	if err != nil {
		return nil, err
	}
	return dbx.NewFromDB(sql.OpenDB(connector{c}), "sqlite"), nil
}

type connector struct{ driver.Connector }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
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
