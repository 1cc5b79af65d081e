package fbsync

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Webhook receives Meta's Page webhooks. A change to the Page's feed only
// prompts a sync soon; the sync (the poll) stays the source of truth, so a
// lost or forged delivery can neither add nor remove an event.
type Webhook struct {
	VerifyToken string // FACEBOOK_VERIFY_TOKEN: Meta echoes it when subscribing
	AppSecret   string // FACEBOOK_APP_SECRET: signs each delivery
	Trigger     func() // called for feed changes about posts or events
}

// maxPayload bounds a delivery; Meta's are a few kilobytes.
const maxPayload = 1 << 20

// Verify answers Meta's subscription handshake (GET): it echoes
// hub.challenge when hub.verify_token matches.
func (w *Webhook) Verify(e *core.RequestEvent) error {
	q := e.Request.URL.Query()
	if w.VerifyToken == "" {
		return e.NotFoundError("The Facebook webhook is not configured (FACEBOOK_VERIFY_TOKEN).", nil)
	}
	if q.Get("hub.mode") != "subscribe" || subtle.ConstantTimeCompare([]byte(q.Get("hub.verify_token")), []byte(w.VerifyToken)) != 1 {
		return e.ForbiddenError("The verify token doesn't match.", nil)
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" || len(challenge) > 200 || strings.ContainsAny(challenge, "<>\"'&") {
		return e.BadRequestError("Missing or invalid hub.challenge.", nil)
	}
	e.Response.Header().Set("X-Content-Type-Options", "nosniff")
	return e.String(http.StatusOK, challenge)
}

// Receive handles a delivery (POST): the X-Hub-Signature-256 header must be
// the HMAC-SHA256 of the raw body under the app secret.
func (w *Webhook) Receive(e *core.RequestEvent) error {
	if w.AppSecret == "" {
		return e.NotFoundError("The Facebook webhook is not configured (FACEBOOK_APP_SECRET).", nil)
	}
	body, err := io.ReadAll(io.LimitReader(e.Request.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		return e.BadRequestError("The payload could not be read.", nil)
	}
	if !w.signed(e.Request.Header.Get("X-Hub-Signature-256"), body) {
		return e.UnauthorizedError("Invalid signature.", nil)
	}
	if aboutEvents(body) && w.Trigger != nil {
		w.Trigger()
	}
	return e.NoContent(http.StatusOK)
}

func (w *Webhook) signed(header string, body []byte) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(w.AppSecret))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

// feedItems are the feed changes that may add, edit or remove an event
// post; comments and reactions are not.
var feedItems = map[string]bool{"event": true, "post": true, "status": true, "share": true, "photo": true, "video": true}

// aboutEvents reports whether a delivery has a Page feed change that may
// concern an event.
func aboutEvents(body []byte) bool {
	var p struct {
		Object string `json:"object"`
		Entry  []struct {
			Changes []struct {
				Field string `json:"field"`
				Value struct {
					Item string `json:"item"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if json.Unmarshal(body, &p) != nil || p.Object != "page" {
		return false
	}
	for _, en := range p.Entry {
		for _, c := range en.Changes {
			if c.Field == "feed" && feedItems[c.Value.Item] {
				return true
			}
		}
	}
	return false
}

// Debounce returns a function that calls f once, wait after the first of a
// burst of calls (Meta sends one delivery per change), however long the
// burst goes on. Stop cancels a pending call and ignores later ones.
func Debounce(wait time.Duration, f func()) (call, stop func()) {
	var (
		mu      sync.Mutex
		pending *time.Timer
		stopped bool
	)
	call = func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped || pending != nil {
			return
		}
		pending = time.AfterFunc(wait, func() {
			mu.Lock()
			pending = nil
			mu.Unlock()
			f()
		})
	}
	stop = func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		if pending != nil {
			pending.Stop()
		}
	}
	return call, stop
}
