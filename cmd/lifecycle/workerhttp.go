package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
)

// workerHealth is what the worker's probes read.
type workerHealth struct {
	c        client.Client
	started  atomic.Bool // polling
	stopping atomic.Bool // draining after SIGTERM: take it out of rotation
}

// ready: the worker polls and its Temporal frontend answers. A worker that
// cannot reach Temporal runs nothing, and its probe says so.
func (h *workerHealth) ready(ctx context.Context) (bool, string) {
	switch {
	case h.stopping.Load():
		return false, "stopping"
	case !h.started.Load():
		return false, "starting"
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := h.c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return false, "Temporal unreachable: " + err.Error()
	}
	return true, "ok"
}

// serveWorkerHTTP serves /metrics (the SDK's worker metrics and the
// process's), /healthz (the process answers) and /readyz until ctx ends.
func (a *app) serveWorkerHTTP(ctx context.Context, ln net.Listener, h *workerHealth) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := h.ready(r.Context())
		w.Header().Set("Content-Type", "application/json")
		status := "ready"
		if !ok {
			status = "not ready"
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status, "reason": why})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	a.log.Info("worker HTTP listening (/metrics, /healthz, /readyz)", zap.String("addr", ln.Addr().String()))
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		a.log.Error("worker HTTP server", zap.Error(err))
	}
}
