package signup_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"supportercrm/internal/testkit"
)

// An accepted signup leaves no request-log row (its consent row is the
// record, with the IP and user agent as evidence; _logs would keep a second
// copy of every visitor's IP): a refused one (429 from the rate limiter)
// is still logged.
func TestAcceptedSignupsAreNotRequestLogged(t *testing.T) {
	env := testkit.Start(t, testkit.Options{RateLimits: true})
	s := env.App.Settings() // testkit keeps no logs; a deployment keeps 5 days
	s.Logs.MaxDays = 5
	if err := env.App.Save(s); err != nil {
		t.Fatal(err)
	}
	statuses := map[int]int{}
	for i := range 21 {
		status, _ := env.PostJSON(t, "/api/subscribe", fmt.Sprintf(`{"email":"logged%d@example.org","topics":["newsletter"],"consent":true}`, i))
		statuses[status]++
	}
	if statuses[http.StatusAccepted] != 20 || statuses[http.StatusTooManyRequests] != 1 {
		t.Fatalf("statuses = %v, want 20×202 then 1×429", statuses)
	}
	count := func(status int) int {
		var n int
		err := env.App.AuxDB().NewQuery("SELECT count(*) FROM _logs WHERE json_extract(data, '$.url') = '/api/subscribe' AND json_extract(data, '$.status') = " + fmt.Sprint(status)).Row(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	// The logger writes in batches every few seconds.
	testkit.Eventually(t, 15*time.Second, func() bool { return count(http.StatusTooManyRequests) == 1 })
	if n := count(http.StatusAccepted); n != 0 {
		t.Errorf("%d accepted signups in the request log, want none", n)
	}
}
