package dashboard

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/internal/store/storetest"
)

// offline is a dashboard whose Temporal client never connects: the tests
// here stop at the session and CSRF checks, before any Temporal call. Its
// sessions are in a real store (SQLite in the test's directory unless
// given), and its outbox page, which reads only the store, shows whether a
// request is signed in.
type offline struct {
	h     http.Handler
	clock *clock
	store *store.Store
}

// clock is the dashboards' shared time, moved by the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2027, 1, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newOffline(t *testing.T) *offline {
	t.Helper()
	return newReplica(t, storetest.Open(t, "", t.TempDir()), newClock(), nil)
}

// newReplica is one API process's dashboard on st; several on one
// database are replicas behind a load balancer. edit, when set, changes
// the options first.
func newReplica(t *testing.T, st *store.Store, clk *clock, edit func(*Options)) *offline {
	t.Helper()
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	require.NoError(t, err)
	opts := Options{Client: c, Namespace: "default", APIKeys: testKeys, Sessions: st, Outbox: st, Now: clk.Now}
	if edit != nil {
		edit(&opts)
	}
	d, err := New(opts)
	require.NoError(t, err)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	d.Register(r)
	return &offline{h: r, clock: clk, store: st}
}

func (o *offline) do(method, path string, form url.Values, cookies []*http.Cookie, header map[string]string) *http.Response {
	return o.doFrom("", method, path, form, cookies, header)
}

// doFrom sends a request from the client address remote ("" for
// httptest's 192.0.2.1).
func (o *offline) doFrom(remote, method, path string, form url.Values, cookies []*http.Cookie, header map[string]string) *http.Response {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	w := httptest.NewRecorder()
	o.h.ServeHTTP(w, req)
	return w.Result()
}

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn walks the sign-in form and returns the session cookie and the
// session's CSRF token (read from a page, as a browser would).
func (o *offline) signIn(t *testing.T, key string) (*http.Cookie, string) {
	t.Helper()
	return o.signInFrom(t, "", key)
}

func (o *offline) signInFrom(t *testing.T, remote, key string) (*http.Cookie, string) {
	t.Helper()
	page := o.do("GET", "/ui/signin", nil, nil, nil)
	require.Equal(t, http.StatusOK, page.StatusCode)
	pre := cookieNamed(page, preCookie)
	require.NotNil(t, pre)
	body := readBody(page)
	token := hiddenCSRF.FindStringSubmatch(body)[1]
	resp := o.doFrom(remote, "POST", "/ui/signin", url.Values{"csrf": {token}, "key": {key}, "next": {"/ui/outbox"}}, []*http.Cookie{pre}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, readBody(resp))
	require.Equal(t, "/ui/outbox", resp.Header.Get("Location"))
	ses := cookieNamed(resp, sessionCookie)
	require.NotNil(t, ses)
	return ses, o.csrfOf(t, ses)
}

func (o *offline) csrfOf(t *testing.T, ses *http.Cookie) string {
	t.Helper()
	// POSTing a bad form renders the error page with the layout's sign-out
	// form, which carries the token; no Temporal call happens on the way.
	resp := o.do("POST", "/ui/signout", url.Values{"csrf": {"wrong"}}, []*http.Cookie{ses}, nil)
	m := hiddenCSRF.FindStringSubmatch(readBody(resp))
	require.NotNil(t, m, "the error page has the sign-out form")
	return m[1]
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func readBody(resp *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

// Every page and fragment needs a session; without one a browser goes to
// sign-in, htmx gets 401 with HX-Redirect, and nothing reaches Temporal.
func TestNoPageWithoutASession(t *testing.T) {
	o := newOffline(t)
	gets := []string{"/ui", "/ui/", "/ui/rows/acme", "/ui/quadrant.json", "/ui/customers/acme", "/ui/customers/acme/live", "/ui/outbox", "/ui/outbox/email?key=k", "/ui/outbox/raw?key=k"}
	posts := []string{"/ui/signout", "/ui/customers/acme/outcome", "/ui/customers/acme/pause", "/ui/customers/acme/resume", "/ui/customers/acme/reassign"}
	bogus := []*http.Cookie{{Name: sessionCookie, Value: "forged"}}
	for _, cookies := range [][]*http.Cookie{nil, bogus} {
		for _, p := range gets {
			resp := o.do("GET", p, nil, cookies, nil)
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, p)
			assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/ui/signin?next="), p)
			resp = o.do("GET", p, nil, cookies, map[string]string{"HX-Request": "true"})
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, p)
			assert.Equal(t, "/ui/signin", resp.Header.Get("HX-Redirect"), p)
		}
		for _, p := range posts {
			resp := o.do("POST", p, url.Values{"csrf": {"x"}, "kind": {"handoff_held"}}, cookies, nil)
			assert.Equal(t, http.StatusSeeOther, resp.StatusCode, p)
			assert.Equal(t, "/ui/signin", resp.Header.Get("Location"), p)
		}
	}
	// Static assets need no session: the sign-in page uses them.
	assert.Equal(t, http.StatusOK, o.do("GET", "/ui/static/dashboard.css", nil, nil, nil).StatusCode)
	assert.Equal(t, http.StatusOK, o.do("GET", "/ui/static/vendor/htmx.min.js", nil, nil, nil).StatusCode)
}

func TestSignIn(t *testing.T) {
	o := newOffline(t)
	page := o.do("GET", "/ui/signin?next=/ui/customers/acme", nil, nil, nil)
	body := readBody(page)
	pre := cookieNamed(page, preCookie)
	token := hiddenCSRF.FindStringSubmatch(body)[1]
	assert.Contains(t, body, `value="/ui/customers/acme"`)
	assert.Contains(t, page.Header.Get("Content-Security-Policy"), "script-src 'self'")

	// No pre-session token, or a foreign one: login CSRF is refused.
	assert.Equal(t, http.StatusForbidden, o.do("POST", "/ui/signin", url.Values{"key": {csmKey}}, []*http.Cookie{pre}, nil).StatusCode)
	assert.Equal(t, http.StatusForbidden, o.do("POST", "/ui/signin", url.Values{"key": {csmKey}, "csrf": {token}}, nil, nil).StatusCode)
	assert.Equal(t, http.StatusForbidden, o.do("POST", "/ui/signin", url.Values{"key": {csmKey}, "csrf": {"other"}}, []*http.Cookie{pre}, nil).StatusCode)

	// Unknown keys and roles that may not use the dashboard.
	for _, key := range []string{"nope", "", salesKey, integKey} {
		resp := o.do("POST", "/ui/signin", url.Values{"key": {key}, "csrf": {token}}, []*http.Cookie{pre}, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, key)
		assert.Nil(t, cookieNamed(resp, sessionCookie), key)
	}

	for _, key := range []string{csmKey, adminKey} {
		resp := o.do("POST", "/ui/signin", url.Values{"key": {key}, "csrf": {token}, "next": {"/ui/customers/acme"}}, []*http.Cookie{pre}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, key)
		assert.Equal(t, "/ui/customers/acme", resp.Header.Get("Location"))
		ses := cookieNamed(resp, sessionCookie)
		require.NotNil(t, ses)
		assert.True(t, ses.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, ses.SameSite)
		assert.Equal(t, "/ui", ses.Path)
		assert.GreaterOrEqual(t, len(ses.Value), 40, "a random id, not the key")
		assert.NotContains(t, ses.Value, key)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/customers/a": "/ui/customers/a", "": "/ui", "https://evil.example/ui": "/ui", "//evil.example": "/ui",
		"/ui/signin": "/ui", "/uix\\evil": "/ui", "/v1/customers": "/ui",
	} {
		assert.Equal(t, want, safeNext(in), in)
	}
}

// Forms without the session's CSRF token are refused (403) before anything
// is sent to the journey; a session expires; sign-out ends it.
func TestCSRFAndSessionEnd(t *testing.T) {
	o := newOffline(t)
	ses, csrf := o.signIn(t, csmKey)
	jar := []*http.Cookie{ses}
	for _, p := range []string{"/ui/customers/acme/outcome", "/ui/customers/acme/pause", "/ui/customers/acme/resume", "/ui/customers/acme/reassign", "/ui/signout"} {
		for _, form := range []url.Values{{"kind": {"handoff_held"}}, {"kind": {"handoff_held"}, "csrf": {""}}, {"kind": {"handoff_held"}, "csrf": {csrf + "x"}}} {
			resp := o.do("POST", p, form, jar, nil)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s %v", p, form)
		}
	}
	// With the token the form gets through the checks (here, to an unknown action).
	assert.Equal(t, http.StatusNotFound, o.do("POST", "/ui/customers/acme/explode", url.Values{"csrf": {csrf}}, jar, nil).StatusCode)

	// Sign-out with the token ends the session on the server.
	resp := o.do("POST", "/ui/signout", url.Values{"csrf": {csrf}}, jar, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, -1, cookieNamed(resp, sessionCookie).MaxAge)
	assert.Equal(t, http.StatusSeeOther, o.do("GET", "/ui/customers/acme/live", nil, jar, nil).StatusCode, "the old cookie is dead")

	// A session expires after its TTL.
	ses, _ = o.signIn(t, adminKey)
	o.clock.Add(13 * time.Hour)
	assert.Equal(t, http.StatusSeeOther, o.do("GET", "/ui", nil, []*http.Cookie{ses}, nil).StatusCode)
}
