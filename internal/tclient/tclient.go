// Package tclient dials the Temporal frontend with the configured TLS,
// API key, logger and metrics.
package tclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
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
	tlsConfig, err := TLSConfig(t)
	if err != nil {
		return nil, err
	}
	opts.ConnectionOptions.TLS = tlsConfig
	if t.APIKey != "" {
		opts.Credentials = client.NewAPIKeyStaticCredentials(t.APIKey)
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

// TLSConfig is the TLS to the frontend: none unless a setting asks for it
// (a client certificate for mTLS, an API key, a custom CA or server name).
func TLSConfig(t config.Temporal) (*tls.Config, error) {
	if t.TLSCert == "" && t.APIKey == "" && t.TLSCA == "" && t.TLSServerName == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.TLSServerName}
	if t.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(t.TLSCert, t.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CERT/TEMPORAL_TLS_KEY: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.TLSCA != "" {
		pem, err := os.ReadFile(t.TLSCA)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TEMPORAL_TLS_CA: %s holds no PEM certificate", t.TLSCA)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
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
