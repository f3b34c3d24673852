package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/histories"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// corpusDir holds the replay corpus: histories recorded here, replayed by
// workflows.TestReplaySavedHistories and TestReorderedStepsFailReplay.
var corpusDir = filepath.Join("..", "workflows", "testdata", "corpus")

// TestRecordCorpus runs journeys that between them take every kind of step
// on the embedded server, with short days, several at once, and checks that
// each run's history holds what it was run for. With -update it writes each
// run's history to workflows/testdata/corpus/<scenario>.run<N>.json. A file
// already there is only replaced by one of the same revision, and only while
// it still replays: a history is never deleted, since journeys recorded by
// earlier releases may still be running.
func TestRecordCorpus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts, c := embedded(t, client.Options{})
	st, err := store.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	box := activities.NewOutbox(st)
	tpl, err := activities.LoadTemplates("Lifecycle")
	require.NoError(t, err)
	// A subscriber of some event types: since revision 8 the journeys ask
	// who subscribed and issue only those (the others are left out).
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(rcv.Close)
	_, err = st.CreateSubscription(ctx, store.Subscription{URL: rcv.URL, Events: []string{
		activities.EventComplaintOpened, activities.EventTaskOpened, activities.EventComplaintResolved, activities.EventChurned,
	}})
	require.NoError(t, err)
	ts.NewWorker(workflows.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflow(workflows.CustomerLifecycle)
		r.RegisterActivity(&activities.Activities{Mailer: failingMailer{box}, Templates: tpl, Tasks: st, Webhooks: st})
	})

	began := time.Now()
	recs := make([]*recording, len(corpusScenarios))
	var wg sync.WaitGroup
	for i, sc := range corpusScenarios {
		recs[i] = &recording{ctx: ctx, c: c}
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					recs[i].failf("panic: %v", p)
				}
			}()
			sc.play(recs[i])
			recs[i].collect()
		})
	}
	wg.Wait()
	t.Logf("recorded %d scenarios in %s", len(corpusScenarios), time.Since(began).Round(100*time.Millisecond))

	for i, sc := range corpusScenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := recs[i]
			require.NoError(t, r.err, "scenario %s (workflow %s)", sc.name, r.id)
			require.Len(t, r.runs, len(sc.runs), "runs of %s", r.id)
			for n, want := range sc.runs {
				h := r.runs[n]
				name := fmt.Sprintf("%s.run%d.json", sc.name, n+1)
				assertRevisionMarker(t, h, name)
				for _, w := range want {
					assert.True(t, w.ok(h), "%s: %s", name, w.what)
				}
				t.Logf("%s: %d events, %d messages, %d updates, %d signals",
					name, len(h.Raw.GetEvents()), len(h.Sends), len(h.Updates), len(h.Signals))
				if *update {
					writeCorpusFile(t, name, r.json[n])
				}
			}
		})
	}
}

// assertRevisionMarker: a run on revision 2 or later records its revision
// once, with GetVersion; the only other markers are the local activities
// that ask who subscribed to the journey's events (since revision 8).
func assertRevisionMarker(t *testing.T, h *histories.History, name string) {
	t.Helper()
	if assert.NotEmpty(t, h.Markers, "%s: markers", name) {
		m := h.Markers[0]
		assert.Equal(t, "Version", m.Name, name)
		assert.Equal(t, "journey-revision", m.ChangeID, name)
		assert.Equal(t, workflows.Revision, m.Version, name)
	}
	for _, m := range h.Markers[1:] {
		assert.Equal(t, "LocalActivity", m.Name, "%s: marker at event %d", name, m.EventID)
	}
}

// writeCorpusFile writes a recorded history, refusing to replace one that
// was recorded on another revision or that no longer replays.
func writeCorpusFile(t *testing.T, name string, data []byte) {
	t.Helper()
	require.NoError(t, os.MkdirAll(corpusDir, 0o755))
	path := filepath.Join(corpusDir, name)
	if old, err := histories.Load(path); err == nil {
		rev := 0
		for _, m := range old.Markers {
			if m.ChangeID == "journey-revision" {
				rev = m.Version
			}
		}
		require.Equal(t, workflows.Revision, rev,
			"%s was recorded on revision %d: move it to corpus/rev%d/ before re-recording (never delete a history)", path, rev, rev)
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflow(workflows.CustomerLifecycle)
		require.NoError(t, r.ReplayWorkflowHistory(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), old.Raw),
			"%s no longer replays: the change would break journeys like it; keep the file and version the change", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		require.NoError(t, err)
	}
	require.NoError(t, os.WriteFile(path, data, 0o644))
	t.Logf("wrote %s", path)
}

// unreachable is an address the recorder's mailer can never deliver to (a
// mailbox that keeps answering "try later"): messages to it are given up at
// their delivery deadline.
const unreachable = "ada@unreachable.example"

type failingMailer struct{ activities.Mailer }

func (m failingMailer) Send(ctx context.Context, msg activities.Message) (activities.Sent, error) {
	if strings.EqualFold(msg.To.Email, unreachable) {
		return activities.Sent{}, errors.New("451 4.2.1 mailbox temporarily unavailable")
	}
	return m.Mailer.Send(ctx, msg)
}

// recording drives one journey. Its methods do nothing after the first
// error, which the test reports, so a scenario reads as a script.
type recording struct {
	ctx   context.Context
	c     client.Client
	in    workflows.JourneyInput
	id    string
	start time.Time
	first client.WorkflowRun
	runID string // the first run's: first follows the journey's runs
	err   error
	runs  []*histories.History
	json  [][]byte
}

func (r *recording) failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *recording) begin(in workflows.JourneyInput) {
	r.in, r.id = in, workflows.WorkflowID(in.Account.ID)
	r.start = time.Now()
	run, err := r.c.ExecuteWorkflow(r.ctx, client.StartWorkflowOptions{
		ID: r.id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, workflows.CustomerLifecycle, in)
	if err != nil {
		r.failf("start: %v", err)
		return
	}
	r.first, r.runID = run, run.GetRunID()
}

// day waits until the journey's wall-clock day d (pauses included).
func (r *recording) day(d float64) {
	if r.err != nil {
		return
	}
	at := r.start.Add(time.Duration(d * float64(r.in.DayLength)))
	select {
	case <-time.After(time.Until(at)):
	case <-r.ctx.Done():
		r.failf("day %g: %v", d, r.ctx.Err())
	}
}

func (r *recording) update(name string, arg any) {
	if r.err != nil {
		return
	}
	h, err := r.c.UpdateWorkflow(r.ctx, client.UpdateWorkflowOptions{
		WorkflowID: r.id, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(r.ctx, nil)
	}
	if err != nil {
		r.failf("update %s: %v", name, err)
	}
}

func (r *recording) signal(ev workflows.EngagementEvent) {
	if r.err != nil {
		return
	}
	if err := r.c.SignalWorkflow(r.ctx, r.id, "", workflows.SignalEvent, ev); err != nil {
		r.failf("signal %s: %v", ev.ID, err)
	}
}

func (r *recording) outcome(o workflows.Outcome) { r.update(workflows.UpdateOutcome, o) }

// settle records the handoff call and the one milestone of a lean
// playbook, so that only the scenario's own steps follow.
func (r *recording) settle() {
	r.outcome(workflows.Outcome{Kind: workflows.OutcomeHandoffHeld})
	r.outcome(workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: "kickoff"})
}

func (r *recording) timeline() (workflows.Timeline, error) {
	var tl workflows.Timeline
	v, err := r.c.QueryWorkflow(r.ctx, r.id, "", workflows.QueryTimeline)
	if err == nil {
		err = v.Get(&tl)
	}
	return tl, err
}

func (r *recording) state() (workflows.State, error) {
	var s workflows.State
	v, err := r.c.QueryWorkflow(r.ctx, r.id, "", workflows.QueryState, workflows.StateQuery{})
	if err == nil {
		err = v.Get(&s)
	}
	return s, err
}

// waitFor polls the timeline until cond holds.
func (r *recording) waitFor(what string, within time.Duration, cond func(tl workflows.Timeline) bool) {
	if r.err != nil {
		return
	}
	deadline := time.Now().Add(within)
	for {
		tl, err := r.timeline()
		if err == nil && cond(tl) {
			return
		}
		if time.Now().After(deadline) || r.ctx.Err() != nil {
			var steps []string
			for _, e := range tl.Entries {
				steps = append(steps, fmt.Sprintf("%s@%g", e.Step, e.Day))
			}
			r.failf("timed out after %s waiting for %s (last query error: %v); timeline: %s", within, what, err, strings.Join(steps, " "))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitStep waits for a timeline entry of the step.
func (r *recording) waitStep(step string, within time.Duration) {
	r.waitFor(step, within, func(tl workflows.Timeline) bool { return count(tl, exactly(step)) > 0 })
}

// waitIdle waits until no message is in flight.
func (r *recording) waitIdle(within time.Duration) {
	if r.err != nil {
		return
	}
	deadline := time.Now().Add(within)
	for {
		s, err := r.state()
		if err == nil && s.Sending == 0 {
			return
		}
		if time.Now().After(deadline) {
			r.failf("messages still in flight after %s (%v)", within, err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func exactly(step string) func(workflows.Entry) bool {
	return func(e workflows.Entry) bool { return e.Step == step }
}

func like(prefix, suffix string) func(workflows.Entry) bool {
	return func(e workflows.Entry) bool {
		return strings.HasPrefix(e.Step, prefix) && strings.HasSuffix(e.Step, suffix)
	}
}

func count(tl workflows.Timeline, match func(workflows.Entry) bool) int {
	n := 0
	for _, e := range tl.Entries {
		if match(e) {
			n++
		}
	}
	return n
}

// end churns the customer and waits for the journey to complete.
func (r *recording) end() {
	r.outcome(workflows.Outcome{Kind: workflows.OutcomeChurned, Note: "corpus recorded"})
	if r.err != nil {
		return
	}
	var final workflows.State
	if err := r.first.Get(r.ctx, &final); err != nil {
		r.failf("journey result: %v", err)
	} else if final.Phase != workflows.PhaseEnded {
		r.failf("journey ended in phase %s", final.Phase)
	}
}

// snapshot fetches every run's history, first to last: a run that
// continued as new names the next.
func (r *recording) snapshot() {
	if r.err != nil {
		return
	}
	r.runs, r.json = nil, nil
	runID := r.runID
	for runID != "" {
		hist := &historypb.History{}
		it := r.c.GetWorkflowHistory(r.ctx, r.id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				r.failf("history of run %s: %v", runID, err)
				return
			}
			hist.Events = append(hist.Events, ev)
		}
		data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			r.failf("history of run %s: %v", runID, err)
			return
		}
		h, err := histories.Of(hist)
		if err != nil {
			r.failf("history of run %s: %v", runID, err)
			return
		}
		r.runs, r.json = append(r.runs, h), append(r.json, data)
		runID = ""
		if last := hist.Events[len(hist.Events)-1]; last.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
			runID = last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
		}
	}
}

// collect takes the histories of a journey that has ended, unless the
// scenario took them itself.
func (r *recording) collect() {
	if r.runs == nil {
		r.snapshot()
	}
}

// check is something a run's history must show.
type check struct {
	what string
	ok   func(h *histories.History) bool
}

func sent(step string) check {
	return check{"a message of step " + step, func(h *histories.History) bool { return len(h.SendsOf(step)) > 0 }}
}

func sentTo(step, to string) check {
	return check{"a message of step " + step + " to " + to, func(h *histories.History) bool {
		return slices.ContainsFunc(h.SendsOf(step), func(s histories.Send) bool { return s.To == to })
	}}
}

// sentAbout: a message of the step whose subject says what.
func sentAbout(step, what string) check {
	return check{"a message of step " + step + " about " + what, func(h *histories.History) bool {
		return slices.ContainsFunc(h.SendsOf(step), func(s histories.Send) bool { return strings.Contains(s.Subject, what) })
	}}
}

func sentLike(prefix, suffix string, atLeast int) check {
	return check{fmt.Sprintf("%d messages of steps %s*%s", atLeast, prefix, suffix), func(h *histories.History) bool {
		n := 0
		for _, s := range h.Sends {
			if strings.HasPrefix(s.Step, prefix) && strings.HasSuffix(s.Step, suffix) {
				n++
			}
		}
		return n >= atLeast
	}}
}

// notSent: no message of the step in the run.
func notSent(step string) check {
	return check{"nothing for " + step, func(h *histories.History) bool {
		return !slices.ContainsFunc(h.Sends, func(s histories.Send) bool { return s.Step == step })
	}}
}

// webhook: a journey event of the type went out as a webhook message.
func webhook(typ string) check {
	return check{"a webhook event " + typ, func(h *histories.History) bool {
		return slices.ContainsFunc(h.Sends, func(s histories.Send) bool { return s.Activity == "DeliverWebhook" && s.Subject == typ })
	}}
}

func noCustomerEmail() check {
	return check{"no customer email", func(h *histories.History) bool {
		return !slices.ContainsFunc(h.Sends, func(s histories.Send) bool { return s.Role == "customer" })
	}}
}

func updated(name string) check {
	return check{"an accepted update " + name, func(h *histories.History) bool { return h.Updated(name) }}
}

func signaled(name string) check {
	return check{"a signal " + name, func(h *histories.History) bool { return h.Signaled(name) }}
}

// memoUpserted: the run wrote its facts memo at least n times (once at
// the start, then as facts changed).
func memoUpserted(n int) check {
	return check{fmt.Sprintf("at least %d facts memo upserts", n), func(h *histories.History) bool {
		count := 0
		for _, ev := range h.Raw.GetEvents() {
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED {
				count++
			}
		}
		return count >= n
	}}
}

func ended(how enumspb.EventType) check {
	return check{"the run ends with " + how.String(), func(h *histories.History) bool { return h.End == how }}
}

// timerBetween: a timer started for at least lo and at most hi.
func timerBetween(lo, hi time.Duration) check {
	return check{fmt.Sprintf("a timer of %s to %s", lo, hi), func(h *histories.History) bool {
		return slices.ContainsFunc(h.Timers, func(tm histories.Timer) bool { return tm.After >= lo && tm.After <= hi })
	}}
}

// sentLikeAfterSignal: a message of a step prefix*suffix after the first
// signal (an event that started the silence clock again, say).
func sentLikeAfterSignal(prefix, suffix string) check {
	return check{"a message of a step " + prefix + "*" + suffix + " after a signal", func(h *histories.History) bool {
		return len(h.Signals) > 0 && slices.ContainsFunc(h.Sends, func(s histories.Send) bool {
			return s.EventID > h.Signals[0].EventID && strings.HasPrefix(s.Step, prefix) && strings.HasSuffix(s.Step, suffix)
		})
	}}
}
