package workflows

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Since revision 2, a message never holds up the journey: send records it in
// the state and issues its activity, and the schedule goes on (a complaint's
// SLA ladder does not wait for a welcome email that SendGrid keeps
// refusing). Each message is retried until the playbook's delivery
// deadline; then it is recorded as failed and becomes a task for the CSM
// (for the manager when the CSM's own notice failed).
//
// Revision 2 waited for each activity in a coroutine of its own. Since
// revision 3 the main loop issues the activity where the step runs and waits
// for it in its selector, beside the timer and the events: no goroutine per
// message, and a step's commands come in the order the step gave them.

// send starts a message; the step that called it has already marked itself
// done, so the message is issued exactly once per step.
func (j *journey) send(ctx workflow.Context, now time.Time, sr SendRun) {
	if slices.ContainsFunc(j.c.Sending, func(p SendRun) bool { return p.Key == sr.Key }) {
		return // already in flight under this key
	}
	// Webhook messages count apart (since revision 7; none before): a
	// receiver down for days never crowds out an email.
	webhook := sr.Webhook != nil
	limit, pending := MaxPendingSends, 0
	if webhook {
		limit = MaxPendingWebhooks
	}
	for _, p := range j.c.Sending {
		if (p.Webhook != nil) == webhook {
			pending++
		}
	}
	if pending >= limit {
		if webhook {
			j.entry(now, EntrySystem, sr.Step+":failed", "Webhook event not sent: too many in flight",
				fmt.Sprintf("%d events are waiting for their subscribers already", pending), "")
			j.log.Warn("webhook event dropped: too many in flight", "event", sr.Key, "in_flight", pending)
			return
		}
		j.c.Failures++
		j.entry(now, EntrySystem, sr.Step+":failed", "Message not sent: too many in flight",
			fmt.Sprintf("%d messages are waiting for delivery already", pending), "")
		j.log.Error("message dropped: too many in flight", "step", sr.Step, "in_flight", pending)
		return
	}
	sr.Since = now.UTC()
	j.c.Sending = append(j.c.Sending, sr)
	if sendHook != nil { // tests only (hooks.go)
		sendHook(ctx, sr.Step, func(ctx workflow.Context) {
			j.issue(ctx, sr)
			j.poke() // the main loop's selector does not hold it yet
		})
		return
	}
	j.issue(ctx, sr)
}

// MinDeliveryWindow is the least real time a message is tried for, whatever
// the day length (JourneyInput.MinDeliveryWindow may set another): two whole
// attempts and a backoff. An attempt on a worker that dies is only known to
// be lost when its start-to-close timeout passes; with a demo's short days
// the playbook's deadline alone could end before the retry, and a killed
// worker would cost the message.
const MinDeliveryWindow = 2*sendAttemptTimeout + 10*time.Second

// sendAttemptTimeout bounds one attempt of a send (SendGrid's own timeout is
// 10 s by default).
const sendAttemptTimeout = 30 * time.Second

// deliveryWindow is how long a message is tried for.
func (j *journey) deliveryWindow() time.Duration {
	floor := MinDeliveryWindow
	if j.in.MinDeliveryWindow > 0 {
		floor = j.in.MinDeliveryWindow
	}
	return max(j.days(j.pb.GiveUpAfterDays()), floor)
}

// deadline is when a message is given up.
func (j *journey) deadline(sr SendRun) time.Time { return sr.Since.Add(j.deliveryWindow()) }

// issue starts a message's activity. Since revision 3 its future waits in
// j.inflight for the main loop's selector (awaitSends); revision 2 waited in
// a coroutine of the message's own.
func (j *journey) issue(ctx workflow.Context, sr SendRun) {
	opts := activityOptions
	policy := *activityOptions.RetryPolicy
	// The deadline bounds the retries, not a count (the SDK's test
	// environment would otherwise stop at 10 attempts).
	policy.MaximumAttempts = math.MaxInt32
	opts.RetryPolicy = &policy
	// What is left of the delivery deadline, and at least one attempt's worth
	// (or the whole deadline, when it is shorter: a demo's short days) when
	// a continued run issues a message that was close to it.
	floor := min(opts.StartToCloseTimeout, j.deliveryWindow())
	opts.ScheduleToCloseTimeout = max(j.deadline(sr).Sub(workflow.Now(ctx)), floor)
	start := func(ctx workflow.Context) workflow.Future {
		actx := workflow.WithActivityOptions(ctx, opts)
		if sr.Customer != nil {
			return workflow.ExecuteActivity(actx, acts.SendCustomerEmail, *sr.Customer)
		}
		if sr.Slack != nil {
			return workflow.ExecuteActivity(actx, acts.PostSlack, *sr.Slack)
		}
		if sr.Webhook != nil {
			return workflow.ExecuteActivity(actx, acts.DeliverWebhook, *sr.Webhook)
		}
		return workflow.ExecuteActivity(actx, acts.NotifyTeam, *sr.Notice)
	}
	if j.rev >= 3 {
		j.inflight[sr.Key] = start(ctx)
		return
	}
	workflow.Go(ctx, func(ctx workflow.Context) {
		err := start(ctx).Get(ctx, nil)
		if ctx.Err() != nil {
			return // the journey is being cancelled
		}
		j.delivered(ctx, sr, err)
	})
}

// awaitSends adds the messages in flight to the main loop's selector, in the
// order they were sent.
func (j *journey) awaitSends(ctx workflow.Context, sel workflow.Selector) {
	for _, sr := range j.c.Sending {
		f, ok := j.inflight[sr.Key]
		if !ok {
			continue // held back by a test's sendHook, or a revision-2 run's
		}
		sel.AddFuture(f, func(f workflow.Future) {
			delete(j.inflight, sr.Key)
			err := f.Get(ctx, nil)
			if ctx.Err() != nil {
				return // the journey is being cancelled
			}
			j.delivered(ctx, sr, err)
		})
	}
}

// delivered takes a finished message off the in-flight list; a failed one is
// recorded and handed to a person.
func (j *journey) delivered(ctx workflow.Context, sr SendRun, err error) {
	j.c.Sending = slices.DeleteFunc(j.c.Sending, func(p SendRun) bool { return p.Key == sr.Key })
	defer j.poke()
	if err == nil {
		return
	}
	now := workflow.Now(ctx)
	why := failureReason(err)
	if sr.Webhook != nil {
		// The subscribers' delivery log shows each attempt; nobody is tasked.
		j.entry(now, EntrySystem, sr.Step+":failed", "Webhook event "+sr.Webhook.ID+" given up", why, "")
		j.log.Warn("webhook event given up", "event", sr.Key, "error", err)
		return
	}
	if sr.Slack != nil {
		// The email went out on its own; a Slack notice given up is noted,
		// nobody is tasked with it.
		j.entry(now, EntrySystem, sr.Step+":failed", "Slack notice given up", why, "")
		j.log.Warn("slack notice given up", "step", sr.Step, "error", err)
		return
	}
	j.c.Failures++
	j.entry(now, EntrySystem, sr.Step+":failed", fmt.Sprintf("Email to %s given up", sr.Role), why, "")
	j.log.Warn("message given up", "step", sr.Step, "role", sr.Role, "error", err)
	if strings.HasSuffix(sr.Step, ":failed") && sr.Role == roleManager {
		return // the last resort failed too: the timeline and the log keep it
	}
	to := roleCSM
	if sr.Role == roleCSM {
		to = roleManager // the CSM cannot be told that the CSM cannot be told
	}
	recipient := "the recipient"
	if sr.Customer != nil {
		recipient = sr.Customer.To.Email
	} else if sr.Notice != nil {
		recipient = sr.Notice.To.Email
	}
	_ = j.notify(ctx, now, to, sr.Step+":failed", fmt.Sprintf("%s: an email could not be delivered", j.in.Account.Name),
		fmt.Sprintf("The %s email %q to %s could not be delivered: %s. Reach them another way.", sr.Role, j.label(sr.Step), recipient, why),
		"email undeliverable")
}

// failureReason says why a message was given up, in a line.
func failureReason(err error) string {
	var appErr *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr) && appErr.NonRetryable():
		return "refused for good: " + clip(appErr.Message(), 200)
	case errors.As(err, &timeout):
		msg := "still failing at the delivery deadline"
		if cause := errors.Unwrap(timeout); cause != nil {
			msg += ": " + clip(cause.Error(), 200)
		}
		return msg
	case errors.As(err, &appErr):
		return "still failing at the delivery deadline: " + clip(appErr.Message(), 200)
	}
	return clip(err.Error(), 200)
}
