package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The simulation uses a one-hour journey day (business hours apply only to
// 24h days); time skipping makes the length irrelevant to the wall time.
const simDay = time.Hour

var simStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

func simInput(id string, pb *playbooks.Playbook) workflows.JourneyInput {
	return workflows.JourneyInput{
		Account:      workflows.Account{ID: id, Name: "Acme Corp", Plan: "enterprise", RenewalDate: simStart.AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@acme.example", TimeZone: "Europe/London"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example",
		SponsorEmail: "vp@vendor.example",
		DealID:       "deal-42",
		Playbook:     pb,
		DayLength:    simDay,
		Revision:     workflows.Revision,
	}
}

// step is one scripted message at a journey day.
type step struct {
	at   time.Duration
	name string // update name
	arg  any
	done bool
}

// sim runs one journey in the time-skipping test environment across every
// continue-as-new, with a script of updates at given days.
type sim struct {
	in       workflows.JourneyInput
	script   []*step
	outbox   *activities.Outbox
	tpl      *activities.Templates
	runs     []simRun
	updates  int
	rejected int
	failed   int
}

type simRun struct {
	events  int // estimated history events (the server's way of counting)
	updates int
	start   time.Time
	end     time.Time
}

func newSim(in workflows.JourneyInput, box *activities.Outbox, tpl *activities.Templates) *sim {
	return &sim{in: in, outbox: box, tpl: tpl}
}

func (s *sim) at(day float64, name string, arg any) {
	s.script = append(s.script, &step{at: time.Duration(day * float64(simDay)), name: name, arg: arg})
}

func (s *sim) event(day float64, id, typ string) {
	s.at(day, workflows.UpdateEvent, workflows.EngagementEvent{ID: id, Type: typ})
}

// engagedScript: handoff held on day 1, milestones a day early, a webinar
// and a login every week of onboarding.
func (s *sim) engagedScript(pb *playbooks.Playbook) {
	s.at(1, workflows.UpdateOutcome, workflows.Outcome{Kind: workflows.OutcomeHandoffHeld, By: "grace"})
	for _, m := range pb.Milestones {
		s.at(float64(m.DueDay)-1, workflows.UpdateOutcome, workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: m.ID})
	}
	for d := 2; d <= 95; d += 7 {
		s.event(float64(d), fmt.Sprintf("web-%d", d), "webinar_attended")
		s.event(float64(d)+0.01, fmt.Sprintf("login-%d", d), "login")
	}
}

// run executes the journey until untilDay (then cancels it) or until it ends.
func (s *sim) run(untilDay float64) error {
	until := time.Duration(untilDay * float64(simDay))
	in := s.in
	runStart := simStart
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	slices.SortStableFunc(s.script, func(a, b *step) int { return cmp.Compare(a.at, b.at) })
	for {
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(quiet)
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID(s.in.Account.ID), TaskQueue: workflows.TaskQueue})
		env.SetStartTime(runStart)
		env.SetTestTimeout(5 * time.Minute)
		env.RegisterWorkflow(workflows.CustomerLifecycle)
		env.RegisterActivity(&activities.Activities{Mailer: s.outbox, Templates: s.tpl})
		s.runs = append(s.runs, simRun{events: 3, start: runStart})
		s.countHistory(env)
		elapsed := runStart.Sub(simStart)
		var pending []*step
		for _, st := range s.script {
			if !st.done {
				pending = append(pending, st)
			}
		}
		// One callback at a time: the environment's callback queue is short.
		var next func(i int)
		next = func(i int) {
			if i == len(pending) {
				return
			}
			st := pending[i]
			env.RegisterDelayedCallback(func() {
				st.done = true
				s.update(env, st)
				next(i + 1)
			}, max(0, st.at-env.Now().Sub(simStart)))
		}
		next(0)
		env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, until-elapsed)
		env.ExecuteWorkflow(workflows.CustomerLifecycle, in)
		s.runs[len(s.runs)-1].end = env.Now()
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			in = workflows.JourneyInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				return fmt.Errorf("decoding the continue-as-new input: %w", err)
			}
			runStart = env.Now()
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "canceled") {
			return fmt.Errorf("journey failed: %w", err)
		}
		if s.failed > 0 {
			return fmt.Errorf("%d of %d updates failed", s.failed, s.updates)
		}
		return nil
	}
}

func (s *sim) update(env *testsuite.TestWorkflowEnvironment, st *step) {
	s.updates++
	env.UpdateWorkflow(st.name, fmt.Sprint("u", s.updates), &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(error) { s.rejected++ },
		OnComplete: func(_ any, err error) {
			if err != nil {
				s.failed++
			}
		},
	}, st.arg)
	r := &s.runs[len(s.runs)-1]
	r.updates++
	r.events += 5 // accepted, completed and a workflow task
	env.SetCurrentHistoryLength(r.events)
}

// countHistory estimates the history length the way the server counts it
// (activity: scheduled, started, completed; timer: started, fired or
// canceled; each wake-up a workflow task of three events) and hands it to
// the workflow, which continues as new at workflows.HistoryBudget.
func (s *sim) countHistory(env *testsuite.TestWorkflowEnvironment) {
	add := func(n int) {
		r := &s.runs[len(s.runs)-1]
		r.events += n
		env.SetCurrentHistoryLength(r.events)
	}
	env.SetOnActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) { add(6) })
	env.SetOnTimerScheduledListener(func(string, time.Duration) { add(1) })
	env.SetOnTimerFiredListener(func(string) { add(4) })
	env.SetOnTimerCanceledListener(func(string) { add(1) })
}

// simEnv is the shared part of every simulation: a SQLite store in a temp dir.
type simEnv struct {
	dir string
	st  *store.Store
	box *activities.Outbox
	tpl *activities.Templates
}

func newSimEnv(ctx context.Context) (*simEnv, error) {
	dir, err := os.MkdirTemp("", "lifecycle-bench-sim-")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("store: %w", err)
	}
	tpl, err := activities.LoadTemplates("Lifecycle")
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &simEnv{dir: dir, st: st, box: activities.NewOutbox(st), tpl: tpl}, nil
}

func (e *simEnv) close() {
	e.st.Close()
	os.RemoveAll(e.dir)
}

// journey90 is the engaged customer's first 91 days.
func (e *simEnv) journey90(id string) (*sim, error) {
	pb := playbooks.Default()
	s := newSim(simInput(id, pb), e.box, e.tpl)
	s.engagedScript(pb)
	return s, s.run(91)
}

// journey3y is three years: the engaged onboarding, then an event every day.
func (e *simEnv) journey3y(id string) (*sim, error) {
	pb := playbooks.Default()
	s := newSim(simInput(id, pb), e.box, e.tpl)
	s.engagedScript(pb)
	for d := 96; d <= 1094; d++ {
		s.event(float64(d)+0.5, fmt.Sprintf("login-%d", d), "login")
	}
	return s, s.run(1095)
}
