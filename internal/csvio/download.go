package csvio

import (
	"fmt"
	"io"
	"net/http"
	"time"
)

// Download streams a CSV file to w as an attachment named
// "name-YYYY-MM-DD.csv", never cached (exports hold personal data). The
// headers go out with the first byte, so write can still refuse before
// writing anything (a bad filter, say): then Download returns its error
// with sent false and w untouched, for the caller to answer. Once bytes
// are sent, an error can only cut the download short; sent says so.
func Download(w http.ResponseWriter, name string, write func(io.Writer) (int, error)) (n int, sent bool, err error) {
	lw := &lazyWriter{w: w, name: name}
	n, err = write(lw)
	return n, lw.started, err
}

// lazyWriter sets the download's headers on the first write.
type lazyWriter struct {
	w       http.ResponseWriter
	name    string
	started bool
}

func (l *lazyWriter) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		h := l.w.Header()
		h.Set("Content-Type", "text/csv; charset=utf-8")
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, l.name, time.Now().UTC().Format("2006-01-02")))
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
	}
	return l.w.Write(p)
}
