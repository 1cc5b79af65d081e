package outbox

import (
	"html"
	"strings"

	"supportercrm/internal/charity"
)

// LinkOrigin stands in queued mail for the Application URL, which the worker
// puts in when it sends. Mail is rendered when it is queued (in the signup's
// transaction, with its signed links), but the Application URL may be set
// or changed after that: the signup page works from the first start, before
// anyone has set it, and a confirmation queued then must not go out with
// links to http://localhost:8090. So the stored row holds links relative to
// this reserved name (RFC 6761: .invalid never resolves), never a real
// origin, and the tokens in them are signed, and expire, as before.
const LinkOrigin = "https://application-url.invalid"

// LinksAtSend returns id for rendering mail to queue: every link it gives
// (the app's URL, the logo's) starts with LinkOrigin instead of the
// Application URL.
func LinksAtSend(id charity.Identity) charity.Identity {
	if rest, ok := strings.CutPrefix(id.LogoURL, id.AppURL); ok {
		id.LogoURL = LinkOrigin + rest
	}
	id.AppURL = LinkOrigin
	return id
}

// links resolves LinkOrigin to the Application URL in one message.
type links struct{ html, text *strings.Replacer }

// linksTo resolves to appURL, as the dashboard has it now.
func linksTo(appURL string) links {
	appURL = strings.TrimRight(appURL, "/")
	return links{
		html: strings.NewReplacer(LinkOrigin, html.EscapeString(appURL)),
		text: strings.NewReplacer(LinkOrigin, appURL),
	}
}
