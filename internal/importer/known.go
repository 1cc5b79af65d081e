package importer

import (
	"database/sql"
	"errors"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/list"
	"github.com/pocketbase/pocketbase/tools/types"
)

// supporterView is what a row's write reads and sets of a supporter: the
// supporter's record, or a known (the few columns the rules read).
type supporterView interface {
	GetString(field string) string
	GetStringSlice(field string) []string
	GetDateTime(field string) types.DateTime
	Set(field string, value any)
}

// known is an existing supporter as every batch reads it: only the columns
// the rules read, so a re-import (where almost every row changes nothing)
// needn't build each supporter's whole record. A row is first decided on
// it; when the row would change something, or read any other column, the
// decision is dropped and made again on the record (see write.probe).
type known struct {
	email, status, first, last, postcode, address, source, notes, topics, unsubscribedAt string
	tags                                                                                 types.JSONRaw
	dirty, unread                                                                        bool
}

// knownColumns are read in known's order.
const knownColumns = "[[email]], [[status]], [[first_name]], [[last_name]], [[postcode]], [[address]], [[source]], [[notes]], [[topics]], [[unsubscribed_at]], [[tags]]"

// findKnown reads the supporters matching where, by address.
func findKnown(tx core.App, table string, where dbx.Expression) (map[string]*known, error) {
	rows, err := tx.DB().Select(knownColumns).From(table).Where(where).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*known{}
	for rows.Next() {
		k := &known{}
		var tags sql.NullString
		if err := rows.Scan(&k.email, &k.status, &k.first, &k.last, &k.postcode, &k.address, &k.source, &k.notes, &k.topics, &k.unsubscribedAt, &tags); err != nil {
			return nil, err
		}
		if tags.Valid {
			k.tags = types.JSONRaw(tags.String)
		}
		out[k.email] = k
	}
	return out, rows.Err()
}

// The getters give what the record's would (as PocketBase loads each field).

func (k *known) GetString(field string) string {
	switch field {
	case "email":
		return k.email
	case "status":
		return k.status
	case "first_name":
		return k.first
	case "last_name":
		return k.last
	case "postcode":
		return k.postcode
	case "address":
		return k.address
	case "source":
		return k.source
	case "notes":
		return k.notes
	}
	k.unread = true
	return ""
}

func (k *known) GetStringSlice(field string) []string {
	switch field {
	case "topics":
		return list.ToUniqueStringSlice(k.topics)
	case "tags":
		return list.ToUniqueStringSlice(k.tags)
	}
	k.unread = true
	return nil
}

func (k *known) GetDateTime(field string) types.DateTime {
	if field == "unsubscribed_at" {
		d, _ := types.ParseDateTime(k.unsubscribedAt)
		return d
	}
	k.unread = true
	return types.DateTime{}
}

// Set only notes that the row changes the supporter.
func (k *known) Set(string, any) { k.dirty = true }

// errNeedsRecord stops a decision made on a known where it would write.
var errNeedsRecord = errors.New("the supporter's record is needed")

// record is the view's record, or errNeedsRecord for a known.
func record(v supporterView) (*core.Record, error) {
	if r, ok := v.(*core.Record); ok {
		return r, nil
	}
	return nil, errNeedsRecord
}

// probe decides the row on what the batch read of its supporter, into a
// delta of its own (added to the batch's by the caller). ok is false when
// the row changes something or reads another column: then nothing it did
// counts, and the row is applied to the supporter's record instead.
func (w *write) probe(k *known) (d *delta, ok bool) {
	d = &delta{skipped: map[string]int{}}
	w.d = d
	if err := w.change(k); err != nil || k.dirty || k.unread {
		return nil, false
	}
	return d, true
}

// add counts another delta's effect in d.
func (d *delta) add(o *delta) {
	d.created += o.created
	d.updated += o.updated
	d.unchanged += o.unchanged
	d.confirmations += o.confirmations
	for k, v := range o.skipped {
		d.skipped[k] += v
	}
	for _, p := range o.warnings {
		d.warnings.Add(p.Line, p.Reason)
	}
}
