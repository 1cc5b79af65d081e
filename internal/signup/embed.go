package signup

import (
	"encoding/json"
	"html"
	"net/http"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"

	"supportercrm/internal/charity"
)

// EmbedScript serves GET /embed.js, which stamps a fresh signed form time
// into forms embedded on the charity's own website.
func (h *Handlers) EmbedScript(e *core.RequestEvent) error {
	tok, _ := json.Marshal(FormToken(h.S.Signer))
	e.Response.Header().Set("Cache-Control", "no-store")
	e.Response.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	return e.String(http.StatusOK, "(function(){var t="+string(tok)+";document.querySelectorAll('form[data-supporter-signup] input[name=form_token]').forEach(function(i){i.value=t;});})();\n")
}

// EmbedPage serves GET /embed: the snippet for the charity's website, built
// from the current topics and consent wording.
func (h *Handlers) EmbedPage(e *core.RequestEvent) error {
	id, err := h.S.Identity()
	if err != nil {
		return err
	}
	topics, err := h.S.PublicTopics()
	if err != nil {
		return err
	}
	return h.render(e, http.StatusOK, "embed", page{Title: "Signup form for your website", Snippet: Snippet(id, topics)})
}

// Snippet is the HTML form a charity pastes into its website.
func Snippet(id charity.Identity, topics []Topic) string {
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString(`<form method="post" action="` + esc(id.AppURL) + `/subscribe" data-supporter-signup>` + "\n")
	b.WriteString(`  <input type="hidden" name="form_token" value="">` + "\n")
	b.WriteString(`  <input type="hidden" name="source" value="embed">` + "\n")
	b.WriteString(`  <div style="position:absolute;left:-10000px" aria-hidden="true"><input name="website" tabindex="-1" autocomplete="off"></div>` + "\n")
	b.WriteString(`  <p><label>Email address <input type="email" name="email" required maxlength="254" autocomplete="email"></label></p>` + "\n")
	b.WriteString(`  <p><label>First name <input type="text" name="first_name" maxlength="100" autocomplete="given-name"></label></p>` + "\n")
	for _, t := range topics {
		b.WriteString(`  <p><label><input type="checkbox" name="topics" value="` + esc(t.Slug) + `"> ` + esc(t.Name) + `</label></p>` + "\n")
	}
	b.WriteString(`  <p><label><input type="checkbox" name="consent" value="true" required> ` + esc(id.ConsentWording) + `</label></p>` + "\n")
	b.WriteString(`  <button type="submit">Sign up</button>` + "\n")
	b.WriteString(`</form>` + "\n")
	b.WriteString(`<script src="` + esc(id.AppURL) + `/embed.js" async></script>` + "\n")
	return b.String()
}

// AllowOrigin reports whether a browser on origin may call /api/subscribe:
// only the websites an admin listed in the charity record.
func (h *Handlers) AllowOrigin(origin string) bool {
	id, err := h.S.Identity()
	if err != nil {
		return false
	}
	return slices.Contains(id.EmbedOrigins, strings.TrimRight(origin, "/"))
}
