package mailsend_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"supportercrm/internal/mailsend"
)

// signedMessage sends one message with List-Unsubscribe through a DKIM
// signing Conn and returns it as the relay got it, with the key's DNS
// record and a go-msgauth verifier for it.
func signedMessage(t *testing.T) ([]byte, string, func([]byte) (*dkim.Verification, error)) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	d, err := mailsend.LoadDKIM("lanternhouse.org.uk", "news2026", pemKey)
	if err != nil {
		t.Fatal(err)
	}
	r := newRelay(t)
	cfg := config(r)
	cfg.DKIM = d
	c := dialCfg(t, cfg)
	m := msgTo("ada@example.org", "Signed, with a subject long enough to be folded by go-mail somewhere along the line")
	m.Headers = []mailsend.Header{
		{Name: "List-Unsubscribe", Value: "<https://crm.lanternhouse.org.uk/unsubscribe?token=x>"},
		{Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"},
	}
	if err := c.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	raw := r.WaitFor(t, "ada@example.org", 1, 10*time.Second)[0].Raw
	txt := "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	verify := func(msg []byte) (*dkim.Verification, error) {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
			LookupTXT: func(domain string) ([]string, error) {
				if domain != "news2026._domainkey.lanternhouse.org.uk" {
					return nil, fmt.Errorf("unexpected lookup %s", domain)
				}
				return []string{txt}, nil
			},
		})
		if err != nil {
			return nil, err
		}
		if len(vs) != 1 {
			t.Fatalf("%d signatures", len(vs))
		}
		return vs[0], vs[0].Err
	}
	return raw, txt, verify
}

// 14.4: every signed header is listed once more in h=, so a second copy
// added anywhere breaks the signature (checked by go-msgauth, which go-mail
// does not use), and relaxed header canonicalization still verifies.
func TestDKIMOversignsSoAddedHeadersBreakIt(t *testing.T) {
	raw, txt, verify := signedMessage(t)
	if _, err := verify(raw); err != nil {
		t.Fatalf("the untouched message does not verify: %v\n%s", err, raw)
	}
	sig := dkimTags(t, raw)
	if sig["c"] != "relaxed/relaxed" {
		t.Errorf("c=%s, want relaxed/relaxed", sig["c"])
	}
	counts := map[string]int{}
	for _, h := range strings.Split(sig["h"], ":") {
		counts[strings.ToLower(strings.TrimSpace(h))]++
	}
	for _, h := range []string{"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"} {
		if counts[h] != 2 {
			t.Errorf("h= lists %s %d times, want 2 (signed and oversigned): h=%s", h, counts[h], sig["h"])
		}
	}
	for _, extra := range []string{
		"List-Unsubscribe: <https://evil.example/unsubscribe>",
		"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
		"From: Bank <security@bank.example>",
		"To: victim@example.org",
		"Subject: Your account is locked",
		"Date: Mon, 1 Jan 2024 00:00:00 +0000",
		"Message-ID: <forged@evil.example>",
	} {
		for _, where := range []string{"top", "bottom"} {
			forged := addHeader(raw, extra, where == "top")
			if _, err := verify(forged); err == nil {
				t.Errorf("a second %q added at the %s still verifies", extra, where)
			}
		}
	}
	dkimpy(t, txt, raw, true)
	dkimpy(t, txt, addHeader(raw, "List-Unsubscribe: <https://evil.example/unsubscribe>", true), false)
}

// dkimpy verifies msg with Python's dkimpy as well, a verifier written
// apart from go-msgauth and go-mail, where it is installed (Debian:
// python3-dkim).
func dkimpy(t *testing.T, txt string, msg []byte, want bool) {
	t.Helper()
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} { // Debian's, beside a pyenv one
		if exec.Command(p, "-c", "import dkim").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Log("python3-dkim not installed: skipping the dkimpy cross-check")
		return
	}
	const script = `import sys, dkim
txt = sys.argv[1].encode()
ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda name, timeout=5: txt)
print("pass" if ok else "fail")`
	cmd := exec.Command(python, "-c", script, txt)
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)) == "pass"; got != want {
		t.Errorf("dkimpy says %s, want pass=%v", out, want)
	}
}

// addHeader puts one header field at the top or the bottom of the header
// section.
func addHeader(raw []byte, field string, top bool) []byte {
	if top {
		return append([]byte(field+"\r\n"), raw...)
	}
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	return []byte(string(head) + "\r\n" + field + "\r\n\r\n" + string(body))
}

// dkimTags returns the DKIM-Signature's tags, unfolded and trimmed.
func dkimTags(t *testing.T, raw []byte) map[string]string {
	t.Helper()
	for _, l := range headerLines(t, raw) {
		name, value, _ := strings.Cut(l, ":")
		if !strings.EqualFold(name, "DKIM-Signature") {
			continue
		}
		tags := map[string]string{}
		for _, kv := range strings.Split(value, ";") {
			k, v, _ := strings.Cut(kv, "=")
			tags[strings.TrimSpace(k)] = strings.Join(strings.Fields(v), "")
		}
		return tags
	}
	t.Fatalf("no DKIM-Signature in:\n%s", raw)
	return nil
}

// 14.4: a key under 2048 bits is refused at load.
func TestLoadDKIMRefusesWeakRSAKeys(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range []*pem.Block{
		{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)},
		{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))},
	} {
		_, err := mailsend.LoadDKIM("lanternhouse.org.uk", "news2026", pem.EncodeToMemory(block))
		if err == nil || !strings.Contains(err.Error(), "1024") || !strings.Contains(err.Error(), "2048") {
			t.Errorf("%s of 1024 bits: LoadDKIM = %v, want a refusal naming 1024 and 2048", block.Type, err)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
