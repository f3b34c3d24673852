package dashboard

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signInForm is a sign-in page's pre-session cookie and token; a form may
// be posted with them any number of times.
type signInForm struct {
	pre   *http.Cookie
	token string
}

func (o *offline) signInForm(t *testing.T) signInForm {
	t.Helper()
	page := o.do("GET", "/ui/signin", nil, nil, nil)
	return signInForm{pre: cookieNamed(page, preCookie), token: hiddenCSRF.FindStringSubmatch(readBody(page))[1]}
}

func (o *offline) try(f signInForm, remote, key string, header map[string]string) *http.Response {
	return o.doFrom(remote, "POST", "/ui/signin", url.Values{"csrf": {f.token}, "key": {key}}, []*http.Cookie{f.pre}, header)
}

// TestSignInLimitPerAddress: 20 attempts a minute from one client address
// (an IPv6 /64 counts as one), whatever X-Forwarded-For says; past them
// 429 with Retry-After and the form, also for the right key; other
// addresses are not held up; waiting as told is enough.
func TestSignInLimitPerAddress(t *testing.T) {
	o := newOffline(t)
	f := o.signInForm(t)
	const addr = "203.0.113.7:5000"
	for i := range DefaultSignInPerAddress.Burst {
		resp := o.try(f, addr, fmt.Sprintf("wrong-key-%02d-0123456789abcdef", i), map[string]string{"X-Forwarded-For": fmt.Sprintf("10.0.0.%d", i)})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d is within the limit", i+1)
	}
	resp := o.try(f, addr, "wrong-key-past-the-limit-0123", map[string]string{"X-Forwarded-For": "10.9.9.9"})
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"), "one attempt every 3 s")
	body := readBody(resp)
	assert.Contains(t, body, "Too many sign-in attempts. Wait 3 seconds")
	assert.NotNil(t, hiddenCSRF.FindStringSubmatch(body), "the page has the form again")
	resp = o.try(f, addr, csmKey, nil)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "the right key from a limited address waits too")
	assert.Nil(t, cookieNamed(resp, sessionCookie))

	assert.Equal(t, http.StatusSeeOther, o.try(f, "203.0.113.8:5000", csmKey, nil).StatusCode, "another address is not held up")

	o.clock.Add(3 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, o.try(f, addr, "wrong-key-after-waiting-0123", nil).StatusCode, "refused attempts cost nothing: one wait is enough")
	assert.Equal(t, http.StatusTooManyRequests, o.try(f, addr, "wrong-key-and-again-012345", nil).StatusCode)

	// IPv6: one /64 is one client.
	for i := range DefaultSignInPerAddress.Burst {
		require.Equal(t, http.StatusUnauthorized, o.try(f, fmt.Sprintf("[2001:db8::%x]:5000", i+1), fmt.Sprintf("v6-wrong-key-%02d-0123456789", i), nil).StatusCode)
	}
	assert.Equal(t, http.StatusTooManyRequests, o.try(f, "[2001:db8::ffff]:5000", "v6-wrong-key-next-0123456789", nil).StatusCode)
	assert.Equal(t, http.StatusSeeOther, o.try(f, "[2001:db8:0:1::1]:5000", adminKey, nil).StatusCode, "another /64")
}

// TestSignInLimitPerKey: a key tried from many addresses gets 5 attempts a
// minute; other keys are not held up.
func TestSignInLimitPerKey(t *testing.T) {
	o := newOffline(t)
	f := o.signInForm(t)
	const guess = "a-guessed-key-0123456789abcdef"
	for i := range DefaultSignInPerKey.Burst {
		require.Equal(t, http.StatusUnauthorized, o.try(f, fmt.Sprintf("198.51.100.%d:1", i), guess, nil).StatusCode, "attempt %d", i+1)
	}
	resp := o.try(f, "198.51.100.200:1", guess, nil)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	assert.Equal(t, "12", resp.Header.Get("Retry-After"), "one attempt every 12 s")
	assert.Equal(t, http.StatusSeeOther, o.try(f, "198.51.100.201:1", csmKey, nil).StatusCode, "another key is not held up")
	o.clock.Add(12 * time.Second)
	assert.Equal(t, http.StatusUnauthorized, o.try(f, "198.51.100.202:1", guess, nil).StatusCode)
	assert.Equal(t, http.StatusTooManyRequests, o.try(f, "198.51.100.203:1", guess, nil).StatusCode)

	// The right key has its own limit, and a person who mistypes it and then
	// gets it right is not held up.
	for range DefaultSignInPerKey.Burst - 1 {
		o.try(f, "198.51.100.210:1", adminKey+"x", nil)
	}
	assert.Equal(t, http.StatusSeeOther, o.try(f, "198.51.100.211:1", adminKey, nil).StatusCode)
}

// TestSignInLimitConcurrently: attempts arriving together are admitted
// exactly up to the limit.
func TestSignInLimitConcurrently(t *testing.T) {
	o := newOffline(t)
	f := o.signInForm(t)
	const n = 30
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			codes <- o.try(f, "192.0.2.55:9", fmt.Sprintf("concurrent-wrong-key-%02d-0123", i), nil).StatusCode
		})
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	assert.Equal(t, map[int]int{http.StatusUnauthorized: DefaultSignInPerAddress.Burst, http.StatusTooManyRequests: n - DefaultSignInPerAddress.Burst}, got)
}

// TestLimiterSetIsBounded: idle limiters (full again) are dropped, and the
// set never holds more than its bound, however many keys arrive.
func TestLimiterSetIsBounded(t *testing.T) {
	t0 := time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)
	s := newLimiterSet[string](Limit{PerMinute: 60, Burst: 2}, 5) // full again 2 s after its last use
	assert.Equal(t, 2*time.Second, s.idle)
	for i := range 50 {
		s.reserve(t0, fmt.Sprint("k", i))
		assert.LessOrEqual(t, s.size(), 5)
	}

	// The bound drops the least recently used: a key in use stays limited
	// while others come and go.
	s = newLimiterSet[string](Limit{PerMinute: 60, Burst: 2}, 3)
	s.reserve(t0, "a")
	s.reserve(t0, "b")
	busy := t0.Add(500 * time.Millisecond)
	s.reserve(busy, "busy")
	s.reserve(busy, "busy")
	r := s.reserve(busy, "busy")
	assert.Greater(t, r.DelayFrom(busy), time.Duration(0), "busy is limited")
	r.CancelAt(busy)
	s.reserve(busy.Add(100*time.Millisecond), "c") // evicts a or b, not busy
	assert.Equal(t, 3, s.size())
	_, kept := s.m["busy"]
	assert.True(t, kept)
	assert.Greater(t, s.reserve(busy, "busy").DelayFrom(busy), time.Duration(0), "busy is still limited")

	// Idle entries go at the next sweep.
	s.reserve(t0.Add(10*time.Second), "late")
	assert.Equal(t, 1, s.size(), "only the new key is left")
}

func TestClientPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":        "203.0.113.7/32",
		"::ffff:203.0.113.7": "203.0.113.7/32",
		"2001:db8::1":        "2001:db8::/64",
		"2001:db8::ffff:1":   "2001:db8::/64",
	} {
		assert.Equal(t, netip.MustParsePrefix(want), clientPrefix(in), in)
	}
	assert.Equal(t, netip.Prefix{}, clientPrefix(""))
	assert.Equal(t, "1", retryAfterSeconds(time.Millisecond))
	assert.Equal(t, "12", retryAfterSeconds(12*time.Second))
	assert.Equal(t, "13", retryAfterSeconds(12*time.Second+time.Nanosecond))
}
