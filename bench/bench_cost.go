package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/proto"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// profile is a kind of customer for the cost benchmark.
type profile struct {
	name    string
	what    string
	days    int           // journey days measured
	day     time.Duration // day length on the real server
	engaged bool          // handoff held day 1, milestones a day early
	perWeek []float64     // event times within each week (days)
	perDay  int           // events a day, spread evenly
}

func costProfiles(quick bool) []profile {
	ps := []profile{
		{name: "quiet", what: "no events, no outcomes: the handoff escalates, every milestone climbs its late ladder, silence is chased every 14/21 days", days: 360, day: 100 * time.Millisecond},
		{name: "typical", what: "handoff held day 1, milestones a day early, 3 `login` events a week", days: 360, day: 100 * time.Millisecond, engaged: true, perWeek: []float64{1.5, 3.5, 5.5}},
		{name: "chatty", what: "as typical, plus 50 events a day, sent one at a time spread over the day", days: 20, day: 2 * time.Second, engaged: true, perDay: 50},
	}
	if quick {
		ps[0].days, ps[1].days, ps[2].days, ps[2].day = 60, 60, 4, time.Second
	}
	return ps
}

// script is the profile's messages, in journey days, in time order.
type message struct {
	day  float64
	name string
	arg  any
}

func (p profile) script(pb *playbooks.Playbook, prefix string) []message {
	var out []message
	add := func(day float64, name string, arg any) {
		if day < float64(p.days) {
			out = append(out, message{day, name, arg})
		}
	}
	if p.engaged {
		add(1, workflows.UpdateOutcome, workflows.Outcome{Kind: workflows.OutcomeHandoffHeld, By: "grace"})
		for _, m := range pb.Milestones {
			add(float64(m.DueDay)-1, workflows.UpdateOutcome, workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: m.ID})
		}
	}
	for d := 0; d < p.days; d++ {
		for _, w := range p.perWeek {
			if d%7 == 0 {
				add(float64(d)+w, workflows.UpdateEvent, workflows.EngagementEvent{ID: fmt.Sprintf("%sw-%d-%g", prefix, d, w), Type: "login"})
			}
		}
		for k := range p.perDay {
			add(float64(d)+(float64(k)+0.5)/float64(p.perDay), workflows.UpdateEvent, workflows.EngagementEvent{ID: fmt.Sprintf("%sd-%d-%d", prefix, d, k), Type: "feature_used"})
		}
	}
	sortMessages(out)
	return out
}

func sortMessages(m []message) {
	for i := 1; i < len(m); i++ { // insertion sort: nearly sorted already
		for j := i; j > 0 && m[j].day < m[j-1].day; j-- {
			m[j], m[j-1] = m[j-1], m[j]
		}
	}
}

type costResult struct {
	runs, events, bytes, maxRun int
	updates, updateErrs         int
	firstErr                    error
}

// onServer runs the profile's journey on the embedded server with its short
// day, then counts the history of every run precisely.
func (p profile) onServer(ctx context.Context, s *stack, id string) (costResult, error) {
	var res costResult
	pb := playbooks.Default()
	if err := s.rawStart(ctx, id, p.day); err != nil {
		return res, fmt.Errorf("start: %w", err)
	}
	start := time.Now() // the journey's day 0, within a few ms
	for _, m := range p.script(pb, "") {
		at := start.Add(time.Duration(m.day * float64(p.day)))
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(time.Until(at)):
		}
		res.updates++
		if err := s.rawUpdate(ctx, id, m.name, m.arg); err != nil {
			res.updateErrs++
			if res.firstErr == nil {
				res.firstErr = err
			}
		}
	}
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(time.Until(start.Add(time.Duration(p.days) * p.day))):
	}
	desc, err := s.c.DescribeWorkflowExecution(ctx, workflows.WorkflowID(id), "")
	if err != nil {
		return res, fmt.Errorf("describe: %w", err)
	}
	if st := desc.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return res, fmt.Errorf("the journey is %s, not running, at the end of the measured days", st)
	}
	runID := ""
	for {
		n, size, prev, err := s.history(ctx, workflows.WorkflowID(id), runID)
		if err != nil {
			return res, err
		}
		res.runs++
		res.events += n
		res.bytes += size
		res.maxRun = max(res.maxRun, n)
		if prev == "" {
			break
		}
		runID = prev
	}
	_ = s.c.TerminateWorkflow(ctx, workflows.WorkflowID(id), "", "benchmark done")
	return res, nil
}

func (s *stack) rawUpdate(ctx context.Context, id, name string, arg any) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	h, err := s.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(id), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

// history counts a run's events and their encoded bytes, and names the run
// it continued from.
func (s *stack) history(ctx context.Context, wfID, runID string) (events, size int, prev string, err error) {
	it := s.c.GetWorkflowHistory(ctx, wfID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return 0, 0, "", fmt.Errorf("history of %s/%s: %w", wfID, runID, err)
		}
		if a := ev.GetWorkflowExecutionStartedEventAttributes(); a != nil {
			prev = a.GetContinuedExecutionRunId()
		}
		events++
		size += proto.Size(ev)
	}
	return events, size, prev, nil
}

// inSuite runs the same profile in the time-skipping suite and returns the
// harness's estimate (the way the workflow is fed its history length in tests).
func (p profile) inSuite(env *simEnv, id string) (runs, events, maxRun int, err error) {
	pb := playbooks.Default()
	s := newSim(simInput(id, pb), env.box, env.tpl)
	for _, m := range p.script(pb, "") {
		s.at(m.day, m.name, m.arg)
	}
	if err := s.run(float64(p.days)); err != nil {
		return 0, 0, 0, err
	}
	for _, r := range s.j.Runs {
		events += r.Events
		maxRun = max(maxRun, r.Events)
	}
	return len(s.j.Runs), events, maxRun, nil
}

// benchCost: history events and bytes per customer, counted on the server.
func benchCost(ctx context.Context, b *bencher) (*section, error) {
	profiles := costProfiles(b.quick)
	results := make([]costResult, len(profiles))
	errs := make([]error, len(profiles))
	var wg sync.WaitGroup
	for i, p := range profiles {
		progress("  cost: %s, %d days of %s on the server", p.name, p.days, p.day)
		wg.Go(func() { results[i], errs[i] = p.onServer(ctx, b.stack, "cost-"+p.name) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", profiles[i].name, err)
		}
	}
	env, err := newSimEnv(ctx)
	if err != nil {
		return nil, err
	}
	defer env.close()
	sec := &section{
		title: "5. Cost per customer (history)",
		method: "Counted precisely on the real embedded server: each profile runs as a real journey with a short day length " +
			"(100 ms to 2 s, the shortest the workflow accepts is 100 ms; business hours apply only to 24h days, so every step lands on its day), its messages sent by the raw client at their " +
			"journey times, one at a time; then the history of every run (following continue-as-new back) is read and its events and " +
			"encoded bytes (`proto.Size`) summed. Why the server and not the test suite: the suite cannot count history, only estimate " +
			"it; the server's count includes workflow-task events, search-attribute upserts and update events exactly as production " +
			"pays them. The suite's estimate for the same script is shown for comparison (it is what the workflow is fed in `make test`). " +
			"Per customer-year is extrapolated linearly from the days measured (the first 90 days are the busiest, so for quiet and " +
			"typical it overstates a later year).",
		header: []string{"profile", "days measured", "runs", "history events", "bytes", "events / customer-year", "bytes / customer-year", "max events in one run", "suite estimate (events, max run)", "under 4,096 per run"},
	}
	for i, p := range profiles {
		r := results[i]
		if r.updateErrs > 0 {
			sec.notes = append(sec.notes, fmt.Sprintf("%s: %d of %d messages failed, the first: %v", p.name, r.updateErrs, r.updates, r.firstErr))
		}
		sRuns, sEvents, sMax, err := p.inSuite(env, "cost-"+p.name)
		est := fmt.Sprintf("%d, %d (%d runs)", sEvents, sMax, sRuns)
		if err != nil {
			est = "failed: " + err.Error()
		}
		perYear := 365 / float64(p.days)
		sec.rows = append(sec.rows, []string{
			fmt.Sprintf("**%s**: %s", p.name, p.what), fmt.Sprint(p.days), fmt.Sprint(r.runs), fmt.Sprint(r.events),
			kib(r.bytes), fmt.Sprintf("%.0f", float64(r.events)*perYear), kib(int(float64(r.bytes) * perYear)),
			fmt.Sprint(r.maxRun), est, met(r.maxRun < 4096),
		})
		progress("  cost %s: %d runs, %d events, %s, max run %d; suite estimate %s", p.name, r.runs, r.events, kib(r.bytes), r.maxRun, est)
	}
	sec.notes = append(sec.notes, fmt.Sprintf("The workflow continues as new at %d events (`workflows.HistoryBudget`), at Temporal's suggestion and at each term; "+
		"a chatty customer's runs therefore stay near that budget whatever the year holds.", workflows.HistoryBudget))
	return sec, nil
}

func kib(n int) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
}
