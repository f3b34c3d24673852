package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/devserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

const (
	csmKey     = "csm-dashboard-test-key-0001"
	adminKey   = "admin-dashboard-test-key-01"
	salesKey   = "sales-dashboard-test-key-01"
	integKey   = "integ-dashboard-test-key-01"
	linkSecret = "dashboard-test-link-secret-0123456789"
)

var testKeys = map[string]string{
	csmKey: config.RoleCSM, adminKey: config.RoleAdmin, salesKey: config.RoleSales, integKey: config.RoleIntegration,
}

// env is what `lifecycle dev` runs, built piece by piece in this process:
// the embedded Temporal server (devserver), a journey worker writing to a
// store's outbox, and the API with the dashboard mounted, on a real port
// that is also the public URL of the emails' action links.
type env struct {
	URL    string
	Client client.Client
	Store  *store.Store
}

func startEnv(tb testing.TB, withWorker bool) *env {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	srv, err := devserver.Start(ctx, devserver.Options{
		DataDir: tb.TempDir(), Namespace: "default", IP: "127.0.0.1", UIPort: -1,
		SearchAttributes: workflows.SearchAttributeTypes, Logger: zap.NewNop(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: "default",
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	st, err := store.Open(ctx, "", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if withWorker {
		acts, err := worker.Activities(&config.Config{LinkSecret: linkSecret, PublicURL: url}, st)
		if err != nil {
			tb.Fatal(err)
		}
		// The insights job reads the portfolio from visibility (as serve and
		// dev set it up) and stores its runs in st.
		acts.Portfolio = worker.Portfolio{Client: c, Namespace: "default"}
		w := worker.New(c, acts)
		if err := w.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(w.Stop)
	}
	signer, err := links.NewSigner(linkSecret, url, links.DefaultTTL, nil)
	if err != nil {
		tb.Fatal(err)
	}
	dash, err := New(Options{Client: c, Namespace: "default", APIKeys: testKeys, Outbox: st, Suppressions: st, Sessions: st, Insights: st, Tasks: st, Logger: zap.NewNop(),
		Playbooks: &apiserver.Catalogue{Store: st, BuiltIn: playbooks.Default(), Now: time.Now}})
	if err != nil {
		tb.Fatal(err)
	}
	api := apiserver.New(apiserver.Options{
		Client: c, Namespace: "default", APIKeys: testKeys, Logger: zap.NewNop(), Links: signer, Store: st, Outbox: st,
		// An hour-long journey day: nothing moves on its own during a
		// test, and customer emails skip business hours (a shortened day).
		DayLength: time.Hour, Mount: dash.Register,
	})
	hs := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	tb.Cleanup(func() { _ = hs.Close() })
	return &env{URL: url, Client: c, Store: st}
}

// api calls the JSON API with a key and decodes the answer into out.
func (e *env) api(tb testing.TB, key, method, path string, body, out any) int {
	tb.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, e.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	if resp.StatusCode >= 300 {
		tb.Logf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return resp.StatusCode
}

// startCustomer closes a deal for id through the API.
func (e *env) startCustomer(tb testing.TB, id, name, csm string) {
	tb.Helper()
	body := map[string]any{
		"account":       map[string]any{"id": id, "name": name, "plan": "pro", "renewal_date": time.Now().AddDate(1, 0, 0).Format(time.DateOnly)},
		"champion":      map[string]any{"name": "Ada Lovelace", "email": "ada@" + id + ".example", "time_zone": "Europe/London"},
		"csm":           map[string]any{"name": "Grace Hopper", "email": csm},
		"manager_email": "manager@vendor.example",
		"deal_id":       "deal-" + id,
	}
	if code := e.api(tb, salesKey, "POST", "/v1/customers", body, nil); code != http.StatusCreated {
		tb.Fatalf("start %s: %d", id, code)
	}
}

func waitUntil(tb testing.TB, what string, within time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// seed starts three customers in different states and waits until
// visibility has their health: red (high risk flagged, a critical
// complaint), yellow (new and quiet) and green (engaged and happy).
func (e *env) seed(tb testing.TB) {
	tb.Helper()
	e.startCustomer(tb, "acme", "Acme Corp", "grace@vendor.example")
	e.startCustomer(tb, "beta", "Beta Ltd", "grace@vendor.example")
	e.startCustomer(tb, "gamma", "Gamma Inc", "alan@vendor.example")
	ok := func(code int) {
		tb.Helper()
		if code >= 300 {
			tb.Fatalf("seeding: HTTP %d", code)
		}
	}
	ok(e.api(tb, csmKey, "POST", "/v1/customers/acme/outcomes", map[string]any{"kind": "risk", "risk": "high", "note": "budget cut"}, nil))
	ok(e.api(tb, csmKey, "POST", "/v1/customers/acme/complaints", map[string]any{"severity": "critical", "summary": "Data export broken"}, nil))
	for _, typ := range []string{"meeting_held", "webinar_attended", "training_completed"} {
		ok(e.api(tb, integKey, "POST", "/v1/customers/gamma/events", map[string]any{"id": "ev-" + typ, "type": typ, "source": "seed"}, nil))
	}
	want := map[string]string{"acme": "red", "beta": "yellow", "gamma": "green"}
	waitUntil(tb, "visibility to show the seeded health", 30*time.Second, func() bool {
		var raw struct {
			Customers []map[string]any `json:"customers"`
		}
		e.api(tb, csmKey, "GET", "/v1/customers", nil, &raw)
		got := map[string]string{}
		for _, c := range raw.Customers {
			id, _ := c["customer_id"].(string)
			h, _ := c["health"].(string)
			got[id] = h
		}
		for id, h := range want {
			if got[id] != h {
				return false
			}
		}
		return true
	})
}
