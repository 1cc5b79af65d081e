package importer

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// inserter stores new supporters and consent rows as PocketBase's own
// create does (the record's DBExport, one INSERT), but through one prepared
// statement per table and transaction, and without the per-record chain of
// model and record hooks: together those were most of an import's time.
// That is safe because every value was checked by parse, more strictly than
// the field validators, and the only create hooks on these collections
// check what parse guarantees: a normalised address and clean names
// (signup.BindGuards) and a consent row naming its supporter. A new create hook on supporters or
// consents must be mirrored here.
type inserter struct {
	tx    core.App
	ids   *ids
	stmts map[string]*prepared
}

// prepared is one table's INSERT; params is bound to q once, and each row
// sets its values (a column's parameter is named by its place in cols).
type prepared struct {
	q      *dbx.Query
	cols   []string
	names  []string
	params dbx.Params
}

func newInserter(tx core.App, ids *ids) *inserter {
	return &inserter{tx: tx, ids: ids, stmts: map[string]*prepared{}}
}

func (in *inserter) insert(rec *core.Record) error {
	if rec.Id == "" {
		rec.Id = in.ids.id()
	}
	now := types.NowDateTime()
	for _, f := range rec.Collection().Fields {
		if _, ok := f.(*core.AutodateField); ok {
			rec.SetRaw(f.GetName(), now)
		}
	}
	data, err := rec.DBExport(in.tx)
	if err != nil {
		return err
	}
	data["id"] = rec.Id
	st, err := in.statement(rec.TableName(), data)
	if err != nil {
		return err
	}
	for i, c := range st.cols {
		st.params[st.names[i]] = data[c]
	}
	if _, err := st.q.Execute(); err != nil {
		return fmt.Errorf("failed to store %s: %w", rec.Collection().Name, err)
	}
	rec.MarkAsNotNew()
	return nil
}

// statement prepares the table's INSERT once per transaction.
func (in *inserter) statement(table string, data map[string]any) (*prepared, error) {
	if st, ok := in.stmts[table]; ok && len(st.cols) == len(data) {
		return st, nil
	}
	cols := make([]string, 0, len(data))
	for c := range data {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	quoted, holders, names := make([]string, len(cols)), make([]string, len(cols)), make([]string, len(cols))
	params := make(dbx.Params, len(cols))
	for i, c := range cols {
		names[i] = fmt.Sprint("p", i)
		quoted[i], holders[i] = "[["+c+"]]", "{:"+names[i]+"}"
		params[names[i]] = nil
	}
	q := in.tx.DB().NewQuery(fmt.Sprintf("INSERT INTO {{%s}} (%s) VALUES (%s)", table, strings.Join(quoted, ", "), strings.Join(holders, ", "))).Bind(params).Prepare()
	st := &prepared{q: q, cols: cols, names: names, params: params}
	in.stmts[table] = st
	return st, nil
}

// close releases the prepared statements, before the transaction ends.
func (in *inserter) close() {
	for _, st := range in.stmts {
		st.q.Close()
	}
}
