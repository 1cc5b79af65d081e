package doctor

import (
	"fmt"
	"io"
	"strings"
)

// Verdict is one mailbox provider's bulk-sender rules read against the
// findings: what is still needed, in plain words, and what this check
// cannot see and is left to the charity to watch.
type Verdict struct {
	Provider string   `json:"provider"`
	Ready    bool     `json:"ready"`
	Needs    []string `json:"needs"`
	Watch    []string `json:"watch"`
}

// rule is one requirement and the checks that show it met.
type rule struct {
	need   string
	checks []string
}

var (
	ruleSPF      = rule{"an SPF record for the Return-Path domain that authorises your relay", []string{CheckSPF}}
	ruleDKIM     = rule{"DKIM signatures with a published key of at least 1024 bits (2048 advised)", []string{CheckDKIM}}
	ruleDMARC    = rule{"a DMARC record (p=none is enough to start)", []string{CheckDMARC}}
	ruleAlign    = rule{"the From domain aligned with SPF or DKIM, so DMARC passes", []string{CheckAlign}}
	ruleOneClick = rule{"one-click unsubscribe (RFC 8058): an https link that answers a POST without a redirect", []string{CheckTLS, CheckOneClick}}
)

// providers holds the rules from compliance.md section 1 (Gmail, Yahoo)
// and Microsoft's high-volume sender requirements for Outlook.com (from
// 5 May 2025, more than 5,000 messages a day).
var providers = []struct {
	name  string
	rules []rule
	watch []string
}{
	{"Gmail", []rule{ruleSPF, ruleDKIM, ruleDMARC, ruleAlign, ruleOneClick}, []string{
		"spam rate in Google Postmaster Tools under 0.3% (aim under 0.1%)",
		"forward and reverse DNS (PTR) for the relay's sending IP, and TLS from the relay",
		"bulk status counts at about 5,000 messages a day to Gmail; below it SPF or DKIM, PTR and TLS still apply",
	}},
	{"Yahoo", []rule{ruleSPF, ruleDKIM, ruleDMARC, ruleAlign, ruleOneClick}, []string{
		"complaint rate under 0.3%",
		"enrol the DKIM domain in Yahoo's Complaint Feedback Loop, so complaints reach the bounce mailbox",
		"PTR for the relay's sending IP",
	}},
	{"Outlook", []rule{ruleSPF, ruleDKIM, ruleDMARC, ruleAlign}, []string{
		"applies above 5,000 messages a day to Outlook.com, Hotmail and Live addresses; failing mail goes to Junk, then 550 5.7.515",
		"From and Reply-To addresses that are real and receive replies",
		"a working unsubscribe link in every message (the app adds one)",
	}},
}

// verdicts reads each provider's rules against rep's checks: a rule is
// unmet when any of its checks failed.
func verdicts(rep Report) []Verdict {
	status := map[string]Status{}
	for _, c := range rep.Checks {
		status[c.ID] = c.Status
	}
	var out []Verdict
	for _, p := range providers {
		v := Verdict{Provider: p.name, Ready: true, Watch: p.watch}
		for _, r := range p.rules {
			for _, id := range r.checks {
				if status[id] == Fail {
					v.Ready = false
					v.Needs = append(v.Needs, r.need)
					break
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// Write prints rep for a person: each check, then each provider's verdict.
func (rep Report) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Deliverability check, %s\n\n", rep.At.Format("2 Jan 2006 15:04 MST"))
	for _, c := range rep.Checks {
		fmt.Fprintf(&b, "[%-4s] %s\n       %s\n", strings.ToUpper(string(c.Status)), c.Title, c.Found)
		if c.Advice != "" {
			fmt.Fprintf(&b, "       -> %s\n", c.Advice)
		}
	}
	b.WriteString("\nWhat the bulk-sender rules still need:\n")
	for _, v := range rep.Verdicts {
		if v.Ready {
			fmt.Fprintf(&b, "  %s: nothing this check can see.\n", v.Provider)
		} else {
			fmt.Fprintf(&b, "  %s needs %s.\n", v.Provider, strings.Join(v.Needs, "; "))
		}
		fmt.Fprintf(&b, "    Also yours to watch: %s.\n", strings.Join(v.Watch, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
