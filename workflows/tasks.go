package workflows

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
)

// Since revision 5, every notice that asks someone on our side to act is a
// task: it has an owner, a due time and a status, it closes when its outcome
// is recorded (the handoff held, the milestone completed, the complaint
// resolved) or when its owner says so, and an open task past its due time
// climbs to the manager. Tasks live in the journey's state like everything
// else, so they survive continue-as-new; the store keeps an index of them
// for the work lists (SaveTasks).

// Task statuses.
const (
	TaskOpen    = "open"
	TaskSnoozed = "snoozed"
	TaskDone    = "done"
	TaskExpired = "expired"
)

// TaskStatuses are the statuses a task can have.
var TaskStatuses = []string{TaskOpen, TaskSnoozed, TaskDone, TaskExpired}

// Task kinds: what the task is about.
const (
	TaskHandoff   = "handoff"   // hold the handoff call
	TaskMilestone = "milestone" // a late milestone
	TaskComplaint = "complaint" // answer a complaint before its SLA
	TaskSilence   = "silence"   // the customer went quiet
	TaskRenewal   = "renewal"   // prepare the renewal
	TaskReview    = "review"    // prepare a review or a QBR
	TaskEmail     = "email"     // an address cannot be emailed
	TaskDelivery  = "delivery"  // a message could not be delivered
	TaskHandover  = "handover"  // a new CSM takes the account over
)

// Limits on tasks.
const (
	// MaxOpenTasks bounds the open and snoozed tasks of a journey; past it a
	// notice still goes out, without a task of its own.
	MaxOpenTasks = 100
	// MaxClosedTasks is how many closed tasks are kept for the record.
	MaxClosedTasks = 50
	// MaxSnooze is the longest a task may be snoozed for.
	MaxSnooze = 90 * 24 * time.Hour
	// TaskDueDays is how long a task without an escalation of its own has
	// before it is due (and, for the kinds that climb by themselves, before
	// it climbs to the manager), in journey days.
	TaskDueDays = 2
)

// TaskRun is one task of this journey.
type TaskRun struct {
	ID      string `json:"id"` // t1, t2, ...: stable for the journey's life
	Kind    string `json:"kind"`
	Subject string `json:"subject"` // what closes it: "handoff", "milestone:kickoff", ...
	Title   string `json:"title"`
	Cause   string `json:"cause"`
	// Step is the step that opened the task; Last the latest one about it.
	Step       string    `json:"step"`
	Last       string    `json:"last,omitempty"`
	Owner      string    `json:"owner"` // csm, manager or sponsor
	OwnerEmail string    `json:"owner_email"`
	Status     string    `json:"status"`
	OpenedAt   time.Time `json:"opened_at"`
	Due        time.Time `json:"due"`
	// Climbs counts the ladder steps the task went up.
	Climbs       int       `json:"climbs,omitempty"`
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	Snoozes      int       `json:"snoozes,omitempty"`
	ClosedAt     time.Time `json:"closed_at,omitzero"`
	ClosedBy     string    `json:"closed_by,omitempty"`
	Note         string    `json:"note,omitempty"` // why it closed, or was snoozed
}

// Active reports whether the task still waits for someone.
func (t TaskRun) Active() bool { return t.Status == TaskOpen || t.Status == TaskSnoozed }

// TaskView is a task as the state shows it; Label is the words for the
// step that opened it ("Complaint c1: CSM task").
type TaskView struct {
	TaskRun
	Label   string `json:"label"`
	Overdue bool   `json:"overdue"`
}

// TaskAction is a person acting on a task: done, or snoozed until a time.
type TaskAction struct {
	Task   string    `json:"task"`
	Action string    `json:"action"` // done or snooze
	Until  time.Time `json:"until,omitzero"`
	Reason string    `json:"reason,omitempty"` // why it is snoozed (required), or a note on done
	By     string    `json:"by,omitempty"`
}

// Task actions.
const (
	TaskActionDone   = "done"
	TaskActionSnooze = "snooze"
)

var taskIDPattern = regexp.MustCompile(`^t[1-9][0-9]{0,8}$`)

// ValidTaskID reports whether id can name a task.
func ValidTaskID(id string) bool { return taskIDPattern.MatchString(id) }

// ValidateTaskAction checks a task action's fields as of now; the journey
// checks the task itself.
func ValidateTaskAction(a TaskAction, now time.Time) error {
	var c checker
	if !ValidTaskID(a.Task) {
		c.fail("task", "must be a task id such as t1")
	}
	switch a.Action {
	case TaskActionDone:
		c.text("reason", a.Reason, MaxTextLen, false)
		if !a.Until.IsZero() {
			c.fail("until", "only a snooze has an until")
		}
	case TaskActionSnooze:
		c.text("reason", a.Reason, MaxTextLen, true)
		switch {
		case a.Until.IsZero():
			c.fail("until", "is required: when the task should come back")
		case !a.Until.After(now):
			c.fail("until", "must be in the future (after %s)", now.UTC().Format(time.RFC3339))
		case a.Until.Sub(now) > MaxSnooze:
			c.fail("until", "at most %d days ahead", int(MaxSnooze/(24*time.Hour)))
		}
	default:
		c.fail("action", "must be %s or %s", TaskActionDone, TaskActionSnooze)
	}
	c.text("by", a.By, MaxShortLen, false)
	return c.err()
}

// taskOf says which task a notice's step belongs to: its kind and the
// subject whose outcome closes it. ok is false for a notice that asks
// nothing (a term began). A step of a task itself ("task:t3:overdue")
// names the task by id.
func taskOf(step string) (kind, subject string, ok bool) {
	parts := strings.Split(step, ":")
	switch {
	case strings.HasSuffix(step, ":failed"):
		return TaskDelivery, step, true
	case parts[0] == "task" && len(parts) >= 2:
		return "", "task:" + parts[1], true
	case parts[0] == "handoff":
		return TaskHandoff, "handoff", true
	case parts[0] == "milestone" && len(parts) >= 2:
		return TaskMilestone, "milestone:" + parts[1], true
	case parts[0] == "complaint" && len(parts) >= 2:
		return TaskComplaint, "complaint:" + parts[1], true
	case parts[0] == "silence":
		return TaskSilence, "silence", true
	case parts[0] == "renewal" && len(parts) >= 2:
		return TaskRenewal, "renewal:" + parts[1], true
	case parts[0] == "touchpoint" || parts[0] == "qbr":
		return TaskReview, step, true
	case parts[0] == "email" && len(parts) >= 2 && parts[1] == "stopped":
		return TaskEmail, "email:champion", true
	case parts[0] == "email":
		return TaskEmail, step, true
	case parts[0] == "reassign":
		return TaskHandover, step, true
	case parts[0] == "contacts":
		return TaskEmail, "contacts", true
	}
	return "", "", false
}

// climbs reports whether a task of kind climbs to the manager by itself
// when it is overdue. The handoff, a milestone, a complaint and a silence
// climb by their own ladders (a booked handoff call is expected at its
// time, not paged at day 5); preparing a review and reading a handover
// brief are the CSM's own: past due they show as overdue, nobody is paged.
// What is left has no ladder of its own: an address that cannot be emailed,
// a message not delivered, a renewal not recorded by its date.
func climbs(kind string) bool {
	return kind == TaskEmail || kind == TaskDelivery || kind == TaskRenewal
}

// roleRank orders our side's roles up the ladder.
func roleRank(role string) int {
	switch role {
	case roleManager:
		return 1
	case roleSponsor:
		return 2
	}
	return 0
}

// activeTask is the open or snoozed task about subject, or nil.
func (j *journey) activeTask(subject string) *TaskRun {
	for i := range j.c.Tasks {
		t := &j.c.Tasks[i]
		if t.Active() && (t.Subject == subject || "task:"+t.ID == subject) {
			return t
		}
	}
	return nil
}

func (j *journey) taskByID(id string) *TaskRun {
	for i := range j.c.Tasks {
		if j.c.Tasks[i].ID == id {
			return &j.c.Tasks[i]
		}
	}
	return nil
}

// taskNotice opens or moves the task a notice to our side is about (since
// revision 5): a first notice opens it; a later one to a higher role makes
// it climb. Its due time is the subject's next escalation when one is
// scheduled, else TaskDueDays from now.
func (j *journey) taskNotice(ctx workflow.Context, now time.Time, role, step, subject, cause string) {
	if j.rev < 5 {
		return
	}
	kind, about, ok := taskOf(step)
	if !ok {
		return
	}
	to := j.recipient(role)
	t := j.activeTask(about)
	if t == nil {
		if kind == "" {
			return // a task's own notice whose task has closed meanwhile
		}
		if j.activeTasks() >= MaxOpenTasks {
			j.entry(now, EntrySystem, step+":no-task", "Task not opened: too many open",
				fmt.Sprintf("%d tasks are open already", MaxOpenTasks), "")
			return
		}
		if kind == TaskReview {
			// A review still unprepared when the next is due is moot.
			for i := range j.c.Tasks {
				if o := &j.c.Tasks[i]; o.Active() && o.Kind == TaskReview {
					j.closeTask(now, EntrySystem, o, TaskExpired, "a later review is due", "")
				}
			}
		}
		j.c.NextTask++
		j.c.Tasks = append(j.c.Tasks, TaskRun{
			ID: fmt.Sprintf("t%d", j.c.NextTask), Kind: kind, Subject: about, Title: clip(subject, maxEntryText),
			Cause: clip(cause, maxEntryText), Step: step, Owner: role, OwnerEmail: to.Email,
			Status: TaskOpen, OpenedAt: now.UTC(),
		})
		t = &j.c.Tasks[len(j.c.Tasks)-1]
		t.Due = j.taskDue(now, t)
		j.entry(now, EntrySystem, "task:"+t.ID+":opened", fmt.Sprintf("Task %s opened for the %s: %s", t.ID, role, t.Title),
			fmt.Sprintf("%s; due %s", t.Cause, t.Due.Format("2006-01-02 15:04 MST")), to.Email)
		j.tasksChanged()
		event := activities.SlackTaskCreated
		if kind == TaskComplaint {
			event = activities.SlackComplaint
		}
		j.slack(ctx, now, step, event, t)
		return
	}
	t.Last = step
	if roleRank(role) > roleRank(t.Owner) {
		from := t.Owner
		t.Owner, t.OwnerEmail, t.Climbs = role, to.Email, t.Climbs+1
		if t.Status == TaskSnoozed {
			t.Status, t.SnoozedUntil = TaskOpen, time.Time{} // an escalation ends a snooze
		}
		t.Due = j.taskDue(now, t)
		j.entry(now, EntrySystem, fmt.Sprintf("task:%s:climbed:%d", t.ID, t.Climbs),
			fmt.Sprintf("Task %s climbed from the %s to the %s", t.ID, from, role), clip(cause, maxEntryText), to.Email)
		j.tasksChanged()
		event := activities.SlackEscalation
		if strings.HasSuffix(step, ":overdue") {
			event = activities.SlackTaskOverdue
		}
		j.slack(ctx, now, step, event, t)
		return
	}
	if due := j.taskDue(now, t); !due.Equal(t.Due) && t.Status == TaskOpen {
		t.Due = due
		j.tasksChanged()
	}
}

// taskDue is when a task is due: the next escalation of its subject, the
// renewal date for a renewal, or TaskDueDays from now when none is
// scheduled.
func (j *journey) taskDue(now time.Time, t *TaskRun) time.Time {
	if t.Kind == TaskRenewal {
		if at := j.calendarAt(j.renewalDay()); at.After(now) {
			return at
		}
	}
	for _, s := range j.steps(now) {
		if s.kind != EntryEscalation || !s.due.After(now) {
			continue
		}
		if _, about, ok := taskOf(s.key); ok && about == t.Subject {
			return s.due
		}
	}
	return now.Add(j.days(TaskDueDays)).UTC()
}

func (j *journey) activeTasks() int {
	n := 0
	for _, t := range j.c.Tasks {
		if t.Active() {
			n++
		}
	}
	return n
}

// closeTasks closes the active tasks whose subject matches (a prefix when
// it ends with ":"), because their outcome happened.
func (j *journey) closeTasks(now time.Time, subject, status, why, by string) {
	if j.rev < 5 {
		return
	}
	for i := range j.c.Tasks {
		t := &j.c.Tasks[i]
		match := t.Subject == subject || (strings.HasSuffix(subject, ":") && strings.HasPrefix(t.Subject, subject))
		if !t.Active() || !match {
			continue
		}
		j.closeTask(now, EntrySystem, t, status, why, by)
	}
}

// closeTask closes a task; kind is the timeline entry's (an outcome when a
// person closed it).
func (j *journey) closeTask(now time.Time, kind string, t *TaskRun, status, why, by string) {
	t.Status, t.ClosedAt, t.ClosedBy, t.Note, t.SnoozedUntil = status, now.UTC(), clip(by, MaxShortLen), clip(why, maxEntryText), time.Time{}
	verb := "done"
	if status == TaskExpired {
		verb = "expired"
	}
	j.entry(now, kind, "task:"+t.ID+":"+status, fmt.Sprintf("Task %s %s: %s", t.ID, verb, t.Title),
		strings.TrimSpace(why+by2(by)), "")
	j.tasksChanged()
}

func by2(who string) string {
	if who == "" {
		return ""
	}
	return " (by " + who + ")"
}

// expireTasks closes every active task: the journey ended.
func (j *journey) expireTasks(now time.Time, why string) {
	for i := range j.c.Tasks {
		if t := &j.c.Tasks[i]; t.Active() {
			j.closeTask(now, EntrySystem, t, TaskExpired, why, "")
		}
	}
}

// retargetTasks gives the new CSM the CSM's open tasks.
func (j *journey) retargetTasks() {
	for i := range j.c.Tasks {
		if t := &j.c.Tasks[i]; t.Active() && t.Owner == roleCSM && t.OwnerEmail != j.c.CSM.Email {
			t.OwnerEmail = j.c.CSM.Email
			j.tasksChanged()
		}
	}
}

// tasksChanged marks the store's index out of date and keeps the list
// bounded: active tasks and the latest closed ones.
func (j *journey) tasksChanged() {
	j.c.TasksVersion++
	closed := 0
	for _, t := range j.c.Tasks {
		if !t.Active() {
			closed++
		}
	}
	if closed <= MaxClosedTasks {
		return
	}
	drop := closed - MaxClosedTasks
	j.c.Tasks = slices.DeleteFunc(j.c.Tasks, func(t TaskRun) bool {
		if drop > 0 && !t.Active() {
			drop--
			return true
		}
		return false
	})
}

// taskSteps: a snoozed task comes back at its time; an open task past its
// due time with no escalation of its own climbs from the CSM to the
// manager. others are the journey's other steps, to tell which tasks have
// their own escalation.
func (j *journey) taskSteps(add func(step), others []step) {
	if j.rev < 5 {
		return
	}
	laddered := map[string]bool{}
	for _, s := range others {
		if s.kind == EntryEscalation {
			if _, about, ok := taskOf(s.key); ok {
				laddered[about] = true
			}
		}
	}
	for i := range j.c.Tasks {
		t := &j.c.Tasks[i]
		switch {
		case t.Status == TaskSnoozed:
			key := fmt.Sprintf("task:%s:back:%d", t.ID, t.Snoozes)
			add(step{key: key, kind: EntryTask, due: t.SnoozedUntil, run: func(ctx workflow.Context, now time.Time) error {
				t.Status, t.SnoozedUntil = TaskOpen, time.Time{}
				if !t.Due.After(now) {
					t.Due = now.Add(j.days(TaskDueDays)).UTC() // a fresh span before it climbs
				}
				j.tasksChanged()
				return j.notify(ctx, now, t.Owner, key, fmt.Sprintf("%s: a snoozed task is back: %s", j.in.Account.Name, t.Title),
					fmt.Sprintf("Snoozed until %s (%s). Due %s.", now.UTC().Format("2006-01-02 15:04 MST"), t.Note, t.Due.Format("2006-01-02 15:04 MST")),
					"task "+t.ID+" snoozed until now")
			}})
		case t.Status == TaskOpen && t.Owner == roleCSM && !laddered[t.Subject] && climbs(t.Kind):
			key := fmt.Sprintf("task:%s:overdue", t.ID)
			add(step{key: key, kind: EntryEscalation, due: t.Due, run: func(ctx workflow.Context, now time.Time) error {
				return j.notify(ctx, now, roleManager, key, fmt.Sprintf("%s: overdue task: %s", j.in.Account.Name, t.Title),
					fmt.Sprintf("Task %s for %s (CSM) was due %s and is still open. Why it was opened: %s.",
						t.ID, j.c.CSM.Name, t.Due.Format("2006-01-02 15:04 MST"), t.Cause),
					"task "+t.ID+" past its due time")
			}})
		}
	}
}

func (j *journey) validateTask(ctx workflow.Context, a TaskAction) error {
	if err := j.open(); err != nil {
		return err
	}
	if j.rev < 5 {
		return rejectf("task: this journey runs an earlier revision without tasks; they begin at its next run")
	}
	if err := ValidateTaskAction(a, workflow.Now(ctx)); err != nil {
		return asRejection(err)
	}
	t := j.taskByID(a.Task)
	switch {
	case t == nil:
		return rejectf("task: %s is not a task of this journey", a.Task)
	case !t.Active():
		return rejectf("task: %s is %s already", a.Task, t.Status)
	}
	return nil
}

// onTask marks a task done, or snoozes it until a time.
func (j *journey) onTask(ctx workflow.Context, a TaskAction) (State, error) {
	now := workflow.Now(ctx).UTC()
	t := j.taskByID(a.Task)
	switch a.Action {
	case TaskActionDone:
		why := "marked done"
		if a.Reason != "" {
			why += ": " + firstLine(a.Reason)
		}
		j.closeTask(now, EntryOutcome, t, TaskDone, why, a.By)
	default:
		t.Status, t.SnoozedUntil, t.Note = TaskSnoozed, a.Until.UTC(), clip(firstLine(a.Reason), maxEntryText)
		t.Snoozes++
		j.entry(now, EntryOutcome, fmt.Sprintf("task:%s:snoozed:%d", t.ID, t.Snoozes),
			fmt.Sprintf("Task %s snoozed until %s: %s", t.ID, t.SnoozedUntil.Format("2006-01-02 15:04 MST"), t.Title),
			strings.TrimSpace(t.Note+by2(a.By)), "")
		j.tasksChanged()
	}
	j.poke()
	return j.state(now, StateQuery{}), nil
}

// taskViews lists the active tasks, the earliest due first, then the
// closed ones, the latest first.
func (j *journey) taskViews(now time.Time) []TaskView {
	out := []TaskView{}
	for _, t := range j.c.Tasks {
		out = append(out, TaskView{TaskRun: t, Label: j.label(t.Step), Overdue: t.Status == TaskOpen && t.Due.Before(now)})
	}
	slices.SortStableFunc(out, func(a, b TaskView) int {
		switch {
		case a.Active() != b.Active():
			if a.Active() {
				return -1
			}
			return 1
		case a.Active():
			return a.Due.Compare(b.Due)
		}
		return b.ClosedAt.Compare(a.ClosedAt)
	})
	return out
}

// taskCounts is what the search attributes say of the tasks: how many are
// open and when the next one is due.
func (j *journey) taskCounts() (open int, next time.Time) {
	for _, t := range j.c.Tasks {
		if t.Status != TaskOpen {
			continue
		}
		open++
		if next.IsZero() || t.Due.Before(next) {
			next = t.Due
		}
	}
	return open, next
}

// taskSync is the store's copy of the active tasks.
func (j *journey) taskSync() activities.TaskSync {
	s := activities.TaskSync{
		CustomerID: j.in.Account.ID, Journey: j.c.Chapter, Started: j.c.Start, AccountName: j.in.Account.Name,
		Version: j.c.TasksVersion, Tasks: []activities.TaskRow{},
	}
	for _, t := range j.c.Tasks {
		if !t.Active() {
			continue
		}
		s.Tasks = append(s.Tasks, activities.TaskRow{
			ID: t.ID, Kind: t.Kind, Title: t.Title, Cause: t.Cause, Step: t.Step, OwnerRole: t.Owner,
			OwnerEmail: strings.ToLower(t.OwnerEmail), Status: t.Status, Due: t.Due, SnoozedUntil: t.SnoozedUntil, OpenedAt: t.OpenedAt,
		})
	}
	return s
}

// taskSyncOptions: the store's index is written until it is, beside the
// journey; a newer version waits for the write in flight, then replaces it.
var taskSyncOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Minute,
		NonRetryableErrorTypes: []string{activities.PermanentFailureType},
	},
}

// syncTasks writes the tasks to the store when they changed and no write
// is in flight. A run that continued as new writes again what its
// predecessor may not have finished writing.
func (j *journey) syncTasks(ctx workflow.Context) {
	if j.rev < 5 || j.syncing != nil || j.c.TasksVersion <= j.c.TasksSynced {
		return
	}
	j.syncingVersion = j.c.TasksVersion
	j.syncing = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, taskSyncOptions), acts.SaveTasks, j.taskSync())
}

// awaitTaskSync adds the store write in flight to the main loop's selector.
func (j *journey) awaitTaskSync(ctx workflow.Context, sel workflow.Selector) {
	if j.syncing == nil {
		return
	}
	sel.AddFuture(j.syncing, func(f workflow.Future) {
		j.syncing = nil
		if err := f.Get(ctx, nil); err != nil {
			// Refused for good (a worker without a store): the state keeps the
			// tasks; the next change tries again.
			j.log.Warn("tasks not written to the store", "version", j.syncingVersion, "error", err)
		}
		j.c.TasksSynced = max(j.c.TasksSynced, j.syncingVersion)
		j.poke()
	})
}

// slack posts a task's notice to our side's Slack beside its email (since
// revision 5): a message of its own, in flight like an email and under its
// step's key, so Slack being down delays nothing and a retry posts once.
// Whether anyone has a webhook is the worker's configuration; without one
// the activity posts nothing.
func (j *journey) slack(ctx workflow.Context, now time.Time, step, event string, t *TaskRun) {
	n := activities.SlackNotice{
		Key: j.key(step) + ":slack", CustomerID: j.in.Account.ID, Account: j.in.Account.Name, Event: event,
		Role: t.Owner, Owner: t.OwnerEmail, Title: t.Title, Text: "Why: " + t.Cause, Due: t.Due, ScheduledFor: now,
	}
	j.send(ctx, now, SendRun{Key: n.Key, Step: step + ":slack", Role: t.Owner, Slack: &n})
}
