// Package tracking is a campaign's optional open and click tracking: links
// rewritten at render time into signed redirects, a 1×1 pixel, and the
// events they record. It is off unless a campaign switches it on, and it
// records nothing for a supporter who is no longer subscribed.
package tracking

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"supportercrm/internal/tokens"
)

// Public paths of the redirect and the pixel.
const (
	ClickPath = "/t/c"
	OpenPath  = "/t/o"
)

var hrefRe = regexp.MustCompile(`href="(https?://[^"]*)"`)

// Rewrite returns a delivery's HTML with each http(s) link but those in
// keep (the message's own unsubscribe, preferences and view links) sent
// through a signed redirect, and the open pixel before </body>. Links are
// numbered by their place in the message, so every copy of a campaign
// numbers them alike. The text part is left alone: it has no pixel to pair
// with, and readers of plain text see where a link goes.
func Rewrite(s *tokens.Signer, appURL, deliveryID, body string, keep ...string) string {
	n := 0
	out := hrefRe.ReplaceAllStringFunc(body, func(m string) string {
		raw := html.UnescapeString(m[len(`href="`) : len(m)-1])
		for _, k := range keep {
			if raw == k {
				return m
			}
		}
		link := ClickURL(s, appURL, deliveryID, n, raw)
		n++
		return `href="` + html.EscapeString(link) + `"`
	})
	pixel := `<img src="` + html.EscapeString(appURL+OpenPath+"?t="+url.QueryEscape(s.Sign(tokens.Open, deliveryID, tokens.TrackingTTL))) +
		`" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`
	if i := strings.LastIndex(out, "</body>"); i >= 0 {
		return out[:i] + pixel + out[i:]
	}
	return out + pixel
}

// ClickURL is the redirect for link number i of a delivery, to target.
func ClickURL(s *tokens.Signer, appURL, deliveryID string, i int, target string) string {
	subject := deliveryID + "-" + strconv.Itoa(i) + "-" + urlHash(target)
	return appURL + ClickPath + "?t=" + url.QueryEscape(s.Sign(tokens.Click, subject, tokens.TrackingTTL)) + "&u=" + url.QueryEscape(target)
}

// ErrLink means a redirect's token or URL doesn't match what was signed.
var ErrLink = errors.New("this link is not valid")

// Click is a verified redirect.
type Click struct {
	Delivery string
	Link     int
	URL      string
}

// VerifyClick checks a redirect's token and that target is the URL it was
// signed for, and an http(s) one: nothing else is ever redirected to.
func VerifyClick(s *tokens.Signer, token, target string) (Click, error) {
	c, err := s.Verify(tokens.Click, token)
	if err != nil {
		return Click{}, ErrLink
	}
	parts := strings.Split(c.Subject, "-")
	if len(parts) != 3 || parts[2] != urlHash(target) {
		return Click{}, ErrLink
	}
	i, err := strconv.Atoi(parts[1])
	if err != nil || i < 0 {
		return Click{}, ErrLink
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Click{}, ErrLink
	}
	return Click{Delivery: parts[0], Link: i, URL: target}, nil
}

// urlHash is 96 bits of the URL's SHA-256: the token binds the URL without
// carrying it twice.
func urlHash(target string) string {
	sum := sha256.Sum256([]byte(target))
	return hex.EncodeToString(sum[:12])
}
