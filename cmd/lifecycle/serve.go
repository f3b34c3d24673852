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
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/logging"
	"github.com/seed-a80403e2/lifecycle/internal/metrics"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/internal/tclient"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
)

// app is what every serving command shares.
type app struct {
	cfg     *config.Config
	log     *zap.Logger
	reg     *prometheus.Registry
	metrics client.MetricsHandler
}

// setup parses flags, reads the settings and builds logger and metrics.
func setup(name, help string, args []string, dev bool, stderr io.Writer, extra func(*flag.FlagSet)) (*app, error) {
	fs := flag.NewFlagSet("lifecycle "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	vals := config.Register(fs)
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
	cfg, err := config.Load(vals, dev)
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

// startWorker starts a journey worker; stop it with the returned function.
func (a *app) startWorker(c client.Client, st *store.Store) (func(), error) {
	acts, err := worker.Activities(a.cfg, st)
	if err != nil {
		return nil, err
	}
	w := worker.New(c, acts)
	if err := w.Start(); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	mailer := "local outbox"
	if a.cfg.SendGrid.APIKey != "" {
		mailer = "SendGrid"
	}
	a.log.Info("worker started", zap.String("task_queue", "customer-lifecycle"), zap.String("mailer", mailer))
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
		Store: st,
	}
	if devOutbox {
		opts.Outbox = st
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
		Client: c, Namespace: a.cfg.Temporal.Namespace, APIKeys: a.cfg.APIKeys, Outbox: opts.Outbox, Suppressions: st,
		Logger: a.log.Named("dashboard"), Secure: strings.HasPrefix(a.cfg.PublicURL, "https://"),
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
need against one Temporal namespace. Emails go through SendGrid when
SENDGRID_API_KEY is set, else to the outbox in the store (DATABASE_URL, or
SQLite in the data directory).`

func workerCmd(ctx context.Context, args []string, stderr io.Writer) error {
	a, err := setup("worker", workerHelp, args, false, stderr, nil)
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck // nothing to do if stderr is gone
	c, st, closeAll, err := a.connect(ctx, a.cfg.Temporal, 60*time.Second)
	if err != nil {
		return err
	}
	defer closeAll()
	stop, err := a.startWorker(c, st)
	if err != nil {
		return err
	}
	<-ctx.Done()
	a.log.Info("stopping worker")
	stop()
	return nil
}

const apiHelp = `Serves the HTTP API (/v1, /healthz, /readyz, /metrics) against a Temporal
frontend. Stateless: run as many as you need behind a load balancer.
Needs LIFECYCLE_API_KEYS.`

func apiCmd(ctx context.Context, args []string, stderr io.Writer) error {
	a, err := setup("api", apiHelp, args, false, stderr, nil)
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck
	if err := a.cfg.RequireAPI(); err != nil {
		return err
	}
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
	return a.serveAPI(ctx, ln, c, st, false)
}
