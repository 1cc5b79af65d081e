package csvio

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
	"testing"
)

func readAll(t *testing.T, rd *Reader) (rows []map[string]string, lines []int, bad []string) {
	t.Helper()
	for {
		row, err := rd.Next()
		if err == io.EOF {
			return
		}
		var re *RowError
		if errors.As(err, &re) {
			bad = append(bad, re.Error())
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, map[string]string{"email": row.Get("email"), "first_name": row.Get("first_name"), "notes": row.Get("notes")})
		lines = append(lines, row.Line)
	}
}

func TestReaderHandlesWhatSpreadsheetsWrite(t *testing.T) {
	in := "\ufeffE-mail Address,First Name,Notes,Shoe size\r\n" +
		"a@example.org,Ann,\"likes, commas\",5\r\n" +
		"\r\n" +
		"b@example.org,Bob,\"two\r\nlines\",6\r\n" +
		"c@example.org,Cat\r\n" +
		"d@example.org,\"Dee \"\"D\"\"\",,7\r\n"
	rd, err := NewReader(strings.NewReader(in), []string{"email", "first_name", "notes"}, map[string]string{"e_mail_address": "email"}, "email")
	if err != nil {
		t.Fatal(err)
	}
	if got := rd.Unknown(); len(got) != 1 || got[0] != "Shoe size" {
		t.Errorf("unknown columns = %q, want [Shoe size]", got)
	}
	rows, lines, bad := readAll(t, rd)
	if len(rows) != 3 {
		t.Fatalf("rows = %v", rows)
	}
	if rows[0]["notes"] != "likes, commas" || rows[1]["notes"] != "two\r\nlines" && rows[1]["notes"] != "two\nlines" || rows[2]["first_name"] != `Dee "D"` {
		t.Errorf("values = %v", rows)
	}
	if want := []int{2, 4, 7}; lines[0] != want[0] || lines[1] != want[1] || lines[2] != want[2] {
		t.Errorf("lines = %v, want %v", lines, want)
	}
	if len(bad) != 1 || !strings.HasPrefix(bad[0], "line 6:") {
		t.Errorf("bad rows = %q, want line 6 (too few fields)", bad)
	}
}

func TestReaderGoesOnAfterAStrayQuote(t *testing.T) {
	in := "email\na@example.org\nb\"@example.org\nc@example.org\n"
	rd, err := NewReader(strings.NewReader(in), []string{"email"}, nil, "email")
	if err != nil {
		t.Fatal(err)
	}
	rows, _, bad := readAll(t, rd)
	if len(rows) != 2 || len(bad) != 1 || !strings.HasPrefix(bad[0], "line 3:") {
		t.Errorf("rows %v, bad %q", rows, bad)
	}
}

func TestHeaderProblemsAreClear(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "empty",
		"name,postcode\nAnn,LS1\n": "no email column",
		"email,Email\n":            "twice",
	} {
		_, err := NewReader(strings.NewReader(in), []string{"email", "name", "postcode"}, nil, "email")
		var fe *FileError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want a FileError mentioning %q", in, err, want)
		}
	}
}

func TestCheckUTF8NamesTheLine(t *testing.T) {
	latin1 := "email,first_name\r\na@example.org,Ann\r\nb@example.org,Ren\xe9e\r\n"
	_, err := CheckUTF8(strings.NewReader(latin1))
	var fe *FileError
	if !errors.Is(err, ErrNotUTF8) || !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "line 3:") {
		t.Fatalf("err = %v", err)
	}
	n, err := CheckUTF8(strings.NewReader("email\nrenée@example.org 🎉\n"))
	if err != nil || n != int64(len("email\nrenée@example.org 🎉\n")) {
		t.Fatalf("n, err = %d, %v", n, err)
	}
}

func TestWriterNeutralisesFormulas(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, "a", "b")
	if err != nil {
		t.Fatal(err)
	}
	cells := []string{"=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "", "a=b"}
	for _, c := range cells {
		if err := w.Write(c, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\ufeffa,b\r\n")) {
		t.Fatalf("no BOM or CRLF header: %q", buf.String()[:10])
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes()[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(bytes.NewReader(buf.Bytes()), []string{"a", "b"}, nil, "a")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells[:5] {
		row, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		if got := row.Get("a"); got != c {
			t.Errorf("cell %q reads back as %q", c, got)
		}
	}
	// With CRLF line endings encoding/csv drops a lone CR; the apostrophe stays.
	want := []string{"'=HYPERLINK(\"http://x\")", "'+1", "'-2+3", "'@SUM(A1)", "'\tx", "'x", "plain", "", "a=b"}
	for i, c := range want {
		if got := recs[i+1][0]; got != c {
			t.Errorf("cell %q written as %q, want %q", cells[i], got, c)
		}
	}
}
