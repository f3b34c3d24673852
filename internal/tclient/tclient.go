// Package tclient dials the Temporal frontend with the configured TLS,
// API key, logger and metrics.
package tclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/logging"
)

// Dial connects and checks the connection; it retries for up to wait so a
// worker started next to a booting server does not give up at once.
func Dial(ctx context.Context, t config.Temporal, log *zap.Logger, metrics client.MetricsHandler, wait time.Duration) (client.Client, error) {
	opts := client.Options{
		HostPort:       t.Address,
		Namespace:      t.Namespace,
		Logger:         logging.Temporal(log.Named("temporal")),
		MetricsHandler: metrics,
	}
	if loopback(t.Address) {
		// gzip saves bandwidth, which loopback has plenty of, and costs CPU
		// on both sides: `lifecycle dev` and its embedded server share the
		// same cores (7% less CPU for the same journeys, BENCHMARKS.md).
		opts.ConnectionOptions.GrpcCompression = &client.GrpcCompressionNone{}
	}
	if t.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		opts.ConnectionOptions.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
		if opts.ConnectionOptions.TLS == nil {
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("TEMPORAL_ADDRESS: cannot reach Temporal at %s (namespace %s): %w", t.Address, t.Namespace, err)
		}
		log.Warn("Temporal not reachable yet, retrying", zap.String("address", t.Address), zap.Error(err))
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}

// loopback reports whether a host:port names this machine's loopback
// interface.
func loopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
