package giftaid_test

import (
	"testing"

	"supportercrm/internal/giftaid"
)

func TestNormalizePostcode(t *testing.T) {
	for in, want := range map[string]string{
		"LS1 1AA":   "LS1 1AA",
		" ls11aa ":  "LS1 1AA",
		"sw1a 1aa":  "SW1A 1AA",
		"M1 1AE":    "M1 1AE",
		"b33 8th":   "B33 8TH",
		"CR2 6XH":   "CR2 6XH",
		"dn55  1pt": "DN55 1PT",
		"EC1A1BB":   "EC1A 1BB",
		"W1A 0AX":   "W1A 0AX",
		"":          "",
		"LS1":       "",
		"1AA LS1":   "",
		"LS1 1AI":   "", // no I in an inward code
		"90210":     "",
		"LS1 1AA\n": "LS1 1AA",
		"LS1\r1AA":  "LS1 1AA",
		"LS1-1AA":   "",
		"LLLS1 1AA": "",
	} {
		got, ok := giftaid.NormalizePostcode(in)
		if got != want || ok != (want != "") {
			t.Errorf("NormalizePostcode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestValidate(t *testing.T) {
	good := giftaid.Input{Title: " Dr ", FirstName: " Ada ", LastName: "Lovelace", House: "12", Address: "Mill Lane\r\n\r\nLeeds", Postcode: "ls1 1aa", Confirm: true}
	c, errs := giftaid.Validate(good)
	if errs != nil {
		t.Fatalf("valid declaration refused: %v", errs)
	}
	if c.Title != "Dr" || c.FirstName != "Ada" || c.Address != "Mill Lane\nLeeds" || c.Postcode != "LS1 1AA" {
		t.Fatalf("cleaned = %+v", c)
	}
	for name, tc := range map[string]struct {
		edit  func(*giftaid.Input)
		field string
	}{
		"missing postcode":       {func(in *giftaid.Input) { in.Postcode = "  " }, "postcode"},
		"foreign postcode":       {func(in *giftaid.Input) { in.Postcode = "75008" }, "postcode"},
		"no first name":          {func(in *giftaid.Input) { in.FirstName = "" }, "first_name"},
		"no last name":           {func(in *giftaid.Input) { in.LastName = " " }, "last_name"},
		"name too long for HMRC": {func(in *giftaid.Input) { in.LastName = "Abcdefghijabcdefghijabcdefghijabcdef" }, "last_name"},
		"CRLF in a name":         {func(in *giftaid.Input) { in.FirstName = "Ada\r\nBcc: x@example.org" }, "first_name"},
		"title of 5":             {func(in *giftaid.Input) { in.Title = "Revd." }, "title"},
		"title with digits":      {func(in *giftaid.Input) { in.Title = "M1" }, "title"},
		"no house":               {func(in *giftaid.Input) { in.House = "" }, "house"},
		"no address":             {func(in *giftaid.Input) { in.Address = "\n \n" }, "address"},
		"bidi override":          {func(in *giftaid.Input) { in.Address = "Mill \u202eLane" }, "address"},
		"not confirmed":          {func(in *giftaid.Input) { in.Confirm = false }, "confirm"},
	} {
		in := good
		tc.edit(&in)
		c, errs := giftaid.Validate(in)
		if errs[tc.field] == "" {
			t.Errorf("%s: no error for %s (errors %v)", name, tc.field, errs)
		}
		if c != (giftaid.Input{}) {
			t.Errorf("%s: invalid input returned cleaned values %+v", name, c)
		}
	}
}
