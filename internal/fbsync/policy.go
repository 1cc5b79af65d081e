package fbsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"supportercrm/internal/fbgraph"
)

// Triggers: what started a sync. Automatic ones respect backoff and a
// stopped sync; the manual ones (a person asked) always try.
const (
	TriggerCron    = "cron"
	TriggerWebhook = "webhook"
	TriggerCLI     = "cli"
	TriggerAdmin   = "admin"
)

// ErrBackingOff means an automatic sync was skipped: Facebook rate-limited
// an earlier one, or a token or permission problem needs a person.
var ErrBackingOff = errors.New("facebook sync is backing off")

// Backoff bounds for rate limits: the first wait (or Facebook's own
// estimate, if longer), doubling on each limit in a row. Code 613 counts
// calls within an hour, so its first wait is an hour.
const (
	firstBackoff  = 15 * time.Minute
	hourlyBackoff = time.Hour
	maxBackoff    = 24 * time.Hour
)

// Run is Sync with the policy around it: automatic syncs wait out a rate
// limit, and stop after a token or permission failure until a person runs
// one that succeeds (or the app restarts with new settings). Staff are
// alerted once per such failure, not on every run.
func (s *Syncer) Run(ctx context.Context, trigger string) (Result, error) {
	auto := trigger == TriggerCron || trigger == TriggerWebhook
	s.state.Lock()
	resume, halted := s.state.resumeAt, s.state.halted
	s.state.Unlock()
	if auto && halted != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBackingOff, halted)
	}
	if auto && s.Now().Before(resume) {
		return Result{}, fmt.Errorf("%w until %s (rate limited)", ErrBackingOff, resume.UTC().Format(time.RFC3339))
	}
	res, err := s.Sync(ctx, trigger)
	if errors.Is(err, ErrBusy) {
		return res, err
	}
	s.after(err)
	return res, err
}

// after updates the backoff state from a sync's outcome.
func (s *Syncer) after(err error) {
	s.state.Lock()
	defer s.state.Unlock()
	var ge *fbgraph.Error
	if !errors.As(err, &ge) {
		if err == nil {
			s.state.strikes, s.state.resumeAt, s.state.halted = 0, time.Time{}, nil
		}
		return
	}
	switch ge.Kind {
	case fbgraph.RateLimited:
		first := firstBackoff
		if ge.Code == 613 {
			first = hourlyBackoff
		}
		wait := first << min(s.state.strikes, 10)
		wait = min(max(wait, ge.Wait), maxBackoff)
		s.state.strikes++
		s.state.resumeAt = s.Now().Add(wait)
	case fbgraph.TokenInvalid, fbgraph.NotPermitted:
		if s.state.halted == nil && s.Alert != nil {
			s.Alert("The Facebook events sync has stopped", alertText(ge))
		}
		s.state.halted = ge
	}
}

func alertText(ge *fbgraph.Error) string {
	what := "Facebook refused the Page access token (it has expired or been revoked). Create a new Page access token, set FACEBOOK_ACCESS_TOKEN and restart the app."
	if ge.Kind == fbgraph.NotPermitted {
		what = "Facebook says this app may not read what the sync asks for."
	}
	return what + "\n\nEvents already on the website and in newsletters are kept. Scheduled syncs are paused until a sync run by hand succeeds (`facebook sync`, or the dashboard route) or the app restarts.\n\nFacebook's answer: " + ge.Error()
}
