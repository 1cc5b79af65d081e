package campaigns

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	texttpl "text/template"
	"text/template/parse"
	"time"
)

// Staff templates can loop ({{range 300000000}}) and make strings (printf),
// so without limits one campaign body could allocate or spin without bound
// in the save hook's trial render, on every preview and in the engine. Each
// render gets a budget: it may write at most MaxRenderSize bytes, make at
// most as many again in values, and its loops stop once it has run for
// renderTimeout.
const (
	MaxRenderSize = 2 << 20
	renderTimeout = 2 * time.Second
)

var (
	// ErrTooLarge is a render that would pass MaxRenderSize.
	ErrTooLarge = errors.New("this campaign renders larger than 2 MB")
	// ErrTooSlow is a render whose loops ran past renderTimeout.
	ErrTooSlow = fmt.Errorf("this campaign takes longer than %s to render (a loop that runs too often?)", renderTimeout)
	errRecurse = errors.New("{{template}}, {{define}} and {{block}} can't be used in a campaign")
	errWidth   = errors.New("printf widths and precisions are limited to 4 digits, and * can't be used")
)

// renderData is what the templates execute on: the recipient's fields, and
// the render's budget, which only the writer and the budgeted functions
// below can reach.
type renderData struct {
	Recipient
	out  budgetedWriter
	made int // bytes left to make in values
}

func newRenderData(r Recipient) *renderData {
	return &renderData{Recipient: r, made: MaxRenderSize,
		out: budgetedWriter{left: MaxRenderSize, deadline: time.Now().Add(renderTimeout)}}
}

// budgetedWriter writes into buf what the render's budget allows, and ends
// the render once it has run for renderTimeout. Every loop body starts with
// an empty write (limit), so a loop that writes nothing is timed too.
type budgetedWriter struct {
	buf      *bytes.Buffer
	left     int // bytes left to write
	writes   int
	deadline time.Time
}

func (w *budgetedWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		return 0, ErrTooLarge
	}
	w.left -= len(p)
	if w.writes++; w.writes%256 == 0 && time.Now().After(w.deadline) {
		return 0, ErrTooSlow
	}
	return w.buf.Write(p)
}

// budgeted are the template functions a limited tree calls instead of the
// builtins that make strings. Each takes the render's data ($) first, and checks the most its call can
// make before making it: a result checked only afterwards could already be
// huge (printf "%s%s" $x $x, doubled in a loop).
var budgeted = map[string]any{
	"_print": func(d *renderData, a ...any) (string, error) {
		return d.make(argSize(a), func() string { return fmt.Sprint(a...) })
	},
	"_println": func(d *renderData, a ...any) (string, error) {
		return d.make(argSize(a), func() string { return fmt.Sprintln(a...) })
	},
	"_html": func(d *renderData, a ...any) (string, error) { // &#39; for '
		return d.make(5*argSize(a), func() string { return texttpl.HTMLEscaper(a...) })
	},
	"_js": func(d *renderData, a ...any) (string, error) { // \u003C for <
		return d.make(6*argSize(a), func() string { return texttpl.JSEscaper(a...) })
	},
	"_urlquery": func(d *renderData, a ...any) (string, error) { // %3C for <
		return d.make(3*argSize(a), func() string { return texttpl.URLQueryEscaper(a...) })
	},
	"_printf": func(d *renderData, format string, a ...any) (string, error) {
		if wideVerb.MatchString(format) {
			return "", errWidth
		}
		most := len(format) + argSize(a) + strings.Count(format, "%")*maxWidth
		return d.make(most, func() string { return fmt.Sprintf(format, a...) })
	},
}

// maxWidth bounds what one printf verb may pad to: fmt itself allows 10^6.
const maxWidth = 9999

// wideVerb finds a printf verb with a width or precision of more than 4
// digits, or one taken from the arguments (* or an index).
var wideVerb = regexp.MustCompile(`%[-+# 0]*(\d{5}|\*|\[|\d*\.(\d{5}|\*|\[))`)

// argSize is about the most the arguments print as: strings their length,
// anything else (numbers, the short values of the template data) 64 bytes.
func argSize(a []any) int {
	n := 0
	for _, v := range a {
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.String {
			n += rv.Len()
		} else {
			n += 64
		}
	}
	return n
}

// make makes a value of at most most bytes with f, taking its size from
// what the render may still make.
func (d *renderData) make(most int, f func() string) (string, error) {
	if most > d.made {
		return "", ErrTooLarge
	}
	s := f()
	if len(s) > d.made {
		return "", ErrTooLarge
	}
	d.made -= len(s)
	return s, nil
}

// renames are the builtins that make strings, and their budgeted twins.
var renames = map[string]string{"print": "_print", "printf": "_printf", "println": "_println", "html": "_html", "js": "_js", "urlquery": "_urlquery"}

// limit rewrites a parsed staff template to draw on the render's budget:
// each range body starts with an empty text (a write, which the writer
// times), and the builtins that make strings
// become their budgeted twins, given $. {{template}} (and so {{define}} and
// {{block}}) is refused: templates calling themselves could recurse.
func limit(root *parse.ListNode) error {
	var walk func(n parse.Node) error
	walk = func(n parse.Node) error {
		switch n := n.(type) {
		case *parse.ListNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Nodes {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.ActionNode:
			return walk(n.Pipe)
		case *parse.PipeNode:
			if n == nil {
				return nil
			}
			for _, c := range n.Cmds {
				if err := walk(c); err != nil {
					return err
				}
			}
		case *parse.CommandNode:
			for i := 0; i < len(n.Args); i++ {
				if id, ok := n.Args[i].(*parse.IdentifierNode); ok && renames[id.Ident] != "" {
					twin := renames[id.Ident]
					call := []parse.Node{parse.NewIdentifier(twin).SetPos(id.Pos), dollar()}
					if i == 0 { // called with the command's arguments
						n.Args = append(call, n.Args[1:]...)
						i++
					} else { // an argument: called with none
						n.Args[i] = &parse.PipeNode{NodeType: parse.NodePipe, Pos: id.Pos,
							Cmds: []*parse.CommandNode{{NodeType: parse.NodeCommand, Pos: id.Pos, Args: call}}}
					}
					continue
				}
				if err := walk(n.Args[i]); err != nil {
					return err
				}
			}
		case *parse.ChainNode:
			return walk(n.Node)
		case *parse.IfNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.WithNode:
			return walkBranch(walk, &n.BranchNode)
		case *parse.RangeNode:
			if n.List != nil {
				tick := &parse.TextNode{NodeType: parse.NodeText, Pos: n.Pos}
				n.List.Nodes = append([]parse.Node{tick}, n.List.Nodes...)
			}
			return walkBranch(walk, &n.BranchNode)
		case *parse.TemplateNode:
			return errRecurse
		}
		return nil
	}
	return walk(root)
}

func walkBranch(walk func(parse.Node) error, b *parse.BranchNode) error {
	for _, n := range []parse.Node{b.Pipe, b.List, b.ElseList} {
		if err := walk(n); err != nil {
			return err
		}
	}
	return nil
}

func dollar() *parse.VariableNode {
	return &parse.VariableNode{NodeType: parse.NodeVariable, Ident: []string{"$"}}
}

// renderError names a budget overrun plainly, without the template's
// position in the generated source.
func renderError(err error) error {
	for _, known := range []error{ErrTooLarge, ErrTooSlow, errWidth} {
		if errors.Is(err, known) {
			return known
		}
	}
	return err
}
