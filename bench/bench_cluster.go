package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/metrics"
	"github.com/seed-a80403e2/lifecycle/internal/tclient"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// serveScript brings up the cluster test's cluster for as long as its
// standard input stays open (scripts/cluster/serve.sh, on lib.sh, which the
// drill's run.sh uses too).
const serveScript = "scripts/cluster/serve.sh"

// clusterDay is the journey day on the cluster: nothing of a journey falls
// due during the benchmark, so each figure measures only the calls it makes.
const clusterDay = 24 * time.Hour

// cluster is a running serve.sh and what the benchmark reaches in it.
type cluster struct {
	script   *exec.Cmd
	stdin    io.WriteCloser
	exited   chan struct{} // closed once the script has exited
	exitErr  error
	dir      string            // the benchmark's: the settings file
	settings map[string]string // serve.sh's settings file
	upIn     time.Duration

	raw     *stack   // the raw client, dialled as the API processes dial
	apis    []*stack // the two `lifecycle api` processes, over loopback HTTP
	keys    map[string]string
	workers []*clusterWorker // the live ones
	spawned int              // workers this benchmark started
	reaped  sync.WaitGroup
}

// clusterWorker is one `lifecycle worker` process.
type clusterWorker struct {
	name string
	pid  int
	addr string
}

// identity is the prefix of the worker's Temporal identity (the SDK's
// default, pid@host@task-queue).
func (w *clusterWorker) identity() string { return strconv.Itoa(w.pid) + "@" }

// startCluster runs serve.sh and waits until it has written its settings.
func startCluster(ctx context.Context) (_ *cluster, err error) {
	if _, err := os.Stat(serveScript); err != nil {
		return nil, fmt.Errorf("%s: %w (run the benchmark from the repository's root)", serveScript, err)
	}
	dir, err := os.MkdirTemp("", "lifecycle-bench-cluster-")
	if err != nil {
		return nil, err
	}
	envFile := filepath.Join(dir, "cluster.env")
	cl := &cluster{dir: dir, exited: make(chan struct{})}
	cmd := exec.Command("bash", serveScript, envFile)
	cmd.Env = append(os.Environ(), "LIFECYCLE_CLUSTER_DAY_LENGTH="+clusterDay.String())
	// The script's progress goes where the benchmark's does; its own
	// process group, so that an interrupt reaches the benchmark only, which
	// then ends the script by closing its input: one cleanup, never two.
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cl.stdin, err = cmd.StdinPipe(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%s: %w", serveScript, err)
	}
	cl.script = cmd
	go func() {
		cl.exitErr = cmd.Wait()
		close(cl.exited)
	}()
	defer func() {
		if err != nil {
			cl.stop(true)
		}
	}()
	// Building the Temporal server the first time takes minutes.
	deadline := time.After(10 * time.Minute)
	for {
		if _, err := os.Stat(envFile); err == nil {
			break
		}
		select {
		case <-cl.exited:
			return nil, fmt.Errorf("%s exited before the cluster was up (%v); its output is above", serveScript, cl.exitErr)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return nil, fmt.Errorf("%s: the cluster was not up within 10 minutes", serveScript)
		case <-time.After(500 * time.Millisecond):
		}
	}
	cl.upIn = time.Since(t0)
	if cl.settings, err = readSettings(envFile); err != nil {
		return nil, err
	}
	if err := cl.connect(ctx); err != nil {
		return nil, err
	}
	return cl, nil
}

func readSettings(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range []string{"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "LIFECYCLE_API_KEYS", "LIFECYCLE_CLUSTER_APIS",
		"LIFECYCLE_CLUSTER_WORKERS", "LIFECYCLE_CLUSTER_BIN", "LIFECYCLE_CLUSTER_DIR", "LIFECYCLE_CLUSTER_PIDS_FILE", "LIFECYCLE_CLUSTER_BUILD"} {
		if out[k] == "" {
			return nil, fmt.Errorf("%s: no %s in the cluster's settings", path, k)
		}
	}
	return out, nil
}

// connect dials Temporal for the raw side and reads where the APIs and
// workers are.
func (cl *cluster) connect(ctx context.Context) error {
	ns := cl.settings["TEMPORAL_NAMESPACE"]
	// Dialled as `lifecycle api` dials (tclient, its metrics handler), so
	// the raw side uses the client the API processes use.
	c, err := tclient.Dial(ctx, config.Temporal{Address: cl.settings["TEMPORAL_ADDRESS"], Namespace: ns},
		zap.NewNop(), metrics.NewTemporalHandler(prometheus.NewRegistry()), 30*time.Second)
	if err != nil {
		return err
	}
	cl.raw = &stack{c: c, ns: ns}
	cl.keys = map[string]string{}
	for pair := range strings.SplitSeq(cl.settings["LIFECYCLE_API_KEYS"], ",") {
		if role, key, ok := strings.Cut(pair, ":"); ok {
			cl.keys[role] = key
		}
	}
	if cl.keys["sales"] == "" || cl.keys["integration"] == "" {
		return errors.New("LIFECYCLE_API_KEYS: the cluster has no sales or integration key")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}}
	for u := range strings.SplitSeq(cl.settings["LIFECYCLE_CLUSTER_APIS"], ",") {
		cl.apis = append(cl.apis, &stack{url: u, hc: hc})
	}
	for i, w := range strings.Split(cl.settings["LIFECYCLE_CLUSTER_WORKERS"], ",") {
		pidText, addr, _ := strings.Cut(w, "@")
		pid, err := strconv.Atoi(pidText)
		if err != nil {
			return fmt.Errorf("LIFECYCLE_CLUSTER_WORKERS: %q is not pid@host:port", w)
		}
		cl.workers = append(cl.workers, &clusterWorker{name: fmt.Sprintf("worker-a%d", i+1), pid: pid, addr: addr})
	}
	if len(cl.apis) < 2 || len(cl.workers) < 2 {
		return fmt.Errorf("the cluster has %d APIs and %d workers, the benchmark needs two of each", len(cl.apis), len(cl.workers))
	}
	return nil
}

// stop ends the script, which stops every process (the workers this
// benchmark started are in its pid file) and drops every database. After
// a failure it is sent SIGTERM, so that it prints the end of every log.
func (cl *cluster) stop(failed bool) {
	progress("stopping the cluster")
	if cl.raw != nil && cl.raw.c != nil {
		cl.raw.c.Close()
	}
	if failed {
		_ = cl.script.Process.Signal(syscall.SIGTERM)
	}
	cl.stdin.Close()
	select {
	case <-cl.exited:
	case <-time.After(2 * time.Minute):
		// stop_all takes at most 30 s; dropping databases, seconds.
		progress("  %s still running 2 minutes after it was asked to stop: SIGTERM", serveScript)
		_ = cl.script.Process.Signal(syscall.SIGTERM)
		select {
		case <-cl.exited:
		case <-time.After(time.Minute):
			progress("  %s did not stop; its processes may still run (pid file %s, databases lc_%d_*)",
				serveScript, cl.settings["LIFECYCLE_CLUSTER_PIDS_FILE"], cl.script.Process.Pid)
		}
	}
	cl.reaped.Wait()
	os.RemoveAll(cl.dir)
}

// startWorker starts a further `lifecycle worker` of the cluster's build,
// with the settings the script's workers have, and waits until it is
// ready. Its pid goes to the script's pid file, so that the script stops
// it whatever happens to the benchmark.
func (cl *cluster) startWorker(ctx context.Context) (*clusterWorker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cl.spawned++
	name := fmt.Sprintf("worker-a%d", 2+cl.spawned)
	log, err := os.Create(filepath.Join(cl.settings["LIFECYCLE_CLUSTER_DIR"], name+".log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(cl.settings["LIFECYCLE_CLUSTER_BIN"], "worker")
	cmd.Env = os.Environ()
	for k, v := range cl.settings {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "LIFECYCLE_BUILD_ID="+cl.settings["LIFECYCLE_CLUSTER_BUILD"], "LIFECYCLE_WORKER_HTTP_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	w := &clusterWorker{name: name, pid: cmd.Process.Pid, addr: addr}
	exited := make(chan struct{})
	cl.reaped.Add(1)
	go func() {
		// Reaped at once, so that the script's stop sees it gone (a zombie
		// answers kill -0).
		defer cl.reaped.Done()
		_ = cmd.Wait()
		close(exited)
	}()
	if err := appendPid(cl.settings["LIFECYCLE_CLUSTER_PIDS_FILE"], w.pid); err != nil {
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("recording %s's pid: %w", name, err)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if resp, err := hc.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s not ready within 90 s (log %s)", name, log.Name())
		}
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before it was ready (log %s)", name, log.Name())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func appendPid(path string, pid int) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := fmt.Fprintln(f, pid)
	return errors.Join(werr, f.Close())
}

// rawStart starts a journey with the raw client exactly as `lifecycle api`
// does (apiserver's start): the same input, the revision left to the
// worker, and the same start options.
func (cl *cluster) rawStart(ctx context.Context, id string) error {
	r := startBody(id)
	in := workflows.JourneyInput{
		Account:  workflows.Account{ID: id, Name: r.Account.Name, Plan: r.Account.Plan, RenewalDate: r.Account.RenewalDate.Time},
		Champion: r.Champion, CSM: r.CSM, ManagerEmail: r.ManagerEmail, DealID: r.DealID,
		Playbook: playbooks.Default(), DayLength: clusterDay,
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cl.raw.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.WorkflowID(id), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAPhase.ValueSet(workflows.PhaseHandoff), workflows.SACSMEmail.ValueSet(in.CSM.Email),
			workflows.SARenewalDate.ValueSet(in.Account.RenewalDate)),
		// What the Temporal Web UI shows of the journey (see README).
		StaticSummary: workflows.StartSummary(in), StaticDetails: workflows.StartDetails(in),
	}, workflows.WorkflowName, in)
	return err
}

// rawEvent is what the API does for POST /v1/customers/{id}/events: the
// update with the event as posted (no time: the journey's now), waited for
// until completed, its result read.
func (cl *cluster) rawEvent(ctx context.Context, id, eventID string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	h, err := cl.raw.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(id), UpdateName: workflows.UpdateEvent,
		Args:         []any{workflows.EngagementEvent{ID: eventID, Type: "login"}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	var res workflows.EventResult
	return h.Get(ctx, &res)
}

// signal wakes a journey with an event, as `?async=true` does.
func (cl *cluster) signal(ctx context.Context, id, eventID string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ev := workflows.EngagementEvent{ID: eventID, Type: "login", Time: time.Now().UTC()}
	return cl.raw.c.SignalWorkflow(ctx, workflows.WorkflowID(id), "", workflows.SignalEvent, ev)
}

// settle waits until the workers have run what the last round started (a
// probe journey's first task within a second of its start), so the
// backlog does not bill the next round.
func (cl *cluster) settle(ctx context.Context) error {
	t0 := time.Now()
	_, lag, err := cl.raw.drain(ctx, t0)
	if err != nil {
		return err
	}
	if d := time.Since(t0); d > 2*time.Second {
		progress("  (the workers caught up in %s; a new journey's first task then ran %s after its start)", d.Round(100*time.Millisecond), lag.Round(time.Millisecond))
	}
	return nil
}

// startJourneys starts journeys with the raw client and waits until the
// workers have run their first days.
func (cl *cluster) startJourneys(ctx context.Context, ids []string) error {
	if _, err := parallel(ctx, len(ids), concurrency, func(i int) error { return cl.rawStart(ctx, ids[i]) }); err != nil {
		return fmt.Errorf("starting %d journeys: %w", len(ids), err)
	}
	return cl.settle(ctx)
}

// benchCluster: the production arrangement on this machine (the cluster
// test's: Temporal on PostgreSQL, two workers, two APIs on a PostgreSQL
// store): the API against the raw client, and a worker's SIGKILL.
func benchCluster(ctx context.Context, b *bencher) (_ *section, err error) {
	progress("  cluster: starting it with %s (PostgreSQL, Temporal, two workers, two APIs)", serveScript)
	cl, err := startCluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	defer func() { cl.stop(err != nil) }()
	progress("  cluster: up in %s", cl.upIn.Round(time.Second))

	nStart, nEvent, nJourneys := 200, 600, 200
	if b.quick {
		nStart, nEvent, nJourneys = 60, 160, 60
	}
	perS := func(x float64) string { return fmt.Sprintf("%.0f/s", x) }

	// Starts: round-robin over the two APIs, against the raw client; each
	// side from an idle cluster.
	apiStart := func(round string) func(i int) error {
		return func(i int) error {
			return cl.apis[i%len(cl.apis)].do(ctx, "POST", "/v1/customers", cl.keys["sales"],
				startBody(fmt.Sprintf("cs-api-%s-%d", round, i)), http.StatusCreated)
		}
	}
	rawStart := func(round string) func(i int) error {
		return func(i int) error { return cl.rawStart(ctx, fmt.Sprintf("cs-raw-%s-%d", round, i)) }
	}
	if _, err := parallel(ctx, nStart/3, concurrency, apiStart("warm")); err != nil {
		return nil, fmt.Errorf("start warm-up (API): %w", err)
	}
	if _, err := parallel(ctx, nStart/3, concurrency, rawStart("warm")); err != nil {
		return nil, fmt.Errorf("start warm-up (raw): %w", err)
	}
	if err := cl.settle(ctx); err != nil {
		return nil, err
	}
	var apiStarts, rawStarts []float64
	for r := range b.runs {
		round := fmt.Sprint(r)
		for _, side := range []struct {
			fn   func(i int) error
			into *[]float64
			name string
		}{{apiStart(round), &apiStarts, "API"}, {rawStart(round), &rawStarts, "raw"}} {
			el, err := parallel(ctx, nStart, concurrency, side.fn)
			if err != nil {
				return nil, fmt.Errorf("start %s round %d: %w", side.name, r, err)
			}
			*side.into = append(*side.into, float64(nStart)/el.Seconds())
			if err := cl.settle(ctx); err != nil {
				return nil, err
			}
		}
		progress("  cluster start round %d/%d: API %.0f/s, raw %.0f/s", r+1, b.runs, apiStarts[r], rawStarts[r])
	}

	// Events, as updates: the API's default.
	evIDs := make([]string, 64)
	for i := range evIDs {
		evIDs[i] = fmt.Sprintf("ce-%d", i)
	}
	if err := cl.startJourneys(ctx, evIDs); err != nil {
		return nil, err
	}
	apiEvents, rawEvents, err := b.alternate(ctx, "cluster events", nEvent, func(round string) func(i int) error {
		return func(i int) error {
			body := workflows.EngagementEvent{ID: fmt.Sprintf("api-%s-%d", round, i), Type: "login"}
			return cl.apis[i%len(cl.apis)].do(ctx, "POST", "/v1/customers/"+evIDs[i%len(evIDs)]+"/events", cl.keys["integration"], body, http.StatusAccepted)
		}
	}, func(round string) func(i int) error {
		return func(i int) error { return cl.rawEvent(ctx, evIDs[i%len(evIDs)], fmt.Sprintf("raw-%s-%d", round, i)) }
	})
	if err != nil {
		return nil, err
	}

	// Failover.
	foIDs := make([]string, nJourneys)
	for i := range foIDs {
		foIDs[i] = fmt.Sprintf("cf-%d", i)
	}
	if err := cl.startJourneys(ctx, foIDs); err != nil {
		return nil, err
	}
	var rounds []failover
	for r := range b.runs {
		fo, err := cl.failover(ctx, foIDs, r)
		if err != nil {
			return nil, fmt.Errorf("failover round %d: %w", r+1, err)
		}
		rounds = append(rounds, fo)
		progress("  cluster failover round %d/%d: %s", r+1, b.runs, fo)
	}

	ms, mr := median(apiStarts), median(rawStarts)
	me, mre := median(apiEvents), median(rawEvents)
	startRatio, eventRatio := ms/mr, me/mre
	secs := func(x float64) string { return fmt.Sprintf("%.1f s", x) }
	of := func(f func(fo failover) float64) []float64 {
		var xs []float64
		for _, fo := range rounds {
			xs = append(xs, f(fo))
		}
		return xs
	}
	victims := of(func(fo failover) float64 { return float64(len(fo.victim)) })
	p50s := of(func(fo failover) float64 { return fo.victimQuantile(50) })
	p99s := of(func(fo failover) float64 { return fo.victimQuantile(99) })
	maxes := of(func(fo failover) float64 { return fo.victimQuantile(100) })
	worst := slices.Max(maxes)
	count := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	rows := [][]string{
		{"starts/s, API `POST /v1/customers` (two APIs, round-robin)", perS(ms), spread(apiStarts, perS)},
		{"starts/s, raw `ExecuteWorkflow`", perS(mr), spread(rawStarts, perS)},
		{fmt.Sprintf("**ratio API/raw, starts: %.2f** (goal >= 0.9, %s)", startRatio, met(startRatio >= 0.9)), "", ""},
		{"events/s, API `POST /v1/customers/{id}/events` (two APIs, round-robin)", perS(me), spread(apiEvents, perS)},
		{"events/s, raw `UpdateWorkflow`", perS(mre), spread(rawEvents, perS)},
		{fmt.Sprintf("**ratio API/raw, events: %.2f** (goal >= 0.9, %s)", eventRatio, met(eventRatio >= 0.9)), "", ""},
		{fmt.Sprintf("failover: journeys on the killed worker (of %d)", nJourneys), count(median(victims)), spread(victims, count)},
		{"failover: kill to a new workflow task, median", secs(median(p50s)), spread(p50s, secs)},
		{"failover: p99", secs(median(p99s)), spread(p99s, secs)},
		{fmt.Sprintf("**failover: max** (the worst round %s; goal < 15 s, %s)", secs(worst), met(worst < 15)), secs(median(maxes)), spread(maxes, secs)},
	}
	for _, g := range failoverGroups {
		n := of(func(fo failover) float64 { return float64(fo.group(g.kind).n) })
		wait := of(func(fo failover) float64 { return fo.group(g.kind).timeout })
		p50 := of(func(fo failover) float64 { return fo.group(g.kind).p50 })
		most := of(func(fo failover) float64 { return fo.group(g.kind).max })
		if slices.Max(n) == 0 {
			continue
		}
		value := fmt.Sprintf("%s journeys a round; median %s, max %s", spread(n, count), secs(median(p50)), secs(slices.Max(most)))
		if g.kind != groupDirect && g.kind != groupSurvivor {
			value += fmt.Sprintf("; the timeout %s after the kill", secs(median(wait)))
		}
		rows = append(rows, []string{"failover, " + g.what, value, ""})
	}
	return &section{
		title: "9. Cluster: the API against the raw client, and a worker killed",
		method: fmt.Sprintf("The cluster test's arrangement (`%s` on `scripts/cluster/lib.sh`, which `make cluster-test` uses too): "+
			"a Temporal server %s built from the module proxy, on PostgreSQL with 4 history shards; `lifecycle setup`; two `lifecycle worker` "+
			"processes (Worker Versioning on, build a) and two `lifecycle api` processes sharing a PostgreSQL store; %.0f-hour days; every process "+
			"on this machine's %d cores, with the benchmark. The raw side is a client dialled as the API processes dial (`tclient`). "+
			"Starts: %d a round at concurrency %d, the API side round-robin over the two APIs (201 checked), the raw side `ExecuteWorkflow` "+
			"with the input and options the API sends (its deal check and record in the store are the API's extra work); the cluster "+
			"settles (a probe journey's first task within 1 s of its start) after each side. Events: %d updates a round at concurrency %d "+
			"over 64 journeys, API `POST /v1/customers/{id}/events` (202 checked) against `UpdateWorkflow` waited for until completed. "+
			"Failover, each round: %d idle journeys spread over both workers (`ResetStickyTaskQueue` and a signal each); then every journey "+
			"gets a signal (concurrency %d), and when half of them are sent one worker (each in turn) gets SIGKILL, with tasks in flight "+
			"and queued on both workers; then every journey gets one more signal, so each has a task to run after the kill; "+
			"a journey was on the killed worker if its last `WorkflowTaskStarted` before the kill names that worker, and its failover "+
			"time is from the kill to its first `WorkflowTaskCompleted` after it (the server's event times). A new worker of the same "+
			"build replaces the killed one before the next round. Each figure is the median of %d rounds.",
			serveScript, temporalVersion(), clusterDay.Hours(), runtime.NumCPU(), nStart, concurrency, nEvent, concurrency,
			nJourneys, concurrency, b.runs),
		header: []string{"figure", "median", "range over rounds"},
		rows:   rows,
		notes: []string{
			fmt.Sprintf("The cluster was up %s after the script started (PostgreSQL, schemas, the server, the binary built, setup, four processes ready).", cl.upIn.Round(time.Second)),
			"Failover groups: *waited on its sticky queue*: the journey's task went to the killed worker's sticky queue and waited for " +
				"its schedule-to-start timeout (`StickyScheduleToStartTimeout`, the SDK's default 5 s) before the server moved it to the " +
				"shared queue; *in flight*: the killed worker had started the journey's task, which waited for its start-to-close timeout " +
				"(the workflow task timeout, 10 s by default); *moved at once*: the server sent it to the shared queue straight away (no " +
				"sticky poller seen recently). The rest of each figure is the queue: the surviving worker runs every journey's task, its own and the killed one's.",
		},
	}, nil
}

// temporalVersion is go.mod's Temporal server version, the one serve.sh
// builds (the embedded server of the other benchmarks is the same module).
func temporalVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "go.temporal.io/server" {
				return m.Version
			}
		}
	}
	return "(version unknown)"
}

// afterKill is what a journey's history says of a moment (a kill, a spread).
type afterKill struct {
	before   string    // identity of the last WorkflowTaskStarted at or before the moment
	served   time.Time // its first WorkflowTaskCompleted after the moment
	servedBy string
	timeouts map[enumspb.TimeoutType]time.Time // the first workflow task timeout of each kind after the moment
}

// readAfter reads a journey's history backwards, down to the last workflow
// task started at or before t; ok is false until a task has completed
// after t.
func (cl *cluster) readAfter(ctx context.Context, id string, t time.Time) (ak afterKill, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ak.timeouts = map[enumspb.TimeoutType]time.Time{}
	var token []byte
	for {
		resp, err := cl.raw.c.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
			Namespace: cl.raw.ns, Execution: &commonpb.WorkflowExecution{WorkflowId: workflows.WorkflowID(id)},
			MaximumPageSize: 100, NextPageToken: token,
		})
		if err != nil {
			return ak, false, fmt.Errorf("%s: history: %w", id, err)
		}
		for _, e := range resp.GetHistory().GetEvents() {
			at := e.GetEventTime().AsTime()
			if !at.After(t) {
				if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED {
					ak.before = e.GetWorkflowTaskStartedEventAttributes().GetIdentity()
					return ak, ok, nil
				}
				continue
			}
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
				ak.served, ak.servedBy, ok = at, e.GetWorkflowTaskCompletedEventAttributes().GetIdentity(), true
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
				ak.timeouts[e.GetWorkflowTaskTimedOutEventAttributes().GetTimeoutType()] = at
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ak, ok, nil
		}
	}
}

// waitServed reads every journey's history until each has completed a
// workflow task after t, or the limit passes.
func (cl *cluster) waitServed(ctx context.Context, ids []string, t time.Time, limit time.Duration) (map[string]afterKill, error) {
	out := map[string]afterKill{}
	pending := slices.Clone(ids)
	deadline := time.Now().Add(limit)
	var (
		mu      sync.Mutex
		lastErr error // a history read that failed is tried again; the last error explains a timeout
	)
	for {
		var left []string
		if _, err := parallel(ctx, len(pending), 8, func(i int) error {
			ak, ok, err := cl.readAfter(ctx, pending[i], t)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				lastErr = err
				left = append(left, pending[i])
			case ok:
				out[pending[i]] = ak
			default:
				left = append(left, pending[i])
			}
			return nil
		}); err != nil {
			return out, err
		}
		if pending = left; len(pending) == 0 {
			return out, nil
		}
		if time.Now().After(deadline) {
			slices.Sort(pending)
			return out, fmt.Errorf("%d journeys had not run a workflow task %s after it (e.g. %s; the last history read that failed: %v)",
				len(pending), limit, strings.Join(pending[:min(5, len(pending))], ", "), lastErr)
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// failover is one round: the journeys the killed worker had, and the
// seconds until each ran again.
type failover struct {
	killed   string
	victim   []float64 // seconds from the kill to the journey's first completed task, on the killed worker
	kinds    map[failoverKind][]float64
	timeouts map[failoverKind][]float64 // seconds from the kill to the timeout that moved it
	survivor []float64                  // the same, for the journeys on the surviving worker
}

type failoverKind int

const (
	groupSticky failoverKind = iota
	groupInFlight
	groupDirect
	groupSurvivor
)

var failoverGroups = []struct {
	kind failoverKind
	what string
}{
	{groupSticky, "waited on the killed worker's sticky queue"},
	{groupInFlight, "in flight on the killed worker"},
	{groupDirect, "moved at once to the shared queue"},
	{groupSurvivor, "the surviving worker's own journeys (for comparison)"},
}

func (fo failover) victimQuantile(p float64) float64 { return quantile(fo.victim, p) }

type groupStats struct {
	n                 int
	p50, max, timeout float64
}

func (fo failover) group(k failoverKind) groupStats {
	xs := fo.kinds[k]
	if k == groupSurvivor {
		xs = fo.survivor
	}
	return groupStats{n: len(xs), p50: quantile(xs, 50), max: quantile(xs, 100), timeout: quantile(fo.timeouts[k], 50)}
}

func (fo failover) String() string {
	return fmt.Sprintf("%s killed, %d journeys on it: median %.1f s, p99 %.1f s, max %.1f s (sticky %d, in flight %d, at once %d); survivor's own %d: median %.1f s, max %.1f s",
		fo.killed, len(fo.victim), quantile(fo.victim, 50), quantile(fo.victim, 99), quantile(fo.victim, 100),
		len(fo.kinds[groupSticky]), len(fo.kinds[groupInFlight]), len(fo.kinds[groupDirect]),
		len(fo.survivor), quantile(fo.survivor, 50), quantile(fo.survivor, 100))
}

// quantile of seconds (nearest rank; 100 is the maximum).
func quantile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	ds := make([]time.Duration, len(xs))
	for i, x := range xs {
		ds[i] = time.Duration(x * float64(time.Second))
	}
	return percentile(ds, p).Seconds()
}

// failover runs one round: spread the journeys over both workers, load
// them, SIGKILL one worker, wake every journey, and read how long those on
// the killed worker took to run again; then a new worker replaces it.
func (cl *cluster) failover(ctx context.Context, ids []string, round int) (failover, error) {
	fo := failover{kinds: map[failoverKind][]float64{}, timeouts: map[failoverKind][]float64{}}
	// Spread: without its sticky queue, a journey's next task goes to the
	// shared queue, which both workers poll.
	spreadAt := time.Now()
	if _, err := parallel(ctx, len(ids), concurrency, func(i int) error {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := cl.raw.c.WorkflowService().ResetStickyTaskQueue(rctx, &workflowservice.ResetStickyTaskQueueRequest{
			Namespace: cl.raw.ns, Execution: &commonpb.WorkflowExecution{WorkflowId: workflows.WorkflowID(ids[i])},
		}); err != nil {
			return fmt.Errorf("%s: reset sticky queue: %w", ids[i], err)
		}
		return cl.signal(ctx, ids[i], fmt.Sprintf("spread-%d-%d", round, i))
	}); err != nil {
		return fo, err
	}
	spreadTo, err := cl.waitServed(ctx, ids, spreadAt, 2*time.Minute)
	if err != nil {
		return fo, fmt.Errorf("spreading the journeys: %w", err)
	}
	victim := cl.workers[round%len(cl.workers)]
	onVictim := 0
	for _, ak := range spreadTo {
		if strings.HasPrefix(ak.servedBy, victim.identity()) {
			onVictim++
		}
	}
	if onVictim == 0 || onVictim == len(ids) {
		return fo, fmt.Errorf("the spread left %d of %d journeys on %s: not on both workers", onVictim, len(ids), victim.name)
	}

	// Load: every journey gets a signal, and the kill comes when half of
	// them are sent, so that both workers have tasks started (in flight)
	// and tasks waiting on their sticky queues, as under real load.
	var sent atomic.Int64
	half := make(chan struct{})
	burst := make(chan error, 1)
	go func() {
		_, err := parallel(ctx, len(ids), concurrency, func(i int) error {
			err := cl.signal(ctx, ids[i], fmt.Sprintf("burst-%d-%d", round, i))
			if sent.Add(1) == int64(len(ids)/2) {
				close(half)
			}
			return err
		})
		burst <- err
	}()
	select {
	case <-half:
	case err := <-burst: // it failed before half was sent
		return fo, fmt.Errorf("signalling the journeys before the kill: %w", err)
	}

	killed := time.Now()
	killErr := syscall.Kill(victim.pid, syscall.SIGKILL)
	if err := <-burst; err != nil {
		return fo, fmt.Errorf("signalling the journeys around the kill: %w", err)
	}
	if killErr != nil {
		return fo, fmt.Errorf("SIGKILL %s (pid %d): %w", victim.name, victim.pid, killErr)
	}
	fo.killed = victim.name
	cl.workers = slices.DeleteFunc(cl.workers, func(w *clusterWorker) bool { return w == victim })
	// Every journey wakes once more: a journey whose burst task was done
	// before the kill has something to run after it, so that what follows
	// measures the failover, not when it would next have had something to do.
	if _, err := parallel(ctx, len(ids), concurrency, func(i int) error {
		return cl.signal(ctx, ids[i], fmt.Sprintf("kill-%d-%d", round, i))
	}); err != nil {
		return fo, fmt.Errorf("waking the journeys after the kill: %w", err)
	}
	after, err := cl.waitServed(ctx, ids, killed, 2*time.Minute)
	if err != nil {
		return fo, fmt.Errorf("after the kill: %w", err)
	}
	for _, ak := range after {
		d := ak.served.Sub(killed).Seconds()
		if !strings.HasPrefix(ak.before, victim.identity()) {
			fo.survivor = append(fo.survivor, d)
			continue
		}
		fo.victim = append(fo.victim, d)
		// The timeout that moved it, if one came before it was served.
		kind, at := groupDirect, time.Time{}
		if t, ok := ak.timeouts[enumspb.TIMEOUT_TYPE_START_TO_CLOSE]; ok && t.Before(ak.served) {
			kind, at = groupInFlight, t
		} else if t, ok := ak.timeouts[enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START]; ok && t.Before(ak.served) {
			kind, at = groupSticky, t
		}
		fo.kinds[kind] = append(fo.kinds[kind], d)
		if !at.IsZero() {
			fo.timeouts[kind] = append(fo.timeouts[kind], at.Sub(killed).Seconds())
		}
	}

	w, err := cl.startWorker(ctx)
	if err != nil {
		return fo, fmt.Errorf("replacing %s: %w", victim.name, err)
	}
	// In the killed worker's place, so the next round kills the other one.
	cl.workers = slices.Insert(cl.workers, min(round%2, len(cl.workers)), w)
	return fo, nil
}
