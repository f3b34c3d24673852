//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// upgrade is what the rolling upgrade showed.
type upgrade struct {
	pinnedA   int // journeys started before the promotion, pinned to a before it
	newOnB    int // journeys started after the promotion, pinned to b
	newTotal  int
	servedByA int // old journeys whose run on a was served by a after the promotion, until it continued as new onto b
	movedToB  int
	moves     []move
	afterStop progress
	problems  []string
}

func (u *upgrade) problem(format string, args ...any) {
	u.problems = append(u.problems, fmt.Sprintf(format, args...))
}

// moveSpread is how the old journeys moved: seconds after the promotion
// until their first task on a, and until their first task on b, as median
// and maximum, and how many took more than one task on a to leave.
func (u *upgrade) moveSpread() string {
	if len(u.moves) == 0 {
		return "none moved"
	}
	firstA, onB := make([]float64, len(u.moves)), make([]float64, len(u.moves))
	more := 0
	for i, m := range u.moves {
		firstA[i], onB[i] = m.firstOnA, m.onB
		if m.tasksOnA > 1 {
			more++
		}
	}
	sort.Float64s(firstA)
	sort.Float64s(onB)
	mid := len(u.moves) / 2
	return fmt.Sprintf("first task on a after the promotion: median %.1f s, max %.1f s; first on b: median %.1f s, max %.1f s; "+
		"%d needed more than one task on a to leave", firstA[mid], firstA[len(firstA)-1], onB[mid], onB[len(onB)-1], more)
}

func (u *upgrade) String() string {
	s := fmt.Sprintf("%d of %d new journeys on lifecycle:b; %d old journeys pinned to a before the promotion, "+
		"%d served by a after it until they continued as new, %d moved to b (%s); after a stopped: %s",
		u.newOnB, u.newTotal, u.pinnedA, u.servedByA, u.movedToB, u.moveSpread(), u.afterStop)
	if len(u.problems) > 0 {
		return fmt.Sprintf("FAIL (%d problems, the first: %s): %s", len(u.problems), u.problems[0], s)
	}
	return "ok: " + s
}

// rollingUpgrade ships build b while the load runs: a worker of build b
// joins, `lifecycle deployment promote b` makes it current, journeys
// started after that run on b, journeys started before stay pinned to a
// and are served by a until their next continue-as-new moves them to b;
// then the a workers stop, and every journey must still be served.
func (cl *cluster) rollingUpgrade(ctx context.Context, t *testing.T, l *ledger, ld *load, old []string, fresh []string) *upgrade {
	u := &upgrade{newTotal: len(fresh)}
	b, err := cl.startWorker(ctx, "worker-b", "b")
	if err != nil {
		u.problem("starting the build b worker: %v", err)
		return u
	}
	t.Logf("worker-b (build b) ready: pid %d, %s", b.pid, b.addr)
	if out, err := cl.lifecycle(ctx, "deployment", "status"); err != nil {
		u.problem("%v", err)
	} else {
		t.Logf("before the promotion, lifecycle deployment status:\n%s", out)
	}

	before, err := cl.describeAll(ctx, old)
	if err != nil {
		u.problem("describing the journeys before the promotion: %v", err)
	}
	for _, id := range old {
		if before[id].pinnedTo("a") {
			u.pinnedA++
		}
	}
	t.Logf("before the promotion: %s", tally(before))
	if u.pinnedA != len(old) {
		u.problem("%d of %d journeys pinned to a before the promotion (%s)", u.pinnedA, len(old), tally(before))
	}

	promoted := time.Now()
	out, err := cl.lifecycle(ctx, "deployment", "promote", "b")
	if err != nil {
		u.problem("%v", err)
		return u
	}
	t.Logf("lifecycle deployment promote b:\n%s", out)
	// Every journey started before wakes up: it is served by a, its pinned
	// build, and continues as new onto b.
	cl.poke(ctx, l, old, "after-promotion")

	if err := cl.startCustomers(ctx, fresh, len(old), 8); err != nil {
		u.problem("starting journeys after the promotion: %v", err)
	}
	ld.add(fresh...)
	after := cl.waitVersioned(ctx, fresh, 120*time.Second)
	for _, id := range fresh {
		if after[id].pinnedTo("b") {
			u.newOnB++
		}
	}
	t.Logf("journeys started after the promotion: %s", tally(after))
	if u.newOnB != len(fresh) {
		u.problem("%d of %d journeys started after the promotion pinned to b (%s)", u.newOnB, len(fresh), tally(after))
	}

	cl.waitMoved(ctx, u, old, before, promoted, 180*time.Second)

	// Build a is drained (no journey pinned to it): its workers can go.
	for _, w := range cl.workers {
		if w.build == "a" && alive(w.pid) {
			if err := w.stop(); err != nil {
				u.problem("%v", err)
			}
			t.Logf("%s (build a) stopped with SIGTERM", w.name)
		}
	}
	stopped := time.Now()
	all := append(append([]string(nil), old...), fresh...)
	cl.poke(ctx, l, all, "after-upgrade")
	u.afterStop = cl.waitServed(ctx, all, stopped, 120*time.Second)
	if len(u.afterStop.pending) > 0 {
		u.problem("after the a workers stopped: %s", u.afterStop)
	}
	for id, tk := range u.afterStop.byID {
		if tk.build != "b" {
			u.problem("%s: served by build %q after the a workers stopped", id, tk.build)
		}
	}
	if out, err := cl.lifecycle(ctx, "deployment", "status"); err != nil {
		u.problem("%v", err)
	} else {
		t.Logf("after the a workers stopped, lifecycle deployment status:\n%s", out)
	}
	sort.Strings(u.problems)
	return u
}

// waitVersioned describes journeys until each has a deployment version (a
// journey has one once a worker completed its first workflow task).
func (cl *cluster) waitVersioned(ctx context.Context, ids []string, limit time.Duration) map[string]version {
	deadline := time.Now().Add(limit)
	for {
		vs, err := cl.describeAll(ctx, ids)
		done := err == nil
		for _, v := range vs {
			done = done && v.build != ""
		}
		if done || time.Now().After(deadline) {
			return vs
		}
		time.Sleep(time.Second)
	}
}

// waitMoved waits until every journey started before the promotion runs on
// b, and checks how it got there: its run pinned to a continued as new, and
// that run's last workflow task (the one that continued) was done by build
// a after the promotion, that is a kept serving it while it was pinned.
func (cl *cluster) waitMoved(ctx context.Context, u *upgrade, old []string, before map[string]version, promoted time.Time, limit time.Duration) {
	pending := append([]string(nil), old...)
	deadline := time.Now().Add(limit)
	for len(pending) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
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
					moved, problems, m := cl.checkMoved(ctx, id, before[id], promoted)
					mu.Lock()
					switch {
					case !moved:
						left = append(left, id)
					default:
						u.movedToB++
						if len(problems) == 0 {
							u.servedByA++
						}
						u.problems = append(u.problems, problems...)
						u.moves = append(u.moves, m)
					}
					mu.Unlock()
				}
			}()
		}
		for _, id := range pending {
			jobs <- id
		}
		close(jobs)
		wg.Wait()
		sort.Strings(left)
		pending = left
		if len(left) > 0 {
			time.Sleep(2 * time.Second)
		}
	}
	if len(pending) > 0 {
		// Where they are: still on their run on a, or continued as new with
		// the new run's first task not done yet.
		states := map[string]int{}
		for _, id := range pending {
			v, err := cl.describe(ctx, id, "")
			switch {
			case err != nil:
				states["not described"]++
			case v.runID == before[id].runID:
				states["on its run on a: "+v.String()]++
			default:
				states["continued as new, now "+v.String()]++
			}
		}
		u.problem("%d journeys started before the promotion still not on b %s after it (e.g. %s; %s)",
			len(pending), limit, strings.Join(pending[:min(5, len(pending))], ", "), countsText(states))
	}
}

func countsText(counts map[string]int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// move is how one journey moved from a to b, in seconds after the promotion.
type move struct {
	tasksOnA int     // workflow tasks its run on a completed after the promotion, the continue-as-new's included
	firstOnA float64 // the first of them
	onB      float64 // its new run's first task, on b
}

// checkMoved reports whether the journey's current run is on b, what is
// wrong with how it moved, and how it moved.
func (cl *cluster) checkMoved(ctx context.Context, id string, was version, promoted time.Time) (bool, []string, move) {
	var m move
	now, err := cl.describe(ctx, id, "")
	if err != nil || now.runID == was.runID || now.build != "b" {
		return false, nil, m
	}
	var problems []string
	wf := workflows.WorkflowID(id)
	oldRun, err := cl.describe(ctx, id, was.runID)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("%s: %v", id, err))
	case oldRun.status != enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		problems = append(problems, fmt.Sprintf("%s: its run on a ended %s, not continued as new", id, oldRun.status))
	}
	tasks, err := cl.tasksSince(ctx, wf, was.runID, promoted)
	switch {
	case err != nil:
		problems = append(problems, err.Error())
	case len(tasks) == 0:
		problems = append(problems, fmt.Sprintf("%s: its run on a completed no workflow task after the promotion", id))
	default:
		for _, tk := range tasks {
			if tk.build != "a" {
				problems = append(problems, fmt.Sprintf("%s: its run on a was served by build %q at %s, after the promotion",
					id, tk.build, tk.at.Format(time.TimeOnly)))
			}
		}
		m.tasksOnA = len(tasks)
		m.firstOnA = tasks[len(tasks)-1].at.Sub(promoted).Seconds()
	}
	first, _, _ := cl.firstTaskAfter(ctx, wf, now.runID, promoted)
	m.onB = first.at.Sub(promoted).Seconds()
	return true, problems, m
}
