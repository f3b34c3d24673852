//go:build !nodev

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/devserver"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// process runs one lifecycle command in this process until stopped.
type process struct {
	stderr *syncBuffer
	done   chan int
	cancel context.CancelFunc
}

func start(t *testing.T, args ...string) *process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{stderr: &syncBuffer{}, done: make(chan int, 1), cancel: cancel}
	go func() { p.done <- run(ctx, args, io.Discard, p.stderr) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *process) stop(t *testing.T) int {
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not stop within 30 s", p.stderr)
		return -1
	}
}

func get(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// journeyInput starts a journey directly, as the API would.
func journeyInput(id string) workflows.JourneyInput {
	return workflows.JourneyInput{
		Account:      workflows.Account{ID: id, Name: "Acme " + id, Plan: "growth", RenewalDate: time.Now().AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada", Email: "ada@" + id + ".example", TimeZone: "UTC"},
		CSM:          workflows.Person{Name: "Grace", Email: "grace@vendor.example"},
		ManagerEmail: "boss@vendor.example", DealID: "deal-" + id, Playbook: playbooks.Default(), DayLength: time.Hour,
	}
}

// pinnedTo is the build a journey's current run is pinned to, "" when none.
func pinnedTo(t *testing.T, c client.Client, wfID string) (build, runID string) {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(context.Background(), wfID, "")
	require.NoError(t, err)
	info := d.GetWorkflowExecutionInfo()
	vi := info.GetVersioningInfo()
	if vi.GetBehavior() != enumspb.VERSIONING_BEHAVIOR_PINNED {
		return "", info.GetExecution().GetRunId()
	}
	return vi.GetDeploymentVersion().GetBuildId(), info.GetExecution().GetRunId()
}

// TestProductionCommandsOnARealServer follows the README's production steps
// on a real Temporal server (the embedded one, started without the
// journey's search attributes): the worker and the API refuse an unprepared
// namespace; `lifecycle setup` prepares it; a worker serves its probes and
// metrics; the first build becomes current; a second build is promoted and
// a running journey moves to it at its next wake-up while a new one starts
// on it.
func TestProductionCommandsOnARealServer(t *testing.T) {
	ctx := context.Background()
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), UIPort: -1, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Stop() })
	c, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Namespace: srv.Namespace()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	common := []string{"--temporal-address", srv.FrontendAddress(), "--log-level", "error"}
	data := t.TempDir()
	worker := func(build, addr string) []string {
		return append([]string{"worker", "--build-id", build, "--worker-http-addr", addr, "--data-dir", data,
			"--link-secret", "a-link-secret-for-the-test"}, common...)
	}

	code, _, errOut := runCLI(t, worker("a", freePort(t))...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "namespace default is not set up for journeys")
	assert.Contains(t, errOut, "run `lifecycle setup`")
	code, _, errOut = runCLI(t, append([]string{"api", "--api-keys", "admin:" + strings.Repeat("k", 24), "--http-addr", freePort(t), "--data-dir", data}, common...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "run `lifecycle setup`")

	code, out, errOut := runCLI(t, append([]string{"setup"}, common...)...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "search attribute LifecycleHealth (Keyword): created")
	assert.Contains(t, out, "namespace default at "+srv.FrontendAddress()+" is ready for journeys")
	code, out, _ = runCLI(t, append([]string{"setup"}, common...)...)
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "created", "setup is idempotent")

	addrA := freePort(t)
	a := start(t, worker("a", addrA)...)
	waitUntil(t, "worker a ready", 60*time.Second, func() bool { code, _ := get("http://" + addrA + "/readyz"); return code == 200 })
	code, body := get("http://" + addrA + "/healthz")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, `"ok"`)
	code, body = get("http://" + addrA + "/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "temporal_", "the SDK's worker metrics")
	assert.Contains(t, body, "go_goroutines")

	code, out, _ = runCLI(t, "probe", "http://"+addrA+"/readyz")
	assert.Equal(t, 0, code, "probe: the health check of an image without curl")
	assert.Contains(t, out, "200 OK")
	code, _, errOut = runCLI(t, "probe", "http://"+addrA+"/nothing-here")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "404")
	code, _, _ = runCLI(t, "probe", "http://"+freePort(t)+"/readyz")
	assert.Equal(t, 1, code, "nothing listening")
	code, _, _ = runCLI(t, "probe", "not a url")
	assert.Equal(t, 1, code)

	code, out, errOut = runCLI(t, append([]string{"deployment", "status"}, common...)...)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `(?m)^a\s+current`, out, "the first build became current by itself")

	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID("old"), TaskQueue: workflows.TaskQueue}, workflows.CustomerLifecycle, journeyInput("old"))
	require.NoError(t, err)
	waitUntil(t, "the journey pinned to a", 30*time.Second, func() bool { b, _ := pinnedTo(t, c, run.GetID()); return b == "a" })

	code, _, errOut = runCLI(t, append([]string{"deployment", "promote", "b"}, common...)...)
	assert.Equal(t, 1, code, "b has no workers yet")
	assert.Contains(t, errOut, "build b has no worker polling")

	addrB := freePort(t)
	start(t, worker("b", addrB)...)
	waitUntil(t, "worker b ready", 60*time.Second, func() bool { code, _ := get("http://" + addrB + "/readyz"); return code == 200 })
	code, out, errOut = runCLI(t, append([]string{"deployment", "promote", "b"}, common...)...)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "build b is current (was a)")
	build, firstRun := pinnedTo(t, c, run.GetID())
	assert.Equal(t, "a", build, "a running journey stays on its build until it wakes")

	// The journey wakes for an event: worker a handles it, and once the
	// task carries Temporal's "target changed" mark the run continues as new
	// on b. The new routing reaches the task queue's partitions a moment
	// after the promotion, so the first wake-up may still stay on a: a
	// journey moves at the first wake-up after that.
	events := 0
	waitUntil(t, "the journey moved to b", 60*time.Second, func() bool {
		if b, r := pinnedTo(t, c, run.GetID()); b == "b" && r != firstRun {
			return true
		}
		events++
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: run.GetID(), UpdateName: workflows.UpdateEvent, WaitForStage: client.WorkflowUpdateStageCompleted,
			Args: []any{workflows.EngagementEvent{ID: fmt.Sprintf("ev-%d", events), Type: "login"}},
		})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
		time.Sleep(time.Second)
		return false
	})
	var st workflows.State
	q, err := c.QueryWorkflow(ctx, run.GetID(), "", workflows.QueryState, workflows.StateQuery{})
	require.NoError(t, err)
	require.NoError(t, q.Get(&st))
	assert.Equal(t, 1, st.Runs, "the same journey, one continue-as-new later")
	assert.Equal(t, events, st.EventsCounted, "every event is kept across the move")
	t.Logf("moved to b after %d wake-ups", events)

	fresh, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.WorkflowID("new"), TaskQueue: workflows.TaskQueue}, workflows.CustomerLifecycle, journeyInput("new"))
	require.NoError(t, err)
	waitUntil(t, "the new journey on b", 30*time.Second, func() bool { b, _ := pinnedTo(t, c, fresh.GetID()); return b == "b" })

	assert.Equal(t, 0, a.stop(t), "worker a stops cleanly")
	code, out, _ = runCLI(t, append([]string{"deployment", "status"}, common...)...)
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?m)^b\s+current`, out)
	assert.Regexp(t, `(?m)^a\s+`, out)
	t.Log(out)
}
