package bounces

import (
	"regexp"
	"strings"

	"github.com/emersion/go-message"
)

// Bounces in prose, from MTAs that don't send DSNs (or whose DSN was
// flattened by a forwarder), are recognised by who sent them and how they
// are worded. They must come from a mail system (MAILER-DAEMON, postmaster)
// or carry one of the subjects MTAs use, so a person's reply, or an
// auto-reply, that mentions a failure is not taken for one.
var (
	daemonFrom    = regexp.MustCompile(`(?i)(mailer-daemon|postmaster|mail delivery (sub)?system|microsoftexchange)`)
	bounceSubject = regexp.MustCompile(`(?i)^(undeliverable|undelivered mail returned to sender|mail delivery failed|delivery status notification|returned mail|failure notice|delivery failure|mail delivery failure|warning: message .* delayed|delayed mail|delivery delayed|non[- ]?delivery)`)

	// The failed recipient, as each MTA words it.
	postfixRcpt  = regexp.MustCompile(`(?m)^<([^<>\s]+@[^<>\s]+)>(?:\s*\(expanded from <[^>]*>\))?:\s*(.+(?:\n[ \t]+.+)*)`)
	eximRcpt     = regexp.MustCompile(`(?m)(?:following address\(es\) failed|following address\(es\) have not yet been delivered|address\(es\) deferred):\s*\n\s*\n?\s+([^\s@]+@[^\s:]+)\s*\n((?:[ \t]+.+\n?)*)`)
	exchangeRcpt = regexp.MustCompile(`(?im)^\s*([^\s@<>]+@[^\s<>]+)\s*\n(?:[^\n]*\n){0,6}?[^\n]*Remote Server returned '([^']*)'`)
	exchangeTop  = regexp.MustCompile(`(?im)Delivery has failed to these recipients or groups:\s*\n\s*\n?\s*(?:[^\n<]*<)?([^\s@<>]+@[^\s<>]+?)>?\s*\n`)

	delayWords = regexp.MustCompile(`(?i)(delayed|will (continue|keep) (trying|to try)|still (being )?(retried|trying)|not yet been delivered|temporar(y|ily)|deferred)`)
	permWords  = regexp.MustCompile(`(?i)(permanent (error|failure)|could not be delivered|couldn't be delivered|undeliverable|has failed|does not exist|user unknown|no such user)`)
	originalID = regexp.MustCompile(`(?im)^Message-ID:\s*<([^<>\s]+)>`)
)

// textBounce recognises a prose bounce and returns its one report, or nil.
func (p *parsed) textBounce() []Report {
	from := p.top.Get("From")
	subject, _ := p.top.Text("Subject")
	if !daemonFrom.MatchString(from) && !bounceSubject.MatchString(subject) {
		return nil // a null Return-Path alone is no sign: RFC 3834 auto-replies use it too
	}
	body := strings.ReplaceAll(p.text.String(), "\r\n", "\n")
	r := Report{}
	switch {
	case postfixRcpt.MatchString(body):
		m := postfixRcpt.FindStringSubmatch(body)
		r.Recipient, r.Diagnostic = m[1], m[2]
	case eximRcpt.MatchString(body):
		m := eximRcpt.FindStringSubmatch(body)
		r.Recipient, r.Diagnostic = m[1], m[2]
	case exchangeRcpt.MatchString(body):
		m := exchangeRcpt.FindStringSubmatch(body)
		r.Recipient, r.Diagnostic = m[1], m[2]
	case exchangeTop.MatchString(body):
		r.Recipient = exchangeTop.FindStringSubmatch(body)[1]
	case !permWords.MatchString(body) && !delayWords.MatchString(subject+"\n"+body):
		return nil // from a mail system, but says nothing of a failure
	}
	r.Diagnostic = strings.Join(strings.Fields(r.Diagnostic), " ")
	r.Status = statusCode(r.Diagnostic)
	if r.Status == "" {
		r.Status = statusCode(body)
	}
	// The code decides; without one, words of delay with none of failure.
	delayed := delayWords.MatchString(subject+"\n"+body) && !permWords.MatchString(subject+"\n"+body)
	r.Kind = Hard
	if strings.HasPrefix(r.Status, "4.") || (r.Status == "" && delayed) {
		r.Kind = Soft
	}
	r.Kind = policy(r.Kind, r.Status)
	if m := originalID.FindStringSubmatch(body); m != nil && p.originalID == "" {
		p.originalID = m[1]
	}
	return []Report{r}
}

// autoReply says whether a message is an automatic answer (RFC 3834
// Auto-Submitted, the headers Exchange and vacation programs add, or an
// out-of-office subject): not a bounce, whatever it says.
func autoReply(h message.Header) bool {
	if v := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); v != "" && v != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Vacation"} {
		if h.Has(k) {
			return true
		}
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("Precedence")), "auto_reply") {
		return true
	}
	subject, _ := h.Text("Subject")
	return autoSubject.MatchString(subject)
}

var autoSubject = regexp.MustCompile(`(?i)^(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto:|away from|on (annual )?leave|abwesenheit|réponse automatique)`)
