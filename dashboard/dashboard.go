// Package dashboard is the CSMs' web page, served by the API server under
// /ui: the portfolio (from Temporal visibility), the quadrant chart, one
// customer's story with buttons for outcomes, what green accounts do (the
// insights job's latest run), and the local outbox. It sends
// the same Temporal updates and queries as the JSON API and never reaches
// into workflow internals. Pages are server-rendered HTML; htmx (vendored,
// embedded) adds partial updates, Chart.js the charts. Nothing is fetched
// from a CDN at run time.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configures the dashboard.
type Options struct {
	Client    client.Client
	Namespace string
	// APIKeys maps key -> role, as the API's; csm and admin keys may sign in.
	APIKeys map[string]string
	// Outbox is the local outbox (dev mode); nil hides the outbox page.
	Outbox apiserver.OutboxReader
	// Suppressions is the store's suppression list, which an admin lifts to
	// resume a customer's email; nil hides that form.
	Suppressions Suppressions
	// Playbooks is the playbook catalogue the lab (/ui/playbooks) reads and
	// publishes to; nil hides the lab.
	Playbooks *apiserver.Catalogue
	// Insights is where the insights job stores its runs (the store): the
	// insights page (/ui/insights) and the customer page's gaps against
	// green accounts read it; nil hides both.
	Insights apiserver.InsightsStore
	// Tasks is the store's index of every journey's tasks: the "My work"
	// page (/ui/work) reads it; nil hides the page.
	Tasks apiserver.TaskLister
	// Sessions keeps the signed-in browsers: the store, shared by every API
	// replica. Required.
	Sessions Sessions
	Logger   *zap.Logger
	Now      func() time.Time
	// Secure sets the cookies' Secure flag (the public URL is https).
	Secure bool
	// SessionTTL bounds a session; 12 hours (a working day) when zero.
	SessionTTL time.Duration
	// SignInPerKey and SignInPerAddress limit sign-in attempts per key
	// tried and per client address; DefaultSignInPerKey and
	// DefaultSignInPerAddress when zero.
	SignInPerKey     Limit
	SignInPerAddress Limit
}

// Suppressions is the part of the store the dashboard changes.
type Suppressions interface {
	// Unsuppress removes email from the suppression list; no error if it
	// was not on it.
	Unsuppress(ctx context.Context, email string) error
}

var _ Suppressions = (*store.Store)(nil)

// Dashboard serves /ui.
type Dashboard struct {
	opts  Options
	log   *zap.Logger
	pages map[string]*template.Template
	// keyRoles maps the fingerprint of each configured key to its role: a
	// stored session is live only while its key is one of them.
	keyRoles    map[string]string
	limits      *signInLimits
	crossOrigin *http.CrossOriginProtection
	static      http.Handler
	chartCache  chartCache
}

// pageNames are the templates rendered as whole pages (each with layout.html).
var pageNames = []string{"signin", "portfolio", "customer", "outbox", "outbox_email", "playbooks", "insights", "work", "error"}

// New parses the templates and prepares the sign-in checks.
func New(opts Options) (*Dashboard, error) {
	if opts.Client == nil {
		return nil, errors.New("dashboard: a Temporal client is required")
	}
	if opts.Sessions == nil {
		return nil, errors.New("dashboard: a session store is required (Options.Sessions: the store)")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.SignInPerKey == (Limit{}) {
		opts.SignInPerKey = DefaultSignInPerKey
	}
	if opts.SignInPerAddress == (Limit{}) {
		opts.SignInPerAddress = DefaultSignInPerAddress
	}
	for name, l := range map[string]Limit{"SignInPerKey": opts.SignInPerKey, "SignInPerAddress": opts.SignInPerAddress} {
		if l.PerMinute <= 0 || l.Burst < 1 {
			return nil, fmt.Errorf("dashboard: Options.%s: want a positive rate and a burst of 1 or more, got %+v", name, l)
		}
	}
	d := &Dashboard{opts: opts, log: opts.Logger, pages: map[string]*template.Template{}, keyRoles: map[string]string{},
		limits: newSignInLimits(opts.SignInPerAddress, opts.SignInPerKey), crossOrigin: http.NewCrossOriginProtection()}
	for key, role := range opts.APIKeys {
		d.keyRoles[keyFingerprint(key)] = role
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, err
	}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return nil, err
		}
		d.pages[name] = t
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	d.static = http.StripPrefix("/ui/static/", http.FileServer(http.FS(sub)))
	return d, nil
}

// Register adds the /ui routes to the API's router.
func (d *Dashboard) Register(r *gin.Engine) {
	r.GET("/ui/static/*file", d.serveStatic)
	// sameOrigin before anything: a cross-site POST is refused whatever
	// cookie and token it carries (GETs pass it).
	ui := r.Group("/ui", d.headers, d.sameOrigin)
	ui.GET("/signin", d.signInPage)
	ui.POST("/signin", d.signIn)

	in := ui.Group("", d.requireSession)
	in.GET("", d.portfolio)
	in.GET("/", d.portfolio)
	in.GET("/rows/:id", d.row)
	in.GET("/quadrant.json", d.quadrantData)
	in.GET("/customers/:id", d.customer)
	in.GET("/customers/:id/live", d.customerLive)
	in.POST("/signout", d.requireCSRF, d.signOut)
	in.POST("/customers/:id/:action", d.requireCSRF, d.act)
	if d.opts.Playbooks != nil {
		in.GET("/playbooks", d.lab)
		in.POST("/playbooks", d.requireCSRF, d.labPost)
	}
	if d.opts.Insights != nil {
		in.GET("/insights", d.insights)
		in.POST("/insights/run", d.requireCSRF, d.runInsights)
	}
	if d.opts.Tasks != nil {
		in.GET("/work", d.work)
		in.POST("/work/:action", d.requireCSRF, d.workAct)
	}
	if d.opts.Outbox != nil {
		in.GET("/outbox", d.outbox)
		in.GET("/outbox/email", d.outboxEmail)
		in.GET("/outbox/raw", d.outboxRaw)
	}
}

// serveStatic serves the embedded assets. They change only with a new
// binary, so a day of caching is safe and keeps page loads light.
func (d *Dashboard) serveStatic(c *gin.Context) {
	c.Header("Cache-Control", "public, max-age=86400")
	c.Header("X-Content-Type-Options", "nosniff")
	d.static.ServeHTTP(c.Writer, c.Request)
}

// headers are on every page: the CSP admits only our own scripts and styles
// (the templates have no inline script or style), and no page may be framed
// by another site.
func (d *Dashboard) headers(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// render executes a whole page, or one of its blocks when block is not "".
// It renders into a buffer first so a template error answers 500 instead of
// half a page.
func (d *Dashboard) render(c *gin.Context, status int, page, block string, data any) {
	t, ok := d.pages[page]
	if !ok {
		c.String(http.StatusInternalServerError, "no page "+page)
		return
	}
	name := "layout.html"
	if block != "" {
		name = block
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, data); err != nil {
		d.log.Error("dashboard template", zap.String("page", page), zap.String("block", block), zap.Error(err))
		c.String(http.StatusInternalServerError, "internal error (request %s)", c.GetString("request_id"))
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// page is what layout.html needs besides a page's own data.
type page struct {
	Title string
	Role  string
	// Person is the signed-in person's name; "" for a role key's session.
	Person    string
	CSRF      string
	Outbox    bool
	Playbooks bool
	Insights  bool
	Work      bool
	Nav       string
	Content   any
}

func (d *Dashboard) page(c *gin.Context, title, nav string, content any) page {
	p := page{Title: title, Nav: nav, Outbox: d.opts.Outbox != nil, Playbooks: d.opts.Playbooks != nil,
		Insights: d.opts.Insights != nil, Work: d.opts.Tasks != nil, Content: content}
	if s := sessionOf(c); s != nil {
		p.Role, p.CSRF, p.Person = s.role, s.csrf, s.name
	}
	return p
}

// fail shows an error page (or, for htmx, a short message).
func (d *Dashboard) fail(c *gin.Context, status int, message string) {
	if isHTMX(c) {
		c.Data(status, "text/html; charset=utf-8", []byte(template.HTMLEscapeString(message)))
		c.Abort()
		return
	}
	d.render(c, status, "error", "", d.page(c, http.StatusText(status), "", message))
	c.Abort()
}

func isHTMX(c *gin.Context) bool { return c.GetHeader("HX-Request") == "true" }

var funcs = template.FuncMap{
	"join":       strings.Join,
	"health":     healthBadge,
	"healthMark": healthMark,
	"day":        func(f float64) string { return trimFloat(f) },
	"datetime":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"date":       func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"pct":        func(rate float64) string { return strconv.FormatFloat(rate*100, 'f', 0, 64) + "%" },
	"index0": func(u []workflows.Upcoming) *workflows.Upcoming {
		if len(u) == 0 {
			return nil
		}
		return &u[0]
	},
	"or": func(s, dflt string) string {
		if s == "" {
			return dflt
		}
		return s
	},
}

// trimFloat shows a journey day with one decimal at most ("3", "3.5").
func trimFloat(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
}

// healthBadge shows health as a shape, the word and a colour, with the
// reasons as its title (hover) and for screen readers.
func healthBadge(h string, reasons []string) template.HTML {
	word := h
	if word == "" {
		word = "not scored"
	}
	title := strings.Join(reasons, "; ")
	if title == "" {
		title = "health " + word
	}
	mark := healthMark(h)
	return template.HTML(`<span class="health health-` + template.HTMLEscapeString(h) + `" title="` + template.HTMLEscapeString(title) +
		`"><span aria-hidden="true">` + mark + `</span> ` + template.HTMLEscapeString(word) + `</span>`)
}

// healthMark is a shape per health, so colour is never the only signal.
func healthMark(h string) string {
	switch h {
	case "red":
		return "■"
	case "yellow":
		return "▲"
	case "green":
		return "●"
	}
	return "○"
}
