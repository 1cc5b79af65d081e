package csvio_test

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"supportercrm/internal/csvio"
)

func TestDownloadSetsHeadersOnlyOnceItWrites(t *testing.T) {
	refused := errors.New("bad filter")
	rec := httptest.NewRecorder()
	_, sent, err := csvio.Download(rec, "supporters", func(io.Writer) (int, error) { return 0, refused })
	if !errors.Is(err, refused) || sent || rec.Header().Get("Content-Disposition") != "" || rec.Body.Len() != 0 {
		t.Errorf("refused before writing: sent %v err %v headers %v", sent, err, rec.Header())
	}

	rec = httptest.NewRecorder()
	n, sent, err := csvio.Download(rec, "supporters", func(w io.Writer) (int, error) {
		cw, err := csvio.NewWriter(w, "email")
		if err != nil {
			return 0, err
		}
		if err := cw.Write("=cmd()"); err != nil {
			return 0, err
		}
		return 1, cw.Flush()
	})
	if err != nil || !sent || n != 1 {
		t.Fatalf("download: n %d sent %v err %v", n, sent, err)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "text/csv; charset=utf-8" || h.Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(h.Get("Content-Disposition"), `attachment; filename="supporters-`) {
		t.Errorf("headers: %v", h)
	}
	if !strings.Contains(rec.Body.String(), "'=cmd()") {
		t.Errorf("body: %q", rec.Body.String())
	}
}
