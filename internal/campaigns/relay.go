package campaigns

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"supportercrm/internal/clip"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
)

// What a failed send means for its delivery and for the campaign: retry,
// bounce or fail the delivery; pause the whole run when the relay itself is
// in trouble (unreachable, or refusing everything) rather than burn the list.

// relayDown counts how long the relay has been unreachable and pauses the
// campaign, alerting staff, once that passes MaxConnDown.
func (r *runner) relayDown(why string) {
	now := time.Now().UnixNano()
	r.downNS.CompareAndSwap(0, now)
	if time.Duration(now-r.downNS.Load()) < r.e.Config.MaxConnDown {
		return
	}
	r.pause("paused: the SMTP relay has been unreachable for "+r.e.Config.MaxConnDown.String()+": "+why,
		"A campaign has paused: the mail relay is unreachable",
		"Sending campaign "+r.id+" paused itself because the SMTP relay could not be reached for "+r.e.Config.MaxConnDown.String()+
			" (last error: "+why+"). Nothing was lost: when the relay works again, set the campaign's status back to \"sending\" in the dashboard to resume.")
}

// refused counts a temporary failure of a send (a 4xx reply or a dropped
// connection) and pauses the campaign, alerting staff, once the relay has
// refused MaxRefusedInRow different deliveries in a row, or, with fewer
// deliveries left than that, every one of them often enough that the next
// refusals would begin to fail them. Retrying on would only use up every
// delivery's attempts and mark the whole list failed.
func (r *runner) refused(id, why string) {
	n, distinct := r.refusals.refused(id)
	limit := r.e.Config.MaxRefusedInRow
	left := int(r.left.Load())
	small := left > 0 && left < limit && distinct >= left && n >= left*(r.e.Config.MaxAttempts-1)
	if distinct < limit && !small {
		return
	}
	count := strconv.Itoa(min(distinct, limit)) // connections racing past the limit don't change the note
	r.pause("paused: the SMTP relay refused "+count+" messages in a row temporarily, accepting none: "+why,
		"A campaign has paused: the mail relay refuses its messages",
		"Sending campaign "+r.id+" paused itself because the SMTP relay turned away "+count+
			" messages in a row with a temporary error and accepted none (last error: "+why+
			"). This usually means the relay's sending quota is used up or it is misconfigured. "+
			"The unsent messages stay queued and nothing more goes out until you resume: "+
			"when the relay accepts mail again, set the campaign's status back to \"sending\" in the dashboard.")
}

// pause stops the run because of the relay: the campaign is marked paused
// with note (unless staff changed its status meanwhile), staff are alerted,
// and the run is cancelled. Only the first call in a run does anything.
func (r *runner) pause(note, subject, text string) {
	if !r.paused.CompareAndSwap(false, true) {
		return
	}
	if ferr := r.e.finish(r.id, vocab.CampaignPaused, note); ferr != nil {
		r.e.App.Logger().Error("campaigns: failed to pause", "campaign", r.id, "error", ferr.Error())
	}
	if r.e.Alert != nil {
		r.e.Alert(subject, text)
	}
	r.cancel()
}

// refusalRun tracks the temporary send failures since a message was last
// accepted, on any connection: how many, and of how many deliveries (a
// delivery retried counts once). Accepting a message, the common case,
// costs one atomic load.
type refusalRun struct {
	n   atomic.Int64 // refusals in the run; 0 when the last send was accepted
	mu  sync.Mutex
	ids map[string]struct{} // the deliveries refused in the run
}

// accepted ends the run.
func (f *refusalRun) accepted() {
	if f.n.Load() == 0 {
		return
	}
	f.mu.Lock()
	f.n.Store(0)
	clear(f.ids)
	f.mu.Unlock()
}

// refused adds a refusal of delivery id and returns the run's refusals and
// deliveries so far.
func (f *refusalRun) refused(id string) (n, distinct int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ids == nil {
		f.ids = map[string]struct{}{}
	}
	f.ids[id] = struct{}{}
	return int(f.n.Add(1)), len(f.ids)
}

// failure turns a send failure, described by why (the error without the
// address), into the delivery's next state. A message that can't be sent
// (it can't be built, or its address needs what the relay lacks) fails at
// once: it is not a bounce, and retrying can't help.
func (r *runner) failure(j job, f mailsend.Failure, why string) result {
	res := result{job: j, err: clip.Runes(why, 2000)}
	res.Attempts++
	switch {
	case f.Unsendable:
		res.kind, res.err = failed, clip.Runes("can't be sent: "+f.Reason, 2000)
	case !f.Temporary:
		res.kind, res.hard, res.note = bounced, f.HardBounce(), f.Note()
	case res.Attempts >= r.e.Config.MaxAttempts:
		res.kind = failed
	default:
		res.kind = retry
		d := r.e.Config.RetryBase
		for i := 1; i < res.Attempts; i++ {
			d *= 2
		}
		res.next = time.Now().Add(d)
	}
	return res
}

// withoutAddress is s with addr, in any case, replaced by "<recipient>":
// the relay's words stay in last_error and pause notes, the address (which
// go-mail's errors name) does not, so an erasure leaves no copy behind.
// It runs for every failed send, so plain ASCII text (nearly every relay
// reply and address) is matched without compiling a regexp: ASCII case
// folding keeps byte offsets, and is then all that (?i) would match.
func withoutAddress(s, addr string) string {
	if addr == "" {
		return s
	}
	if !isASCII(s) || !isASCII(addr) {
		return regexp.MustCompile("(?i)"+regexp.QuoteMeta(addr)).ReplaceAllLiteralString(s, "<recipient>")
	}
	lower, want := strings.ToLower(s), strings.ToLower(addr)
	i := strings.Index(lower, want)
	if i < 0 {
		return s
	}
	var b strings.Builder
	for ; i >= 0; i = strings.Index(lower, want) {
		b.WriteString(s[:i])
		b.WriteString("<recipient>")
		s, lower = s[i+len(want):], lower[i+len(want):]
	}
	b.WriteString(s)
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
