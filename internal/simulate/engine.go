// Package simulate runs customer journeys in Temporal's time-skipping test
// environment: the real CustomerLifecycle workflow and the real activities,
// delivering to an in-memory outbox, across every continue-as-new. Months of
// a journey take milliseconds. The tests, `make bench` and `lifecycle
// simulate` all run journeys through it.
//
// Journey is the engine: a script of calls at journey days. Simulate runs a
// Scenario (what a customer does on which day) through it and returns what
// the journey did, day by day, with the reason for every step.
package simulate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Journey runs one journey: In from Start, with a script of calls at
// journey days counted on the wall clock from Start in units of Day.
type Journey struct {
	In    workflows.JourneyInput
	Start time.Time
	Day   time.Duration // wall length of a script day; In.DayLength when zero
	// Mailer receives every message; an in-memory Outbox when nil.
	Mailer    activities.Mailer
	Templates *activities.Templates // the embedded ones when nil
	// CountHistory estimates the history length the way the server counts
	// it and hands it to the workflow, which continues as new at
	// workflows.HistoryBudget as it would on a server.
	CountHistory bool
	// Tasks, when set, keeps the journey's task index (SaveTasks); without
	// it the writes are refused and the state alone has the tasks.
	Tasks activities.TaskStore
	// Slack, when set, posts the task notices (PostSlack); without it they
	// are posted nowhere.
	Slack *activities.Slack
	// Webhooks, when set, delivers the journey's events to its
	// subscriptions (DeliverWebhook); without it nobody has subscribed.
	Webhooks activities.Webhooks
	// Logger gets the workflow's log; discarded when nil.
	Logger log.Logger
	// Finally, when set, runs at the until day before the journey is
	// stopped (a journey that ends by itself does not get there).
	Finally func(c *Call)
	// Context, when set, stops the run at the next scripted call once it
	// is done (a deadline, a client gone); Run then returns its error.
	Context context.Context

	script []*scripted
	// Runs are the journey's runs (one per continue-as-new), filled by Run.
	Runs []RunCost
}

// RunCost is what one run of a journey cost in history.
type RunCost struct {
	Events  int `json:"events"` // estimated history events
	Updates int `json:"updates"`
	// Activities counts the activities the run completed, by type; local
	// activities (the journey's questions to the store) together under
	// "local", since the test environment names them by their wrapper. Not
	// part of the simulation's answer.
	Activities map[string]int `json:"-"`
	Start      time.Time      `json:"start"`
	End        time.Time      `json:"end"`
}

type scripted struct {
	at   time.Duration
	fn   func(c *Call)
	done bool
}

// Call is what a scripted call can do to the running journey.
type Call struct {
	j   *Journey
	env *testsuite.TestWorkflowEnvironment
}

// At schedules fn at a journey day. Calls at the same time run in the
// order they were added.
func (j *Journey) At(day float64, fn func(c *Call)) {
	j.script = append(j.script, &scripted{at: time.Duration(day * float64(j.day())), fn: fn})
}

func (j *Journey) day() time.Duration {
	if j.Day > 0 {
		return j.Day
	}
	if j.In.DayLength > 0 {
		return j.In.DayLength
	}
	return 24 * time.Hour
}

// Now is the journey environment's clock.
func (c *Call) Now() time.Time { return c.env.Now() }

// Day is the wall-clock day since the start, as the script counts.
func (c *Call) Day() float64 { return float64(c.env.Now().Sub(c.j.Start)) / float64(c.j.day()) }

// Update sends an update; done (if set) gets its result: rejected by the
// validator, or completed with a value (Decode reads it) or an error.
func (c *Call) Update(name, id string, arg any, done func(value any, rejected, err error)) {
	c.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) {
			if done != nil {
				done(nil, err, nil)
			}
		},
		OnComplete: func(v any, err error) {
			if done == nil {
				return
			}
			done(v, nil, err)
		},
	}, arg)
	r := &c.j.Runs[len(c.j.Runs)-1]
	r.Updates++
	if c.j.CountHistory {
		r.Events += 5 // accepted, completed, and a workflow task
		c.env.SetCurrentHistoryLength(r.Events)
	}
}

// Signal sends a signal to the journey.
func (c *Call) Signal(name string, arg any) { c.env.SignalWorkflow(name, arg) }

// Decode reads an update's result into out: the environment hands over
// the handler's value as it is, or encoded.
func Decode(v, out any) error {
	if ev, ok := v.(converter.EncodedValue); ok {
		return ev.Get(out)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, out)
}

// Query runs a query and decodes its answer into out.
func (c *Call) Query(name string, out any, args ...any) error {
	v, err := c.env.QueryWorkflow(name, args...)
	if err != nil {
		return fmt.Errorf("%s query: %w", name, err)
	}
	return v.Get(out)
}

// State is the journey's live state as a reader whose clock says at would
// see it (a zero At: the journey's clock).
func (c *Call) State(q workflows.StateQuery) (workflows.State, error) {
	var s workflows.State
	err := c.Query(workflows.QueryState, &s, q)
	return s, err
}

// Timeline is the journey's timeline from its since-th entry on.
func (c *Call) Timeline(since int) (workflows.Timeline, error) {
	var tl workflows.Timeline
	err := c.Query(workflows.QueryTimeline, &tl, workflows.TimelineQuery{Since: since})
	return tl, err
}

// Ending is how a journey's Run ended.
type Ending struct {
	// ByItself: the journey ended on its own before the until day (churned,
	// offboarded); Final is then its result.
	ByItself bool
	Final    workflows.State
	At       time.Time // the environment's clock when it stopped
}

// Run executes the journey until the until day (then cancels it), or until
// it ends by itself, following continue-as-new. An error is a journey that
// failed, or the engine's own trouble.
func (j *Journey) Run(until float64) (Ending, error) {
	tpl := j.Templates
	if tpl == nil {
		var err error
		if tpl, err = activities.LoadTemplates("Lifecycle"); err != nil {
			return Ending{}, err
		}
	}
	mailer := j.Mailer
	if mailer == nil {
		mailer = NewOutbox()
	}
	logger := j.Logger
	if logger == nil {
		logger = log.NewStructuredLogger(slog.New(slog.DiscardHandler))
	}
	if j.Start.IsZero() {
		return Ending{}, errors.New("simulate: the journey has no start time")
	}
	untilD := time.Duration(until * float64(j.day()))
	in := j.In
	runStart := j.Start
	slices.SortStableFunc(j.script, func(a, b *scripted) int { return cmp.Compare(a.at, b.at) })
	for {
		var suite testsuite.WorkflowTestSuite
		suite.SetLogger(logger)
		env := suite.NewTestWorkflowEnvironment()
		env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflows.WorkflowID(j.In.Account.ID), TaskQueue: workflows.TaskQueue})
		env.SetStartTime(runStart)
		env.SetTestTimeout(5 * time.Minute)
		env.RegisterWorkflow(workflows.CustomerLifecycle)
		env.RegisterActivity(&activities.Activities{Mailer: mailer, Templates: tpl, Tasks: j.Tasks, Slack: j.Slack, Webhooks: j.Webhooks})
		j.Runs = append(j.Runs, RunCost{Events: 3, Start: runStart, Activities: map[string]int{}})
		j.countHistory(env)
		elapsed := runStart.Sub(j.Start)
		c := &Call{j: j, env: env}
		var pending []*scripted
		for _, s := range j.script {
			if !s.done {
				pending = append(pending, s)
			}
		}
		// One callback at a time: the environment's callback queue is short.
		var next func(i int)
		next = func(i int) {
			if i == len(pending) {
				return
			}
			s := pending[i]
			env.RegisterDelayedCallback(func() {
				if j.Context != nil && j.Context.Err() != nil {
					env.CancelWorkflow()
					return
				}
				s.done = true
				s.fn(c)
				next(i + 1)
			}, max(0, s.at-env.Now().Sub(j.Start)))
		}
		next(0)
		env.RegisterDelayedCallback(func() {
			if j.Finally != nil {
				j.Finally(c)
			}
			env.CancelWorkflow()
		}, max(0, untilD-elapsed))
		env.ExecuteWorkflow(workflows.CustomerLifecycle, in)
		if j.Context != nil && j.Context.Err() != nil {
			return Ending{At: env.Now()}, j.Context.Err()
		}
		end := env.Now()
		j.Runs[len(j.Runs)-1].End = end
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			in = workflows.JourneyInput{}
			if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &in); err != nil {
				return Ending{}, fmt.Errorf("decoding the continue-as-new input: %w", err)
			}
			runStart = end
			continue
		}
		if err == nil {
			out := Ending{ByItself: true, At: end}
			if err := env.GetWorkflowResult(&out.Final); err != nil {
				return Ending{}, fmt.Errorf("decoding the journey's result: %w", err)
			}
			return out, nil
		}
		if strings.Contains(err.Error(), "canceled") {
			return Ending{At: end}, nil
		}
		return Ending{At: end}, fmt.Errorf("journey failed: %w", err)
	}
}

// countHistory counts the run's activities and, with CountHistory,
// estimates the history length the way the server counts it (activity:
// scheduled, started, completed; local activity: a marker; timer: started,
// fired or canceled; each wake-up a workflow task of three events) and
// hands it to the workflow.
func (j *Journey) countHistory(env *testsuite.TestWorkflowEnvironment) {
	add := func(n int) {
		if !j.CountHistory {
			return
		}
		r := &j.Runs[len(j.Runs)-1]
		r.Events += n
		env.SetCurrentHistoryLength(r.Events)
	}
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		j.Runs[len(j.Runs)-1].Activities[info.ActivityType.Name]++
		add(6)
	})
	env.SetOnLocalActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) {
		j.Runs[len(j.Runs)-1].Activities["local"]++
		add(1)
	})
	env.SetOnTimerScheduledListener(func(string, time.Duration) { add(1) })
	env.SetOnTimerFiredListener(func(string) { add(4) })
	env.SetOnTimerCanceledListener(func(string) { add(1) })
}
