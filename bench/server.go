package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/devserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/metrics"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/internal/tclient"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

const (
	salesKey   = "bench-sales-key-1-0123456"
	csmKey     = "bench-csm-key-01-01234567"
	integKey   = "bench-integration-1-01234"
	linkSecret = "bench-link-secret-0123456789"
	apiDay     = 24 * time.Hour // nothing of the journey falls due during a benchmark
)

// stack is what `lifecycle dev` runs: the embedded Temporal server (SQLite
// file in a temp dir), one client shared by the worker and the API, the
// worker, and the API on a real loopback listener.
type stack struct {
	dir    string
	srv    *devserver.Server
	c      client.Client
	st     *store.Store
	w      sdkworker.Worker
	http   *httptest.Server
	url    string
	hc     *http.Client
	ns     string
	closed sync.Once

	eventIDs []string // customers of the event and read benchmarks
}

func startStack(ctx context.Context) (_ *stack, err error) {
	dir, err := os.MkdirTemp("", "lifecycle-bench-")
	if err != nil {
		return nil, err
	}
	s := &stack{dir: dir}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	t0 := time.Now()
	s.srv, err = devserver.Start(ctx, devserver.Options{
		DataDir: filepath.Join(dir, "temporal"), UIPort: -1,
		SearchAttributes: workflows.SearchAttributeTypes, Logger: zap.NewNop(),
	})
	if err != nil {
		return nil, err
	}
	s.ns = s.srv.Namespace()
	progress("  embedded server up at %s in %s", s.srv.FrontendAddress(), time.Since(t0).Round(10*time.Millisecond))
	reg := prometheus.NewRegistry()
	// Dialled as `lifecycle dev` dials, so both sides of each comparison
	// use the client the product uses.
	s.c, err = tclient.Dial(ctx, config.Temporal{Address: s.srv.FrontendAddress(), Namespace: s.ns},
		zap.NewNop(), metrics.NewTemporalHandler(reg), 0)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	s.st, err = store.Open(ctx, "", dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	cfg := &config.Config{LinkSecret: linkSecret, PublicURL: "http://lifecycle.bench"}
	acts, err := worker.Activities(cfg, s.st)
	if err != nil {
		return nil, err
	}
	s.w = worker.New(s.c, acts)
	if err := s.w.Start(); err != nil {
		s.w = nil
		return nil, fmt.Errorf("worker: %w", err)
	}
	signer, err := links.NewSigner(linkSecret, cfg.PublicURL, links.DefaultTTL, nil)
	if err != nil {
		return nil, err
	}
	api := apiserver.New(apiserver.Options{
		Client: s.c, Namespace: s.ns, Playbook: playbooks.Default(),
		APIKeys:   map[string]string{salesKey: "sales", csmKey: "csm", integKey: "integration"},
		DayLength: apiDay, Logger: zap.NewNop(), Registry: reg, Links: signer, Store: s.st, Outbox: s.st,
	})
	s.http = httptest.NewServer(api.Handler())
	s.url = s.http.URL
	s.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	return s, nil
}

func (s *stack) close() {
	s.closed.Do(func() {
		if s.http != nil {
			s.http.Close()
		}
		if s.w != nil {
			s.w.Stop()
		}
		if s.c != nil {
			s.c.Close()
		}
		if s.srv != nil {
			if err := s.srv.Stop(); err != nil {
				progress("stopping the server: %v", err)
			}
		}
		if s.st != nil {
			s.st.Close()
		}
		os.RemoveAll(s.dir)
	})
}

// startBody is a closed deal, as sales would post it.
func startBody(id string) apiserver.StartRequest {
	var r apiserver.StartRequest
	r.Account.ID, r.Account.Name, r.Account.Plan = id, "Acme "+id, "enterprise"
	r.Account.RenewalDate = apiserver.Date{Time: time.Now().UTC().Truncate(24*time.Hour).AddDate(1, 0, 0)}
	r.Champion = workflows.Person{Name: "Ada Lovelace", Email: "ada@" + id + ".example", TimeZone: "Europe/London"}
	r.CSM = workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"}
	r.ManagerEmail = "manager@vendor.example"
	r.DealID = "deal-" + id
	return r
}

// rawStart starts the journey with the raw client exactly as the API does:
// the same input and the same start options.
func (s *stack) rawStart(ctx context.Context, id string, day time.Duration) error {
	return s.rawStartDelayed(ctx, id, day, 0)
}

// rawStartDelayed is rawStart whose first workflow task waits for delay.
func (s *stack) rawStartDelayed(ctx context.Context, id string, day, delay time.Duration) error {
	r := startBody(id)
	in := workflows.JourneyInput{
		Account:  workflows.Account{ID: id, Name: r.Account.Name, Plan: r.Account.Plan, RenewalDate: r.Account.RenewalDate.Time},
		Champion: r.Champion, CSM: r.CSM, ManagerEmail: r.ManagerEmail, DealID: r.DealID,
		Playbook: playbooks.Default(), DayLength: day, Revision: workflows.Revision,
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.WorkflowID(id), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StartDelay:                               delay,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAPhase.ValueSet(workflows.PhaseHandoff), workflows.SACSMEmail.ValueSet(in.CSM.Email),
			workflows.SARenewalDate.ValueSet(in.Account.RenewalDate)),
		// What the Temporal Web UI shows of the journey (see README).
		StaticSummary: workflows.StartSummary(in), StaticDetails: workflows.StartDetails(in),
	}, workflows.WorkflowName, in)
	return err
}

func (s *stack) rawEvent(ctx context.Context, id, eventID string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ev := workflows.EngagementEvent{ID: eventID, Type: "login", Time: time.Now().UTC()}
	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(id), UpdateName: workflows.UpdateEvent, Args: []any{ev},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	var res workflows.EventResult
	return h.Get(ctx, &res)
}

func (s *stack) rawSignal(ctx context.Context, id, eventID string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ev := workflows.EngagementEvent{ID: eventID, Type: "login", Time: time.Now().UTC()}
	return s.c.SignalWorkflow(ctx, workflows.WorkflowID(id), "", workflows.SignalEvent, ev)
}

func (s *stack) rawState(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	v, err := s.c.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QueryState)
	if err != nil {
		return err
	}
	var st workflows.State
	return v.Get(&st)
}

// do sends a request to the API and checks the status; the body is read and
// decoded like a client would.
func (s *stack) do(ctx context.Context, method, path, key string, body any, want int) error {
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, bytes.TrimSpace(data))
	}
	var out map[string]any
	return json.Unmarshal(data, &out)
}

// parallel runs fn(0..n-1) on conc goroutines; it returns the wall time and
// the first error, with the count of failures.
func parallel(ctx context.Context, n, conc int, fn func(i int) error) (time.Duration, error) {
	var next, failed atomic.Int64
	var first error
	var mu sync.Mutex
	var wg sync.WaitGroup
	t0 := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					failed.Add(1)
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(t0)
	if first != nil {
		return el, fmt.Errorf("%d of %d failed, the first: %w", failed.Load(), n, first)
	}
	if ctx.Err() != nil {
		return el, ctx.Err()
	}
	return el, nil
}
