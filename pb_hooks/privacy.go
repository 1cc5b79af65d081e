package pb_hooks

import (
	"time"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
	"supportercrm/internal/erasure"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/retention"
	"supportercrm/internal/signup"
	"supportercrm/internal/tokens"
	"supportercrm/internal/views"
)

// bindPrivacy wires the CRM's privacy and Gift Aid parts that hold for every
// writer and command: the Gift Aid hooks (declaration checks, thank-you
// email on a donation) and the hourly retention job while serving.
func bindPrivacy(app core.App, cfg Config, signer *tokens.Signer, set *views.Set, identity func() (charity.Identity, error), wake func()) {
	gift := &giftaid.Service{App: app, Signer: signer, Views: set, Identity: identity, Suppressed: signup.IsSuppressed, Notify: wake}
	gift.BindHooks()

	pruner := &retention.Pruner{App: app, Now: time.Now, After: cfg.PendingRetention, Anonymise: erasure.Anonymise}
	runHourly(app, pruner.Tick)
}
