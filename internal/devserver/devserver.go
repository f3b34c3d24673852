// Package devserver runs a real Temporal server inside this process, for the
// one-command local start (`lifecycle dev`). State lives in SQLite files in a
// data directory, so journeys survive a restart. The setup follows the Temporal
// CLI's `temporal server start-dev --db-filename`.
package devserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	"go.temporal.io/server/temporal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

const (
	// startTimeout bounds Start when the caller's context has no deadline, so
	// a server that never becomes ready fails instead of hanging `lifecycle dev`.
	startTimeout = 2 * time.Minute
	uiTimeout    = 15 * time.Second
)

// Options configure Start.
type Options struct {
	DataDir          string                              // required; SQLite files temporal.db and visibility.db there, created if missing
	Namespace        string                              // default "default"; registered at start if missing (7 days retention)
	IP               string                              // default "127.0.0.1"; the frontend and the UI listen here
	FrontendPort     int                                 // 0 = pick a free port
	UIPort           int                                 // 0 = pick a free port; -1 = no UI
	SearchAttributes map[string]enumspb.IndexedValueType // registered in the namespace at start if missing
	Logger           *zap.Logger                         // server logs, warn and above; nil = zap.NewNop()

	// openLayout replaces openLayout in tests that need a data directory as
	// older versions created it.
	openLayout func(dataDir string) (layout, error)
}

// Server is a running dev server. Stop it with Stop.
type Server struct {
	srv       temporal.Server
	ui        *webUI
	frontend  string
	namespace string
	level     zap.AtomicLevel

	stopOnce sync.Once
	stopErr  error
}

// Start starts the server, waits until its frontend answers, registers the
// namespace and the search attributes, then (if enabled) starts the Temporal
// Web UI pointing at the frontend. A UI that cannot start is logged and left
// out (UIAddress returns ""); any other failure stops what was started and is
// returned.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}

	// The server is chatty at info level; keep warn and above. The level is
	// raised again during Stop, see there.
	level := zap.NewAtomicLevelAt(zap.WarnLevel)
	logger := opts.Logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return levelCore{Core: c, min: level}
	}))

	ports, err := pickPorts(opts.IP, opts.FrontendPort)
	if err != nil {
		return nil, err
	}
	files, err := opts.openLayout(opts.DataDir)
	if err != nil {
		return nil, err
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(serverConfig(opts.IP, ports, files)),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(staticHosts(opts.IP, ports)),
		temporal.WithLogger(log.NewZapLogger(logger.Named("temporal"))),
		temporal.WithDynamicConfigClient(dynamicConfig(files)),
		// No auth on a local dev server, as in the CLI.
		temporal.WithAuthorizer(authorization.NewNoopAuthorizer()),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper {
			return authorization.NewNoopClaimMapper()
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("creating Temporal server: %w", err)
	}
	// On failure the server's services roll back what they started.
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("starting Temporal server: %w", err)
	}
	s := &Server{
		srv:       srv,
		frontend:  hostPort(dialHost(opts.IP), ports.frontend),
		namespace: opts.Namespace,
		level:     level,
	}
	if err := s.setup(ctx, opts, logger); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	if opts.UIPort >= 0 {
		if err := s.startUI(ctx, opts); err != nil {
			opts.Logger.Warn("Temporal Web UI not started", zap.Error(err))
		}
	}
	return s, nil
}

func (s *Server) setup(ctx context.Context, opts Options, logger *zap.Logger) error {
	c, err := dialFrontend(ctx, s.frontend, opts.Namespace, logger)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := registerNamespace(ctx, c, opts.Namespace); err != nil {
		return err
	}
	return registerSearchAttributes(ctx, c, opts.Namespace, opts.SearchAttributes)
}

func (s *Server) startUI(ctx context.Context, opts Options) error {
	port := opts.UIPort
	if port == 0 {
		var err error
		if port, err = freePort(opts.IP); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, uiTimeout)
	defer cancel()
	ui, err := startUI(ctx, opts.IP, port, s.frontend, opts.Namespace)
	if err != nil {
		return err
	}
	s.ui = ui
	return nil
}

// FrontendAddress is the frontend gRPC host:port, e.g. "127.0.0.1:7233".
func (s *Server) FrontendAddress() string { return s.frontend }

// UIAddress is the Web UI URL, e.g. "http://127.0.0.1:8233", or "" when the UI
// is disabled or could not start.
func (s *Server) UIAddress() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// Namespace is the namespace registered at start.
func (s *Server) Namespace() string { return s.namespace }

// Stop stops the UI, then the server. Calling it again returns the first
// result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if s.ui != nil {
			s.ui.stop()
		}
		// Shutting down, the server routinely warns about connections and
		// pollers it cuts off; the CLI hides those too.
		s.level.SetLevel(zap.ErrorLevel)
		if err := s.srv.Stop(); err != nil {
			s.stopErr = fmt.Errorf("stopping Temporal server: %w", err)
		}
	})
	return s.stopErr
}

func (o *Options) normalize() error {
	if o.DataDir == "" {
		return errors.New("devserver: Options.DataDir is required")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	switch o.IP {
	case "", "localhost":
		// The server needs an IP to bind, not a name.
		o.IP = "127.0.0.1"
	}
	if net.ParseIP(o.IP) == nil {
		return fmt.Errorf("devserver: IP %q is not an IP address", o.IP)
	}
	if o.FrontendPort < 0 || o.FrontendPort > 65535 {
		return fmt.Errorf("devserver: FrontendPort %d out of range", o.FrontendPort)
	}
	if o.UIPort > 65535 {
		return fmt.Errorf("devserver: UIPort %d out of range", o.UIPort)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.openLayout == nil {
		o.openLayout = openLayout
	}
	return nil
}

// levelCore drops entries below a level that can change at run time. Unlike
// zap.IncreaseLevel it accepts any wrapped core (including zap.NewNop's).
type levelCore struct {
	zapcore.Core
	min zap.AtomicLevel
}

func (c levelCore) Enabled(l zapcore.Level) bool { return c.min.Enabled(l) && c.Core.Enabled(l) }

func (c levelCore) With(fields []zapcore.Field) zapcore.Core {
	return levelCore{Core: c.Core.With(fields), min: c.min}
}

func (c levelCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !c.min.Enabled(e.Level) {
		return ce
	}
	return c.Core.Check(e, ce)
}
