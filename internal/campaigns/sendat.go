package campaigns

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/clip"
	"supportercrm/internal/vocab"
)

// A campaign is scheduled for a send time that staff gave and the server
// read: never "now" by default. PocketBase's date field turns a value it
// can't parse into an empty date before any request hook runs:
// core.DateField.PrepareValue discards types.ParseDateTime's error, and it
// runs both when apis/record_crud.go's recordDataFromRequest resolves the
// body (Record.ReplaceModifiers, which also rewrites RequestInfo().Body) and
// when forms.RecordUpsert.Load sets the record's fields. So the value as
// sent is read again here from the request body itself.

// sendAtLayouts are the forms read: PocketBase's own, which the dashboard
// sends ("2026-12-03 09:00:00.000Z"), and RFC 3339; both name the zone.
// Fractional seconds are optional in both.
var sendAtLayouts = []string{"2006-01-02 15:04:05Z07:00", time.RFC3339}

const sendAtFormat = `use "2026-12-03 09:00:00.000Z" (UTC) or RFC 3339 with a zone, such as "2026-12-03T09:00:00Z" or "2026-12-03T09:00:00+00:00"`

// sendAtSlack is how far in the past a new send time may be (clocks, slow
// typing); further back is likelier a mistyped date than a wish to send now.
const sendAtSlack = time.Hour

// checkSendAt reads the request's send_at, if it has one, into the record,
// and requires a campaign being scheduled (newly, or with a new time) to
// have one that is not long past. Sending now is the choice of setting it
// to now. Its error is the problem with the field, for the 400.
func checkSendAt(ev *core.RecordRequestEvent) error {
	r := ev.Record
	// The router lets the body be read again.
	body := map[string]any{}
	if err := ev.BindBody(&body); err != nil {
		return fmt.Errorf("can't be read from the request: %w", err)
	}
	if given, ok := body["send_at"]; ok {
		at, err := parseSendAt(given)
		if err != nil {
			return err
		}
		r.Set("send_at", at) // zero clears it
	}
	if r.GetString("status") != vocab.CampaignScheduled {
		return nil
	}
	orig, at := r.Original(), r.GetDateTime("send_at")
	if !r.IsNew() && orig.GetString("status") == vocab.CampaignScheduled && at.Equal(orig.GetDateTime("send_at")) {
		return nil // already scheduled for this time
	}
	if at.IsZero() {
		return errors.New("a scheduled campaign needs a send time; " + sendAtFormat + ", or set it to now to send at once")
	}
	if at.Time().Before(time.Now().Add(-sendAtSlack)) {
		return fmt.Errorf("%s is more than an hour ago; to send at once set it to now, or choose a later time", at.String())
	}
	return nil
}

// parseSendAt reads a send_at value as the request gave it: empty means none.
func parseSendAt(v any) (time.Time, error) {
	s, ok := v.(string)
	if v == nil || (ok && strings.TrimSpace(s) == "") {
		return time.Time{}, nil
	}
	if !ok {
		return time.Time{}, errors.New("must be a date and time as text; " + sendAtFormat)
	}
	s = strings.TrimSpace(s)
	for _, layout := range sendAtLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time this can read; %s", clip.Runes(s, 40), sendAtFormat)
}
