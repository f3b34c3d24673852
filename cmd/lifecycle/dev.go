//go:build !nodev

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/devserver"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// devIncluded says whether this binary carries `lifecycle dev`: builds with
// -tags nodev (the production image) leave the embedded Temporal server and
// its Web UI out.
const devIncluded = "included"

const devHelp = `Runs everything in one process: an embedded Temporal server whose SQLite
database lives under the data directory (journeys survive a restart), the
Temporal Web UI, the worker and the API. Prints the URLs and the API keys
(generated when LIFECYCLE_API_KEYS is unset). Ctrl-C stops it cleanly; the
next start picks up every journey where it was.

The embedded server's frontend listens on TEMPORAL_ADDRESS (default
127.0.0.1:7233).`

func devCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var uiPort int
	a, err := prepare("dev", devHelp, args, stderr, func(fs *flag.FlagSet) {
		fs.IntVar(&uiPort, "ui-port", 8233, "port of the Temporal Web UI; 0 picks a free one, -1 turns it off")
	})
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck
	host, portText, _ := net.SplitHostPort(a.cfg.Temporal.Address)
	port, err := strconv.Atoi(portText)
	if err != nil {
		return fmt.Errorf("TEMPORAL_ADDRESS: %q has no numeric port", a.cfg.Temporal.Address)
	}
	ln, err := a.listen()
	if err != nil {
		return err
	}
	defer ln.Close()

	started := time.Now()
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: filepath.Join(a.cfg.DataDir, "temporal"), Namespace: a.cfg.Temporal.Namespace,
		IP: host, FrontendPort: port, UIPort: uiPort, SearchAttributes: workflows.SearchAttributeTypes,
		Logger: a.log.Named("temporal-server").WithOptions(zap.IncreaseLevel(zap.WarnLevel)),
	})
	if err != nil {
		return fmt.Errorf("embedded Temporal server: %w", err)
	}
	defer func() {
		a.log.Info("stopping the Temporal server")
		if err := srv.Stop(); err != nil {
			a.log.Error("Temporal server stop", zap.Error(err))
		}
	}()
	t := a.cfg.Temporal
	t.Address = srv.FrontendAddress()
	c, st, closeAll, err := a.connect(ctx, t, 30*time.Second)
	if err != nil {
		return err
	}
	defer closeAll()
	stopWorker, err := a.startWorker(ctx, c, st, false)
	if err != nil {
		return err
	}
	defer func() {
		a.log.Info("stopping the worker")
		stopWorker()
	}()
	if err := worker.EnsureInsightsSchedule(ctx, c, a.cfg.InsightsCron, func(format string, args ...any) {
		a.log.Info(fmt.Sprintf(format, args...))
	}); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\nLifecycle is running (started in %s).\n\n", time.Since(started).Round(10*time.Millisecond))
	fmt.Fprintf(stdout, "  Dashboard    %s/ui   (sign in with the csm or admin key)\n", a.cfg.PublicURL)
	fmt.Fprintf(stdout, "  API          %s   (OpenAPI: %s/v1/openapi.yaml)\n", a.cfg.PublicURL, a.cfg.PublicURL)
	if ui := srv.UIAddress(); ui != "" {
		fmt.Fprintf(stdout, "  Temporal UI  %s\n", ui)
	}
	fmt.Fprintf(stdout, "  Temporal     %s (namespace %s)\n", srv.FrontendAddress(), srv.Namespace())
	fmt.Fprintf(stdout, "  Data         %s\n", a.cfg.DataDir)
	if a.cfg.SendGrid.APIKey == "" {
		fmt.Fprintf(stdout, "  Outbox       %s/dev/outbox   (emails, with working action links)\n", a.cfg.PublicURL)
	}
	fmt.Fprintf(stdout, "  Day length   %s\n\n", a.cfg.DayLength)
	if a.cfg.GeneratedKeys {
		fmt.Fprintln(stdout, "  API keys (generated for this run; set LIFECYCLE_API_KEYS to keep your own):")
	} else {
		fmt.Fprintln(stdout, "  API keys:")
	}
	for _, rk := range a.cfg.KeysByRole() {
		fmt.Fprintf(stdout, "    %-12s %s\n", rk[0], rk[1])
	}
	fmt.Fprintln(stdout, "\nCtrl-C stops everything; journeys continue at the next start.")
	return a.serveAPI(ctx, ln, c, st, a.cfg.SendGrid.APIKey == "")
}
