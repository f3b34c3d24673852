// Package links signs and checks the one-click action links in customer
// emails. A token is bound to one customer, one journey (chapter), one
// journey step and one action, expires, and is HMAC-SHA256 signed with
// LIFECYCLE_LINK_SECRET, so it cannot be forged or altered.
package links

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultTTL is how long an action link works.
const DefaultTTL = 60 * 24 * time.Hour

// MaxTokenLength bounds what Parse even looks at.
const MaxTokenLength = 1024

// Claims is what a token says.
type Claims struct {
	Version    int    `json:"v"`
	CustomerID string `json:"c"`
	// Journey names the customer's journey (chapter) when the account had
	// one before; empty in tokens of first journeys and in tokens issued
	// before the field existed, which parse and verify as they did.
	Journey string `json:"j,omitempty"`
	Step    string `json:"s"`
	Action  string `json:"a"`
	Email   string `json:"m,omitempty"` // the recipient, for unsubscribe
	// Contact names the recipient when it is not the champion: each
	// contact's answer to an email is its own use.
	Contact string `json:"r,omitempty"`
	Expires int64  `json:"e"` // Unix seconds
}

// Link is what a token is issued for.
type Link struct {
	CustomerID string
	Journey    string // activities.CustomerEmail.Journey; may be empty
	Step       string
	Action     string
	Email      string // the recipient, for unsubscribe
	Contact    string // the recipient's contact id when not the champion
}

// Errors Parse returns; each gets its own page.
var (
	ErrMalformed = errors.New("this link is damaged or incomplete")
	ErrSignature = errors.New("this link was not issued by us or has been altered")
	ErrExpired   = errors.New("this link has expired")
)

// Signer issues and checks tokens.
type Signer struct {
	secret []byte
	base   string
	ttl    time.Duration
	now    func() time.Time
}

// NewSigner makes a signer; baseURL is LIFECYCLE_PUBLIC_URL.
func NewSigner(secret, baseURL string, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(secret) < 16 {
		return nil, errors.New("LIFECYCLE_LINK_SECRET: must be at least 16 characters")
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{secret: []byte(secret), base: strings.TrimRight(baseURL, "/"), ttl: ttl, now: now}, nil
}

var enc = base64.RawURLEncoding

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

// Token signs the claims of l, valid for the TTL.
func (s *Signer) Token(l Link) string {
	c := Claims{Version: 1, CustomerID: l.CustomerID, Journey: l.Journey, Step: l.Step, Action: l.Action,
		Email: l.Email, Contact: l.Contact, Expires: s.now().Add(s.ttl).Unix()}
	payload, _ := json.Marshal(c) // plain strings: cannot fail
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(s.mac(payload))
}

// URL is the action link for l.
func (s *Signer) URL(l Link) string {
	return s.base + "/a/" + s.Token(l)
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write(payload)
	return m.Sum(nil)
}

// Parse checks a token's signature and expiry and returns its claims.
func (s *Signer) Parse(token string) (Claims, error) {
	if len(token) == 0 || len(token) > MaxTokenLength || strings.Trim(token, tokenAlphabet) != "" {
		return Claims{}, ErrMalformed // base64 decoding would skip stray newlines: refuse them
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok || p == "" || strings.Contains(sig, ".") {
		return Claims{}, ErrMalformed
	}
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || len(mac) != sha256.Size {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(mac, s.mac(payload)) {
		return Claims{}, ErrSignature
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil || c.Version != 1 || c.CustomerID == "" || c.Step == "" || c.Action == "" {
		return Claims{}, ErrMalformed
	}
	if s.now().Unix() >= c.Expires {
		return c, fmt.Errorf("%w (on %s)", ErrExpired, time.Unix(c.Expires, 0).UTC().Format("2 January 2006"))
	}
	return c, nil
}

// UseID names what one use of the token consumes: the answers to one email
// (any face of a pulse, on track or need help) share one use; other actions
// have their own. A journey's uses are its own: a returning customer's new
// "book your handoff call" is not used up by the first journey's click.
// Tokens without a journey keep the use ids they always had.
func (c Claims) UseID() string {
	group := c.Action
	switch {
	case strings.HasPrefix(c.Action, "pulse_") || c.Action == "on_track" || c.Action == "need_help":
		group = "answer"
	case strings.HasPrefix(c.Action, "outcome_"):
		// One desired outcome per email: the first choice clicked counts.
		group = "outcome"
	}
	key := c.CustomerID + "\x00" + c.Step + "\x00" + group
	if c.Contact != "" {
		key += "\x00contact\x00" + c.Contact
	}
	if c.Journey != "" {
		key = "journey\x00" + c.Journey + "\x00" + key
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}
