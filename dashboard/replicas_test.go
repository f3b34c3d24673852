package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store/storetest"
)

// Sessions are in the store: any API replica serves a session that another
// made, sign-out on one ends it on all, and a restart keeps it. Each
// replica has its own store connection, as separate processes do.

// signedInOn says whether ses is admitted by o: the outbox page reads only
// the store, so 200 means signed in and 303 means sent to sign in.
func signedInOn(t *testing.T, o *offline, ses *http.Cookie) int {
	t.Helper()
	return o.do("GET", "/ui/outbox", nil, []*http.Cookie{ses}, nil).StatusCode
}

// postAction posts a form through the session and CSRF checks to an
// unknown action: 404 means both passed.
func postAction(o *offline, ses *http.Cookie, csrf string, header map[string]string) *http.Response {
	return o.do("POST", "/ui/customers/acme/explode", url.Values{"csrf": {csrf}}, []*http.Cookie{ses}, header)
}

func TestSessionWorksOnEveryReplica(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		databaseURL, dataDir := b.Fresh(t)
		clk := newClock()
		a := newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, nil)
		bb := newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, nil)

		ses, csrf := a.signIn(t, csmKey)
		assert.Equal(t, http.StatusOK, signedInOn(t, bb, ses), "replica B knows A's session")
		assert.Equal(t, http.StatusNotFound, postAction(bb, ses, csrf, nil).StatusCode, "and its CSRF token")
		assert.Equal(t, csrf, bb.csrfOf(t, ses), "B's pages carry the same token")
		assert.Equal(t, http.StatusForbidden, postAction(bb, ses, csrf+"x", nil).StatusCode)

		// A restart: a new process, a new store connection, same database.
		restarted := newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, nil)
		assert.Equal(t, http.StatusOK, signedInOn(t, restarted, ses), "a restart keeps the session")

		// Sign-out on B ends the session on A too.
		resp := bb.do("POST", "/ui/signout", url.Values{"csrf": {csrf}}, []*http.Cookie{ses}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		assert.Equal(t, "/ui/signin", resp.Header.Get("Location"))
		for name, o := range map[string]*offline{"A": a, "B": bb, "restarted": restarted} {
			assert.Equal(t, http.StatusSeeOther, signedInOn(t, o, ses), "%s after sign-out", name)
			assert.Equal(t, http.StatusSeeOther, postAction(o, ses, csrf, nil).StatusCode, "%s after sign-out", name)
		}
		_, ok, err := a.store.DashboardSession(context.Background(), ses.Value)
		require.NoError(t, err)
		assert.False(t, ok, "the row is gone")
	})
}

// TestRemovedKeyEndsItsSessions: a replica whose LIFECYCLE_API_KEYS no
// longer has the key that signed in (removed or rotated), or gives it
// another role, refuses the session; the other keys' sessions go on.
func TestRemovedKeyEndsItsSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		databaseURL, dataDir := b.Fresh(t)
		clk := newClock()
		a := newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, nil)
		csm, _ := a.signIn(t, csmKey)
		admin, adminCSRF := a.signIn(t, adminKey)

		rotated := newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, func(o *Options) {
			o.APIKeys = map[string]string{"csm-rotated-key-0123456789ab": config.RoleCSM, adminKey: config.RoleAdmin}
		})
		assert.Equal(t, http.StatusSeeOther, signedInOn(t, rotated, csm), "the csm key was rotated")
		assert.Equal(t, http.StatusOK, signedInOn(t, rotated, admin))
		assert.Equal(t, http.StatusNotFound, postAction(rotated, admin, adminCSRF, nil).StatusCode)

		demoted := newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, func(o *Options) {
			o.APIKeys = map[string]string{csmKey: config.RoleCSM, adminKey: config.RoleCSM}
		})
		assert.Equal(t, http.StatusSeeOther, signedInOn(t, demoted, admin), "an admin session ends when its key is no longer admin")
		assert.Equal(t, http.StatusOK, signedInOn(t, demoted, csm))

		// The refusing replica does not delete the session: during a
		// rolling change of the keys, replicas that still have the key
		// keep it.
		assert.Equal(t, http.StatusOK, signedInOn(t, a, csm))
		assert.Equal(t, http.StatusOK, signedInOn(t, a, admin))
	})
}

// TestExpiredSessionsArePurged: an expired session is refused and deleted
// when it comes back; expired sessions that never come back go at the
// next sign-in.
func TestExpiredSessionsArePurged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		databaseURL, dataDir := b.Fresh(t)
		o := newReplica(t, storetest.Open(t, databaseURL, dataDir), newClock(), nil)
		ctx := context.Background()
		returning, _ := o.signIn(t, csmKey)
		forgotten, _ := o.signIn(t, adminKey)
		o.clock.Add(12*time.Hour - time.Second)
		require.Equal(t, http.StatusOK, signedInOn(t, o, returning), "live until its 12 hours are up")

		o.clock.Add(time.Second)
		assert.Equal(t, http.StatusSeeOther, signedInOn(t, o, returning), "expired at 12 hours")
		_, ok, err := o.store.DashboardSession(ctx, returning.Value)
		require.NoError(t, err)
		assert.False(t, ok, "an expired session that comes back is deleted")
		_, ok, err = o.store.DashboardSession(ctx, forgotten.Value)
		require.NoError(t, err)
		assert.True(t, ok, "not yet purged")

		fresh, _ := o.signIn(t, csmKey)
		_, ok, err = o.store.DashboardSession(ctx, forgotten.Value)
		require.NoError(t, err)
		assert.False(t, ok, "purged at the next sign-in")
		assert.Equal(t, http.StatusOK, signedInOn(t, o, fresh))
	})
}

// TestStoreDownIs503: with the store gone, sign-in, pages and sign-out say
// so (503, a readable page, Retry-After) instead of panicking or sending
// the browser round the sign-in page.
func TestStoreDownIs503(t *testing.T) {
	o := newOffline(t)
	ses, csrf := o.signIn(t, csmKey)
	page := o.do("GET", "/ui/signin", nil, nil, nil)
	pre := cookieNamed(page, preCookie)
	token := hiddenCSRF.FindStringSubmatch(readBody(page))[1]
	require.NoError(t, o.store.Close())

	resp := o.do("GET", "/ui/outbox", nil, []*http.Cookie{ses}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, readBody(resp), "cannot reach its store")
	resp = o.do("GET", "/ui/customers/acme/live", nil, []*http.Cookie{ses}, map[string]string{"HX-Request": "true"})
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "htmx too")
	assert.Empty(t, resp.Header.Get("HX-Redirect"))
	resp = o.do("POST", "/ui/signout", url.Values{"csrf": {csrf}}, []*http.Cookie{ses}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)

	resp = o.do("POST", "/ui/signin", url.Values{"csrf": {token}, "key": {csmKey}}, []*http.Cookie{pre}, nil)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Contains(t, readBody(resp), "cannot reach its store (signing in)")
	assert.Nil(t, cookieNamed(resp, sessionCookie), "no cookie for a session that was not stored")

	// A wrong key is still told so: no store is needed to refuse it.
	resp = o.do("POST", "/ui/signin", url.Values{"csrf": {token}, "key": {"not-a-key"}}, []*http.Cookie{pre}, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// TestConcurrentSignIns: browsers signing in at once through two replicas
// each get their own working session.
func TestConcurrentSignIns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, b storetest.Backend) {
		databaseURL, dataDir := b.Fresh(t)
		clk := newClock()
		roomy := func(o *Options) {
			o.SignInPerKey, o.SignInPerAddress = Limit{PerMinute: 1000, Burst: 100}, Limit{PerMinute: 1000, Burst: 100}
		}
		replicas := []*offline{
			newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, roomy),
			newReplica(t, storetest.Open(t, databaseURL, dataDir), clk, roomy),
		}
		const n = 24
		type result struct {
			ses  *http.Cookie
			csrf string
			on   int
			err  string
		}
		results := make(chan result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				o := replicas[i%2]
				key := []string{csmKey, adminKey}[(i/2)%2] // both keys on both replicas
				page := o.do("GET", "/ui/signin", nil, nil, nil)
				pre := cookieNamed(page, preCookie)
				token := hiddenCSRF.FindStringSubmatch(readBody(page))[1]
				resp := o.doFrom(fmt.Sprintf("198.51.100.%d:4000", i), "POST", "/ui/signin", url.Values{"csrf": {token}, "key": {key}}, []*http.Cookie{pre}, nil)
				ses := cookieNamed(resp, sessionCookie)
				if resp.StatusCode != http.StatusSeeOther || ses == nil {
					results <- result{err: fmt.Sprintf("sign-in %d: %d %s", i, resp.StatusCode, readBody(resp))}
					return
				}
				results <- result{ses: ses, on: i % 2}
			})
		}
		wg.Wait()
		close(results)
		ids := map[string]bool{}
		for r := range results {
			require.Empty(t, r.err)
			assert.False(t, ids[r.ses.Value], "two sign-ins got the same session")
			ids[r.ses.Value] = true
			other := replicas[1-r.on]
			assert.Equal(t, http.StatusOK, signedInOn(t, other, r.ses), "the other replica knows it")
		}
		assert.Len(t, ids, n)
	})
}

// TestCrossOriginRefused: a POST that the browser marks as coming from
// another site is refused before anything else, even with a live session
// cookie and its CSRF token; GETs from another site (a link in an email)
// still open.
func TestCrossOriginRefused(t *testing.T) {
	o := newOffline(t)
	ses, csrf := o.signIn(t, csmKey)
	for _, header := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"}, // a sibling subdomain is another origin
		{"Origin": "https://evil.example"},
		{"Origin": "http://example.com.evil.example"},
	} {
		resp := postAction(o, ses, csrf, header)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", header)
		assert.Contains(t, readBody(resp), "sent from another site", "%v", header)
		resp = o.do("POST", "/ui/signout", url.Values{"csrf": {csrf}}, []*http.Cookie{ses}, header)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", header)
	}
	assert.Equal(t, http.StatusOK, signedInOn(t, o, ses), "a refused sign-out did not sign out")

	// Same origin, as the browser says or as Origin against Host shows (the
	// test requests' host is example.com), and non-browser clients without
	// either header get through to the token checks.
	for _, header := range []map[string]string{{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://example.com"}, nil} {
		assert.Equal(t, http.StatusNotFound, postAction(o, ses, csrf, header).StatusCode, "%v", header)
	}
	resp := o.do("GET", "/ui/outbox", nil, []*http.Cookie{ses}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a link from another site opens the page")

	// Login CSRF: a foreign page posting the sign-in form with a token and
	// cookie it got is refused too.
	page := o.do("GET", "/ui/signin", nil, nil, nil)
	pre := cookieNamed(page, preCookie)
	token := hiddenCSRF.FindStringSubmatch(readBody(page))[1]
	resp = o.do("POST", "/ui/signin", url.Values{"csrf": {token}, "key": {csmKey}}, []*http.Cookie{pre}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Nil(t, cookieNamed(resp, sessionCookie))
	assert.True(t, strings.Contains(page.Header.Get("Content-Security-Policy"), "form-action 'self'"))
}

// TestNewNeedsASessionStore: without the store there is nowhere to keep
// sessions that every replica sees, so New refuses, naming the option; so
// do limits that would admit nothing.
func TestNewNeedsASessionStore(t *testing.T) {
	lazy, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	_, err = New(Options{Client: lazy, APIKeys: testKeys})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Options.Sessions")
	st := storetest.Open(t, "", t.TempDir())
	_, err = New(Options{Client: lazy, APIKeys: testKeys, Sessions: st, SignInPerKey: Limit{Burst: 5}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Options.SignInPerKey")
}
