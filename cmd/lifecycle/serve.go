package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/dashboard"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/logging"
	"github.com/seed-a80403e2/lifecycle/internal/metrics"
	"github.com/seed-a80403e2/lifecycle/internal/namespace"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/internal/tclient"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// app is what every serving command shares.
type app struct {
	cfg     *config.Config
	log     *zap.Logger
	reg     *prometheus.Registry
	metrics client.MetricsHandler
}

// prepare parses a command's flags, reads the settings it uses and builds
// logger and metrics.
func prepare(name, help string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*app, error) {
	fs := flag.NewFlagSet("lifecycle "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := config.Register(fs, name)
	if extra != nil {
		extra(fs)
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: lifecycle %s [flags]\n\n%s\nFlags (each also an environment variable):\n", name, help)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "lifecycle %s: unexpected argument %q\n", name, fs.Arg(0))
		return nil, errUsage
	}
	cfg, err := config.Load(vals, name)
	if err != nil {
		return nil, fmt.Errorf("bad settings:\n  %w", err)
	}
	log, err := logging.New(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &app{cfg: cfg, log: log, reg: reg, metrics: metrics.NewTemporalHandler(reg)}, nil
}

// connect dials Temporal and opens the store, which every serving command
// needs; release closes both.
func (a *app) connect(ctx context.Context, t config.Temporal, wait time.Duration) (c client.Client, st *store.Store, release func(), err error) {
	c, err = tclient.Dial(ctx, t, a.log, a.metrics, wait)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err = a.openStore(ctx)
	if err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	return c, st, func() { st.Close(); c.Close() }, nil
}

// openStore opens the store (PostgreSQL or the SQLite file) and migrates it.
func (a *app) openStore(ctx context.Context) (*store.Store, error) {
	st, err := store.Open(ctx, a.cfg.DatabaseURL, a.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a.log.Info("store open", zap.String("driver", st.Driver()))
	return st, nil
}

// startWorker starts a journey worker, versioned as the settings say (dev
// never is); stop it with the returned function.
func (a *app) startWorker(ctx context.Context, c client.Client, st *store.Store, versioned bool) (func(), error) {
	acts, err := worker.Activities(a.cfg, st)
	if err != nil {
		return nil, err
	}
	acts.Portfolio = worker.Portfolio{Client: c, Namespace: a.cfg.Temporal.Namespace}
	v := worker.Versioning{On: versioned && a.cfg.Worker.Versioning, DeploymentName: a.cfg.Worker.DeploymentName, BuildID: a.cfg.Worker.BuildID}
	if v.On && v.BuildID == "" {
		if v.BuildID, err = buildID(); err != nil {
			return nil, err
		}
	}
	w := worker.NewVersioned(c, acts, v)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	mailer := "local outbox"
	if a.cfg.SendGrid.APIKey != "" {
		mailer = "SendGrid"
	}
	fields := []zap.Field{zap.String("task_queue", workflows.TaskQueue), zap.String("mailer", mailer)}
	if v.On {
		fields = append(fields, zap.String("deployment", v.DeploymentName), zap.String("build_id", v.BuildID))
		if err := becomeCurrentIfNone(ctx, c, v, a.log); err != nil {
			w.Stop()
			return nil, err
		}
	} else {
		fields = append(fields, zap.String("versioning", "off"))
	}
	a.log.Info("worker started", fields...)
	return w.Stop, nil
}

// listen binds the API address, so a busy port fails start-up at once.
func (a *app) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("LIFECYCLE_HTTP_ADDR: %w", err)
	}
	return ln, nil
}

// serveAPI serves until ctx ends, then drains in-flight requests.
func (a *app) serveAPI(ctx context.Context, ln net.Listener, c client.Client, st *store.Store, devOutbox bool) error {
	opts := apiserver.Options{
		Client: c, Namespace: a.cfg.Temporal.Namespace, APIKeys: a.cfg.APIKeys, Playbook: playbooks.Default(),
		DayLength: a.cfg.DayLength, DealSecret: a.cfg.DealSecret, Logger: a.log.Named("http"), Registry: a.reg,
		Store: st, Insights: st,
	}
	if devOutbox {
		opts.Outbox = st
	}
	if h := a.cfg.HubSpot; h.ClientSecret != "" {
		opts.HubSpot = hubspotOptions(h, a.cfg.PublicURL)
	}
	if a.cfg.LinkSecret != "" {
		signer, err := links.NewSigner(a.cfg.LinkSecret, a.cfg.PublicURL, links.DefaultTTL, nil)
		if err != nil {
			return err
		}
		opts.Links = signer
	}
	if a.cfg.SendGrid.WebhookPublicKey != "" {
		key, err := apiserver.ParseWebhookKey(a.cfg.SendGrid.WebhookPublicKey)
		if err != nil {
			return err
		}
		opts.SendGridKey = key
	}
	dash, err := dashboard.New(dashboard.Options{
		Client: c, Namespace: a.cfg.Temporal.Namespace, APIKeys: a.cfg.APIKeys, Outbox: opts.Outbox, Suppressions: st, Sessions: st, Insights: st, Tasks: st,
		Playbooks: &apiserver.Catalogue{Store: st, BuiltIn: opts.Playbook, Now: time.Now},
		Logger:    a.log.Named("dashboard"), Secure: strings.HasPrefix(a.cfg.PublicURL, "https://"),
	})
	if err != nil {
		return err
	}
	opts.Mount = dash.Register
	api := apiserver.New(opts)
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("API listening", zap.String("addr", ln.Addr().String()))
	select {
	case err := <-errc:
		return fmt.Errorf("API server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("draining HTTP requests")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

const workerHelp = `Runs customer journeys: the CustomerLifecycle workflow and its email
activities, on task queue "customer-lifecycle". Stateless: run as many as you
need against one Temporal namespace (prepared by 'lifecycle setup'). Emails
go through SendGrid when SENDGRID_API_KEY is set, else to the outbox in the
store (DATABASE_URL, or SQLite in the data directory).

Serves /metrics, /healthz and /readyz on LIFECYCLE_WORKER_HTTP_ADDR. With
versioning on (the default), the worker joins Worker Deployment
LIFECYCLE_DEPLOYMENT_NAME as build LIFECYCLE_BUILD_ID; the first build of a
deployment becomes current by itself, later ones with 'lifecycle deployment
promote BUILD_ID'.`

func workerCmd(ctx context.Context, args []string, stderr io.Writer) error {
	a, err := prepare("worker", workerHelp, args, stderr, nil)
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck // nothing to do if stderr is gone
	var ln net.Listener
	if addr := a.cfg.Worker.HTTPAddr; addr != "" {
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("LIFECYCLE_WORKER_HTTP_ADDR: %w", err)
		}
		defer ln.Close()
	}
	c, st, closeAll, err := a.connect(ctx, a.cfg.Temporal, 60*time.Second)
	if err != nil {
		return err
	}
	defer closeAll()
	if err := namespace.Check(ctx, c, a.cfg.Temporal.Namespace, workflows.SearchAttributeTypes); err != nil {
		return err
	}
	health := &workerHealth{c: c}
	if ln != nil {
		go a.serveWorkerHTTP(ctx, ln, health)
	}
	stop, err := a.startWorker(ctx, c, st, true)
	if err != nil {
		return err
	}
	health.started.Store(true)
	<-ctx.Done()
	health.stopping.Store(true)
	a.log.Info("stopping worker")
	stop()
	return nil
}

const apiHelp = `Serves the HTTP API (/v1, /healthz, /readyz, /metrics) against a Temporal
frontend. Stateless: run as many as you need behind a load balancer.
Needs LIFECYCLE_API_KEYS.`

func apiCmd(ctx context.Context, args []string, stderr io.Writer) error {
	a, err := prepare("api", apiHelp, args, stderr, nil)
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck
	if err := a.cfg.RequireAPI(); err != nil {
		return err
	}
	nameSimulations() // POST /v1/playbooks/simulate
	ln, err := a.listen()
	if err != nil {
		return err
	}
	c, st, closeAll, err := a.connect(ctx, a.cfg.Temporal, 60*time.Second)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeAll()
	if err := namespace.Check(ctx, c, a.cfg.Temporal.Namespace, workflows.SearchAttributeTypes); err != nil {
		ln.Close()
		return err
	}
	return a.serveAPI(ctx, ln, c, st, false)
}

// hubspotOptions turns the HUBSPOT_ settings (checked by config.Load) into
// the webhook's options.
func hubspotOptions(h config.HubSpot, publicURL string) *apiserver.HubSpot {
	plan, _ := hubspot.ParsePropertyRef(h.PlanProperty)
	renewal, _ := hubspot.ParsePropertyRef(h.RenewalProperty)
	return &apiserver.HubSpot{
		ClientSecret: h.ClientSecret, PublicURL: publicURL,
		CRM: &hubspot.Client{BaseURL: h.APIURL, Token: h.AccessToken, HTTP: &http.Client{Timeout: 3 * time.Second}},
		Mapping: hubspot.Mapping{
			ClosedWonStages: h.ClosedWonStages, Plan: plan, Renewal: renewal, TermMonths: h.TermMonths,
			RoleProperty: h.ContactRoleProperty, ManagerEmail: h.ManagerEmail,
			DefaultCSM: workflows.Person{Name: h.DefaultCSMName, Email: h.DefaultCSMEmail},
		},
	}
}
