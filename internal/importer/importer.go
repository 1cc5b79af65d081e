// Package importer loads supporters from a CSV file: addresses normalised and
// matched to existing supporters (updated, never duplicated), suppressed
// addresses skipped, consent evidence recorded, every bad row reported by
// line while the good rows go in. The file is streamed and written in
// batched transactions, so memory stays flat and a re-run changes nothing.
package importer

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/csvio"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// Importer imports supporter files into App.
type Importer struct {
	App core.App
	// Signup records consent rows and sends confirmations as the web flows do.
	Signup *signup.Service
	Now    func() time.Time
}

// Options are the admin's choices for one import.
type Options struct {
	// Confirm emails a confirmation link to rows imported as pending (never
	// twice to one address); without it they are stored and not mailed.
	Confirm bool
	// Progress, when set, is told how many bytes of the file are done.
	Progress func(done, total int64)
	// BatchSize is the rows written per transaction (default 1000).
	BatchSize int
}

// Report says what an import did.
type Report struct {
	Rows          int            `json:"rows"`
	Created       int            `json:"created"`
	Updated       int            `json:"updated"`
	Unchanged     int            `json:"unchanged"`
	Skipped       map[string]int `json:"skipped"`
	Confirmations int            `json:"confirmations_sent"`
	ErrorCount    int            `json:"error_count"`
	Errors        csvio.Problems `json:"errors"`
	Warnings      csvio.Problems `json:"warnings"`
	Ignored       []string       `json:"ignored_columns"`
}

func (rep *Report) fail(line int, err error) {
	rep.ErrorCount++
	rep.Errors.Add(line, err.Error())
}

func (rep *Report) skip(reason string) { rep.Skipped[reason]++ }

// Skip reasons, as the report counts them.
const (
	SkipSuppressed   = "suppressed"
	SkipDuplicate    = "duplicate in file"
	SkipUnsubscribed = "unsubscribed since the consent given"
)

// Supporters imports a supporter file. It checks the whole file is UTF-8
// before writing anything (so it needs to seek back), then streams it. A
// returned *csvio.FileError means the file was refused whole and nothing
// changed; any other error means the database failed, and the report says
// how far it got.
func (im *Importer) Supporters(f io.ReadSeeker, opts Options) (Report, error) {
	rep := Report{Skipped: map[string]int{}, Errors: csvio.Problems{}, Warnings: csvio.Problems{}}
	total, err := Check(f)
	if err != nil {
		return rep, err
	}
	counted := &countingReader{r: f}
	rd, err := csvio.NewReader(counted, Columns, aliases, "email")
	if err != nil {
		return rep, err
	}
	rep.Ignored = rd.Unknown()
	topics, err := im.topics()
	if err != nil {
		return rep, err
	}
	restore, err := im.limitCache()
	if err != nil {
		return rep, err
	}
	defer restore()
	size := opts.BatchSize
	if size <= 0 {
		size = 1000
	}
	b := &batch{im: im, opts: opts, rep: &rep, seen: map[uint64]int32{}, seed: maphash.MakeSeed(), slug: map[string]string{}, ids: newIDs()}
	for slug, id := range topics {
		b.slug[id] = slug
	}
	now := im.Now()
	for {
		in, err := rd.Next()
		if err == io.EOF {
			break
		}
		var rowErr *csvio.RowError
		if errors.As(err, &rowErr) {
			rep.Rows++
			rep.fail(rowErr.Line, rowErr.Err)
			continue
		}
		if err != nil {
			return rep, err
		}
		rep.Rows++
		r, err := parse(in, topics, now)
		if err != nil {
			rep.fail(in.Line, err)
			continue
		}
		if first, dup := b.seen[b.key(r.email)]; dup {
			rep.skip(SkipDuplicate)
			rep.Warnings.Add(r.line, fmt.Sprintf("%s is also on line %d; this row was skipped", r.email, first))
			continue
		}
		b.seen[b.key(r.email)] = int32(r.line)
		b.rows = append(b.rows, r)
		if len(b.rows) >= size {
			if err := b.flush(); err != nil {
				return rep, err
			}
			if opts.Progress != nil {
				opts.Progress(counted.n, total)
			}
		}
	}
	if err := b.flush(); err != nil {
		return rep, err
	}
	if opts.Progress != nil {
		opts.Progress(total, total)
	}
	if rep.Confirmations > 0 && im.Signup.Notify != nil {
		im.Signup.Notify()
	}
	return rep, nil
}

// Check reads a supporter file as Supporters does before it writes
// anything: the whole file must be UTF-8, with a header row naming an
// email column. A *csvio.FileError says why it can't be imported. It
// returns the file's size and leaves f at its start, so a caller can refuse
// a file at once and import it later (the console does, in the background).
func Check(f io.ReadSeeker) (int64, error) {
	total, err := csvio.CheckUTF8(f)
	if err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	if _, err := csvio.NewReader(f, Columns, aliases, "email"); err != nil {
		return 0, err
	}
	_, err = f.Seek(0, io.SeekStart)
	return total, err
}

// topics maps every topic's slug to its id; admins may import into private
// topics too.
func (im *Importer) topics() (map[string]string, error) {
	recs, err := im.App.FindAllRecords(vocab.Topics)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(recs))
	for _, t := range recs {
		m[t.GetString("slug")] = t.Id
	}
	return m, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// importCacheKB is the page cache the import's connection keeps. PocketBase
// gives every connection 32 MB, which a large import fills (SQLite's cache
// lives outside the Go heap): at 100,000 rows that was 45 of the binary's
// 107 MB peak RSS. With 8 MB the import took the same CPU time (the
// operating system still caches the file); with 2 MB system time rose by
// half.
const importCacheKB = 8000

// limitCache sets the page cache of the connection every batch writes on
// (PocketBase's one non-concurrent connection) to importCacheKB, and returns
// what puts it back, so the server's writes keep their cache after an
// import through the API. What it puts back is what a reading connection
// has, every connection's setting, so two imports at once can't leave the
// cap behind. The cache's size changes nothing that is stored.
func (im *Importer) limitCache() (restore func(), err error) {
	var was int
	if err := im.App.ConcurrentDB().NewQuery("PRAGMA cache_size").Row(&was); err != nil {
		return nil, err
	}
	db := im.App.NonconcurrentDB()
	if _, err := db.NewQuery(fmt.Sprintf("PRAGMA cache_size = -%d", importCacheKB)).Execute(); err != nil {
		return nil, err
	}
	return func() { _, _ = db.NewQuery(fmt.Sprintf("PRAGMA cache_size = %d", was)).Execute() }, nil
}
