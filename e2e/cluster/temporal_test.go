//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// task is a workflow task a worker completed.
type task struct {
	at       time.Time
	identity string // the worker's identity (pid@host by default)
	build    string // the build id of the deployment version that completed it, "" unversioned
}

func completedTask(e *historypb.HistoryEvent) task {
	a := e.GetWorkflowTaskCompletedEventAttributes()
	build := a.GetDeploymentVersion().GetBuildId()
	if build == "" {
		// Older servers name the version in a string, "<deployment>.<build>" or "<deployment>:<build>".
		if v := a.GetWorkerDeploymentVersion(); v != "" {
			build = v[strings.LastIndexAny(v, ".:")+1:]
		}
	}
	return task{at: e.GetEventTime().AsTime(), identity: a.GetIdentity(), build: build}
}

// firstTaskAfter finds the earliest workflow task of the run (the current
// run when runID is empty) completed after t, reading the history backwards
// from its end.
func (cl *cluster) firstTaskAfter(ctx context.Context, workflowID, runID string, t time.Time) (task, bool, error) {
	first, _, ok, err := cl.tasksAround(ctx, workflowID, runID, t)
	return first, ok, err
}

// tasksAround finds the run's earliest workflow task completed after t and
// the last one completed before it (who served the journey then); ok is
// false when none was completed after t.
func (cl *cluster) tasksAround(ctx context.Context, workflowID, runID string, t time.Time) (first, before task, ok bool, err error) {
	var token []byte
	for {
		resp, err := cl.temporal.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
			Namespace: cl.namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
			MaximumPageSize: 50, NextPageToken: token,
		})
		if err != nil {
			return task{}, task{}, false, fmt.Errorf("%s: history: %w", workflowID, err)
		}
		for _, e := range resp.GetHistory().GetEvents() {
			if e.GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				continue
			}
			if !e.GetEventTime().AsTime().After(t) {
				return first, completedTask(e), ok, nil
			}
			first, ok = completedTask(e), true
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return first, task{}, ok, nil
		}
	}
}

// tasksSince lists the run's workflow tasks completed after t, the newest
// first.
func (cl *cluster) tasksSince(ctx context.Context, workflowID, runID string, t time.Time) ([]task, error) {
	var (
		token []byte
		out   []task
	)
	for {
		resp, err := cl.temporal.WorkflowService().GetWorkflowExecutionHistoryReverse(ctx, &workflowservice.GetWorkflowExecutionHistoryReverseRequest{
			Namespace: cl.namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
			MaximumPageSize: 50, NextPageToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: history: %w", workflowID, err)
		}
		for _, e := range resp.GetHistory().GetEvents() {
			if !e.GetEventTime().AsTime().After(t) {
				return out, nil
			}
			if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				out = append(out, completedTask(e))
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// progress is how long the journeys took to be served again after a moment.
type progress struct {
	after   time.Time
	byID    map[string]task
	before  map[string]task // each journey's last task before the moment
	pending []string        // journeys with no workflow task since
	slowest string
	seconds float64 // until the last journey's first task after the moment
}

func (p progress) String() string {
	if len(p.pending) > 0 {
		return fmt.Sprintf("%d journeys not served after %s (e.g. %s)", len(p.pending), time.Since(p.after).Round(time.Second), strings.Join(p.pending[:min(5, len(p.pending))], ", "))
	}
	return fmt.Sprintf("every journey served again within %.1f s (the last: %s)", p.seconds, p.slowest)
}

// spread gives the median, 90th percentile and maximum seconds until the
// first task after the moment, of the journeys last served by a worker
// whose identity starts with prefix (every journey when it is empty).
func (p progress) spread(prefix string) (n int, p50, p90, worst float64) {
	var secs []float64
	for id, tk := range p.byID {
		if prefix == "" || strings.HasPrefix(p.before[id].identity, prefix) {
			secs = append(secs, tk.at.Sub(p.after).Seconds())
		}
	}
	if len(secs) == 0 {
		return 0, 0, 0, 0
	}
	sort.Float64s(secs)
	at := func(q float64) float64 { return secs[min(len(secs)-1, int(q*float64(len(secs))))] }
	return len(secs), at(0.5), at(0.9), secs[len(secs)-1]
}

// byWorker counts the first tasks after the moment by the worker that did them.
func (p progress) byWorker(workers []*workerProc) string {
	counts := map[string]int{}
	for _, tk := range p.byID {
		name := tk.identity
		for _, w := range workers {
			if strings.HasPrefix(tk.identity, fmt.Sprintf("%d@", w.pid)) {
				name = w.name
			}
		}
		counts[name]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}

// waitServed waits until every journey has completed a workflow task after
// the moment given (the server's event times tell when), or the limit
// passes. The seconds are the server's: from the moment to the slowest
// journey's first task, not this loop's polling.
func (cl *cluster) waitServed(ctx context.Context, ids []string, after time.Time, limit time.Duration) progress {
	p := progress{after: after, byID: map[string]task{}, before: map[string]task{}, pending: append([]string(nil), ids...)}
	deadline := time.Now().Add(limit)
	for len(p.pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		var (
			mu   sync.Mutex
			wg   sync.WaitGroup
			left []string
		)
		jobs := make(chan string)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range jobs {
					tk, before, ok, err := cl.tasksAround(ctx, workflows.WorkflowID(id), "", after)
					mu.Lock()
					if ok && err == nil {
						p.byID[id], p.before[id] = tk, before
					} else {
						left = append(left, id)
					}
					mu.Unlock()
				}
			}()
		}
		for _, id := range p.pending {
			jobs <- id
		}
		close(jobs)
		wg.Wait()
		sort.Strings(left)
		p.pending = left
		if len(left) > 0 {
			time.Sleep(time.Second)
		}
	}
	for id, tk := range p.byID {
		if s := tk.at.Sub(after).Seconds(); s > p.seconds {
			p.seconds, p.slowest = s, id
		}
	}
	return p
}

// version is a run's Worker Deployment versioning, as the server describes it.
type version struct {
	runID      string
	status     enumspb.WorkflowExecutionStatus
	behavior   enumspb.VersioningBehavior
	deployment string
	build      string
}

func (v version) String() string {
	if v.build == "" {
		return "unversioned"
	}
	return fmt.Sprintf("%s:%s (%s)", v.deployment, v.build, strings.ToLower(strings.TrimPrefix(v.behavior.String(), "VERSIONING_BEHAVIOR_")))
}

func (v version) pinnedTo(build string) bool {
	return v.behavior == enumspb.VERSIONING_BEHAVIOR_PINNED && v.build == build
}

func (cl *cluster) describe(ctx context.Context, id, runID string) (version, error) {
	resp, err := cl.temporal.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), runID)
	if err != nil {
		return version{}, fmt.Errorf("%s: describe: %w", id, err)
	}
	info := resp.GetWorkflowExecutionInfo()
	vi := info.GetVersioningInfo()
	v := version{
		runID: info.GetExecution().GetRunId(), status: info.GetStatus(), behavior: vi.GetBehavior(),
		deployment: vi.GetDeploymentVersion().GetDeploymentName(), build: vi.GetDeploymentVersion().GetBuildId(),
	}
	if v.build == "" && vi.GetVersion() != "" {
		s := vi.GetVersion()
		i := strings.LastIndexAny(s, ".:")
		v.deployment, v.build = s[:max(i, 0)], s[i+1:]
	}
	return v, nil
}

// describeAll describes the current run of every journey.
func (cl *cluster) describeAll(ctx context.Context, ids []string) (map[string]version, error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		first error
	)
	out := map[string]version{}
	jobs := make(chan string)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				v, err := cl.describe(ctx, id, "")
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				out[id] = v
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		jobs <- id
	}
	close(jobs)
	wg.Wait()
	return out, first
}

// tally counts versions as "lifecycle:a (pinned) 500".
func tally(vs map[string]version) string {
	counts := map[string]int{}
	for _, v := range vs {
		counts[v.String()]++
	}
	return countsText(counts)
}

// backlog is the journey task queue's backlog: workflow and activity tasks
// waiting for a worker, all versions together.
func (cl *cluster) backlog(ctx context.Context) (int64, error) {
	var n int64
	for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
		resp, err := cl.temporal.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: cl.namespace, TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.TaskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
			TaskQueueType: typ, ReportStats: true,
		})
		if err != nil {
			return 0, fmt.Errorf("describing task queue %s: %w", workflows.TaskQueue, err)
		}
		n += resp.GetStats().GetApproximateBacklogCount()
	}
	return n, nil
}

// settle waits until every journey has run its first workflow task (it has
// a deployment version then) and the task queue's backlog is drained: the
// burst of 500 first days done, so that what follows measures faults, not
// the start-up queue.
func (cl *cluster) settle(ctx context.Context, ids []string, limit time.Duration) (map[string]version, int64, error) {
	deadline := time.Now().Add(limit)
	vs := cl.waitVersioned(ctx, ids, limit)
	for {
		n, err := cl.backlog(ctx)
		if err == nil && n <= int64(len(ids)/100) {
			return vs, n, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%d tasks still waiting for a worker after %s", n, limit)
			}
			return vs, n, err
		}
		time.Sleep(time.Second)
	}
}
