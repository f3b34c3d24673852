package workflows_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The tests use a one-hour journey day: business hours only apply to 24h
// days, so every step lands exactly on its playbook day. Time skipping makes
// the length irrelevant to how long a test takes.
const testDay = time.Hour

var testStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

func testInput(pb *playbooks.Playbook) workflows.JourneyInput {
	return workflows.JourneyInput{
		Account:      workflows.Account{ID: "acme", Name: "Acme Corp", Plan: "enterprise", RenewalDate: testStart.AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@acme.example", TimeZone: "Europe/London"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example",
		SponsorEmail: "vp@vendor.example",
		DealID:       "deal-42",
		Playbook:     pb,
		DayLength:    testDay,
	}
}

// harness runs a journey in the time-skipping test environment, across as
// many continue-as-new runs as it takes, with a script of messages at given
// journey days. Activities are the real ones, writing to a real outbox.
type harness struct {
	t        *testing.T
	in       workflows.JourneyInput
	start    time.Time
	day      time.Duration
	script   []*scripted
	outbox   *activities.Outbox
	mailer   activities.Mailer // nil: the outbox
	results  map[string]result
	runs     []runStat
	simulate bool // feed an estimated history length to the workflow
	// expectFail keeps a failed journey's error in err instead of failing
	// the test.
	expectFail bool

	final    workflows.State
	timeline workflows.Timeline
	err      error
}

type scripted struct {
	at   time.Duration
	fn   func(c *call)
	done bool
}

type result struct {
	value    any
	rejected error
	err      error
}

type runStat struct {
	events int // estimated history events
	start  time.Time
	end    time.Time
}

// call is what a scripted step can do to the running journey.
type call struct {
	h   *harness
	env *testsuite.TestWorkflowEnvironment
}

func newHarness(t *testing.T, in workflows.JourneyInput) *harness {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box := activities.NewOutbox(st)
	return &harness{t: t, in: in, start: testStart, day: in.DayLength, outbox: box, results: map[string]result{}}
}

// at schedules fn at a journey day, counted in wall-clock days from the start.
func (h *harness) at(day float64, fn func(c *call)) {
	h.script = append(h.script, &scripted{at: time.Duration(day * float64(h.day)), fn: fn})
}

// update sends an update; its outcome is kept under label.
func (c *call) update(label, name string, arg any, out any) {
	h := c.h
	c.env.UpdateWorkflow(name, label, &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { h.results[label] = result{rejected: err} },
		OnComplete: func(v any, err error) {
			h.results[label] = result{value: v, err: err}
		},
	}, arg)
	if h.simulate {
		c.h.runs[len(h.runs)-1].events += 5 // accepted, completed, workflow task
	}
}

func (c *call) event(id, typ string, attrs ...string) {
	ev := workflows.EngagementEvent{ID: id, Type: typ, Attributes: map[string]string{}}
	for i := 0; i+1 < len(attrs); i += 2 {
		ev.Attributes[attrs[i]] = attrs[i+1]
	}
	c.update("event:"+id+fmt.Sprint(len(c.h.results)), workflows.UpdateEvent, ev, nil)
}

func (c *call) outcome(label string, o workflows.Outcome) {
	c.update(label, workflows.UpdateOutcome, o, nil)
}

func (c *call) timeline() workflows.Timeline {
	v, err := c.env.QueryWorkflow(workflows.QueryTimeline)
	if err != nil {
		c.h.t.Fatalf("timeline query: %v", err)
	}
	var tl workflows.Timeline
	if err := v.Get(&tl); err != nil {
		c.h.t.Fatal(err)
	}
	return tl
}

func (c *call) state() workflows.State { return c.stateAt(time.Time{}) }

// stateAt reads the state as a reader whose clock says at would.
func (c *call) stateAt(at time.Time) workflows.State {
	v, err := c.env.QueryWorkflow(workflows.QueryState, workflows.StateQuery{At: at})
	if err != nil {
		c.h.t.Fatalf("state query: %v", err)
	}
	var s workflows.State
	if err := v.Get(&s); err != nil {
		c.h.t.Fatal(err)
	}
	return s
}

// run executes the journey until the given day (then cancels it), or until
// it ends by itself.
func (h *harness) run(untilDay float64) {
	h.t.Helper()
	tpl, err := activities.LoadTemplates("Lifecycle")
	if err != nil {
		h.t.Fatal(err)
	}
	until := time.Duration(untilDay * float64(h.day))
	in := h.in
	runStart := h.start
	for {
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID(h.in.Account.ID), TaskQueue: workflows.TaskQueue})
		env.SetStartTime(runStart)
		env.SetTestTimeout(5 * time.Minute)
		env.RegisterWorkflow(workflows.CustomerLifecycle)
		var mailer activities.Mailer = h.outbox
		if h.mailer != nil {
			mailer = h.mailer
		}
		env.RegisterActivity(&activities.Activities{Mailer: mailer, Templates: tpl})
		h.runs = append(h.runs, runStat{events: 3, start: runStart})
		if h.simulate {
			h.countHistory(env)
		}
		elapsed := runStart.Sub(h.start)
		c := &call{h: h, env: env}
		// One callback at a time: the environment's callback queue is short.
		var pending []*scripted
		for _, s := range h.script {
			if !s.done {
				pending = append(pending, s)
			}
		}
		slices.SortStableFunc(pending, func(a, b *scripted) int { return cmp.Compare(a.at, b.at) })
		var next func(i int)
		next = func(i int) {
			if i == len(pending) {
				return
			}
			s := pending[i]
			env.RegisterDelayedCallback(func() { s.done = true; s.fn(c); next(i + 1) }, max(0, s.at-env.Now().Sub(h.start)))
		}
		next(0)
		env.RegisterDelayedCallback(func() {
			h.final, h.timeline = c.state(), c.timeline()
			env.CancelWorkflow()
		}, until-elapsed)
		env.ExecuteWorkflow(workflows.CustomerLifecycle, in)
		h.runs[len(h.runs)-1].end = env.Now()
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			in = workflows.JourneyInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				h.t.Fatal(err)
			}
			runStart = env.Now()
			continue
		}
		if err == nil {
			// The journey ended by itself: its result is the final state.
			if err := env.GetWorkflowResult(&h.final); err != nil {
				h.t.Fatal(err)
			}
		} else if !strings.Contains(err.Error(), "canceled") {
			h.err = err
			if !h.expectFail {
				h.t.Fatalf("journey failed: %v", err)
			}
		}
		return
	}
}

// countHistory estimates the history length the way the server counts it
// (activity: scheduled, started, completed; timer: started, fired or
// canceled; each wake-up a workflow task of three events) and hands it to
// the workflow, which must continue-as-new before Temporal's limit.
func (h *harness) countHistory(env *testsuite.TestWorkflowEnvironment) {
	add := func(n int) {
		r := &h.runs[len(h.runs)-1]
		r.events += n
		env.SetCurrentHistoryLength(r.events)
	}
	env.SetOnActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) { add(6) })
	env.SetOnTimerScheduledListener(func(string, time.Duration) { add(1) })
	env.SetOnTimerFiredListener(func(string) { add(4) })
	env.SetOnTimerCanceledListener(func(string) { add(1) })
}

// sent lists the timeline's entries of a kind as "step@day" strings, with
// days counted on the wall clock from the start.
func (h *harness) sent(kinds ...string) []string {
	var out []string
	for _, e := range h.timeline.Entries {
		if slices.Contains(kinds, e.Kind) {
			out = append(out, fmt.Sprintf("%s@%g", e.Step, h.wallDay(e.At)))
		}
	}
	return out
}

func (h *harness) wallDay(t time.Time) float64 {
	return float64(t.Sub(h.start)) / float64(h.day)
}

func (h *harness) entry(step string) (workflows.Entry, bool) {
	for _, e := range h.timeline.Entries {
		if e.Step == step {
			return e, true
		}
	}
	return workflows.Entry{}, false
}
