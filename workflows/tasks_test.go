package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// taskAbout finds the task of a subject in a state.
func taskAbout(t *testing.T, st workflows.State, subject string) workflows.TaskView {
	t.Helper()
	for _, tk := range st.Tasks {
		if tk.Subject == subject {
			return tk
		}
	}
	t.Fatalf("no task about %s in %+v", subject, st.Tasks)
	return workflows.TaskView{}
}

// keepsEngaging holds the handoff on day 1 and sends a login every few
// days, so that only what a test does makes tasks.
func keepsEngaging(h *harness, until int) {
	h.at(1, func(c *call) {
		c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld, By: "grace"})
	})
	for d := 2; d <= until; d += 5 {
		h.at(float64(d), func(c *call) { c.event(fmt.Sprintf("login-%d", d), "login") })
	}
}

func (h *harness) dayTime(d float64) time.Time {
	return h.start.Add(time.Duration(d * float64(h.day)))
}

func TestLateMilestoneTaskClimbsToTheManagerAndClosesWhenDone(t *testing.T) {
	pb := playbooks.Default()
	kickoff, _ := pb.Milestone("kickoff") // due day 10; ladder: nudge +1, CSM +3, manager +7
	require.Equal(t, 10, kickoff.DueDay)
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var atCSM, atManager, done workflows.State
	var indexed []store.ListedTask
	h.at(13.5, func(c *call) {
		atCSM = c.state()
		var err error
		indexed, err = h.store.Tasks(context.Background(), store.TaskFilter{Owner: "grace@vendor.example"})
		require.NoError(t, err)
	})
	h.at(17.5, func(c *call) { atManager = c.state() })
	h.at(18, func(c *call) {
		c.outcome("done", workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: "kickoff", By: "Grace Hopper"})
	})
	h.at(18.5, func(c *call) { done = c.state() })
	h.run(19)

	handoff := taskAbout(t, atCSM, "handoff")
	assert.Equal(t, workflows.TaskDone, handoff.Status, "the handoff task closed when the call was held")
	assert.Equal(t, "handoff call held", handoff.Note)

	task := taskAbout(t, atCSM, "milestone:kickoff")
	assert.Equal(t, workflows.TaskOpen, task.Status)
	assert.Equal(t, workflows.TaskMilestone, task.Kind)
	assert.Equal(t, "csm", task.Owner)
	assert.Equal(t, "grace@vendor.example", task.OwnerEmail)
	assert.Equal(t, "milestone:kickoff:late-2", task.Step)
	assert.Equal(t, h.dayTime(13), task.OpenedAt)
	assert.Equal(t, h.dayTime(17), task.Due, "due at the ladder's next step, the manager's")
	assert.False(t, task.Overdue)
	assert.Equal(t, 1, atCSM.OpenTasks)

	require.Len(t, indexed, 1, "the store's index has the open task")
	assert.Equal(t, task.ID, indexed[0].ID)
	assert.Equal(t, "acme", indexed[0].CustomerID)
	assert.Equal(t, "Acme Corp", indexed[0].AccountName)
	assert.Equal(t, h.dayTime(17), indexed[0].Due)

	climbed := taskAbout(t, atManager, "milestone:kickoff")
	assert.Equal(t, task.ID, climbed.ID, "the same task, not a new one")
	assert.Equal(t, "manager", climbed.Owner)
	assert.Equal(t, "manager@vendor.example", climbed.OwnerEmail)
	assert.Equal(t, 1, climbed.Climbs)
	assert.Equal(t, "milestone:kickoff:late-3", climbed.Last)

	closed := taskAbout(t, done, "milestone:kickoff")
	assert.Equal(t, workflows.TaskDone, closed.Status)
	assert.Equal(t, "milestone completed", closed.Note)
	assert.Equal(t, "Grace Hopper", closed.ClosedBy)
	assert.Equal(t, 0, done.OpenTasks)
	_, ok := h.entry("task:" + task.ID + ":done")
	assert.True(t, ok, "the timeline says the task closed")

	left, err := h.store.Tasks(context.Background(), store.TaskFilter{})
	require.NoError(t, err)
	assert.Empty(t, left, "a closed task leaves the work lists")
}

func TestSnoozedTaskComesBackAtItsTime(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var id string
	var snoozed, back workflows.State
	h.at(13.5, func(c *call) {
		id = taskAbout(t, c.state(), "milestone:kickoff").ID
		c.update("snooze", workflows.UpdateTask, workflows.TaskAction{
			Task: id, Action: workflows.TaskActionSnooze, Until: h.dayTime(15), Reason: "champion on holiday", By: "Grace Hopper",
		}, nil)
	})
	h.at(14, func(c *call) { snoozed = c.state() })
	h.at(15.5, func(c *call) { back = c.state() })
	h.run(16)
	require.NoError(t, h.results["snooze"].rejected)

	s := taskAbout(t, snoozed, "milestone:kickoff")
	assert.Equal(t, workflows.TaskSnoozed, s.Status)
	assert.Equal(t, h.dayTime(15), s.SnoozedUntil)
	assert.Equal(t, "champion on holiday", s.Note)
	assert.Equal(t, 0, snoozed.OpenTasks, "a snoozed task is not counted open")

	b := taskAbout(t, back, "milestone:kickoff")
	assert.Equal(t, workflows.TaskOpen, b.Status, "back at its time")
	assert.True(t, b.SnoozedUntil.IsZero())
	assert.Equal(t, h.dayTime(17), b.Due, "its due time still the manager's step")
	e, ok := h.entry("task:" + id + ":back:1")
	require.True(t, ok, "the owner is told the task is back")
	assert.Equal(t, workflows.EntryTask, e.Kind)
	assert.Equal(t, h.dayTime(15), e.At)
}

func TestAnEscalationEndsASnooze(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var after workflows.State
	h.at(13.5, func(c *call) {
		id := taskAbout(t, c.state(), "milestone:kickoff").ID
		c.update("snooze", workflows.UpdateTask, workflows.TaskAction{
			Task: id, Action: workflows.TaskActionSnooze, Until: h.dayTime(25), Reason: "waiting on their IT",
		}, nil)
	})
	h.at(17.5, func(c *call) { after = c.state() })
	h.run(18)
	tk := taskAbout(t, after, "milestone:kickoff")
	assert.Equal(t, workflows.TaskOpen, tk.Status, "the manager's step woke it")
	assert.Equal(t, "manager", tk.Owner)
}

func TestTaskWithoutItsOwnLadderClimbsWhenOverdue(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var open, overdue, resumed workflows.State
	h.at(2, func(c *call) {
		c.update("bounce", workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid"}, nil)
	})
	h.at(3, func(c *call) { open = c.state() })
	h.at(4.5, func(c *call) { overdue = c.state() })
	h.at(5, func(c *call) {
		c.update("active", workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailActive, By: "Grace Hopper"}, nil)
	})
	h.at(5.5, func(c *call) { resumed = c.state() })
	h.run(6)

	tk := taskAbout(t, open, "email:champion")
	assert.Equal(t, workflows.TaskEmail, tk.Kind)
	assert.Equal(t, h.dayTime(2+workflows.TaskDueDays), tk.Due, "no escalation of its own: due in TaskDueDays")

	up := taskAbout(t, overdue, "email:champion")
	assert.Equal(t, "manager", up.Owner, "climbed when overdue")
	e, ok := h.entry("task:" + tk.ID + ":overdue")
	require.True(t, ok)
	assert.Equal(t, workflows.EntryEscalation, e.Kind)
	assert.Equal(t, "manager@vendor.example", e.To)
	assert.Equal(t, h.dayTime(4), e.At)

	assert.Equal(t, workflows.TaskDone, taskAbout(t, resumed, "email:champion").Status, "closed when emails resumed")
}

func TestReviewTaskOverdueIsNotEscalated(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	engaged(h, pb)
	var st workflows.State
	h.at(35, func(c *call) { st = c.state() })
	h.run(36)
	tk := taskAbout(t, st, "touchpoint:review-30:csm")
	assert.Equal(t, workflows.TaskReview, tk.Kind)
	assert.Equal(t, "csm", tk.Owner, "nobody is paged for an unprepared review")
	assert.True(t, tk.Overdue, "it shows as overdue")
	assert.Equal(t, 1, st.OverdueTasks)
}

func TestTasksSurviveContinueAsNew(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var before, after workflows.State
	h.at(2, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "high", Summary: "Exports fail every night"}, nil)
	})
	h.at(2.5, func(c *call) { before = c.state() })
	h.at(3, func(c *call) {
		c.outcome("renewed", workflows.Outcome{Kind: workflows.OutcomeRenewed, RenewalDate: testStart.AddDate(2, 0, 0)})
	})
	h.at(3.5, func(c *call) {
		after = c.state()
		c.update("complaint2", workflows.UpdateComplaint, workflows.Complaint{Severity: "low", Summary: "Typo in the export"}, nil)
	})
	h.at(4, func(c *call) {
		c.outcome("resolved", workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c1", Note: "fixed"})
	})
	h.run(4.5)
	require.GreaterOrEqual(t, len(h.runs), 2, "the renewal continued as new")
	require.NoError(t, h.results["resolved"].rejected)

	tk := taskAbout(t, before, "complaint:c1")
	assert.Equal(t, workflows.TaskComplaint, tk.Kind)
	kept := taskAbout(t, after, "complaint:c1")
	assert.Greater(t, after.Runs, before.Runs)
	assert.Equal(t, tk.TaskRun, kept.TaskRun, "the task is carried whole")

	assert.Equal(t, workflows.TaskDone, taskAbout(t, h.final, "complaint:c1").Status, "closed in the new run")
	second := taskAbout(t, h.final, "complaint:c2")
	assert.NotEqual(t, tk.ID, second.ID, "ids are never reused across runs")

	rows, err := h.store.Tasks(context.Background(), store.TaskFilter{})
	require.NoError(t, err)
	require.Len(t, rows, 1, "the new run keeps the index current")
	assert.Equal(t, second.ID, rows[0].ID)
}

func TestTaskActionsAreValidated(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var id string
	h.at(13.5, func(c *call) {
		id = taskAbout(t, c.state(), "milestone:kickoff").ID
		now := h.dayTime(13.5)
		bad := map[string]workflows.TaskAction{
			"unknown":       {Task: "t99", Action: workflows.TaskActionDone},
			"not an id":     {Task: "kickoff", Action: workflows.TaskActionDone},
			"no action":     {Task: id, Action: "close"},
			"no reason":     {Task: id, Action: workflows.TaskActionSnooze, Until: now.Add(time.Hour)},
			"past":          {Task: id, Action: workflows.TaskActionSnooze, Until: now.Add(-time.Minute), Reason: "r"},
			"too far":       {Task: id, Action: workflows.TaskActionSnooze, Until: now.Add(workflows.MaxSnooze + time.Hour), Reason: "r"},
			"long reason":   {Task: id, Action: workflows.TaskActionDone, Reason: strings.Repeat("x", workflows.MaxTextLen+1)},
			"until on done": {Task: id, Action: workflows.TaskActionDone, Until: now.Add(time.Hour)},
		}
		for label, a := range bad {
			c.update(label, workflows.UpdateTask, a, nil)
		}
		c.update("at limit", workflows.UpdateTask, workflows.TaskAction{
			Task: id, Action: workflows.TaskActionSnooze, Until: now.Add(workflows.MaxSnooze), Reason: strings.Repeat("x", workflows.MaxTextLen),
		}, nil)
	})
	h.at(14, func(c *call) {
		c.update("done", workflows.UpdateTask, workflows.TaskAction{Task: id, Action: workflows.TaskActionDone, Reason: "called them", By: "Grace Hopper"}, nil)
	})
	h.at(14.5, func(c *call) {
		c.update("done again", workflows.UpdateTask, workflows.TaskAction{Task: id, Action: workflows.TaskActionDone}, nil)
	})
	h.run(15)
	for _, label := range []string{"unknown", "not an id", "no action", "no reason", "past", "too far", "long reason", "until on done", "done again"} {
		assert.Error(t, h.results[label].rejected, label)
	}
	assert.ErrorContains(t, h.results["unknown"].rejected, "t99 is not a task of this journey")
	assert.ErrorContains(t, h.results["done again"].rejected, "is done already")
	assert.NoError(t, h.results["at limit"].rejected, "a snooze at the limits is taken")
	assert.NoError(t, h.results["done"].rejected, "a snoozed task can be marked done")
	tk := taskAbout(t, h.final, "milestone:kickoff")
	assert.Equal(t, workflows.TaskDone, tk.Status)
	assert.Equal(t, "marked done: called them", tk.Note)
	assert.Equal(t, "Grace Hopper", tk.ClosedBy)
}

func TestChurnExpiresTasksAndReassignmentMovesThem(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 30)
	var moved workflows.State
	h.at(2, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "high", Summary: "Exports fail"}, nil)
	})
	h.at(3, func(c *call) {
		c.update("reassign", workflows.UpdateReassign, workflows.Reassignment{
			CSM: workflows.Person{Name: "Katherine Johnson", Email: "katherine@vendor.example"}, Reason: "territory change",
		}, nil)
	})
	h.at(3.5, func(c *call) { moved = c.state() })
	h.at(4, func(c *call) {
		c.outcome("churn", workflows.Outcome{Kind: workflows.OutcomeChurned, Note: "budget cut"})
	})
	h.run(5)

	assert.Equal(t, "katherine@vendor.example", taskAbout(t, moved, "complaint:c1").OwnerEmail, "the new CSM has the open task")
	assert.Equal(t, "katherine@vendor.example", taskAbout(t, moved, "reassign:1").OwnerEmail, "and the handover brief")
	for _, tk := range h.final.Tasks {
		assert.False(t, tk.Active(), "%s is %s after churn", tk.ID, tk.Status)
	}
	assert.Equal(t, workflows.TaskExpired, taskAbout(t, h.final, "complaint:c1").Status)
	rows, err := h.store.Tasks(context.Background(), store.TaskFilter{})
	require.NoError(t, err)
	assert.Empty(t, rows, "the index learns before the journey ends")
}

// A renewal task is due at the renewal date; not recorded by then, the
// manager is told, and the new term expires it.
func TestRenewalTaskIsDueAtTheRenewalDate(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.Account.RenewalDate = testStart.AddDate(0, 0, 200) // calendar day 200 of the journey
	h := newHarness(t, in)
	h.at(1, func(c *call) {
		c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld, By: "grace"})
	})
	var before workflows.State
	h.at(199, func(c *call) { before = c.state() })
	h.run(201)
	var renewal workflows.TaskView
	for _, tk := range before.Tasks {
		if tk.Kind == workflows.TaskRenewal && tk.Active() {
			renewal = tk
		}
	}
	require.NotEmpty(t, renewal.ID, "a renewal task before the date: %+v", before.Tasks)
	assert.Equal(t, h.dayTime(200), renewal.Due, "at the term boundary")
	assert.Equal(t, "csm", renewal.Owner)
	e, ok := h.entry("task:" + renewal.ID + ":overdue")
	require.True(t, ok, "the manager is told the renewal was not recorded")
	assert.Equal(t, h.dayTime(200), e.At)
	assert.Equal(t, workflows.TaskExpired, taskAbout(t, h.final, renewal.Subject).Status, "the new term expired it")
}

// An unprepared review's task gives way to the next review's.
func TestAReviewTaskExpiresAtTheNextReview(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	keepsEngaging(h, 95)
	h.run(95)
	active := 0
	for _, tk := range h.final.Tasks {
		if tk.Kind == workflows.TaskReview && tk.Active() {
			active++
			assert.Equal(t, "touchpoint:review-90:csm", tk.Subject, "only the latest review waits")
		}
	}
	assert.Equal(t, 1, active)
	r30 := taskAbout(t, h.final, "touchpoint:review-30:csm")
	assert.Equal(t, workflows.TaskExpired, r30.Status)
	assert.Equal(t, "a later review is due", r30.Note)
}

// flakyTasks is the store's task index failing its first writes, as a
// store that is down for a while.
type flakyTasks struct {
	*store.Store
	mu    sync.Mutex
	fails int
}

func (f *flakyTasks) SyncTasks(ctx context.Context, s store.TaskSync) (bool, error) {
	f.mu.Lock()
	if f.fails > 0 {
		f.fails--
		f.mu.Unlock()
		return false, errors.New("database is locked")
	}
	f.mu.Unlock()
	return f.Store.SyncTasks(ctx, s)
}

// The store failing delays nothing: the same messages at the same times as
// with a store that works, and the index catches up once it answers.
func TestTaskIndexFailingDelaysNothing(t *testing.T) {
	pb := playbooks.Default()
	ok := newHarness(t, testInput(pb))
	keepsEngaging(ok, 20)
	ok.run(20)

	h := newHarness(t, testInput(pb))
	h.tasks = &flakyTasks{Store: h.store, fails: 5}
	keepsEngaging(h, 20)
	h.run(20)
	kinds := []string{workflows.EntryTouchpoint, workflows.EntryTask, workflows.EntryEscalation}
	assert.Equal(t, ok.sent(kinds...), h.sent(kinds...))
	rows, err := h.store.Tasks(context.Background(), store.TaskFilter{})
	require.NoError(t, err)
	var active []string
	for _, tk := range h.final.Tasks {
		if tk.Active() {
			active = append(active, tk.ID)
		}
	}
	require.NotEmpty(t, active)
	assert.Len(t, rows, len(active), "the index caught up with the journey")
}
