package pb_hooks

import (
	"net/http"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"supportercrm/internal/signup"
)

// subscribeCORS lets browsers on the charity's listed websites call
// /api/subscribe, and no one else (none are listed by default).
func subscribeCORS(h *signup.Handlers) *hook.Handler[*core.RequestEvent] {
	return &hook.Handler[*core.RequestEvent]{
		Id: "crmSubscribeCors",
		Func: func(e *core.RequestEvent) error {
			hd := e.Response.Header()
			hd.Add("Vary", "Origin")
			if origin := e.Request.Header.Get("Origin"); origin != "" && h.AllowOrigin(origin) {
				hd.Set("Access-Control-Allow-Origin", origin)
				if e.Request.Method == http.MethodOptions {
					hd.Set("Access-Control-Allow-Methods", "POST")
					hd.Set("Access-Control-Allow-Headers", "Content-Type")
					hd.Set("Access-Control-Max-Age", "600")
				}
			}
			return e.Next()
		},
	}
}

// exemptFromDefaultCORS keeps PocketBase's own CORS middleware (which `serve`
// binds for every path, allowing any origin by default) off the given path,
// so the path's own rules decide.
func exemptFromDefaultCORS(se *core.ServeEvent, path string) {
	for _, m := range se.Router.Middlewares {
		if m.Id != apis.DefaultCorsMiddlewareId {
			continue
		}
		orig := m.Func
		m.Func = func(e *core.RequestEvent) error {
			if e.Request.URL.Path == path {
				return e.Next()
			}
			return orig(e)
		}
	}
}
