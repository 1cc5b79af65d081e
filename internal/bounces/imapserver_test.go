package bounces_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/backend/memory"
	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-imap/server"

	"supportercrm/internal/bounces"
)

// imapServer is go-imap's in-memory IMAP server on loopback, with one user
// ("username", "password") whose INBOX starts with one plain message.
type imapServer struct {
	Addr string
}

func startIMAP(t testing.TB) *imapServer {
	t.Helper()
	s := server.New(memory.New())
	s.AllowInsecureAuth = true // loopback, no TLS: the reader allows "none" there only
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })
	return &imapServer{Addr: l.Addr().String()}
}

// config is a reader's settings for this server.
func (s *imapServer) config(moveTo string) bounces.IMAPConfig {
	return bounces.IMAPConfig{Addr: s.Addr, Security: "none", Username: "username", Password: "password", MoveTo: moveTo}
}

func (s *imapServer) client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.Dial(s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("username", "password"); err != nil {
		t.Fatal(err)
	}
	return c
}

// deliver appends messages to INBOX, as the MTA would.
func (s *imapServer) deliver(t testing.TB, msgs ...[]byte) {
	t.Helper()
	c := s.client(t)
	defer c.Logout()
	for _, m := range msgs {
		if err := c.Append("INBOX", nil, time.Now(), bytes.NewBuffer(m)); err != nil {
			t.Fatal(err)
		}
	}
}

// count is how many messages a folder holds, and how many of them are unseen.
func (s *imapServer) count(t testing.TB, folder string) (all, unseen int) {
	t.Helper()
	c := s.client(t)
	defer c.Logout()
	st, err := c.Status(folder, []imap.StatusItem{imap.StatusMessages, imap.StatusUnseen})
	if err != nil {
		return 0, 0
	}
	return int(st.Messages), int(st.Unseen)
}
