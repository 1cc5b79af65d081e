package giving

import (
	"testing"
	"time"
)

func TestParseAmounts(t *testing.T) {
	for in, want := range map[string]int64{
		"12.50": 1250, "£12.50": 1250, " £12.5 ": 1250, "12": 1200, "0.05": 5, "1,234.56": 123456, "£1,000": 100000,
		"GBP 3.00": 300, "1,000,000.00": 100000000,
		"": -1, "twelve": -1, "12.345": -1, "0": -1, "0.00": -1, "-5.00": -1, "£-5": -1, "1,23.00": -1, "12,50": -1, "$5": -1, "1e3": -1,
	} {
		got, err := parsePounds(in)
		if want < 0 && err == nil || want >= 0 && (err != nil || got != want) {
			t.Errorf("parsePounds(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]int64{"1250": 1250, "5": 5, "0": -1, "-100": -1, "12.50": -1, "": -1} {
		got, err := parsePence(in)
		if want < 0 && err == nil || want >= 0 && (err != nil || got != want) {
			t.Errorf("parsePence(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestParseDates(t *testing.T) {
	for in, want := range map[string]string{
		"2026-11-03":                "2026-11-03T00:00:00Z",
		"03/11/2026":                "2026-11-03T00:00:00Z", // day first, as in the UK
		"3/1/2026":                  "2026-01-03T00:00:00Z",
		"2026-11-03T10:15:00Z":      "2026-11-03T10:15:00Z",
		"2026-07-03T10:15:00+01:00": "2026-07-03T09:15:00Z",
		"2026-07-03T10:15:00.123Z":  "2026-07-03T10:15:00.123Z",
		"2026-11-14T19:00:00+0000":  "2026-11-14T19:00:00Z",
		"2026-11-03 10:15:00":       "2026-11-03T10:15:00Z", // no zone: UTC
		"2026-11-03 10:15":          "2026-11-03T10:15:00Z",
		"03/11/2026 10:15":          "2026-11-03T10:15:00Z",
		"31/02/2026":                "",
		"11/31/2026":                "",
		"yesterday":                 "",
		"":                          "",
	} {
		got, err := parseDate(in)
		if want == "" {
			if err == nil {
				t.Errorf("parseDate(%q) = %v, want an error", in, got)
			}
			continue
		}
		if err != nil || got.Format(time.RFC3339Nano) != want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", in, got.Format(time.RFC3339Nano), err, want)
		}
	}
}

func TestParseMethods(t *testing.T) {
	for _, c := range []struct{ in, provider, want string }{
		{"Card", "x", "card"}, {"Direct Debit", "x", "direct_debit"}, {"DD", "x", "direct_debit"}, {"standing-order", "x", "standing_order"},
		{"BACS", "x", "bank_transfer"}, {"check", "x", "cheque"}, {"", "paypal", "paypal"}, {"", "stripe", "card"},
		{"", "gocardless", "direct_debit"}, {"", "somewhere", ""}, {"bitcoin", "stripe", ""},
	} {
		got, err := parseMethod(c.in, c.provider)
		if c.want == "" && err == nil || c.want != "" && (err != nil || got != c.want) {
			t.Errorf("parseMethod(%q, %q) = %q, %v; want %q", c.in, c.provider, got, err, c.want)
		}
	}
}
