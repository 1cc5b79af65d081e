package console

import (
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/outbox"
	"supportercrm/internal/vocab"
)

// The shipped identity (pb_migrations' seed) is an example. Until the
// charity replaces each part (name, number, postal address, and the sender
// address in the mail settings), the home page shows the first-run checklist
// and no campaign can be scheduled: newsletters signed by a charity that
// doesn't exist would mislead supporters and break PECR's identification
// rule.
var sample = struct{ Name, Number, Address, Sender string }{
	Name:    "Lanternhouse Trust",
	Number:  "1209876",
	Address: "Lanternhouse Trust, PO Box 4127, Leeds LS1 9XW, United Kingdom",
	Sender:  "hello@lanternhouse.org.uk",
}

// SampleIdentityMessage is what refusing a schedule, the log at start, and
// the checklist say.
const SampleIdentityMessage = "The charity's identity is still the shipped example (Lanternhouse Trust): set the charity's name, number and postal address (the charity record) and the sender address (Settings > Mail settings) before scheduling a campaign."

// Step is one item of the first-run checklist.
type Step struct {
	Done       bool
	Title, How string
}

// Checklist is the first-run checklist: done once every step is.
func Checklist(app core.App) []Step {
	s := app.Settings()
	smtp := s.SMTP.Enabled && s.SMTP.Host != ""
	urlProblem := outbox.AppURLProblem(s.Meta.AppURL)
	return []Step{
		{Done: urlProblem == "", Title: "Set the Application URL", How: orDone(urlProblem, "Links in emails open "+s.Meta.AppURL+".")},
		{Done: smtp, Title: "Set up sending mail (SMTP)", How: "In the dashboard: Settings > Mail settings > Use SMTP mail server, with your relay's host, port and login."},
		{Done: !SampleIdentity(app), Title: "Set the charity's identity", How: "In the dashboard: the charity record (name, registered number, postal address) and Settings > Mail settings (sender address). The Lanternhouse Trust details shipped with the app are only an example."},
	}
}

func orDone(problem, done string) string {
	if problem != "" {
		return problem
	}
	return done
}

// SetupDone reports whether every checklist step is done.
func SetupDone(steps []Step) bool {
	for _, s := range steps {
		if !s.Done {
			return false
		}
	}
	return true
}

// SampleIdentity reports whether any part of the identity is still empty or
// the shipped example's. An identity that can't be read counts as the
// example (fail safe).
func SampleIdentity(app core.App) bool {
	recs, err := app.FindRecordsByFilter(vocab.Charity, "", "created", 1, 0)
	if err != nil || len(recs) == 0 {
		return true
	}
	r := recs[0]
	same := func(got, example string) bool {
		got = strings.TrimSpace(got)
		return got == "" || strings.EqualFold(got, example)
	}
	return same(r.GetString("name"), sample.Name) || same(r.GetString("charity_number"), sample.Number) ||
		same(r.GetString("postal_address"), sample.Address) || same(app.Settings().Meta.SenderAddress, sample.Sender)
}

// bindSampleGuard refuses to schedule or start a campaign while the identity
// is the example: a 400 naming the status field, through the API and the
// app's own saves alike. Resuming a paused campaign stays possible.
func bindSampleGuard(app core.App) {
	guard := func(e *core.RecordEvent) error {
		status := e.Record.GetString("status")
		from := ""
		if !e.Record.IsNew() {
			from = e.Record.Original().GetString("status")
		}
		starts := (status == vocab.CampaignScheduled && from != vocab.CampaignScheduled) ||
			(status == vocab.CampaignSending && from != vocab.CampaignSending && from != vocab.CampaignPaused)
		if starts && SampleIdentity(e.App) {
			return apis.NewBadRequestError(SampleIdentityMessage, validation.Errors{
				"status": validation.NewError("sample_identity", SampleIdentityMessage),
			})
		}
		return e.Next()
	}
	app.OnRecordCreate(vocab.Campaigns).BindFunc(guard)
	app.OnRecordUpdate(vocab.Campaigns).BindFunc(guard)
}

// WarnSampleIdentity says once, in the log at start, that campaigns can't
// be scheduled yet.
func WarnSampleIdentity(app core.App) {
	if SampleIdentity(app) {
		app.Logger().Warn(SampleIdentityMessage)
	}
}
