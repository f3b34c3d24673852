package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

const (
	sessionCookie = "lc_session"
	// preCookie carries the sign-in form's CSRF token before a session
	// exists (double submit), so a foreign site cannot sign a browser in
	// with the attacker's key (login CSRF).
	preCookie = "lc_signin"
	csrfField = "csrf"

	// storeTimeout bounds one session read or write, so that a store that
	// hangs answers 503 instead of holding the page until the browser gives
	// up.
	storeTimeout = 5 * time.Second
	// purgeBatch is how many expired sessions a sign-in removes at most:
	// more than the one it adds, so the table stays bounded, and few enough
	// that the sign-in stays quick.
	purgeBatch = 100
)

// Sessions is the part of the store that keeps signed-in browsers, and the
// people who may sign in with their own key. Being in the store (not in one
// process's memory), a session made through one API replica works on every
// other and survives a restart.
type Sessions interface {
	CreateDashboardSession(ctx context.Context, id string, ses store.DashboardSession) error
	// DashboardSession returns the session with id, expired or not.
	DashboardSession(ctx context.Context, id string) (store.DashboardSession, bool, error)
	DeleteDashboardSession(ctx context.Context, id string) error
	PurgeDashboardSessions(ctx context.Context, now time.Time, limit int) (int64, error)
	// UserByKeyHash returns the person whose key hashes to hash
	// (store.HashUserKey), and false when no one's does.
	UserByKeyHash(ctx context.Context, hash string) (store.User, bool, error)
}

var _ Sessions = (*store.Store)(nil)

// session is the signed-in browser a request comes from. A person who
// signed in with their own key has an email, a name and who (how records
// name them, store.User.Who); a role key's session has none of them.
type session struct {
	role string
	csrf string

	email, name, who string
}

// currentUser is who is signed in: the person's email and name ("" for a role
// key's session) and the role. Pages that are about the person ("My work")
// read the email.
func currentUser(c *gin.Context) (email, name, role string) {
	if s := sessionOf(c); s != nil {
		return s.email, s.name, s.role
	}
	return "", "", ""
}

// recordedBy is who the records of what this browser does say did it: the
// person as the API records them (so a person's actions read the same from
// the API and the dashboard), else "dashboard:" and the key's role.
func recordedBy(c *gin.Context) string {
	s := sessionOf(c)
	switch {
	case s == nil:
		return "dashboard"
	case s.who != "":
		return s.who
	}
	return "dashboard:" + s.role
}

// randomToken is 32 bytes from crypto/rand: unguessable ids and CSRF tokens.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails on supported platforms (Go 1.24+ panics instead)
	return base64.RawURLEncoding.EncodeToString(b)
}

// keyFingerprint identifies an API key in a stored session without storing
// the key. The keys are long and random (24 characters at least), so a
// plain hash cannot be reversed by guessing; the prefix keeps it from
// matching a hash of the same key made for another purpose.
func keyFingerprint(key string) string {
	sum := sha256.Sum256([]byte("lifecycle dashboard session key\x00" + key))
	return hex.EncodeToString(sum[:])
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
// POST still needs the CSRF token and a same-origin request, and Lax keeps
// cross-site POSTs cookieless.
func (d *Dashboard) setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: value, Path: "/ui", MaxAge: maxAge,
		HttpOnly: true, Secure: d.opts.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// storeDown answers a request that needs the session store when the store
// fails: 503, never a sign-in page the browser would loop through.
func (d *Dashboard) storeDown(c *gin.Context, what string, err error) {
	d.log.Error("dashboard session store", zap.String("op", what), zap.String("request_id", c.GetString("request_id")), zap.Error(err))
	c.Header("Retry-After", "30")
	d.fail(c, http.StatusServiceUnavailable, "The dashboard cannot reach its store ("+what+"). Try again in a minute; if it goes on, the store is down (the API's log says why).")
}

// requireSession admits a browser with a live session. Others go to the
// sign-in page (htmx requests get 401 and HX-Redirect, since a redirect
// would be swapped into the page).
func (d *Dashboard) requireSession(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
		ses, ok, err := d.lookup(c, id)
		if err != nil {
			d.storeDown(c, "checking the session", err)
			return
		}
		if ok {
			c.Set("dashboard_session", ses)
			c.Set("role", ses.role) // the API's access log shows them
			if ses.email != "" {
				c.Set("user_email", ses.email)
			}
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

// lookup finds the live session with id. An expired one is deleted on the
// way. One whose key is no longer configured (removed or rotated), or now
// has another role, is refused but kept until it expires: during a rolling
// change of LIFECYCLE_API_KEYS a replica that has not got the new keys yet
// must not end the sessions of the replicas that have. A person's session
// is live while their key is in the users table with the same role, read
// at every request: removing the person or rotating the key ends it on
// every replica at once, and a renamed person shows as renamed.
func (d *Dashboard) lookup(c *gin.Context, id string) (*session, bool, error) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	stored, ok, err := d.opts.Sessions.DashboardSession(ctx, id)
	if err != nil || !ok {
		return nil, false, err
	}
	if !d.opts.Now().Before(stored.ExpiresAt) {
		if err := d.opts.Sessions.DeleteDashboardSession(ctx, id); err != nil {
			d.log.Warn("dashboard: deleting an expired session", zap.Error(err)) // the purge at a sign-in takes it later
		}
		return nil, false, nil
	}
	if hash, person := stored.UserKeyHash(); person {
		u, found, err := d.opts.Sessions.UserByKeyHash(ctx, hash)
		if err != nil || !found || u.Role != stored.Role {
			return nil, false, err
		}
		return &session{role: stored.Role, csrf: stored.CSRF, email: u.Email, name: u.Name, who: u.Who()}, true, nil
	}
	if role, known := d.keyRoles[stored.KeyFingerprint]; !known || role != stored.Role {
		return nil, false, nil
	}
	return &session{role: stored.Role, csrf: stored.CSRF}, true, nil
}

// requireCSRF refuses a POST whose form lacks the session's token. The
// comparison is constant time; the cross-origin check before it and
// SameSite cookies are the other lines.
func (d *Dashboard) requireCSRF(c *gin.Context) {
	ses := sessionOf(c)
	got := c.PostForm(csrfField)
	if ses == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(ses.csrf)) != 1 {
		d.fail(c, http.StatusForbidden, "This form has expired or did not come from this dashboard. Reload the page and try again.")
		return
	}
	c.Next()
}

// sameOrigin refuses a state-changing request that a browser says comes
// from another site (Sec-Fetch-Site, else Origin against Host), even with
// a valid cookie and token. Requests without those headers are not from a
// browser form and pass to the token checks.
func (d *Dashboard) sameOrigin(c *gin.Context) {
	if err := d.crossOrigin.Check(c.Request); err != nil {
		d.fail(c, http.StatusForbidden, "This form was sent from another site, so it was refused. Open the dashboard and try again.")
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

// signInAgain shows the sign-in form again with a message and a new
// pre-session token.
func (d *Dashboard) signInAgain(c *gin.Context, status int, next, msg string) {
	token := randomToken()
	d.setCookie(c, preCookie, token, 3600)
	d.render(c, status, "signin", "", d.page(c, "Sign in", "", signInData{Token: token, Next: next, Error: msg}))
}

// signIn admits csm and admin keys, configured role keys or people's own:
// the roles the dashboard's actions need. Attempts are rate limited first,
// per client address and per key tried.
func (d *Dashboard) signIn(c *gin.Context) {
	key := strings.TrimSpace(c.PostForm("key"))
	next := safeNext(c.PostForm("next"))
	if wait, ok := d.limits.admit(d.opts.Now(), c.RemoteIP(), key); !ok {
		secs := retryAfterSeconds(wait)
		c.Header("Retry-After", secs)
		d.signInAgain(c, http.StatusTooManyRequests, next, "Too many sign-in attempts. Wait "+secs+" seconds, then try again.")
		return
	}
	pre, err := c.Cookie(preCookie)
	form := c.PostForm(csrfField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(pre), []byte(form)) != 1 {
		d.fail(c, http.StatusForbidden, "The sign-in form has expired. Open the sign-in page again.")
		return
	}
	role, fingerprint, err := d.roleOf(c.Request.Context(), key)
	if err != nil {
		d.storeDown(c, "checking the key", err)
		return
	}
	if role != config.RoleCSM && role != config.RoleAdmin {
		d.signInAgain(c, http.StatusUnauthorized, next, "That key is not a CSM or admin API key.")
		return
	}
	now := d.opts.Now()
	id := randomToken()
	ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
	defer cancel()
	err = d.opts.Sessions.CreateDashboardSession(ctx, id, store.DashboardSession{
		Role: role, CSRF: randomToken(), KeyFingerprint: fingerprint, CreatedAt: now, ExpiresAt: now.Add(d.opts.SessionTTL),
	})
	if err != nil {
		d.storeDown(c, "signing in", err)
		return
	}
	if _, err := d.opts.Sessions.PurgeDashboardSessions(ctx, now, purgeBatch); err != nil {
		d.log.Warn("dashboard: purging expired sessions", zap.Error(err)) // the next sign-in tries again
	}
	d.setCookie(c, preCookie, "", -1)
	d.setCookie(c, sessionCookie, id, int(d.opts.SessionTTL.Seconds()))
	c.Redirect(http.StatusSeeOther, next)
}

// signOut deletes the session from the store, so it ends on every replica,
// not only in this browser. If the store cannot delete it, the browser is
// told so and keeps its cookie to try again.
func (d *Dashboard) signOut(c *gin.Context) {
	if id, err := c.Cookie(sessionCookie); err == nil && id != "" {
		ctx, cancel := context.WithTimeout(c.Request.Context(), storeTimeout)
		defer cancel()
		if err := d.opts.Sessions.DeleteDashboardSession(ctx, id); err != nil {
			d.storeDown(c, "signing out; the session is still open", err)
			return
		}
	}
	d.setCookie(c, sessionCookie, "", -1)
	c.Redirect(http.StatusSeeOther, "/ui/signin")
}

// roleOf compares the key with every configured key in constant time, then
// looks a person's key up in the users table, and returns its role and the
// fingerprint its session keeps ("" for an unknown key).
func (d *Dashboard) roleOf(ctx context.Context, key string) (role, fingerprint string, err error) {
	if key == "" {
		return "", "", nil
	}
	for k, r := range d.opts.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			role = r
		}
	}
	if role != "" {
		return role, keyFingerprint(key), nil
	}
	if !store.IsUserKey(key) {
		return "", "", nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	hash := store.HashUserKey(key)
	u, found, err := d.opts.Sessions.UserByKeyHash(ctx, hash)
	if err != nil || !found {
		return "", "", err
	}
	return u.Role, store.UserSessionFingerprint(hash), nil
}

// safeNext keeps the post-sign-in redirect inside the dashboard (no open
// redirect to another site).
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui") && !strings.HasPrefix(next, "/ui/signin") && !strings.ContainsAny(next, "\\\r\n") && !strings.HasPrefix(next, "//") {
		return next
	}
	return "/ui"
}
