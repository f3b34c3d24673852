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
	url := s.URL(links.Link{CustomerID: "acme", Step: "touchpoint:pulse-21", Action: "pulse_4"})
	require.True(t, strings.HasPrefix(url, "https://cs.example/a/"), url)
	c, err := s.Parse(strings.TrimPrefix(url, "https://cs.example/a/"))
	require.NoError(t, err)
	assert.Equal(t, "acme", c.CustomerID)
	assert.Equal(t, "touchpoint:pulse-21", c.Step)
	assert.Equal(t, "pulse_4", c.Action)
	assert.Empty(t, c.Journey)
}

// Tokens issued before claims had a journey (these two, by that code, with
// this secret and clock) still parse, verify and keep their use ids, so a
// link already answered stays answered.
func TestTokenWithoutJourneyStillWorks(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	const (
		book  = "eyJ2IjoxLCJjIjoiYWNtZSIsInMiOiJoYW5kb2ZmOndlbGNvbWUiLCJhIjoiYm9va19oYW5kb2ZmIiwiZSI6MTc3MjM3MDAwMH0.mVEEIdlN1GBFFkY5NYF9GJ1CCbMDx-SO3MSCvEzJcnE"
		pulse = "eyJ2IjoxLCJjIjoiYWNtZSIsInMiOiJ0b3VjaHBvaW50OnB1bHNlLTIxIiwiYSI6InB1bHNlXzMiLCJtIjoiYWRhQGFjbWUuZXhhbXBsZSIsImUiOjE3NzIzNzAwMDB9.hnCmNZU24yxlp3jIPeC5FwQLn39LvIbFKHujpwUh49k"
	)
	c, err := s.Parse(book)
	require.NoError(t, err)
	assert.Equal(t, links.Claims{Version: 1, CustomerID: "acme", Step: "handoff:welcome", Action: "book_handoff", Expires: now.Add(time.Hour).Unix()}, c)
	assert.Equal(t, book, s.Token(links.Link{CustomerID: "acme", Step: "handoff:welcome", Action: "book_handoff"}),
		"a token without a journey is signed as before")
	c, err = s.Parse(pulse)
	require.NoError(t, err)
	assert.Equal(t, "ada@acme.example", c.Email)
	assert.Equal(t, "0d59949a250c69ea45d6c6bae25bd553", c.UseID(), "the use id of the old code")
}

// A journey's links are its own: the same step and action in a second
// journey of the account is another use; answers to one email still share one.
func TestJourneyInClaimsAndUseID(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	claims := func(journey, step, action string) links.Claims {
		c, err := s.Parse(s.Token(links.Link{CustomerID: "acme", Journey: journey, Step: step, Action: action}))
		require.NoError(t, err)
		return c
	}
	second := claims("j2", "handoff:welcome", "book_handoff")
	assert.Equal(t, "j2", second.Journey)
	assert.NotEqual(t, claims("", "handoff:welcome", "book_handoff").UseID(), second.UseID(), "first journey and second")
	assert.NotEqual(t, claims("j3", "handoff:welcome", "book_handoff").UseID(), second.UseID(), "second and third")
	assert.Equal(t, second.UseID(), claims("j2", "handoff:welcome", "book_handoff").UseID())
	assert.Equal(t, claims("j2", "touchpoint:pulse-21", "pulse_1").UseID(), claims("j2", "touchpoint:pulse-21", "on_track").UseID(),
		"one answer per email within a journey")

	// The journey is signed: changing it breaks the signature.
	tok := s.Token(links.Link{CustomerID: "acme", Journey: "j2", Step: "handoff:welcome", Action: "book_handoff"})
	forged := s.Token(links.Link{CustomerID: "acme", Journey: "j9", Step: "handoff:welcome", Action: "book_handoff"})
	p, _, _ := strings.Cut(forged, ".")
	_, sig, _ := strings.Cut(tok, ".")
	_, err := s.Parse(p + "." + sig)
	assert.ErrorIs(t, err, links.ErrSignature)
}

func TestTamperedExpiredForeign(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	tok := s.Token(links.Link{CustomerID: "acme", Step: "handoff:welcome", Action: "book_handoff"})
	payload, sig, _ := strings.Cut(tok, ".")

	// Another customer's id in the payload, the old signature: refused.
	other := signer(t, "a-secret-of-16-chars", now).Token(links.Link{CustomerID: "globex", Step: "handoff:welcome", Action: "book_handoff"})
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
		c, err := s.Parse(s.Token(links.Link{CustomerID: "acme", Step: step, Action: action}))
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
	f.Add(s.Token(links.Link{CustomerID: "acme", Step: "handoff:welcome", Action: "book_handoff"}))
	f.Add(s.Token(links.Link{CustomerID: "acme", Step: "touchpoint:pulse-21", Action: "pulse_3", Email: "ada@acme.example"}))
	f.Add(s.Token(links.Link{CustomerID: "acme", Journey: "j2", Step: "touchpoint:pulse-21", Action: "pulse_3"}))
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
		again := s.Token(links.Link{CustomerID: c.CustomerID, Journey: c.Journey, Step: c.Step, Action: c.Action, Email: c.Email})
		ap, _, _ := strings.Cut(again, ".")
		tp, _, _ := strings.Cut(tok, ".")
		if c.Expires == now.Add(time.Hour).Unix() && ap != tp {
			t.Fatalf("accepted a token whose payload differs from what we sign: %q", tok)
		}
	})
}

// Each contact's answer to an email is its own use: the admin registering
// for a training does not spend the users' links; the champion's links
// (no contact) keep the use id they always had.
func TestContactInClaimsAndUseID(t *testing.T) {
	s := signer(t, "a-secret-of-16-chars", now)
	claims := func(contact, action string) links.Claims {
		c, err := s.Parse(s.Token(links.Link{CustomerID: "acme", Journey: "j2", Step: "touchpoint:training-basics", Action: action, Contact: contact}))
		require.NoError(t, err)
		return c
	}
	admin, user, champion := claims("ct2", "register"), claims("ct3", "register"), claims("", "register")
	assert.Equal(t, "ct2", admin.Contact)
	assert.NotEqual(t, admin.UseID(), user.UseID())
	assert.NotEqual(t, admin.UseID(), champion.UseID())
	assert.Equal(t, admin.UseID(), claims("ct2", "register").UseID())
	legacy, err := s.Parse(s.Token(links.Link{CustomerID: "acme", Journey: "j2", Step: "touchpoint:training-basics", Action: "register"}))
	require.NoError(t, err)
	assert.Equal(t, legacy.UseID(), champion.UseID())
	assert.Equal(t, claims("ct2", "pulse_1").UseID(), claims("ct2", "on_track").UseID(), "one answer per email and contact")
}
