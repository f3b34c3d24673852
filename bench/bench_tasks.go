package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// taskCustomers is how many customers the work-list benchmark indexes.
const taskCustomers = 10000

// benchTasks: GET /v1/tasks, the first page of a CSM's work, over the
// store's index of 10,000 customers' tasks (SQLite, as `lifecycle dev`
// keeps it), through the API's whole HTTP stack.
func benchTasks(ctx context.Context, b *bencher) (*section, error) {
	dir, err := os.MkdirTemp("", "bench-tasks-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	const csms = 25
	now := time.Now().UTC()
	progress("  tasks: indexing %d customers' tasks", taskCustomers)
	t0 := time.Now()
	total := 0
	for i := range taskCustomers {
		owner := fmt.Sprintf("csm%02d@vendor.example", i%csms)
		// Each customer has a handoff or milestone task (some overdue, some
		// later), and every fifth a complaint and a task that climbed to
		// the manager.
		tasks := []store.Task{{ID: "t1", Kind: "milestone", Title: fmt.Sprintf("Customer %d: milestone late", i), Cause: "due day 10, not done 3 days later",
			Step: "milestone:kickoff:late-2", OwnerRole: "csm", OwnerEmail: owner, Status: "open",
			Due: now.Add(time.Duration(i%97-48) * time.Hour), OpenedAt: now.Add(-72 * time.Hour)}}
		if i%5 == 0 {
			tasks = append(tasks,
				store.Task{ID: "t2", Kind: "complaint", Title: fmt.Sprintf("Complaint from customer %d (high)", i), Cause: "complaint c1 received",
					Step: "complaint:c1:csm", OwnerRole: "csm", OwnerEmail: owner, Status: "open", Due: now.Add(time.Duration(i%13) * time.Hour), OpenedAt: now},
				store.Task{ID: "t3", Kind: "silence", Title: fmt.Sprintf("Customer %d has gone quiet", i), Cause: "no engagement for 21 days",
					Step: "silence:0:manager", OwnerRole: "manager", OwnerEmail: "manager@vendor.example", Status: "open", Due: now.Add(-time.Hour), OpenedAt: now})
		}
		if i%7 == 0 {
			tasks[0].Status, tasks[0].SnoozedUntil = "snoozed", now.Add(48*time.Hour)
		}
		total += len(tasks)
		if _, err := st.SyncTasks(ctx, store.TaskSync{CustomerID: fmt.Sprintf("customer-%05d", i), Journey: "j1", Started: now.AddDate(0, -2, 0),
			AccountName: fmt.Sprintf("Customer %d", i), Version: 1, Tasks: tasks}); err != nil {
			return nil, err
		}
	}
	indexed := time.Since(t0)
	const key = "bench-csm-key-0123456789"
	api := apiserver.New(apiserver.Options{APIKeys: map[string]string{key: "csm"}, Logger: zap.NewNop(), Store: st})
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	queries := []struct{ label, path string }{
		{"one CSM's work (400 customers), first page of 50", "/v1/tasks?owner=csm07@vendor.example"},
		{"one CSM's work due today and before", "/v1/tasks?owner=csm07@vendor.example&due_before=tomorrow"},
		{"the manager's open tasks", "/v1/tasks?owner=manager@vendor.example&status=open"},
		{"every task, first page of 50", "/v1/tasks"},
		{"every task, a page of 500", "/v1/tasks?page_size=500"},
	}
	n := 200
	if b.quick {
		n = 50
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(path string) (time.Duration, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		t := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", path, resp.Status)
		}
		return time.Since(t), nil
	}
	var rows [][]string
	firstOK := false
	for qi, q := range queries {
		var ds []time.Duration
		for range 5 { // warm the connection and SQLite's cache
			if _, err := get(q.path); err != nil {
				return nil, err
			}
		}
		for range n {
			d, err := get(q.path)
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
		p50, p95 := percentile(ds, 50), percentile(ds, 95)
		goal := ""
		if qi == 0 {
			firstOK = p95 < 100*time.Millisecond
			goal = "under 100 ms: " + met(firstOK)
		}
		rows = append(rows, []string{q.label, durMS(p50), durMS(p95), goal})
	}
	return &section{
		title: fmt.Sprintf("11. The work lists at %d customers", taskCustomers),
		method: fmt.Sprintf("%d customers' tasks (%d tasks, 25 CSMs and a manager, some overdue, some snoozed) written to a fresh SQLite store "+
			"with `SyncTasks` as journeys write them (%s in all), then each query sent %d times over HTTP to the API in-process (auth, Gin, "+
			"the store's index, JSON), after 5 warm-up requests. Latency is per request, client side.", taskCustomers, total, indexed.Round(time.Millisecond), n),
		header: []string{"GET /v1/tasks", "median", "p95", "goal"},
		rows:   rows,
	}, nil
}
