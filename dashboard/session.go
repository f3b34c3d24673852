package dashboard

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

const (
	sessionCookie = "lc_session"
	// preCookie carries the sign-in form's CSRF token before a session
	// exists (double submit), so a foreign site cannot sign a browser in
	// with the attacker's key (login CSRF).
	preCookie = "lc_signin"
	csrfField = "csrf"
)

// session is one signed-in browser. Sessions live in this process's memory:
// a restart signs everyone out, and several API replicas need sticky
// sessions (see the report / README).
type session struct {
	role    string
	csrf    string
	expires time.Time
}

type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time
	ttl time.Duration
}

func newSessions(now func() time.Time, ttl time.Duration) *sessions {
	return &sessions{m: map[string]*session{}, now: now, ttl: ttl}
}

// randomToken is 32 bytes from crypto/rand: unguessable ids and CSRF tokens.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported platforms (Go 1.24+ panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sessions) create(role string) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, old := range s.m { // expired sessions go at each sign-in, so the map stays bounded
		if now.After(old.expires) {
			delete(s.m, id)
		}
	}
	id := randomToken()
	ses := &session{role: role, csrf: randomToken(), expires: now.Add(s.ttl)}
	s.m[id] = ses
	return id, ses
}

func (s *sessions) get(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	ses, ok := s.m[id]
	if !ok {
		return nil
	}
	if s.now().After(ses.expires) {
		delete(s.m, id)
		return nil
	}
	return ses
}

func (s *sessions) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

func sessionOf(c *gin.Context) *session {
	if v, ok := c.Get("dashboard_session"); ok {
		return v.(*session)
	}
	return nil
}

// setCookie sets a dashboard cookie: HttpOnly (no script reads it), only
// under /ui, Secure behind https. SameSite=Lax rather than Strict, so that
// a link to a customer page from an email or a chat opens signed in; every
// POST still needs the CSRF token, and Lax keeps cross-site POSTs cookieless.
func (d *Dashboard) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/ui", MaxAge: maxAge,
		HttpOnly: true, Secure: d.opts.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// requireSession admits a browser with a live session. Others go to the
// sign-in page (htmx requests get 401 and HX-Redirect, since a redirect
// would be swapped into the page).
func (d *Dashboard) requireSession(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil {
		if ses := d.sessions.get(id); ses != nil {
			c.Set("dashboard_session", ses)
			c.Set("role", ses.role) // the API's access log shows it
			c.Next()
			return
		}
	}
	target := "/ui/signin"
	if c.Request.Method == http.MethodGet && !isHTMX(c) {
		target += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
	}
	if isHTMX(c) {
		c.Header("HX-Redirect", target)
		c.AbortWithStatus(http.StatusUnauthorized)
		return
	}
	c.Redirect(http.StatusSeeOther, target)
	c.Abort()
}

// requireCSRF refuses a POST whose form lacks the session's token. The
// comparison is constant time; SameSite cookies are the second line.
func (d *Dashboard) requireCSRF(c *gin.Context) {
	ses := sessionOf(c)
	got := c.PostForm(csrfField)
	if ses == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ses.csrf)) != 1 {
		d.fail(c, http.StatusForbidden, "This form has expired or did not come from this dashboard. Reload the page and try again.")
		return
	}
	c.Next()
}

type signInData struct {
	Token, Next, Error string
}

func (d *Dashboard) signInPage(c *gin.Context) {
	token := randomToken()
	d.setCookie(c, preCookie, token, 3600)
	d.render(c, http.StatusOK, "signin", "", d.page(c, "Sign in", "", signInData{Token: token, Next: safeNext(c.Query("next"))}))
}

// signIn admits csm and admin keys: the roles the dashboard's actions need.
func (d *Dashboard) signIn(c *gin.Context) {
	pre, err := c.Cookie(preCookie)
	form := c.PostForm(csrfField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(pre), []byte(form)) != 1 {
		d.fail(c, http.StatusForbidden, "The sign-in form has expired. Open the sign-in page again.")
		return
	}
	next := safeNext(c.PostForm("next"))
	role := d.roleOf(strings.TrimSpace(c.PostForm("key")))
	if role != config.RoleCSM && role != config.RoleAdmin {
		token := randomToken()
		d.setCookie(c, preCookie, token, 3600)
		msg := "That key is not a CSM or admin API key."
		d.render(c, http.StatusUnauthorized, "signin", "", d.page(c, "Sign in", "", signInData{Token: token, Next: next, Error: msg}))
		return
	}
	id, _ := d.sessions.create(role)
	d.setCookie(c, preCookie, "", -1)
	d.setCookie(c, sessionCookie, id, int(d.opts.SessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, next)
}

func (d *Dashboard) signOut(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil {
		d.sessions.drop(id)
	}
	d.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/ui/signin")
}

// roleOf compares the key with every configured key in constant time.
func (d *Dashboard) roleOf(key string) string {
	role := ""
	if key == "" {
		return ""
	}
	for k, r := range d.opts.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			role = r
		}
	}
	return role
}

// safeNext keeps the post-sign-in redirect inside the dashboard (no open
// redirect to another site).
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui") && !strings.HasPrefix(next, "/ui/signin") && !strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "//") {
		return next
	}
	return "/ui"
}
