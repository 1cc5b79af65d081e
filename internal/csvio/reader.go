// Package csvio reads and writes the CSV files admins exchange with
// spreadsheets and payment providers: a header row naming the columns, a BOM
// from Excel, Windows line endings, quoted fields with commas and newlines.
// It knows nothing of PocketBase; the importers and exporters build on it.
package csvio

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// ErrNotUTF8 is the error for a file in another encoding (Excel's plain
// "CSV" is Windows-1252); it names the first line that isn't UTF-8.
var ErrNotUTF8 = errors.New(`the file isn't UTF-8 text; in Excel, save it as "CSV UTF-8 (Comma delimited)"`)

// CheckUTF8 reads r to the end and reports the first line that isn't valid
// UTF-8, as a *FileError. Importers call it before writing anything, so a
// file in the wrong encoding changes nothing. It returns the bytes read.
func CheckUTF8(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	line := 1
	for {
		c, size, err := br.ReadRune()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if c == utf8.RuneError && size == 1 {
			return n, &FileError{fmt.Errorf("line %d: %w", line, ErrNotUTF8)}
		}
		if c == '\n' {
			line++
		}
		n += int64(size)
	}
}

// Reader yields the records of a CSV file with a header row. Header names
// are matched loosely: case, spaces and dashes don't matter ("E-mail
// Address" is email_address), and aliases map other names onto the ones a
// caller knows.
type Reader struct {
	r       *csv.Reader
	cols    map[string]int
	unknown []string
	width   int
}

// Row is one record: its line in the file (where it starts, for fields with
// newlines in them) and its values by column name.
type Row struct {
	Line   int
	fields []string
	cols   map[string]int
}

// Get returns the trimmed value of a column, "" when the file has no such
// column. A cell that Safe guarded is read back as it was, so our exports
// import unchanged.
func (r Row) Get(name string) string {
	i, ok := r.cols[name]
	if !ok || i >= len(r.fields) {
		return ""
	}
	v := strings.TrimSpace(r.fields[i])
	if len(v) > 1 && v[0] == '\'' && Safe(v[1:]) != v[1:] {
		return v[1:]
	}
	return v
}

// RowError is a record that can't be read (a stray quote, a wrong number of
// fields); the reader goes on with the next one.
type RowError struct {
	Line int
	Err  error
}

func (e *RowError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *RowError) Unwrap() error { return e.Err }

// NewReader reads the header row. known lists the column names the caller
// uses, aliases maps further names onto them; required must all be present
// (else a *FileError). Other columns are ignored and listed by Unknown.
func NewReader(r io.Reader, known []string, aliases map[string]string, required ...string) (*Reader, error) {
	cr := csv.NewReader(stripBOM(r))
	cr.FieldsPerRecord = -1 // ragged rows are reported per row, not fatal
	cr.ReuseRecord = true
	header, err := cr.Read()
	var pe *csv.ParseError
	switch {
	case err == io.EOF:
		return nil, &FileError{errors.New("the file is empty: it needs a header row naming the columns")}
	case errors.As(err, &pe):
		return nil, &FileError{fmt.Errorf("the header row can't be read: %w", err)}
	case err != nil:
		return nil, err
	}
	rd := &Reader{r: cr, cols: map[string]int{}, width: len(header)}
	for i, h := range header {
		name := Normalize(h)
		if a, ok := aliases[name]; ok {
			name = a
		}
		if name == "" {
			continue
		}
		if _, dup := rd.cols[name]; dup {
			return nil, &FileError{fmt.Errorf("the header row names the column %q twice", name)}
		}
		rd.cols[name] = i
		if !slices.Contains(known, name) {
			rd.unknown = append(rd.unknown, strings.TrimSpace(h))
		}
	}
	var missing []string
	for _, c := range required {
		if _, ok := rd.cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, &FileError{fmt.Errorf("the header row has no %s column (it names: %s)", strings.Join(missing, ", "), strings.Join(header, ", "))}
	}
	return rd, nil
}

// Normalize is how header names are compared: lower case, trimmed, with
// spaces and dashes as underscores.
func Normalize(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.NewReplacer(" ", "_", "-", "_").Replace(h)
}

// Has reports whether the file has a column.
func (rd *Reader) Has(name string) bool { _, ok := rd.cols[name]; return ok }

// Unknown lists the header's columns the caller doesn't use, as written.
func (rd *Reader) Unknown() []string { return rd.unknown }

// Next returns the next record, io.EOF at the end, a *RowError for a record
// that can't be read (call Next again), or another error for a failed read.
// The row's values are valid until the next call.
func (rd *Reader) Next() (Row, error) {
	for {
		rec, err := rd.r.Read()
		var pe *csv.ParseError
		switch {
		case err == io.EOF:
			return Row{}, io.EOF
		case errors.As(err, &pe):
			return Row{}, &RowError{Line: pe.StartLine, Err: pe.Err}
		case err != nil:
			return Row{}, err
		}
		line, _ := rd.r.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line (csv skips empty ones; this one has spaces)
		}
		if len(rec) != rd.width {
			return Row{}, &RowError{Line: line, Err: fmt.Errorf("it has %d fields but the header has %d", len(rec), rd.width)}
		}
		for _, f := range rec {
			if !utf8.ValidString(f) {
				return Row{}, fmt.Errorf("line %d: %w", line, ErrNotUTF8)
			}
		}
		return Row{Line: line, fields: rec, cols: rd.cols}, nil
	}
}

// stripBOM drops a UTF-8 byte order mark at the start (Excel writes one).
func stripBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	return br
}
