package supporterui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"supportercrm/internal/testkit"
	"supportercrm/internal/vocab"
)

// Admins see what active pledges bring in, per frequency and as a month
// (a weekly £2.50 is £10.84 a month), and the pledges whose latest payment
// failed, on their own.
func TestPledgesShowTotalsAndFailingPayments(t *testing.T) {
	env := testkit.Start(t, testkit.Options{})
	sup := testkit.Subscribers(t, env.App, 1)[0]
	pledge := func(pence int, freq, status string, failed int) {
		data := map[string]any{"supporter": sup.Id, "purpose": "Sponsor a room", "amount_pence": pence, "frequency": freq,
			"starts_on": time.Now(), "status": status, "failed_payments": failed}
		if failed > 0 {
			data["last_failed_on"] = time.Now()
		}
		save(t, env.App, vocab.Pledges, data)
	}
	pledge(250, vocab.PledgeWeekly, vocab.PledgeActive, 0)
	pledge(250, vocab.PledgeWeekly, vocab.PledgeActive, 2)
	pledge(1000, vocab.PledgeMonthly, vocab.PledgeActive, 0)
	pledge(5000, vocab.PledgeMonthly, vocab.PledgeCancelled, 3) // neither income nor failing

	c := signIn(t, env, vocab.RoleAdmin)
	status, body := c.get(t, "/staff/giving/pledges")
	if status != http.StatusOK {
		t.Fatalf("pledges page: HTTP %d", status)
	}
	// 2 × £2.50 a week = £21.67 a month (rounded up), plus £10.00 monthly.
	for _, want := range []string{"about £31.67 a month in all", "<td>weekly</td><td>2</td><td>£5.00</td><td>£21.67</td>",
		"<td>monthly</td><td>1</td><td>£10.00</td><td>£10.00</td>", `id="pledges-failing">1 pledge with a failed latest payment`} {
		if !strings.Contains(body, want) {
			t.Errorf("the pledges page lacks %q", want)
		}
	}
	_, body = c.get(t, "/staff/giving/pledges?show=failing+payments")
	if n := strings.Count(body, "Sponsor a room"); n != 1 || !strings.Contains(body, "2, last ") {
		t.Errorf("failing payments lists %d pledges, want the one with 2 failures:\n%s", n, body)
	}
	comms := signIn(t, env, vocab.RoleComms)
	if status, _ := comms.get(t, "/staff/giving/pledges"); status != http.StatusForbidden {
		t.Errorf("comms: HTTP %d, want 403", status)
	}
}
