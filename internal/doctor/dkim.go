package doctor

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// DKIM key sizes: receivers ignore RSA keys under 1024 bits (RFC 8301
// section 3.2); Gmail advises 2048.
const (
	minDKIMBits    = 1024
	advisedDKIMBit = 2048
)

// checkDKIM reads the key record of the configured selector, checks it is a
// usable key of a safe size and, when the app signs itself, that it is the
// public half of the app's own key.
func checkDKIM(ctx context.Context, r *resolver, cfg Config) Check {
	c := Check{ID: CheckDKIM, Title: titles[CheckDKIM]}
	if cfg.DKIMSelector == "" {
		c.Status, c.Found = Fail, "no DKIM selector is configured"
		c.Advice = "Sign mail with DKIM: set CRM_DKIM_DOMAIN, CRM_DKIM_SELECTOR and CRM_DKIM_KEY_FILE, or, if your relay signs for your domain, set CRM_DKIM_SELECTOR (and CRM_DKIM_DOMAIN) to its selector so this check can read the key."
		return c
	}
	name := cfg.DKIMSelector + "._domainkey." + cfg.DKIMDomain
	txt, err := r.txt(ctx, name)
	if errors.Is(err, errNoRecords) {
		c.Status, c.Found = Fail, "no DKIM key record at "+name
		c.Advice = "Publish the public key as a TXT record at " + name + " (\"v=DKIM1; k=rsa; p=<base64 key>\")."
		return c
	}
	if err != nil {
		c.Status, c.Found = Fail, err.Error()
		return c
	}
	if len(txt) != 1 {
		c.Status, c.Found, c.Advice = Fail, fmt.Sprintf("%d TXT records at %s", len(txt), name), "Keep exactly one key record per selector."
		return c
	}
	c.Found = name + ": " + shortRecord(txt[0])
	key, err := parseDKIMKey(txt[0])
	if err != nil {
		c.Status, c.Advice = Fail, err.Error()
		return c
	}
	if cfg.DKIMKey != nil && !sameKey(key, cfg.DKIMKey) {
		c.Status = Fail
		c.Advice = "The published key is not the public half of CRM_DKIM_KEY_FILE, so every signature fails: publish the key that matches the file."
		return c
	}
	if k, ok := key.(*rsa.PublicKey); ok {
		bits := k.N.BitLen()
		c.Found += fmt.Sprintf(" (RSA, %d bits)", bits)
		switch {
		case bits < minDKIMBits:
			c.Status, c.Advice = Fail, fmt.Sprintf("The key has %d bits; receivers ignore keys under %d. Generate a 2048-bit key.", bits, minDKIMBits)
			return c
		case bits < advisedDKIMBit:
			c.Status, c.Advice = Warn, fmt.Sprintf("The key has %d bits; Gmail advises 2048. Rotate to a 2048-bit key.", bits)
			return c
		}
	}
	c.Status = OK
	return c
}

// parseDKIMKey reads the p= and k= tags of a key record (RFC 6376 section 3.6.1).
func parseDKIMKey(rec string) (any, error) {
	tags := tagList(rec)
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("the key record's v= is %q, not DKIM1", v)
	}
	p, ok := tags["p"]
	if !ok {
		return nil, errors.New("the key record has no p= (public key) tag")
	}
	if p == "" {
		return nil, errors.New("the key record's p= is empty, which means the key was revoked: publish the current key")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(p), ""))
	if err != nil {
		return nil, errors.New("the key record's p= is not base64")
	}
	switch k := strings.ToLower(tags["k"]); k {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(raw)
		if err != nil {
			if rk, err2 := x509.ParsePKCS1PublicKey(raw); err2 == nil {
				return rk, nil
			}
			return nil, fmt.Errorf("the key record's p= is not an RSA public key: %v", err)
		}
		if _, ok := pub.(*rsa.PublicKey); !ok {
			return nil, errors.New("the key record says k=rsa but holds another kind of key")
		}
		return pub, nil
	case "ed25519":
		if len(raw) != ed25519.PublicKeySize {
			return nil, errors.New("the key record's Ed25519 key is not 32 bytes")
		}
		return ed25519.PublicKey(raw), nil
	default:
		return nil, fmt.Errorf("the key record's k=%s is not a key type receivers know", k)
	}
}

// tagList parses "a=1; b=2" tag lists (DKIM, DMARC): names lowercased,
// values trimmed.
func tagList(rec string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(rec, ";") {
		name, value, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		out[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	return out
}

func sameKey(published any, ours crypto.PublicKey) bool {
	k, ok := published.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(ours)
}
