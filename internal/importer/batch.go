package importer

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/csvio"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// batch is the rows read since the last write, and what the import has
// seen so far (to skip an address the file gives twice).
type batch struct {
	im   *Importer
	opts Options
	rep  *Report
	rows []*row
	seen map[uint64]int32 // address hash → first line (about 50 bytes an address)
	seed maphash.Seed
	slug map[string]string // topic id → slug
	ids  *ids              // for the records the import creates
}

func (b *batch) slugs(topicIDs []string) []string {
	out := make([]string, 0, len(topicIDs))
	for _, id := range topicIDs {
		out = append(out, b.slug[id])
	}
	return out
}

func (b *batch) key(email string) uint64 { return maphash.String(b.seed, email) }

// delta is one transaction's effect, added to the report once it commits.
type delta struct {
	created, updated, unchanged, confirmations int
	skipped                                    map[string]int
	warnings                                   csvio.Problems
}

// flush writes the batch in one transaction. What it reads (existing
// supporters, suppressions, confirmations already sent) is read inside the
// transaction, so a signup arriving meanwhile can't make it insert twice.
func (b *batch) flush() error {
	if len(b.rows) == 0 {
		return nil
	}
	emails := make([]string, len(b.rows))
	hashes := make([]string, len(b.rows))
	for i, r := range b.rows {
		emails[i], hashes[i] = r.email, signup.HashEmail(r.email)
	}
	inEmails, err := oneOf("email", emails)
	if err != nil {
		return err
	}
	inHashes, err := oneOf("email_hash", hashes)
	if err != nil {
		return err
	}
	var d delta
	err = b.im.App.RunInTransaction(func(tx core.App) error {
		d = delta{skipped: map[string]int{}}
		ins := newInserter(tx, b.ids)
		defer ins.close()
		known, err := findKnown(tx, vocab.Supporters, inEmails)
		if err != nil {
			return err
		}
		var suppressed, invited []string
		if err := tx.DB().Select("email_hash").From(vocab.Suppressions).Where(inHashes).Column(&suppressed); err != nil {
			return err
		}
		if b.opts.Confirm {
			inTo, err := oneOf("to", emails)
			if err != nil {
				return err
			}
			if err := tx.DB().Select("to").From(vocab.Outbox).
				Where(dbx.And(dbx.HashExp{"kind": vocab.KindConfirm}, inTo)).Column(&invited); err != nil {
				return err
			}
		}
		isSuppressed, isInvited := setOf(suppressed), setOf(invited)
		// Rows of known supporters are decided on what was read; only those
		// that change something need the supporter's record.
		decided := make([]*delta, len(b.rows))
		var needed []string
		for i, r := range b.rows {
			if k := known[r.email]; k != nil && !isSuppressed[hashes[i]] {
				w := &write{b: b, tx: tx, r: r, invited: isInvited[r.email]}
				var ok bool
				if decided[i], ok = w.probe(k); !ok {
					needed = append(needed, r.email)
				}
			}
		}
		byEmail := map[string]*core.Record{}
		if len(needed) > 0 {
			inNeeded, err := oneOf("email", needed)
			if err != nil {
				return err
			}
			recs, err := tx.FindAllRecords(vocab.Supporters, inNeeded)
			if err != nil {
				return err
			}
			for _, s := range recs {
				byEmail[s.GetString("email")] = s
			}
		}
		for i, r := range b.rows {
			if isSuppressed[hashes[i]] {
				d.skipped[SkipSuppressed]++
				continue
			}
			if decided[i] != nil {
				d.add(decided[i])
				continue
			}
			w := &write{b: b, tx: tx, ins: ins, r: r, d: &d, invited: isInvited[r.email]}
			if err := w.apply(byEmail[r.email]); err != nil {
				return fmt.Errorf("line %d: %w", r.line, err)
			}
		}
		return nil
	})
	b.rows = b.rows[:0]
	if err != nil {
		return err
	}
	b.rep.Created += d.created
	b.rep.Updated += d.updated
	b.rep.Unchanged += d.unchanged
	b.rep.Confirmations += d.confirmations
	for k, v := range d.skipped {
		b.rep.Skipped[k] += v
	}
	for _, w := range d.warnings {
		b.rep.Warnings.Add(w.Line, w.Reason)
	}
	return nil
}

// write applies one row inside the batch's transaction.
type write struct {
	b       *batch
	tx      core.App
	ins     *inserter
	r       *row
	d       *delta
	invited bool // a confirmation has gone to this address before
}

// apply writes the row: a new supporter, or changes to sup.
func (w *write) apply(sup *core.Record) error {
	if sup == nil {
		return w.create()
	}
	return w.change(sup)
}

// change applies the row to an existing supporter. Decided on a known,
// it stops with errNeedsRecord where it would write.
func (w *write) change(sup supporterView) error {
	r := w.r
	status := sup.GetString("status")
	switch status {
	case vocab.StatusErased, vocab.StatusComplained:
		w.d.skipped[SkipSuppressed]++
		return nil
	}
	changed := w.details(sup)
	var then func(*core.Record) error // consent rows and mail, once the supporter is saved
	switch {
	case r.status == vocab.StatusUnsubscribed:
		if status == vocab.StatusPending || status == vocab.StatusSubscribed {
			rec, err := record(sup)
			if err != nil {
				return err
			}
			w.d.updated++
			return w.b.im.Signup.Withdraw(w.tx, rec)
		}
	case r.consented():
		switch status {
		case vocab.StatusSubscribed:
			if added := w.addTopics(sup); len(added) > 0 {
				changed = true
				then = func(rec *core.Record) error { return w.consent(rec, added) }
			}
		case vocab.StatusPending, vocab.StatusUnsubscribed:
			if status == vocab.StatusUnsubscribed && !r.givenAt.After(sup.GetDateTime("unsubscribed_at").Time()) {
				w.d.skipped[SkipUnsubscribed]++
				return nil
			}
			w.addTopics(sup)
			sup.Set("status", vocab.StatusSubscribed)
			sup.Set("confirmed_at", r.givenAt)
			changed = true
			then = func(rec *core.Record) error { return w.consent(rec, rec.GetStringSlice("topics")) }
		}
	default:
		switch status {
		case vocab.StatusPending:
			if len(w.addTopics(sup)) > 0 {
				changed = true
			}
			if w.b.opts.Confirm && !w.invited {
				then = w.invite
			}
		case vocab.StatusSubscribed:
			if added := missing(sup.GetStringSlice("topics"), r.topicIDs); len(added) > 0 {
				w.d.warnings.Add(r.line, fmt.Sprintf("%s is subscribed; topics were not added without consent evidence (consent_source, consent_date)", r.email))
			}
		}
	}
	if !changed && then == nil {
		w.d.unchanged++
		return nil
	}
	rec, err := record(sup)
	if err != nil {
		return err
	}
	if changed {
		w.d.updated++
		if err := w.tx.SaveNoValidate(rec); err != nil {
			return err
		}
	} else {
		w.d.unchanged++
	}
	if then != nil {
		return then(rec)
	}
	return nil
}

// create stores a new supporter: subscribed with evidence, unsubscribed when
// the file says so, otherwise pending (and invited to confirm if asked).
func (w *write) create() error {
	r := w.r
	col, err := w.tx.FindCachedCollectionByNameOrId(vocab.Supporters)
	if err != nil {
		return err
	}
	sup := core.NewRecord(col)
	sup.Set("email", r.email)
	sup.Set("source", "import")
	sup.Set("topics", r.topicIDs)
	sup.Set("status", vocab.StatusPending)
	w.details(sup)
	if r.consented() {
		sup.Set("status", vocab.StatusSubscribed)
		sup.Set("confirmed_at", r.givenAt)
	}
	if err := w.ins.insert(sup); err != nil {
		return err
	}
	w.d.created++
	switch {
	case r.status == vocab.StatusUnsubscribed:
		return w.b.im.Signup.Withdraw(w.tx, sup)
	case r.consented():
		return w.consent(sup, r.topicIDs)
	case w.b.opts.Confirm:
		return w.invite(sup)
	}
	return nil
}

// details copies the row's non-empty details onto the supporter and reports
// whether anything changed. Tags are added, never removed; notes are added
// once, never overwritten (staff may have written some).
func (w *write) details(sup supporterView) bool {
	r := w.r
	changed := false
	set := func(field, v string, given bool) {
		if given && v != "" && sup.GetString(field) != v {
			sup.Set(field, v)
			changed = true
		}
	}
	set("first_name", r.first, r.hasFirst)
	set("last_name", r.last, r.hasLast)
	set("postcode", r.postcode, true)
	set("address", r.address, true)
	set("source", r.source, sup.GetString("source") == "")
	if notes := sup.GetString("notes"); r.notes != "" && !strings.Contains(notes, r.notes) {
		sup.Set("notes", strings.TrimSpace(notes+"\n"+r.notes))
		changed = true
	}
	tags := sup.GetStringSlice("tags")
	if add := missing(tags, r.tags); len(add) > 0 {
		sup.Set("tags", append(tags, add...))
		changed = true
	}
	return changed
}

// addTopics gives the supporter the row's topics and returns those added.
func (w *write) addTopics(sup supporterView) []string {
	have := sup.GetStringSlice("topics")
	added := missing(have, w.r.topicIDs)
	if len(added) > 0 {
		sup.Set("topics", append(have, added...))
	}
	return added
}

func (w *write) consent(sup *core.Record, topicIDs []string) error {
	rec, err := signup.ImportedConsent(w.tx, sup, topicIDs, w.b.slugs(topicIDs), w.r.evidence, w.r.givenAt, w.r.wording)
	if err != nil {
		return err
	}
	return w.ins.insert(rec)
}

func (w *write) invite(sup *core.Record) error {
	w.d.confirmations++
	topics := sup.GetStringSlice("topics")
	return w.b.im.Signup.Invite(w.tx, sup, topics, w.b.slugs(topics))
}

// missing lists the values of want not in have.
func missing(have, want []string) []string {
	var out []string
	for _, v := range want {
		if !slices.Contains(have, v) {
			out = append(out, v)
		}
	}
	return out
}

// oneOf is the condition "col is one of vs", with vs bound as one JSON
// array that SQLite unpacks with json_each (the column's index still
// serves the lookup). A batch's thousand values as a thousand parameters
// cost far more: the sqlite driver matches each parameter to its argument
// by a linear search, so binding is quadratic in their number.
func oneOf(col string, vs []string) (dbx.Expression, error) {
	list, err := json.Marshal(vs)
	if err != nil {
		return nil, err
	}
	name := "in_" + col
	return dbx.NewExp("[["+col+"]] IN (SELECT [[value]] FROM json_each({:"+name+"}))", dbx.Params{name: string(list)}), nil
}

func setOf(vs []string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}
