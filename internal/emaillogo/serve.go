package emaillogo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"sync"
	"time"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/filesystem"

	"supportercrm/internal/vocab"
)

// maxUpload bounds what is read of an uploaded logo (the field allows 2 MB).
const maxUpload = 8 << 20

// Logo serves the email logo (GET charity.EmailLogoPath). The PNG drawn
// from an upload is kept until the upload changes (PocketBase gives every
// upload a new file name).
type Logo struct {
	App core.App
	// Static is the static/ tree (built-in, or overridden) whose logo.png
	// is the logo when the charity has uploaded none.
	Static fs.FS

	mu   sync.Mutex
	key  string // the upload that png was drawn from
	png  []byte
	etag string // png's ETag, so a cached logo is not hashed per request
}

// Serve answers with the logo as image/png, cacheable for an hour.
func (l *Logo) Serve(e *core.RequestEvent) error {
	data, etag, err := l.current()
	if err != nil {
		return err
	}
	h := e.Response.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("ETag", etag)
	http.ServeContent(e.Response, e.Request, "logo.png", time.Time{}, bytes.NewReader(data))
	return nil
}

// current is the PNG of the charity's uploaded logo, or the built-in one,
// with its ETag. An upload that can't be drawn (Validate refuses those, but
// one saved before, or a file gone from storage) falls back to the built-in
// logo.
func (l *Logo) current() (data []byte, etag string, err error) {
	recs, err := l.App.FindRecordsByFilter(vocab.Charity, "", "created", 1, 0)
	if err != nil {
		return nil, "", err
	}
	if len(recs) == 0 || recs[0].GetString("logo") == "" {
		if data, err = fs.ReadFile(l.Static, "logo.png"); err != nil {
			return nil, "", err
		}
		return data, etagOf(data), nil
	}
	name := recs[0].GetString("logo")
	key := recs[0].BaseFilesPath() + "/" + name
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.key == key {
		return l.png, l.etag, nil
	}
	data, err = l.draw(key, name)
	if err != nil {
		l.App.Logger().Warn("the charity's logo can't be drawn for email; using the built-in one", "file", name, "error", err.Error())
		if data, err = fs.ReadFile(l.Static, "logo.png"); err != nil {
			return nil, "", err
		}
	}
	l.key, l.png, l.etag = key, data, etagOf(data)
	return l.png, l.etag, nil
}

// etagOf is the quoted ETag the logo is served with.
func etagOf(png []byte) string {
	sum := sha256.Sum256(png)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (l *Logo) draw(key, name string) ([]byte, error) {
	fsys, err := l.App.NewFilesystem()
	if err != nil {
		return nil, err
	}
	defer fsys.Close()
	r, err := fsys.GetReader(key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxUpload))
	if err != nil {
		return nil, err
	}
	return Render(name, data)
}

// BindValidation refuses, on the charity record's logo field, an upload
// that can't be drawn for email, saying why (the dashboard shows it on
// the field), so the charity never finds out from a blank email.
func BindValidation(app core.App) {
	app.OnRecordValidate(vocab.Charity).BindFunc(func(e *core.RecordEvent) error {
		for _, f := range e.Record.GetUnsavedFiles("logo") {
			if err := check(f); err != nil {
				return validation.Errors{"logo": validation.NewError("validation_logo_unusable", err.Error())}
			}
		}
		return e.Next()
	})
}

func check(f *filesystem.File) error {
	r, err := f.Reader.Open()
	if err != nil {
		return err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxUpload))
	if err != nil {
		return err
	}
	_, err = Render(f.OriginalName, data)
	return err
}
