package outbox

import (
	"net/url"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

// pocketBaseDefaultURL is the Application URL until an admin sets one.
const pocketBaseDefaultURL = "http://localhost:8090"

// AppURLProblem says what is wrong with appURL as the start of the links in
// emails, or "" when nothing is: it must be set and https, since mailbox
// providers only honour a one-click unsubscribe URL that is https (RFC 8058).
func AppURLProblem(appURL string) string {
	const where = " Set it in the dashboard: Settings > Application > Application URL."
	u, err := url.Parse(appURL)
	switch {
	case strings.TrimRight(appURL, "/") == pocketBaseDefaultURL || appURL == "":
		return "The Application URL is not set (it is still " + pocketBaseDefaultURL + "), so links in emails won't open for supporters." + where
	case err != nil || u.Host == "":
		return "The Application URL " + appURL + " is not a web address, so links in emails won't open." + where
	case u.Scheme != "https":
		return "The Application URL " + appURL + " is not https: mailbox providers ignore one-click unsubscribe links that aren't (RFC 8058), and supporters' links travel unencrypted." + where
	}
	return ""
}

// emailLinksField is the charity record's read-only note on the links.
const emailLinksField = "email_links"

// BindAppURLNotice makes the charity record's email_links field say, every
// time a superuser reads it (the dashboard), whether the links in emails will
// work, so the problem is in front of whoever edits the charity's identity
// for as long as it lasts; everyone else gets the record without the field.
// Nothing is stored: a value typed into the field is dropped on save.
func BindAppURLNotice(app core.App) {
	app.OnRecordEnrich(vocab.Charity).BindFunc(func(e *core.RecordEnrichEvent) error {
		if e.RequestInfo == nil || !e.RequestInfo.HasSuperuserAuth() {
			e.Record.Hide(emailLinksField)
			return e.Next()
		}
		e.Record.Set(emailLinksField, emailLinksNote(e.App.Settings().Meta.AppURL))
		return e.Next()
	})
	drop := func(e *core.RecordEvent) error {
		e.Record.Set(emailLinksField, "")
		return e.Next()
	}
	app.OnRecordCreate(vocab.Charity).BindFunc(drop)
	app.OnRecordUpdate(vocab.Charity).BindFunc(drop)
}

func emailLinksNote(appURL string) string {
	if p := AppURLProblem(appURL); p != "" {
		return "Warning: " + p
	}
	return "Links in emails open " + strings.TrimRight(appURL, "/") + "."
}
