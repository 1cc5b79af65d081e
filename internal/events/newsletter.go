package events

import (
	"strconv"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Funcs returns the template functions campaigns use, made afresh for each
// campaign: `events N` lists the next N upcoming events, read once per
// campaign however many recipients it has.
//
//	{{range events 3}}{{.Name}}, {{.When}}, {{.Where}}: {{.URL}}{{end}}
func Funcs(app core.App, now func() time.Time) map[string]any {
	var (
		mu    sync.Mutex
		cache = map[int][]Item{}
	)
	return map[string]any{
		"events": func(n int) ([]Item, error) {
			mu.Lock()
			defer mu.Unlock()
			if items, ok := cache[n]; ok {
				return items, nil
			}
			items, err := Next(app, now(), max(n, 0))
			if err == nil {
				cache[n] = items
			}
			return items, err
		},
	}
}

// DigestCount is how many events a "what's on" digest lists.
const DigestCount = 6

// Digest is the events block appended to a "what's on" newsletter's body,
// in the body's format.
func Digest(format string) string {
	if format == "html" {
		return digestHTML
	}
	return digestMarkdown
}

var digestMarkdown = `

{{range events ` + strconv.Itoa(DigestCount) + `}}
### [{{.Name}}]({{.URL}})

**{{.When}}**{{with .Where}} · {{.}}{{end}}

{{.Summary}}
{{end}}
`

var digestHTML = `
{{range events ` + strconv.Itoa(DigestCount) + `}}
<h3><a href="{{.URL}}">{{.Name}}</a></h3>
<p><strong>{{.When}}</strong>{{with .Where}} · {{.}}{{end}}</p>
<p>{{.Summary}}</p>
{{end}}
`
