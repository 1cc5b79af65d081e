package stripepay_test

import (
	"testing"

	"supportercrm/internal/testkit"
)

// The tests share one stripe-mock, stopped when they end.
func TestMain(m *testing.M) { testkit.StripeMockMain(m) }
