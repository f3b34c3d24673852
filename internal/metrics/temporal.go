// Package metrics exposes Prometheus metrics: the API's own and the Temporal
// SDK's, through a client.MetricsHandler backed by the same registry.
package metrics

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// TemporalHandler implements the SDK's metrics handler on a Prometheus
// registry. A metric's label names are fixed by its first use; later uses
// with other tags fill missing labels with "" and drop extra ones, because
// Prometheus requires one label set per metric name.
type TemporalHandler struct {
	reg  prometheus.Registerer
	tags map[string]string
	m    *families
}

type families struct {
	mu         sync.Mutex
	counters   map[string]*prometheus.CounterVec
	gauges     map[string]*prometheus.GaugeVec
	histograms map[string]*prometheus.HistogramVec
	labels     map[string][]string
}

// NewTemporalHandler registers SDK metrics on reg as they appear.
func NewTemporalHandler(reg prometheus.Registerer) *TemporalHandler {
	return &TemporalHandler{reg: reg, tags: map[string]string{}, m: &families{
		counters: map[string]*prometheus.CounterVec{}, gauges: map[string]*prometheus.GaugeVec{},
		histograms: map[string]*prometheus.HistogramVec{}, labels: map[string][]string{},
	}}
}

var _ client.MetricsHandler = (*TemporalHandler)(nil)

// WithTags returns a handler whose metrics carry these tags too.
func (h *TemporalHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &TemporalHandler{reg: h.reg, tags: merged, m: h.m}
}

func promName(name string) string {
	return "temporal_" + strings.NewReplacer(".", "_", "-", "_").Replace(strings.TrimPrefix(name, "temporal_"))
}

// labelsFor fixes the metric's label names on first use and maps tags onto them.
func (h *TemporalHandler) labelsFor(name string) ([]string, prometheus.Labels) {
	names, ok := h.m.labels[name]
	if !ok {
		for k := range h.tags {
			names = append(names, k)
		}
		slices.Sort(names)
		h.m.labels[name] = names
	}
	values := prometheus.Labels{}
	for _, n := range names {
		values[n] = h.tags[n]
	}
	return names, values
}

// register adds c to the registry, or returns the collector already there.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if existing, ok := are.ExistingCollector.(T); ok {
				return existing
			}
		}
	}
	return c
}

// Counter returns a counter.
func (h *TemporalHandler) Counter(name string) client.MetricsCounter {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	names, values := h.labelsFor(name)
	vec, ok := h.m.counters[name]
	if !ok {
		vec = register(h.reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(name) + "_total", Help: "Temporal SDK " + name}, names))
		h.m.counters[name] = vec
	}
	c := vec.With(values)
	return counterFunc(func(d int64) { c.Add(float64(d)) })
}

// Gauge returns a gauge.
func (h *TemporalHandler) Gauge(name string) client.MetricsGauge {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	names, values := h.labelsFor(name)
	vec, ok := h.m.gauges[name]
	if !ok {
		vec = register(h.reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: promName(name), Help: "Temporal SDK " + name}, names))
		h.m.gauges[name] = vec
	}
	g := vec.With(values)
	return gaugeFunc(g.Set)
}

// Timer returns a histogram in seconds.
func (h *TemporalHandler) Timer(name string) client.MetricsTimer {
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	names, values := h.labelsFor(name)
	vec, ok := h.m.histograms[name]
	if !ok {
		vec = register(h.reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: promName(name) + "_seconds", Help: "Temporal SDK " + name, Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14),
		}, names))
		h.m.histograms[name] = vec
	}
	o := vec.With(values)
	return timerFunc(func(d time.Duration) { o.Observe(d.Seconds()) })
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }
