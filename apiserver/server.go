// Package apiserver is the HTTP API (Gin): it turns requests into journey
// starts, updates and queries, and never reaches into workflow internals.
package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// DefaultMaxBody bounds every request body.
const DefaultMaxBody = 1 << 20

// Options configures the API.
type Options struct {
	Client     client.Client
	Namespace  string
	APIKeys    map[string]string // key -> role
	Playbook   *playbooks.Playbook
	DayLength  time.Duration
	DealSecret string   // empty: the deal webhook answers 404
	HubSpot    *HubSpot // nil: the HubSpot webhook answers 404
	Logger     *zap.Logger
	Registry   *prometheus.Registry
	MaxBody    int64
	Now        func() time.Time

	// Email: action links and the store behind them; nil turns /a/ off.
	Links       *links.Signer
	Store       Store
	SendGridKey *ecdsa.PublicKey // nil turns the SendGrid webhook off
	Outbox      OutboxReader     // dev mode: /dev/outbox shows the local outbox
	// Insights is where the insights job's runs are read; nil: the insights
	// routes answer 404.
	Insights InsightsStore
	// Users admits named people's own keys besides APIKeys; nil: Store's
	// users table when Store has one (the store does), else APIKeys only.
	Users Users

	// Mount adds routes of other parts served by the same server (the
	// dashboard under /ui), after the API's middleware.
	Mount func(r *gin.Engine)
}

// Server holds the API's dependencies.
type Server struct {
	opts     Options
	log      *zap.Logger
	router   *gin.Engine
	duration *prometheus.HistogramVec
	sgEvents *prometheus.CounterVec
}

// New builds the router.
func New(opts Options) *Server {
	if opts.MaxBody == 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Playbook == nil {
		opts.Playbook = playbooks.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Users == nil {
		opts.Users, _ = opts.Store.(Users)
	}
	gin.SetMode(gin.ReleaseMode)
	s := &Server{opts: opts, log: opts.Logger, router: gin.New()}
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "lifecycle_http_request_duration_seconds",
		Help:    "HTTP request latency by method, route template and status class (closed label sets).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 14),
	}, []string{"method", "route", "status"})
	opts.Registry.MustRegister(s.duration)
	s.sgEvents = newSendGridCounter(opts.Registry)
	s.routes()
	return s
}

// Routes lists "METHOD /path" for every route, with {param} path syntax.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.router.Routes() {
		out = append(out, r.Method+" "+ginToOpenAPI(r.Path))
	}
	return out
}

func ginToOpenAPI(path string) string {
	path = strings.ReplaceAll(path, `\:`, ":")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// Handler is the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.router }

func (s *Server) routes() {
	r := s.router
	r.HandleMethodNotAllowed = true
	r.Use(s.requestID, s.accessLog, s.recover, s.limitBody)
	r.NoRoute(func(c *gin.Context) { fail(c, http.StatusNotFound, "not_found", "no such route", "") })
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", "")
	})

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, HealthStatus{Status: "ok"}) })
	r.GET("/readyz", s.ready)
	r.GET("/metrics", gin.WrapH(promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{})))
	r.GET("/v1/openapi.yaml", func(c *gin.Context) { c.Data(http.StatusOK, "application/yaml", openAPI) })

	if s.opts.Outbox != nil {
		r.GET("/dev/outbox", s.devOutbox)
		r.GET("/dev/outbox/view", s.devOutboxView)
	}
	if s.opts.Mount != nil {
		s.opts.Mount(r)
	}
	r.GET("/a/:token", s.actionPage)
	r.POST("/a/:token", s.act)

	v1 := r.Group("/v1")
	v1.POST("/customers", s.auth(config.RoleSales), s.startCustomer)
	v1.POST(`/customers\:batch`, s.auth(config.RoleSales), s.startBatch)
	v1.GET("/customers", s.auth(config.RoleCSM), s.listCustomers)
	v1.GET("/customers/:id", s.auth(config.RoleCSM), s.getCustomer)
	v1.GET("/customers/:id/timeline", s.auth(config.RoleCSM), s.getTimeline)
	v1.POST("/customers/:id/events", s.auth(config.RoleIntegration), s.postEvent)
	v1.POST("/customers/:id/complaints", s.auth(config.RoleCSM, config.RoleIntegration), s.postComplaint)
	v1.POST("/customers/:id/outcomes", s.auth(config.RoleCSM), s.postOutcome)
	v1.POST("/customers/:id/pause", s.auth(config.RoleCSM), s.pause)
	v1.POST("/customers/:id/resume", s.auth(config.RoleCSM), s.resume)
	v1.POST("/customers/:id/reassign", s.auth(config.RoleCSM), s.reassign)
	v1.PUT("/customers/:id/champion", s.auth(config.RoleCSM), s.putChampion)
	v1.GET("/customers/:id/contacts", s.auth(config.RoleCSM), s.listContacts)
	v1.POST("/customers/:id/contacts", s.auth(config.RoleCSM), s.addContact)
	v1.PATCH("/customers/:id/contacts/:contact", s.auth(config.RoleCSM), s.changeContact)
	v1.DELETE("/customers/:id/contacts/:contact", s.auth(config.RoleCSM), s.removeContact)
	v1.GET("/customers/:id/tasks", s.auth(config.RoleCSM), s.customerTasks)
	v1.POST("/customers/:id/tasks/:task/done", s.auth(config.RoleCSM), s.taskDone)
	v1.POST("/customers/:id/tasks/:task/snooze", s.auth(config.RoleCSM), s.taskSnooze)
	v1.GET("/tasks", s.auth(config.RoleCSM), s.listTasks)
	v1.POST("/playbooks", s.auth(config.RoleAdmin), s.publishPlaybook)
	v1.GET("/playbooks", s.auth(config.RoleCSM), s.listPlaybooks)
	v1.GET("/playbooks/:ref", s.auth(config.RoleCSM), s.getPlaybook)
	v1.POST("/playbooks/simulate", s.auth(config.RoleCSM), s.simulate)
	v1.PUT("/plans/:plan/playbook", s.auth(config.RoleAdmin), s.setPlanPlaybook)
	v1.GET("/insights", s.auth(config.RoleCSM), s.getInsights)
	v1.POST("/insights/run", s.auth(config.RoleAdmin), s.runInsights)
	v1.GET("/customers/:id/insights", s.auth(config.RoleCSM), s.getCustomerInsights)
	v1.GET("/suppressions", s.auth(config.RoleAdmin), s.getSuppression)
	v1.DELETE("/suppressions/:email", s.auth(config.RoleAdmin), s.liftSuppression)
	v1.POST("/webhooks/deals", s.dealWebhook)
	v1.POST("/webhooks/sendgrid", s.sendgridWebhook)
	s.webhookRoutes(v1)
	s.hubspotRoutes(v1)
	s.summaryRoutes(v1)
}

func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if _, err := s.opts.Client.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		s.log.Warn("not ready: Temporal unreachable", zap.Error(err))
		fail(c, http.StatusServiceUnavailable, "temporal_unavailable", "Temporal is not reachable", "")
		return
	}
	c.JSON(http.StatusOK, HealthStatus{Status: "ready"})
}

// HealthStatus answers /healthz ("ok") and /readyz ("ready").
type HealthStatus struct {
	Status string `json:"status"`
}

const requestIDHeader = "X-Request-ID"

func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if id == "" || len(id) > 128 {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set("request_id", id)
	c.Header(requestIDHeader, id)
	c.Next()
}

func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.duration.WithLabelValues(methodLabel(c.Request.Method), route, statusClass(status)).Observe(elapsed.Seconds())
	fields := []zap.Field{
		zap.String("method", c.Request.Method), zap.String("route", route), zap.Int("status", status),
		zap.Duration("latency", elapsed), zap.String("request_id", c.GetString("request_id")),
		zap.String("remote", c.ClientIP()),
	}
	if id := c.Param("id"); id != "" {
		fields = append(fields, zap.String("customer_id", id))
	}
	if role := c.GetString("role"); role != "" {
		fields = append(fields, zap.String("role", role))
	}
	if email := c.GetString("user_email"); email != "" {
		fields = append(fields, zap.String("user", email))
	}
	s.log.Info("http", fields...)
}

// Metric labels come from closed sets, so that no client can grow /metrics
// by inventing methods or paths: the method if it is a standard one, the
// route template (never the raw path), the status class.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodHead: true, http.MethodOptions: true,
}

func methodLabel(m string) string {
	if knownMethods[m] {
		return m
	}
	return "other"
}

func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// recover logs a panic with its stack and answers 500 without details.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in handler", zap.Any("panic", p), zap.String("request_id", c.GetString("request_id")),
				zap.ByteString("stack", debug.Stack()))
			if !c.Writer.Written() {
				fail(c, http.StatusInternalServerError, "internal", fmt.Sprintf("internal error (request %s)", c.GetString("request_id")), "")
			}
			c.Abort()
		}
	}()
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		limit := s.opts.MaxBody
		if c.FullPath() == batchPath {
			limit = max(limit, maxBatchBody) // a thousand customers
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	}
	c.Next()
}
