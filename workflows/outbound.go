package workflows

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
)

// Since revision 7 the journey's events go out to webhook subscribers
// (activities.DeliverWebhook): health changes, escalations, tasks opened,
// complaints opened and resolved, renewal reminders, churn and renewal.
// Each is a message in flight like an email (sending.go): issued once under
// its event id, retried with backoff until the delivery deadline, carried
// across continue-as-new, and never waited for by the schedule. Webhook
// messages have a bound of their own, so a receiver that is down for days
// never crowds out the customer's email. Since revision 8 only the events
// some subscription takes are issued (flushEvents).

// MaxPendingWebhooks bounds the journey events in flight at once.
const MaxPendingWebhooks = 50

// eventOf is the event a timeline entry is, if any.
func eventOf(kind, step string) string {
	switch {
	case kind == EntryEscalation:
		return activities.EventEscalated
	case kind == EntryComplaint:
		return activities.EventComplaintOpened
	case kind == EntryOutcome && strings.HasPrefix(step, "outcome:"+OutcomeComplaintResolved+":"):
		return activities.EventComplaintResolved
	case kind == EntryOutcome && step == "outcome:"+OutcomeChurned:
		return activities.EventChurned
	case kind == EntryOutcome && step == "outcome:"+OutcomeOffboarded:
		return activities.EventOffboarded
	case kind == EntryOutcome && step == "outcome:"+OutcomeRenewed:
		return activities.EventRenewed
	case kind == EntrySystem && strings.HasPrefix(step, "task:") && strings.HasSuffix(step, ":opened"):
		return activities.EventTaskOpened
	case kind == EntryTouchpoint && strings.HasPrefix(step, "renewal:"):
		return activities.EventRenewalReminder
	}
	return ""
}

// queueEvent keeps an event for the main loop to issue (entries are made
// where there is no workflow context: handlers, steps).
func (j *journey) queueEvent(e Entry, typ string, d activities.EventData) {
	if j.rev < 7 || j.preview {
		return
	}
	j.c.EventSeq++
	chapter := j.c.Chapter
	if chapter == "" {
		chapter = chapterOf(j.wfID)
	}
	d.CustomerID, d.AccountName, d.Journey = j.in.Account.ID, j.in.Account.Name, j.c.Chapter
	d.Day = int(math.Floor(e.Day))
	if d.Step == "" {
		d.Step, d.Summary, d.Cause = e.Step, e.Summary, e.Cause
		d.Label = StepLabel(j.pb, e.Step)
	}
	ev := activities.WebhookEvent{ID: fmt.Sprintf("evt_%s_%d", chapter, j.c.EventSeq), Type: typ, Timestamp: e.At, Data: d}
	j.c.Outgoing = append(j.c.Outgoing, ev)
}

// healthEvent queues a health change (not the first health of a journey).
func (j *journey) healthEvent(now time.Time, sc Scores) {
	if j.rev < 7 || sc.Health == j.c.Published {
		return
	}
	prev := j.c.Published
	j.c.Published = sc.Health
	if prev == "" {
		return
	}
	e := Entry{At: now.UTC(), Day: j.dayOf(now)}
	j.queueEvent(e, activities.EventHealthChanged, activities.EventData{
		Step: "health", Summary: fmt.Sprintf("Health changed from %s to %s", prev, sc.Health),
		Health: sc.Health, PreviousHealth: prev, Reasons: slices.Clone(sc.Reasons),
	})
}

// flushEvents issues the queued events as messages in flight. Since
// revision 8 it first asks which of their types some subscription takes
// (activities.WebhookTargets, a local activity) and issues only those: a
// portfolio nobody subscribed to issues no delivery at all. When the store
// cannot say, every event is issued, and its delivery checks for itself.
func (j *journey) flushEvents(ctx workflow.Context, now time.Time) {
	for len(j.c.Outgoing) > 0 {
		// Handlers may queue more while the question is out: they wait for
		// the next turn of the loop.
		batch := j.c.Outgoing
		j.c.Outgoing = nil
		if j.rev >= 8 {
			batch = j.subscribed(ctx, batch)
			now = workflow.Now(ctx)
		}
		for _, ev := range batch {
			j.send(ctx, now, SendRun{Key: ev.ID, Step: "webhook:" + ev.Type, Role: roleWebhook, Webhook: &ev})
		}
	}
	j.c.Outgoing = nil
}

// targetOptions bound the question of who subscribed: one quick try, not
// retried (retries would hold the journey's next steps), then the events go
// out to be checked by their deliveries.
var targetOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 5 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
}

// subscribed keeps the events whose type some subscription takes.
func (j *journey) subscribed(ctx workflow.Context, evs []activities.WebhookEvent) []activities.WebhookEvent {
	var types []string
	for _, ev := range evs {
		if !slices.Contains(types, ev.Type) {
			types = append(types, ev.Type)
		}
	}
	var wanted []string
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, targetOptions), acts.WebhookTargets, types).Get(ctx, &wanted)
	if err != nil {
		j.log.Warn("webhook subscriptions not read: the events go out and their deliveries check", "events", len(evs), "error", err)
		return evs
	}
	return slices.DeleteFunc(evs, func(ev activities.WebhookEvent) bool { return !slices.Contains(wanted, ev.Type) })
}

// roleWebhook is the role of a webhook message in flight.
const roleWebhook = "webhook"
