package stripepay

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"supportercrm/internal/charity"
	"supportercrm/internal/giftaid"
	"supportercrm/internal/giving"
	"supportercrm/internal/signup"
	"supportercrm/internal/vocab"
)

// What one online gift may be: Stripe's own floor for GBP is 30p, but a
// gift under £1 mostly goes in fees; a gift over £10,000 is one the charity
// wants to hear about in person (and Stripe's checks would hold it anyway).
const (
	minPence = 100
	maxPence = 1_000_000
)

// The forms.
const (
	formDonate  = "donate"
	formSponsor = "sponsor"
	oneOff      = "one_off"
)

// FieldErrors maps a form field to a message written for the donor.
type FieldErrors map[string]string

// Input is a giving form as posted.
type Input struct {
	Form      string // formDonate or formSponsor
	Amount    string // a suggested amount in pounds, or "other"
	Other     string // the custom amount in pounds
	Frequency string
	Email     string
	FirstName string
	LastName  string
	GiftAid   bool
	Title     string
	House     string
	Address   string
	Postcode  string
	// WordingVersion is the fingerprint of the Gift Aid declaration the
	// page showed; if it changed since, the donor reads it again.
	WordingVersion string
	OptIn          bool
}

// gift is a validated form: what the checkout will charge and record.
type gift struct {
	Input
	Email       string
	Pence       int64 // charged each time
	WeeklyPence int64 // room sponsorship: the weekly rate chosen
}

// amounts are the charity's giving settings (charity record, migration 1764086750).
type amounts struct {
	Suggested []int64 // /donate, in pence
	RoomWeek  int64   // the least weekly room sponsorship
	RoomStep  int64
	GivingURL string
}

// Suggested room sponsorships: one step's worth of rooms, two, four.
func (a amounts) roomChoices() []int64 {
	return []int64{a.RoomWeek, a.RoomWeek + a.RoomStep, a.RoomWeek + 3*a.RoomStep}
}

var poundsRe = regexp.MustCompile(`^(\d{1,7}|\d{1,3}(,\d{3}){1,2})(\.\d{1,2})?$`)

// parsePounds reads what a donor types for an amount ("10", "12.50",
// "£1,000"); false for anything else.
func parsePounds(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "£")
	if !poundsRe.MatchString(s) {
		return 0, false
	}
	whole, frac, _ := strings.Cut(strings.ReplaceAll(s, ",", ""), ".")
	p, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, false
	}
	pence := p * 100
	if frac != "" {
		f, _ := strconv.ParseInt((frac + "0")[:2], 10, 64)
		pence += f
	}
	return pence, true
}

// poundsLabel is pence for people: "£10" or "£2.50".
func poundsLabel(pence int64) string {
	if pence%100 == 0 {
		return fmt.Sprintf("£%d", pence/100)
	}
	return fmt.Sprintf("£%d.%02d", pence/100, pence%100)
}

// poundsValue is pence as a form value: "10" or "2.50".
func poundsValue(pence int64) string { return strings.TrimPrefix(poundsLabel(pence), "£") }

// validate checks a giving form and reports every problem at once, before
// anything is created. id is the charity (its name is in the declaration).
func validate(in Input, a amounts, id charity.Identity) (gift, FieldErrors) {
	errs := FieldErrors{}
	if in.Amount == "" && strings.TrimSpace(in.Other) != "" {
		in.Amount = "other" // typed an amount without choosing "Another amount"
	}
	g := gift{Input: in}

	pence, field := int64(0), "amount"
	switch {
	case in.Amount == "" || (in.Amount == "other" && strings.TrimSpace(in.Other) == ""):
		errs["amount"] = "Choose an amount, or enter your own."
	default:
		s := in.Amount
		if s == "other" {
			s, field = in.Other, "other_amount"
		}
		var ok bool
		if pence, ok = parsePounds(s); !ok {
			errs[field] = "Enter an amount in pounds, using numbers only, like 10 or 12.50."
		}
	}
	freqs := []string{oneOff, vocab.PledgeWeekly, vocab.PledgeMonthly}
	if in.Form == formSponsor {
		freqs = freqs[1:]
	}
	if !slices.Contains(freqs, in.Frequency) {
		errs["frequency"] = "Choose how often you'd like to give."
		if in.Form == formSponsor {
			errs["frequency"] = "Choose weekly or monthly: room sponsorship is a regular gift."
		}
	}
	if errs[field] == "" && errs["amount"] == "" {
		g.Pence = pence
		if in.Form == formSponsor {
			g.WeeklyPence = pence
			if pence < a.RoomWeek || (pence-a.RoomWeek)%a.RoomStep != 0 {
				errs[field] = fmt.Sprintf("Room sponsorship starts at %s a week and goes up in steps of %s (like %s or %s).",
					poundsLabel(a.RoomWeek), poundsLabel(a.RoomStep), poundsLabel(a.RoomWeek+a.RoomStep), poundsLabel(a.RoomWeek+2*a.RoomStep))
			}
			if in.Frequency == vocab.PledgeMonthly {
				g.Pence = giving.Monthly(pence)
			}
		}
		switch {
		case errs[field] != "":
		case g.Pence < minPence:
			errs[field] = "The smallest gift we can take online is £1."
		case g.Pence > maxPence:
			errs[field] = "We can take up to £10,000 online. For a larger gift, please get in touch: we'd love to thank you in person."
		}
	}

	email, msg := signup.NormalizeEmail(in.Email)
	if msg != "" {
		errs["email"] = msg
	}
	g.Email = email
	if in.GiftAid {
		clean, gerrs := giftaid.Validate(giftaid.Input{Title: in.Title, FirstName: in.FirstName, LastName: in.LastName,
			House: in.House, Address: in.Address, Postcode: in.Postcode, Confirm: true})
		for k, v := range gerrs {
			errs[k] = v
		}
		if in.WordingVersion != charity.WordingVersion(giftaid.Wording(id.Name)) {
			errs["gift_aid"] = "The Gift Aid declaration's wording has changed since this page was opened. Please read it again and tick the box."
		}
		if gerrs == nil {
			g.Title, g.FirstName, g.LastName, g.House, g.Address, g.Postcode = clean.Title, clean.FirstName, clean.LastName, clean.House, clean.Address, clean.Postcode
		}
	} else {
		for field, v := range map[string]*string{"first_name": &g.FirstName, "last_name": &g.LastName} {
			clean, msg := signup.CleanName(*v)
			if msg != "" {
				errs[field] = msg
			}
			*v = clean
		}
		g.Title, g.House, g.Address, g.Postcode = "", "", "", ""
	}
	if len(errs) > 0 {
		return gift{}, errs
	}
	return g, nil
}
