package bounces

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
	"github.com/pocketbase/pocketbase/core"
)

// IMAPConfig says where the bounce mailbox is (env CRM_BOUNCE_IMAP_*).
type IMAPConfig struct {
	Addr string // host:port
	// Security is "tls" (implicit TLS, port 993; the default), "starttls",
	// or "none", which is allowed on loopback only: a password never
	// crosses a network in clear.
	Security string
	Username string
	Password string
	Mailbox  string // the folder bounces arrive in (INBOX)
	// MoveTo is the folder processed mail is moved to, created when
	// missing ("Processed"); empty flags it \Seen in place instead, and
	// later runs read only unseen mail.
	MoveTo string
	// Batch is the most messages one run reads (500); the rest wait for the
	// next run.
	Batch int
}

// Validate says what is wrong with the settings, naming the variable.
func (c IMAPConfig) Validate() error {
	host, _, err := net.SplitHostPort(c.Addr)
	switch {
	case err != nil:
		return fmt.Errorf("CRM_BOUNCE_IMAP_ADDR must be host:port, e.g. imap.example.org:993: %v", err)
	case c.Username == "" || c.Password == "":
		return errors.New("CRM_BOUNCE_IMAP_USERNAME and CRM_BOUNCE_IMAP_PASSWORD are required with CRM_BOUNCE_IMAP_ADDR")
	}
	switch c.Security {
	case "", "tls", "starttls":
	case "none":
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return errors.New("CRM_BOUNCE_IMAP_SECURITY=none is allowed only for a mailbox on this machine (loopback)")
		}
	default:
		return fmt.Errorf("CRM_BOUNCE_IMAP_SECURITY must be tls, starttls or none, got %q", c.Security)
	}
	return nil
}

// Run is what one pass over the mailbox did.
type Run struct {
	Messages int            // messages read
	Formats  map[Format]int // of those, by format
	Actions  map[Action]int // the reports in them, by what Process did
	Left     int            // messages left in place after an error, for the next run
}

// Reader reads the bounce mailbox: each run fetches what is new, processes
// each message's reports, and then moves (or flags) the messages it
// finished. Process is idempotent, so a run cut short between processing
// and moving (a crash, a dropped connection) counts nothing twice when the
// next run reads the same mail again.
type Reader struct {
	App    core.App
	Config IMAPConfig
	// TLS is the client TLS configuration (nil: the system's roots).
	TLS *tls.Config
}

// RunOnce reads the mailbox once.
func (rd *Reader) RunOnce(ctx context.Context) (Run, error) {
	cfg := rd.Config
	if cfg.Mailbox == "" {
		cfg.Mailbox = "INBOX"
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 500
	}
	run := Run{Formats: map[Format]int{}, Actions: map[Action]int{}}
	c, err := rd.dial(cfg)
	if err != nil {
		return run, err
	}
	defer c.Logout()
	if _, err := c.Select(cfg.Mailbox, false); err != nil {
		return run, fmt.Errorf("imap: failed to open %s: %w", cfg.Mailbox, err)
	}
	if cfg.MoveTo != "" {
		if err := c.Create(cfg.MoveTo); err != nil && !alreadyExists(err) {
			return run, fmt.Errorf("imap: failed to create %s: %w", cfg.MoveTo, err)
		}
	}
	criteria := imap.NewSearchCriteria()
	if cfg.MoveTo == "" {
		criteria.WithoutFlags = []string{imap.SeenFlag}
	}
	uids, err := c.UidSearch(criteria)
	if err != nil {
		return run, fmt.Errorf("imap: search failed: %w", err)
	}
	if len(uids) > cfg.Batch {
		uids = uids[:cfg.Batch]
	}
	if len(uids) == 0 {
		return run, nil
	}
	fetch := new(imap.SeqSet)
	fetch.AddNum(uids...)
	section := &imap.BodySectionName{Peek: true}
	msgs := make(chan *imap.Message, 16)
	fetched := make(chan error, 1)
	go func() { fetched <- c.UidFetch(fetch, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, msgs) }()
	done := new(imap.SeqSet)
	var procErr error
	for m := range msgs {
		if ctx.Err() != nil || procErr != nil {
			run.Left++
			continue // drain: the fetch must finish before the next command
		}
		body := m.GetBody(section)
		if body == nil {
			run.Left++
			continue
		}
		if err := rd.handle(body, &run); err != nil {
			procErr = err
			run.Left++
			continue
		}
		done.AddNum(m.Uid)
	}
	if err := <-fetched; err != nil {
		return run, fmt.Errorf("imap: fetch failed: %w", err)
	}
	if !done.Empty() {
		if err := rd.finish(c, cfg, done); err != nil {
			return run, err
		}
	}
	if procErr == nil {
		procErr = ctx.Err()
	}
	return run, procErr
}

// handle parses one message and processes its reports. An error (the
// database refused a write) leaves the message for the next run.
func (rd *Reader) handle(body io.Reader, run *Run) error {
	run.Messages++
	raw, err := io.ReadAll(io.LimitReader(body, MaxMail))
	if err != nil {
		return err
	}
	m, err := Parse(bytes.NewReader(raw), "imap", "")
	if err != nil {
		m = Mail{Format: FormatOther} // not even a message: junk, finished with
	}
	run.Formats[m.Format]++
	for _, r := range m.Reports {
		out, err := Process(rd.App, r)
		if err != nil {
			var bad *InvalidReport
			if errors.As(err, &bad) {
				run.Actions[Unmatched]++ // a report too malformed to place
				continue
			}
			return err
		}
		run.Actions[out.Action]++
	}
	return nil
}

// finish moves the processed messages out of the way, or flags them seen.
func (rd *Reader) finish(c *client.Client, cfg IMAPConfig, done *imap.SeqSet) error {
	if cfg.MoveTo != "" {
		if err := c.UidMove(done, cfg.MoveTo); err == nil {
			return nil
		}
		// Some servers list MOVE (RFC 6851) but refuse it for a folder:
		// copy, mark deleted and expunge, as RFC 3501 servers do it.
		if err := c.UidCopy(done, cfg.MoveTo); err != nil {
			return fmt.Errorf("imap: failed to copy processed mail to %s: %w", cfg.MoveTo, err)
		}
		if err := c.UidStore(done, imap.FormatFlagsOp(imap.AddFlags, true), []any{imap.DeletedFlag}, nil); err != nil {
			return fmt.Errorf("imap: failed to flag processed mail deleted: %w", err)
		}
		if err := c.Expunge(nil); err != nil {
			return fmt.Errorf("imap: failed to expunge processed mail: %w", err)
		}
		return nil
	}
	if err := c.UidStore(done, imap.FormatFlagsOp(imap.AddFlags, true), []any{imap.SeenFlag}, nil); err != nil {
		return fmt.Errorf("imap: failed to flag processed mail: %w", err)
	}
	return nil
}

func (rd *Reader) dial(cfg IMAPConfig) (*client.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	tc := rd.TLS
	if tc == nil {
		tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := &net.Dialer{Timeout: 15 * time.Second}
	var c *client.Client
	var err error
	if cfg.Security == "" || cfg.Security == "tls" {
		c, err = client.DialWithDialerTLS(d, cfg.Addr, tc)
	} else {
		c, err = client.DialWithDialer(d, cfg.Addr)
	}
	if err != nil {
		return nil, fmt.Errorf("imap: failed to connect to %s: %w", cfg.Addr, err)
	}
	c.Timeout = 60 * time.Second
	c.ErrorLog = discard{}
	if cfg.Security == "starttls" {
		if err := c.StartTLS(tc); err != nil {
			c.Logout()
			return nil, fmt.Errorf("imap: STARTTLS failed: %w", err)
		}
	}
	if err := c.Login(cfg.Username, cfg.Password); err != nil {
		c.Logout()
		return nil, fmt.Errorf("imap: login to %s failed: %w", cfg.Addr, err)
	}
	return c, nil
}

// alreadyExists says a CREATE failed because the folder is there (the
// servers word it differently; RFC 5530 gives ALREADYEXISTS).
func alreadyExists(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "exist")
}

// discard drops go-imap's own logging, which may print server lines.
type discard struct{}

func (discard) Printf(string, ...any) {}
func (discard) Println(...any)        {}
