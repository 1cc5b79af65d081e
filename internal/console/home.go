package console

import (
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/vocab"
)

type homePage struct {
	Checklist  []Step
	SetupDone  bool
	Subscribed int
}

func (c *Console) home(e *core.RequestEvent) error {
	steps := Checklist(e.App)
	n, err := e.App.CountRecords(vocab.Supporters, dbx.HashExp{"status": vocab.StatusSubscribed})
	if err != nil {
		return err
	}
	return c.Render(e, "home", homePage{Checklist: steps, SetupDone: SetupDone(steps), Subscribed: int(n)})
}
