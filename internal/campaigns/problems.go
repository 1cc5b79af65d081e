package campaigns

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	texttpl "text/template"
	"text/template/parse"

	"supportercrm/internal/charity"
)

// Problem is one thing staff must fix before a campaign renders, in their
// words: the field (subject, preheader, body, layout), the line of that
// field as they typed it (0 when no one line is to blame) and what is wrong.
type Problem struct {
	Field string
	Line  int
	Msg   string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s, line %d: %s", p.Field, p.Line, p.Msg)
	}
	return p.Field + ": " + p.Msg
}

// Explain compiles c as the engine does and says what stops it rendering;
// nil means it renders. Each field is first read on its own, as typed, so a
// problem is placed on the staff's line rather than on a line of the HTML
// that Markdown, the layout and CSS inlining make from it; only what that
// reading can't see falls back to the compiler's message, without its
// positions in the generated HTML.
func Explain(c Content, layouts fs.FS, id charity.Identity, funcs map[string]any) []Problem {
	var out []Problem
	for _, f := range []struct{ name, src string }{{"subject", c.Subject}, {"preheader", c.Preheader}, {"body", c.Body}} {
		if p := explainField(f.name, f.src, funcs); p != nil {
			out = append(out, *p)
		}
	}
	name := c.Layout
	if name == "" {
		name = "default"
	}
	if _, err := fs.Stat(layouts, "campaigns/"+name+".html"); err != nil {
		out = append(out, Problem{"layout", 0, fmt.Sprintf("there is no layout %q; the layouts are %s", name, layoutNames(layouts))})
	}
	if len(out) > 0 {
		return out
	}
	if _, err := Compile(c, layouts, id, funcs); err != nil {
		return []Problem{compileProblem(err)}
	}
	return nil
}

// sample is who a check or a preview without a chosen supporter renders for.
var sample = Recipient{FirstName: "Alex", LastName: "Example", Email: "alex@example.org",
	UnsubscribeURL: "https://example.org/u", PreferencesURL: "https://example.org/p", WebURL: "https://example.org/w"}

// explainField parses and trial-renders one field's source as typed.
func explainField(field, src string, funcs map[string]any) *Problem {
	t, err := texttpl.New(field).Funcs(funcs).Funcs(budgeted).Option("missingkey=error").Parse(src)
	if err != nil {
		return parseProblem(field, err, funcs)
	}
	if len(t.Templates()) > 1 {
		return &Problem{field, 0, errRecurse.Error()}
	}
	if p := unknownFields(field, src, t.Tree); p != nil {
		return p
	}
	if err := limit(t.Tree.Root); err != nil {
		return &Problem{field, 0, err.Error()}
	}
	d := newRenderData(sample)
	d.out.buf = new(bytes.Buffer)
	if err := t.Execute(&d.out, d); err != nil {
		return execProblem(field, renderError(err))
	}
	return nil
}

// fieldNames are the fields a campaign may use, in Recipient's order.
var fieldNames = func() []string {
	var out []string
	rt := reflect.TypeFor[Recipient]()
	for i := range rt.NumField() {
		out = append(out, rt.Field(i).Name)
	}
	return out
}()

// unknownFields finds the first {{.Field}} (or {{$.Field}}) that the
// recipient has not got. Inside {{range}} and {{with}} the dot is something
// else (an event), so only $ is checked there.
func unknownFields(field, src string, tree *parse.Tree) *Problem {
	var found *Problem
	check := func(name string, pos parse.Pos) {
		if found == nil && !slices.Contains(fieldNames, name) {
			found = &Problem{field, lineAt(src, pos), "there is no field " + name + fieldHint(name)}
		}
	}
	var walk func(n parse.Node, atTop bool)
	walk = func(n parse.Node, atTop bool) {
		switch n := n.(type) {
		case *parse.ListNode:
			if n != nil {
				for _, c := range n.Nodes {
					walk(c, atTop)
				}
			}
		case *parse.ActionNode:
			walk(n.Pipe, atTop)
		case *parse.PipeNode:
			if n != nil {
				for _, c := range n.Cmds {
					walk(c, atTop)
				}
			}
		case *parse.CommandNode:
			for _, a := range n.Args {
				walk(a, atTop)
			}
		case *parse.FieldNode:
			if atTop {
				check(n.Ident[0], n.Pos)
			}
		case *parse.VariableNode:
			if len(n.Ident) > 1 && n.Ident[0] == "$" {
				check(n.Ident[1], n.Pos)
			}
		case *parse.ChainNode:
			walk(n.Node, atTop)
		case *parse.IfNode:
			walk(n.Pipe, atTop)
			walk(n.List, atTop)
			walk(n.ElseList, atTop)
		case *parse.RangeNode:
			walk(n.Pipe, atTop)
			walk(n.List, false)
			walk(n.ElseList, atTop)
		case *parse.WithNode:
			walk(n.Pipe, atTop)
			walk(n.List, false)
			walk(n.ElseList, atTop)
		}
	}
	walk(tree.Root, true)
	return found
}

func lineAt(src string, pos parse.Pos) int {
	return 1 + strings.Count(src[:min(int(pos), len(src))], "\n")
}

// fieldHint suggests the field meant, or lists them all.
func fieldHint(name string) string {
	if s := closest(name, fieldNames); s != "" {
		return " — did you mean " + s + "?"
	}
	return "; the fields are " + strings.Join(fieldNames[:len(fieldNames)-1], ", ") + " and " + fieldNames[len(fieldNames)-1]
}

// closest is the candidate that name is most likely a typing slip of: the
// same but for case, or at most two letters off; "" when none is.
func closest(name string, candidates []string) string {
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
	}
	best, bestD := "", 3
	for _, c := range candidates {
		if d := distance(strings.ToLower(name), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// builtins are text/template's own functions, which staff may call.
var builtins = []string{"and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "print", "printf", "println", "html", "js", "urlquery", "call"}

var (
	// "template: body:7: unclosed action", or with a column after the line.
	posRe   = regexp.MustCompile(`^template: [\w ()]+:(\d+)(?::\d+)?: `)
	execRe  = regexp.MustCompile(`^executing "[^"]*" at <([^>]*)>: `)
	funcRe  = regexp.MustCompile(`function "([^"]+)" not defined`)
	fieldRe = regexp.MustCompile(`can't evaluate field (\w+)`)
)

// splitPos takes the line off a template error's message.
func splitPos(msg string) (int, string) {
	m := posRe.FindStringSubmatch(msg)
	if m == nil {
		return 0, msg
	}
	line, _ := strconv.Atoi(m[1])
	return line, msg[len(m[0]):]
}

func parseProblem(field string, err error, funcs map[string]any) *Problem {
	line, msg := splitPos(err.Error())
	switch {
	case funcRe.MatchString(msg):
		name := funcRe.FindStringSubmatch(msg)[1]
		known := slices.Concat(builtins, mapKeys(funcs))
		msg = "there is no function " + name
		if s := closest(name, known); s != "" {
			msg += " — did you mean " + s + "?"
		}
	case strings.Contains(msg, "unclosed action"):
		msg = "a {{ is not closed with }}"
	case strings.Contains(msg, "unexpected EOF"):
		line, msg = 0, "a {{range}}, {{if}} or {{with}} is missing its {{end}}"
	case strings.Contains(msg, "unexpected {{end}}"):
		msg = "there is an {{end}} with nothing before it to end (no {{range}}, {{if}} or {{with}})"
	case strings.Contains(msg, "unexpected {{else}}"):
		msg = "there is an {{else}} outside {{if}}, {{range}} or {{with}}"
	case strings.HasPrefix(msg, "bad character"):
		msg = "this can't be read inside {{ }}: " + strings.TrimPrefix(msg, "bad character ")
	default:
		msg = "this can't be read: " + msg
	}
	return &Problem{field, line, msg}
}

func execProblem(field string, err error) *Problem {
	line, msg := splitPos(err.Error())
	at := ""
	if m := execRe.FindStringSubmatch(msg); m != nil {
		at, msg = m[1], msg[len(m[0]):]
	}
	switch {
	case fieldRe.MatchString(msg):
		name := fieldRe.FindStringSubmatch(msg)[1]
		msg = "there is no field " + name + " in " + at
	case strings.HasPrefix(msg, "expected integer"):
		msg = "a whole number is needed here, not " + at
	case strings.Contains(msg, "wrong type for value") || strings.Contains(msg, "wrong number of args"):
		msg = at + " is given the wrong value: " + strings.ReplaceAll(msg, "; expected", ", expected")
	case strings.HasPrefix(msg, "error calling "):
		msg = strings.TrimPrefix(msg, "error calling ")
	case at != "":
		msg = at + ": " + msg
	}
	return &Problem{field, line, msg}
}

// compileProblem is the compiler's error without its positions in the
// generated HTML ("html:13"), which mean nothing to whoever typed the body.
func compileProblem(err error) Problem {
	msg := err.Error()
	field := "body"
	for _, f := range []string{"subject", "layout", "body"} {
		if strings.HasPrefix(msg, f) {
			field = f
			msg = strings.TrimLeft(strings.TrimPrefix(msg, f), ": ")
			break
		}
	}
	msg = internalPosRe.ReplaceAllString(msg, "")
	return Problem{field, 0, msg}
}

var internalPosRe = regexp.MustCompile(`(html/)?template: ?(html|text|subject)?:\d+(:\d+)?: |executing "\w+" at `)

func mapKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// layoutNames lists the layouts in templates/campaigns/, for a message.
func layoutNames(layouts fs.FS) string {
	files, _ := fs.Glob(layouts, "campaigns/*.html")
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(path.Base(f), ".html"))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
