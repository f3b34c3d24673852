package links_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/links"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func signer(t testing.TB, secret string, at time.Time) *links.Signer {
	s, err := links.NewSigner(secret, "https://cs.example/", time.Hour, func() time.Time { return at })
	require.NoError(t, err)
	return s
}

func TestValidToken(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	url := s.URL("acme", "touchpoint:pulse-21", "pulse_4", "")
	require.True(t, strings.HasPrefix(url, "https://cs.example/a/"), url)
	c, err := s.Parse(strings.TrimPrefix(url, "https://cs.example/a/"))
	require.NoError(t, err)
	assert.Equal(t, "acme", c.CustomerID)
	assert.Equal(t, "touchpoint:pulse-21", c.Step)
	assert.Equal(t, "pulse_4", c.Action)
}

func TestTamperedExpiredForeign(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	tok := s.Token("acme", "handoff:welcome", "book_handoff", "")
	payload, sig, _ := strings.Cut(tok, ".")

	// Another customer's id in the payload, the old signature: refused.
	other := signer(t, "a-secret-of-16-chars", now).Token("globex", "handoff:welcome", "book_handoff", "")
	otherPayload, _, _ := strings.Cut(other, ".")
	_, err := s.Parse(otherPayload + "." + sig)
	assert.ErrorIs(t, err, links.ErrSignature)

	flipped := []byte(sig)
	flipped[3] ^= 1
	if flipped[3] == sig[3] {
		flipped[3]++
	}
	_, err = s.Parse(payload + "." + string(flipped))
	assert.True(t, errors.Is(err, links.ErrSignature) || errors.Is(err, links.ErrMalformed), "%v", err)

	_, err = signer(t, "another-installation!", now).Parse(tok)
	assert.ErrorIs(t, err, links.ErrSignature, "a token from another secret")

	_, err = signer(t, "a-secret-of-16-chars", now.Add(2*time.Hour)).Parse(tok)
	assert.ErrorIs(t, err, links.ErrExpired)
	assert.Contains(t, err.Error(), "1 March 2026")

	for _, bad := range []string{"", "abc", "a.b.c", payload, payload + ".", "." + sig, strings.Repeat("x", 2000)} {
		_, err := s.Parse(bad)
		assert.ErrorIs(t, err, links.ErrMalformed, "%q", bad)
	}
}

func TestUseIDGroupsAnswers(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	claims := func(step, action string) links.Claims {
		c, err := s.Parse(s.Token("acme", step, action, ""))
		require.NoError(t, err)
		return c
	}
	assert.Equal(t, claims("touchpoint:pulse-21", "pulse_5").UseID(), claims("touchpoint:pulse-21", "pulse_1").UseID(), "one answer per pulse email")
	assert.NotEqual(t, claims("touchpoint:pulse-21", "pulse_5").UseID(), claims("touchpoint:pulse-50", "pulse_5").UseID())
	assert.NotEqual(t, claims("touchpoint:pulse-21", "pulse_5").UseID(), claims("touchpoint:pulse-21", "report_problem").UseID())
}

func TestShortSecretRefused(t *testing.T) {
	_, err := links.NewSigner("short", "https://x", 0, nil)
	assert.ErrorContains(t, err, "LIFECYCLE_LINK_SECRET")
}

// FuzzParse: no input makes Parse panic, and nothing but a token this
// signer issued is accepted.
func FuzzParse(f *testing.F) {
	s := signer(f, "a-secret-of-16-chars", now)
	f.Add(s.Token("acme", "handoff:welcome", "book_handoff", ""))
	f.Add(s.Token("acme", "touchpoint:pulse-21", "pulse_3", "ada@acme.example"))
	f.Add("eyJ2IjoxfQ.AAAA")
	f.Add("..")
	f.Add("")
	issued := map[string]bool{}
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Parse(tok)
		if err != nil {
			return
		}
		if issued[tok] {
			return
		}
		// Accepted: it must re-sign to exactly the same token.
		again := s.Token(c.CustomerID, c.Step, c.Action, c.Email)
		ap, _, _ := strings.Cut(again, ".")
		tp, _, _ := strings.Cut(tok, ".")
		if c.Expires == now.Add(time.Hour).Unix() && ap != tp {
			t.Fatalf("accepted a token whose payload differs from what we sign: %q", tok)
		}
	})
}
