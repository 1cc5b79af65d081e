package giving

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"supportercrm/internal/csvio"
	"supportercrm/internal/vocab"
)

// Pounds and pence as people and payment providers write them: "12.50",
// "£12.50", "1,250.00", "12". At most two decimal places.
var (
	poundsRe    = regexp.MustCompile(`^(\d{1,9}|\d{1,3}(,\d{3}){1,2})(\.\d{1,2})?$`)
	penceRe     = regexp.MustCompile(`^\d{1,11}$`)
	errNotMoney = errors.New("not an amount")
)

// parsePounds returns an amount in pounds as whole pence. Zero and negative
// amounts (refunds) are refused.
func parsePounds(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := false
	for prefixed := true; prefixed; {
		switch {
		case strings.HasPrefix(s, "-"):
			neg, s = true, s[1:]
		case strings.HasPrefix(s, "£"):
			s = s[len("£"):]
		case strings.HasPrefix(s, "GBP"), strings.HasPrefix(s, "gbp"):
			s = strings.TrimSpace(s[3:])
		default:
			prefixed = false
		}
	}
	if !poundsRe.MatchString(s) {
		return 0, fmt.Errorf("amount %q isn't an amount in pounds like 12.50", s)
	}
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", ""), ".")
	pounds, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, errNotMoney
	}
	pence := pounds * 100
	if frac != "" {
		if len(frac) == 1 {
			frac += "0"
		}
		p, _ := strconv.ParseInt(frac, 10, 64)
		pence += p
	}
	if neg || pence <= 0 {
		return 0, errors.New("the amount must be more than zero (refunds and reversals aren't imported)")
	}
	return pence, nil
}

// parsePence reads an amount_pence cell: a whole number of pence.
func parsePence(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("the amount must be more than zero (refunds and reversals aren't imported)")
	}
	if !penceRe.MatchString(s) {
		return 0, fmt.Errorf("amount_pence %q isn't a whole number of pence like 1250", s)
	}
	n, _ := strconv.ParseInt(s, 10, 64)
	if n <= 0 {
		return 0, errors.New("the amount must be more than zero")
	}
	return n, nil
}

// Dates: ISO dates, UK day/month/year dates, and datetimes with or without
// a zone (without one, UTC, as payment providers export them).
var (
	dateLayouts = []string{time.DateOnly, "2/1/2006"}
	timeLayouts = []string{
		time.RFC3339, "2006-01-02T15:04:05Z0700", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST",
		"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04",
		"2/1/2006 15:04:05", "2/1/2006 15:04",
	}
)

// parseDate reads a donation date. A date alone is midnight UTC, which is
// the same day in London all year round.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q isn't a date like 2026-11-03 or 03/11/2026 (day/month/year)", s)
}

// methodAliases maps what providers and spreadsheets call payment methods
// onto vocab.DonationMethods (after csvio.Normalize).
var methodAliases = map[string]string{
	"credit_card": "card", "debit_card": "card", "card_payment": "card", "online": "card",
	"dd": "direct_debit", "directdebit": "direct_debit",
	"so": "standing_order", "standingorder": "standing_order",
	"bank": "bank_transfer", "bacs": "bank_transfer", "transfer": "bank_transfer", "faster_payment": "bank_transfer", "faster_payments": "bank_transfer",
	"check": "cheque",
}

// providerMethods is the method of a row that names none, by provider.
var providerMethods = map[string]string{
	"paypal": "paypal", "stripe": "card", "sumup": "card", "square": "card", "zettle": "card",
	"justgiving": "card", "enthuse": "card", "gocardless": "direct_debit", "bank": "bank_transfer",
}

func parseMethod(s, provider string) (string, error) {
	m := csvio.Normalize(s)
	if a, ok := methodAliases[m]; ok {
		m = a
	}
	if m == "" {
		if m, ok := providerMethods[provider]; ok {
			return m, nil
		}
		return "", fmt.Errorf("no payment method: fill the method column with one of %s", strings.Join(vocab.DonationMethods, ", "))
	}
	if !slices.Contains(vocab.DonationMethods, m) {
		return "", fmt.Errorf("method %q isn't one of %s", s, strings.Join(vocab.DonationMethods, ", "))
	}
	return m, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "no", "n", "false", "0":
		return false, nil
	case "yes", "y", "true", "1":
		return true, nil
	}
	return false, fmt.Errorf("gift_aid %q isn't yes or no", s)
}
