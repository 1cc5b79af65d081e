package csvio

import (
	"encoding/csv"
	"io"
)

// Writer writes CSV for spreadsheets: a UTF-8 BOM so Excel reads accents
// right, CRLF line endings, and every cell guarded against formula injection.
type Writer struct {
	w   *csv.Writer
	row []string
}

// NewWriter writes the BOM and the header row.
func NewWriter(w io.Writer, header ...string) (*Writer, error) {
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return nil, err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	out := &Writer{w: cw}
	return out, out.Write(header...)
}

// Write writes one record. Cells are neutralised with Safe.
func (w *Writer) Write(cells ...string) error {
	w.row = w.row[:0]
	for _, c := range cells {
		w.row = append(w.row, Safe(c))
	}
	return w.w.Write(w.row)
}

// Flush writes what is buffered and reports any write error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}

// Safe neutralises a cell that a spreadsheet would run as a formula: one
// that begins with =, +, -, @, a tab or a carriage return gets a leading
// apostrophe, which spreadsheets show as text (OWASP's CSV injection advice).
// Supporter data is typed by strangers on a web form, so every cell of every
// export goes through here.
func Safe(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}
