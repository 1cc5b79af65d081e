package pb_migrations

import (
	"regexp"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"

	"supportercrm/internal/vocab"
)

// Suppression notes once held go-mail's error text, which names the
// recipient: suppressions outlive an erasure, so that copy of the address
// would never go. Notes with an '@' are cut down to what the engine now
// writes: their "campaign <id>: " prefix and the reply codes. There is no
// way back (the addresses are gone on purpose).
func init() {
	m.Register(func(app core.App) error {
		var rows []struct {
			ID   string `db:"id"`
			Note string `db:"note"`
		}
		err := app.DB().Select("id", "note").From(vocab.Suppressions).Where(dbx.Like("note", "@")).All(&rows)
		if err != nil {
			return err
		}
		for _, r := range rows {
			// A raw update: the suppressions guard refuses record edits.
			_, err := app.DB().Update(vocab.Suppressions, dbx.Params{"note": scrubNote(r.Note)}, dbx.HashExp{"id": r.ID}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

var (
	notePrefix = regexp.MustCompile(`^campaign [a-z0-9]+: `)
	replyCode  = regexp.MustCompile(`\b[245]\d\d\b`)
	statusCode = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)
)

// scrubNote is a suppression note without its text: the campaign prefix it
// may have, and the first reply code and enhanced status code in it
// ("campaign abc: 550 5.1.1"), or only what remains of those.
func scrubNote(note string) string {
	prefix := notePrefix.FindString(note)
	rest := note[len(prefix):]
	codes := strings.TrimSpace(replyCode.FindString(rest) + " " + statusCode.FindString(rest))
	if codes == "" {
		return strings.TrimSuffix(prefix, ": ")
	}
	return prefix + codes
}
