package console

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed sign-ins (a wrong password or a wrong code) are limited per
// account and per IP address with token buckets: an account allows 5
// failures and then one every 3 minutes, an address 20 and then one every 30
// seconds. While either bucket is empty every attempt is refused, right or
// wrong, with the same words whether the account exists or not, so guessing
// is slow and says nothing. Accounts are keyed by the address as typed
// (lower-cased), so unknown addresses are limited alike.
var (
	accountLimit = limit{every: 3 * time.Minute, burst: 5}
	ipLimit      = limit{every: 30 * time.Second, burst: 20}
)

type limit struct {
	every time.Duration
	burst int
}

type failures struct {
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

func newFailures(now func() time.Time) *failures {
	return &failures{now: now, buckets: map[string]*rate.Limiter{}}
}

func accountKey(email string) string { return "account:" + strings.ToLower(strings.TrimSpace(email)) }
func ipKey(ip string) string         { return "ip:" + ip }

// blocked reports whether any of the keys has no failures left.
func (f *failures) blocked(keys ...string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for _, k := range keys {
		if b, ok := f.buckets[k]; ok && b.TokensAt(now) < 1 {
			return true
		}
	}
	return false
}

// fail spends one failure from each key's bucket.
func (f *failures) fail(keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if len(f.buckets) > 10000 {
		f.sweep(now)
	}
	for _, k := range keys {
		b, ok := f.buckets[k]
		if !ok {
			l := ipLimit
			if strings.HasPrefix(k, "account:") {
				l = accountLimit
			}
			b = rate.NewLimiter(rate.Every(l.every), l.burst)
			f.buckets[k] = b
		}
		b.AllowN(now, 1)
	}
}

// sweep forgets buckets that have refilled, so the map stays small.
func (f *failures) sweep(now time.Time) {
	for k, b := range f.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(f.buckets, k)
		}
	}
}
