package campaigns

import (
	"database/sql"
	"fmt"

	"github.com/pocketbase/dbx"
)

// rawDB is the database/sql handle under one of the app's pools: the
// engine's per-message statements are prepared on it once per run, past
// dbx's per-query SQL building.
func rawDB(pool dbx.Builder) (*sql.DB, error) {
	db, ok := pool.(*dbx.DB)
	if !ok {
		return nil, fmt.Errorf("campaigns: the app's pool is a %T, not a *dbx.DB", pool)
	}
	return db.DB(), nil
}

// prepareOnce returns *stmt, preparing query into it on first use.
func prepareOnce(db *sql.DB, stmt **sql.Stmt, query string) (*sql.Stmt, error) {
	if *stmt == nil {
		s, err := db.Prepare(query)
		if err != nil {
			return nil, err
		}
		*stmt = s
	}
	return *stmt, nil
}
