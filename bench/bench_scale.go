package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// benchScale: many open journeys on the embedded server: the time to start
// them, the memory they hold, and how late timers run when many fall due
// together.
func benchScale(ctx context.Context, b *bencher) (*section, error) {
	s := b.stack
	n, burst := b.open, 1000
	if b.quick {
		burst = 200
	}
	var live, stacks uint64 // HeapAlloc and StackInuse after the last heap()
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		live = m.HeapAlloc
		stacks = m.StackInuse
		return m.HeapInuse
	}
	rss0, heap0 := rssKB(), heap()
	live0, stacks0, g0 := live, stacks, runtime.NumGoroutine()
	progress("  scale: starting %d journeys through the API (concurrency %d)", n, concurrency)
	t0start := time.Now()
	el, err := parallel(ctx, n, concurrency, func(i int) error {
		return s.do(ctx, "POST", "/v1/customers", salesKey, startBody(fmt.Sprintf("open-%d", i)), http.StatusCreated)
	})
	if err != nil {
		return nil, fmt.Errorf("starting %d journeys: %w", n, err)
	}
	rate := float64(n) / el.Seconds()
	progress("  scale: %d started in %s (%.0f/s); waiting for the worker to catch up", n, el.Round(time.Millisecond), rate)
	drained, probeLag, err := s.drain(ctx, t0start)
	if err != nil {
		return nil, err
	}
	progress("  scale: caught up %s after the first start (a new journey's first task %s after its start)", drained.Round(time.Second), probeLag.Round(time.Millisecond))
	// What the journeys' first tasks started (their first emails, on
	// activity workers writing one at a time to the store) is still running
	// when the first tasks are done: wait until the goroutines stop falling
	// (the same count, within 1%, 5 s apart; at most 2 minutes), so the
	// reading is of open journeys, not of a backlog.
	for settle := time.Now(); time.Since(settle) < 2*time.Minute; {
		g := runtime.NumGoroutine()
		time.Sleep(5 * time.Second)
		if d := runtime.NumGoroutine() - g; d > -g/100 {
			progress("  scale: settled %s after catch-up (%d goroutines)", time.Since(settle).Round(time.Second), runtime.NumGoroutine())
			break
		}
	}
	rss1, heap1 := rssKB(), heap()
	if b.memprofile != "" {
		if err := writeHeapProfile(b.memprofile); err != nil {
			return nil, err
		}
		progress("  scale: heap profile of %d open journeys in %s", n, b.memprofile)
	}
	perRSS := float64(rss1-rss0) * 1024 / float64(n)
	perHeap := (float64(heap1) - float64(heap0)) / float64(n)
	perLive := (float64(live) - float64(live0)) / float64(n)
	perStack := (float64(stacks) - float64(stacks0)) / float64(n)
	perG := float64(runtime.NumGoroutine()-g0) / float64(n)
	progress("  scale: per open journey: RSS %.1f KiB, heap in use %.1f KiB, live heap objects %.1f KiB, %.2f goroutines (stacks %.1f KiB)",
		perRSS/1024, perHeap/1024, perLive/1024, perG, perStack/1024)

	// Timers falling due together: burst journeys started at a fixed pace
	// (burstRate), with a day long enough that all of them are started well
	// before their day-3 steps fall due; those then fall due at that pace.
	// A fixed pace, not "as fast as the server takes them": a build whose
	// worker takes up new journeys faster would otherwise face a denser
	// burst of day-3 steps than one that takes them up slowly.
	burstRate := 10.0
	if b.quick {
		burstRate = 20
	}
	startFor := time.Duration(float64(burst)/burstRate*float64(time.Second)) * 3 / 2
	day := max(2*time.Second, (startFor+10*time.Second)/3).Round(time.Second)
	progress("  scale: %d journeys, %.0f a second, with a %s day, day 3 due %s after their start", burst, burstRate, day, 3*day)
	t0 := time.Now()
	if _, err := parallel(ctx, burst, concurrency, func(i int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(t0.Add(time.Duration(float64(i) / burstRate * float64(time.Second))))):
		}
		return s.rawStart(ctx, fmt.Sprintf("burst-%d", i), day)
	}); err != nil {
		return nil, fmt.Errorf("starting the burst: %w", err)
	}
	window := time.Since(t0)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Until(t0.Add(window + 3*day + 2*time.Second))):
	}
	var mu sync.Mutex
	var first []time.Time
	var day3 []time.Duration
	pending := make([]int, burst)
	for i := range pending {
		pending[i] = i
	}
	deadline := time.Now().Add(2 * time.Minute)
	late := 0
	for len(pending) > 0 {
		var next []int
		if _, err := parallel(ctx, len(pending), concurrency, func(k int) error {
			i := pending[k]
			firstTask, day3Task, err := s.burstTimes(ctx, workflows.WorkflowID(fmt.Sprintf("burst-%d", i)))
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if day3Task.IsZero() {
				next = append(next, i)
				return nil
			}
			first = append(first, firstTask)
			day3 = append(day3, day3Task.Sub(firstTask.Add(3*day)))
			return nil
		}); err != nil {
			return nil, fmt.Errorf("reading the burst's histories: %w", err)
		}
		progress("  scale: %d of %d journeys past their day-3 step", burst-len(next), burst)
		pending = next
		if len(pending) > 0 {
			if time.Now().After(deadline) {
				late = len(pending)
				break
			}
			time.Sleep(3 * time.Second)
		}
	}
	var dueMin, dueMax time.Time
	for _, f := range first {
		due := f.Add(3 * day)
		if dueMin.IsZero() || due.Before(dueMin) {
			dueMin = due
		}
		if due.After(dueMax) {
			dueMax = due
		}
	}
	for i := range burst {
		_ = s.c.TerminateWorkflow(ctx, workflows.WorkflowID(fmt.Sprintf("burst-%d", i)), "", "benchmark done")
	}
	return &section{
		title: "6. Many open journeys",
		method: fmt.Sprintf("%d journeys started through `POST /v1/customers` (concurrency %d, 24h days: they stay open), on a fresh "+
			"embedded server; memory is the whole process (server, worker with its workflow cache, API), VmRSS from /proc/self/status "+
			"and the Go heap after a GC (in use: the heap's spans; live: its objects), before and after, once the worker has caught up "+
			"and its goroutines have stopped falling (what the first tasks started has finished). Timer lateness: %d further journeys "+
			"started at %.0f a second (raw client), with a day (%s) long enough that all are started "+
			"before the first one's day 3: their day-3 steps (training invite, handoff reminder) fall due together, within the start "+
			"window. Read from each history (so the reading does not load the worker): lateness is the `WorkflowTaskStarted` after "+
			"the first `TimerFired` minus (the first `WorkflowTaskStarted`, the journey's day 0 as `workflow.Now`, + 3 days): the "+
			"server's timer queue, matching and the worker's pickup together. Each measured once (no rounds).", n, concurrency, burst, burstRate, day),
		header: []string{"figure", "value"},
		rows: [][]string{
			{fmt.Sprintf("time to start %d journeys", n), fmt.Sprintf("%s (%.0f/s)", el.Round(100*time.Millisecond), rate)},
			{"caught up (a new journey's first workflow task within 1 s of its start) after", fmt.Sprintf("%s from the first start", drained.Round(time.Second))},
			{"VmRSS before / after", fmt.Sprintf("%.0f MiB / %.0f MiB", float64(rss0)/1024, float64(rss1)/1024)},
			{"RSS per open journey", fmt.Sprintf("%.1f KiB", perRSS/1024)},
			{"Go heap in use per open journey", fmt.Sprintf("%.1f KiB", perHeap/1024)},
			{"live Go heap objects per open journey", fmt.Sprintf("%.1f KiB", perLive/1024)},
			{"goroutines (stacks) per open journey", fmt.Sprintf("%.2f (%.1f KiB)", perG, perStack/1024)},
			{fmt.Sprintf("%d day-3 steps fell due within", burst), fmt.Sprintf("%s (%.0f/s)", dueMax.Sub(dueMin).Round(10*time.Millisecond), float64(burst)/dueMax.Sub(dueMin).Seconds())},
			{fmt.Sprintf("day-3 step lateness, %d due together: p50 / p99 / max", burst), fmt.Sprintf("%s / %s / %s", durMS(percentile(day3, 50)), durMS(percentile(day3, 99)), durMS(slices.Max(day3)))},
			{"journeys whose day-3 step had not run 2 minutes after the reading began (left out above)", fmt.Sprint(late)},
		},
	}, nil
}

// burstTimes reads a journey's history: when its first workflow task started
// (the journey's day 0: workflow.Now) and when the workflow task after its
// first timer fired started (its day-3 steps running), zero if not yet.
func (s *stack) burstTimes(ctx context.Context, wfID string) (first, day3 time.Time, err error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	it := s.c.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	fired := false
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return first, day3, err
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			if first.IsZero() {
				first = ev.GetEventTime().AsTime()
			} else if fired {
				return first, ev.GetEventTime().AsTime(), nil
			}
		case enumspb.EVENT_TYPE_TIMER_FIRED:
			fired = true
		}
	}
	return first, time.Time{}, nil
}

var probes atomic.Int64

// drain waits until the worker has caught up with the backlog: a probe
// journey's first workflow task starts within a second of its start.
func (s *stack) drain(ctx context.Context, since time.Time) (time.Duration, time.Duration, error) {
	deadline := time.Now().Add(9 * time.Minute)
	for {
		id := fmt.Sprintf("probe-%d", probes.Add(1))
		t0 := time.Now()
		if err := s.rawStart(ctx, id, apiDay); err != nil {
			return 0, 0, fmt.Errorf("probe: %w", err)
		}
		var lag time.Duration
		for {
			first, _, err := s.burstTimes(ctx, workflows.WorkflowID(id))
			if err != nil {
				return 0, 0, fmt.Errorf("probe: %w", err)
			}
			if !first.IsZero() {
				lag = first.Sub(t0)
				break
			}
			if time.Now().After(deadline) {
				return 0, 0, fmt.Errorf("the worker had not caught up 9 minutes after the starts")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if lag < time.Second {
			return time.Since(since), lag, nil
		}
		progress("  scale: a new journey's first task still %s after its start", lag.Round(time.Millisecond))
		if ctx.Err() != nil {
			return 0, 0, ctx.Err()
		}
	}
}

// writeHeapProfile writes the heap profile (after a GC, so it shows what is
// live) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("-memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("-memprofile: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	// And the goroutines, grouped by stack: what each open journey keeps.
	g, err := os.Create(path + ".goroutines.txt")
	if err != nil {
		return fmt.Errorf("-memprofile: %w", err)
	}
	if err := pprof.Lookup("goroutine").WriteTo(g, 1); err != nil {
		g.Close()
		return fmt.Errorf("-memprofile: %w", err)
	}
	return g.Close()
}
