package mailsend

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"
)

// DKIM is a signing identity: the d= domain, the s= selector whose DNS
// record holds the public key, and the private key.
type DKIM struct {
	Domain   string
	Selector string
	Key      crypto.Signer
}

// dkimHeaders are signed in every message: From (RFC 6376) and both
// List-Unsubscribe headers (RFC 8058 section 4), with the headers that
// identify the message. Each is listed twice (oversigned, RFC 6376 section
// 8.15): the second entry signs the absence of another copy, so a header
// added later, above or below, breaks the signature. Absent ones are signed
// as empty, which stops anyone adding them.
var dkimHeaders = func() []string {
	h := []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"}
	return append(h, h...)
}()

// minRSABits is the smallest RSA key DKIM may use (RFC 8301 section 3.2).
const minRSABits = 2048

// LoadDKIM reads a PEM private key (RSA of at least 2048 bits, or Ed25519)
// for signing as domain with selector.
func LoadDKIM(domain, selector string, pemBytes []byte) (*DKIM, error) {
	if domain == "" || selector == "" {
		return nil, errors.New("dkim needs a domain and a selector")
	}
	key, err := gomail.PrivKeyFromPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("dkim key: %w", err)
	}
	if k, ok := key.(*rsa.PrivateKey); ok && k.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("dkim key is RSA of %d bits; receivers reject keys under %d bits (RFC 8301): generate a new one, e.g. openssl genrsa 2048", k.N.BitLen(), minRSABits)
	}
	return &DKIM{Domain: domain, Selector: selector, Key: key}, nil
}

// sign returns the DKIM-Signature field (relaxed/relaxed, ending in CRLF)
// for a message as it goes on the wire, to be written above it. go-mail's
// own signer (v0.8.1 and v0.8.2) hard-wraps an h= tag longer than a line
// inside a header name but signs it unwrapped, so the oversigned list
// would fail relaxed verification; go-msgauth signs the field exactly as it
// emits it.
func (d *DKIM) sign(data []byte) (string, error) {
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 d.Domain,
		Selector:               d.Selector,
		Signer:                 d.Key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaders,
	})
	if err != nil {
		return "", err
	}
	if _, err := s.Write(data); err != nil {
		s.Close()
		return "", err
	}
	if err := s.Close(); err != nil {
		return "", err
	}
	return s.Signature(), nil
}
