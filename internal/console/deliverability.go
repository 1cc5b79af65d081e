package console

import (
	"context"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/doctor"
)

// The deliverability page (admins): the check `doctor` prints (SPF, DKIM,
// DMARC, the bounce domain's MX, the app URL's TLS, one-click unsubscribe)
// and what each mailbox provider's bulk-sender rules still need. It runs
// on demand, from a form, since it makes DNS and network requests.

type deliverabilityPage struct {
	Report *doctor.Report
}

// Deliverability adds the page; run is the check (pb_hooks' Config.Doctor).
// Call it after Mount.
func (c *Console) Deliverability(run func(ctx context.Context) (doctor.Report, error)) {
	c.Nav("Deliverability", "/deliverability", Admin)
	c.GET("/deliverability", Admin, func(e *core.RequestEvent) error {
		return c.Render(e, "deliverability", deliverabilityPage{})
	})
	c.POST("/deliverability", Admin, func(e *core.RequestEvent) error {
		rep, err := run(e.Request.Context())
		if err != nil {
			return err
		}
		return c.Render(e, "deliverability", deliverabilityPage{Report: &rep})
	})
}
