package testkit

import (
	"context"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"supportercrm/internal/campaigns"
	"supportercrm/internal/charity"
	"supportercrm/internal/mailsend"
	"supportercrm/internal/vocab"
	"supportercrm/templates"
)

// BenchContent is a typical newsletter: a personalised heading, a few
// sections of prose with links, a list, and the unsubscribe link; with the
// default layout it renders to about 8 KB of HTML. Every throughput
// benchmark sends it, so their figures compare.
func BenchContent() campaigns.Content {
	var body strings.Builder
	body.WriteString("# Dear {{.FirstName}}, here is our spring update\n\n")
	sections := []string{"The new safe house", "Volunteers in Leeds", "Our summer appeal", "What your gifts did", "Dates for your diary"}
	for i, title := range sections {
		fmt.Fprintf(&body, "## %s\n\n", title)
		body.WriteString("The new safe house opened this month, with six bedrooms, a shared kitchen and a garden that volunteers " +
			"cleared over three weekends. Families who stayed with us in the winter have already moved in, and the first " +
			"children started at the school round the corner last Monday. None of it happens without people like you.\n\n")
		body.WriteString("Our caseworkers answered more calls this quarter than in any quarter before, and the helpline now runs " +
			"until ten every evening. [Read the full report](https://lanternhouse.org.uk/reports/spring-" + strconv.Itoa(i) + ") " +
			"to see where every pound went, or [watch the short film](https://lanternhouse.org.uk/films/" + strconv.Itoa(i) + ") " +
			"our volunteers made about the move.\n\n")
		body.WriteString("- Forty-two families supported since January\n- Nine new volunteers trained in March\n" +
			"- One new partnership with the local housing association\n\n")
	}
	body.WriteString("Thank you, {{.FirstName}}. [Not for you any more? Unsubscribe]({{.UnsubscribeURL}}) or " +
		"[choose what you receive]({{.PreferencesURL}}).\n")
	return campaigns.Content{
		Subject:   "Spring news for {{.FirstName}}",
		Preheader: "The new safe house is open, and what your gifts did this spring",
		Body:      body.String(),
		Format:    vocab.FormatMarkdown,
	}
}

// BareMessages renders content for k recipients with fixed links and builds
// them as go-mail messages, with the headers the engine adds.
func BareMessages(tb testing.TB, content campaigns.Content, k int) []*gomail.Msg {
	tb.Helper()
	id := charity.Identity{Name: "Lanternhouse Trust", Number: "1234567", Address: "PO Box 4127, Leeds LS1 1AA",
		Website: "https://lanternhouse.org.uk", LogoURL: "http://127.0.0.1/static/logo.png", AppURL: "http://127.0.0.1"}
	compiled, err := campaigns.Compile(content, templates.FS, id, nil)
	if err != nil {
		tb.Fatal(err)
	}
	from := mail.Address{Name: "Lanternhouse Trust", Address: "news@lanternhouse.org.uk"}
	token := strings.Repeat("x", 160) // about the length of a signed link token
	out := make([]*gomail.Msg, k)
	for i := range out {
		email := fmt.Sprintf("reader%06d@example.org", i)
		unsub := id.AppURL + "/unsubscribe?token=" + token
		m, err := compiled.Render(campaigns.Recipient{FirstName: fmt.Sprintf("Reader%d", i), LastName: "Bench", Email: email,
			UnsubscribeURL: unsub, PreferencesURL: id.AppURL + "/preferences?token=" + token, WebURL: id.AppURL + "/view?token=" + token})
		if err != nil {
			tb.Fatal(err)
		}
		msg, err := mailsend.Build(&mailsend.Message{
			From: from, To: mail.Address{Name: fmt.Sprintf("Reader%d Bench", i), Address: email},
			Subject: m.Subject, HTML: m.HTML, Text: m.Text, MessageID: mailsend.NewMessageID(from.Address),
			Headers: []mailsend.Header{
				{Name: "List-Unsubscribe", Value: "<" + unsub + ">"},
				{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
				{Name: "List-Id", Value: "Lanternhouse Trust: Newsletter <newsletter.lanternhouse.org.uk>"},
				{Name: "Precedence", Value: "bulk"},
			},
		})
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = msg
	}
	return out
}

// bareMessagesPerConn: each connection sends its own few messages in turn (a
// go-mail Msg is not safe for concurrent sends); building n of them would
// only measure memory.
const bareMessagesPerConn = 32

// BareSend is the yardstick of every campaign benchmark: n messages of
// content over conns plain go-mail clients (no database, no rendering) to
// the SMTP server at 127.0.0.1:port. It returns how long the sending took,
// after building the messages; any failed send fails tb. opts are added to
// each client's (e.g. gomail.WithoutNoop(), to measure go-mail's NOOP
// before every message).
func BareSend(tb testing.TB, port, conns, n int, content campaigns.Content, opts ...gomail.Option) time.Duration {
	tb.Helper()
	msgs := BareMessages(tb, content, conns*bareMessagesPerConn)
	var next, ok atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := range conns {
		wg.Go(func() {
			client, err := gomail.NewClient("127.0.0.1", append([]gomail.Option{gomail.WithPort(port), gomail.WithTimeout(15 * time.Second),
				gomail.WithTLSPolicy(gomail.TLSOpportunistic)}, opts...)...)
			if err == nil {
				err = client.DialWithContext(context.Background())
			}
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			defer client.Close()
			mine := msgs[w*bareMessagesPerConn : (w+1)*bareMessagesPerConn]
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := client.Send(mine[i%bareMessagesPerConn]); err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	took := time.Since(t0)
	if got := ok.Load(); got != int64(n) {
		tb.Fatalf("bare sender delivered %d of %d (first error: %v)", got, n, firstErr.Load())
	}
	return took
}
