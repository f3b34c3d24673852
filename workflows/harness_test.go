package workflows_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/log"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
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

// harness runs a journey with the simulation engine (internal/simulate):
// the time-skipping test environment, across as many continue-as-new runs
// as it takes, with a script of calls at given journey days. Activities are
// the real ones, writing to a real outbox in a SQLite store.
type harness struct {
	t        *testing.T
	in       workflows.JourneyInput
	start    time.Time
	day      time.Duration
	script   []scripted
	outbox   *activities.Outbox
	store    *store.Store // the outbox's, and the task index
	slack    *activities.Slack
	webhooks activities.Webhooks  // nil: nobody subscribed
	tasks    activities.TaskStore // the task index; the store when nil
	mailer   activities.Mailer    // nil: the outbox
	results  map[string]result
	runs     []simulate.RunCost
	simulate bool // feed an estimated history length to the workflow
	// expectFail keeps a failed journey's error in err instead of failing
	// the test.
	expectFail bool

	final    workflows.State
	timeline workflows.Timeline
	err      error
}

type scripted struct {
	day float64
	fn  func(c *call)
}

type result struct {
	value    any
	rejected error
	err      error
}

// call is what a scripted step can do to the running journey: the
// engine's calls, and the test's shorthands that fail the test.
type call struct {
	*simulate.Call
	h *harness
}

func newHarness(t *testing.T, in workflows.JourneyInput) *harness {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box := activities.NewOutbox(st)
	return &harness{t: t, in: in, start: testStart, day: in.DayLength, outbox: box, store: st, results: map[string]result{}}
}

// at schedules fn at a journey day, counted in wall-clock days from the start.
func (h *harness) at(day float64, fn func(c *call)) {
	h.script = append(h.script, scripted{day: day, fn: fn})
}

// update sends an update; its outcome is kept under label.
func (c *call) update(label, name string, arg any, _ any) {
	h := c.h
	c.Update(name, label, arg, func(v any, rejected, err error) {
		h.results[label] = result{value: v, rejected: rejected, err: err}
	})
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
	tl, err := c.Timeline(0)
	if err != nil {
		c.h.t.Fatal(err)
	}
	return tl
}

func (c *call) state() workflows.State { return c.stateAt(time.Time{}) }

// stateAt reads the state as a reader whose clock says at would.
func (c *call) stateAt(at time.Time) workflows.State {
	s, err := c.State(workflows.StateQuery{At: at})
	if err != nil {
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
	var mailer activities.Mailer = h.outbox
	if h.mailer != nil {
		mailer = h.mailer
	}
	j := &simulate.Journey{
		In: h.in, Start: h.start, Day: h.day, Mailer: mailer, Templates: tpl, CountHistory: h.simulate, Tasks: h.taskStore(), Slack: h.slack, Webhooks: h.webhooks,
		Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	}
	for _, s := range h.script {
		j.At(s.day, func(c *simulate.Call) { s.fn(&call{Call: c, h: h}) })
	}
	j.Finally = func(sc *simulate.Call) {
		c := &call{Call: sc, h: h}
		h.final, h.timeline = c.state(), c.timeline()
	}
	end, err := j.Run(untilDay)
	h.runs = j.Runs
	switch {
	case err != nil:
		h.err = err
		if !h.expectFail {
			h.t.Fatalf("%v", err)
		}
	case end.ByItself:
		h.final = end.Final // the journey ended by itself: its result is the final state
	}
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

func (h *harness) taskStore() activities.TaskStore {
	if h.tasks != nil {
		return h.tasks
	}
	return h.store
}
