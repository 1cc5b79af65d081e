package campaignui

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// previewStore keeps each member's latest rendered previews for a few
// minutes, so the preview frames can load them by a random key: the
// content is unsaved, so there is no record to load it from.
type previewStore struct {
	mu    sync.Mutex
	now   func() time.Time
	items map[string]kept
}

type kept struct {
	staff, html string
	at          time.Time
}

// previewTTL is how long a preview stays; previewMax bounds the memory.
const (
	previewTTL = 10 * time.Minute
	previewMax = 200
)

func newPreviewStore(now func() time.Time) *previewStore {
	return &previewStore{now: now, items: map[string]kept{}}
}

func (s *previewStore) put(staff, html string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	key := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, v := range s.items {
		if now.Sub(v.at) > previewTTL || len(s.items) >= previewMax {
			delete(s.items, k)
		}
	}
	s.items[key] = kept{staff: staff, html: html, at: now}
	return key
}

// get is a kept preview, only for the member who made it.
func (s *previewStore) get(staff, key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.items[key]
	if !ok || v.staff != staff || s.now().Sub(v.at) > previewTTL {
		return "", false
	}
	return v.html, true
}

// testLimiter allows each member a few test sends: a burst of 5, then one
// every 2 minutes, so a console session can't be used to mail strangers
// in bulk through the test path.
type testLimiter struct {
	mu  sync.Mutex
	now func() time.Time
	by  map[string]*rate.Limiter
}

const (
	testBurst = 5
	testEvery = 2 * time.Minute
)

func newTestLimiter(now func() time.Time) *testLimiter {
	return &testLimiter{now: now, by: map[string]*rate.Limiter{}}
}

// allow takes n sends from the member's allowance, or none.
func (l *testLimiter) allow(staff string, n int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.by[staff]
	if !ok {
		lim = rate.NewLimiter(rate.Every(testEvery), testBurst)
		l.by[staff] = lim
	}
	return lim.AllowN(l.now(), n)
}

func normalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
