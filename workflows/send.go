package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

type action = activities.Action

// One-click answers offered in customer emails.
var (
	actBookHandoff = action{ID: "book_handoff", Label: "Book your handoff call"}
	actOnTrack     = action{ID: "on_track", Label: "I'm on track"}
	actNeedHelp    = action{ID: "need_help", Label: "I need help"}
	actProblem     = action{ID: "report_problem", Label: "Something is wrong"}
	actRegister    = action{ID: "register", Label: "Save my seat"}
	actBookReview  = action{ID: "book_review", Label: "Book the review"}
	pulseActions   = []action{
		{ID: "pulse_5", Label: "😀 Great"}, {ID: "pulse_4", Label: "🙂 Good"}, {ID: "pulse_3", Label: "😐 Okay"},
		{ID: "pulse_2", Label: "🙁 Not great"}, {ID: "pulse_1", Label: "😞 Bad"},
	}
)

func actionsFor(kind string) []action {
	switch kind {
	case playbooks.KindTrainingInvite, playbooks.KindWebinarInvite:
		return []action{actRegister}
	case playbooks.KindHappinessPulse:
		return append(append([]action(nil), pulseActions...), actProblem)
	case playbooks.KindReview:
		return []action{actBookReview, actProblem}
	case playbooks.KindBestPractices:
		return []action{actShowMeHow, actNeedHelp}
	default:
		return []action{actOnTrack, actNeedHelp, actProblem}
	}
}

const (
	roleCustomer = "customer"
	roleCSM      = activities.RoleCSM
	roleManager  = activities.RoleManager
	roleSponsor  = activities.RoleSponsor
)

// activityOptions: a send is retried until it succeeds or fails for good;
// the idempotency key makes every retry safe.
var activityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: sendAttemptTimeout,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        10 * time.Minute,
		NonRetryableErrorTypes: []string{activities.PermanentFailureType},
	},
}

// acts is only used for method references; the worker registers the real one.
var acts *activities.Activities

// key is a message's idempotency key: the workflow, the journey (chapter,
// since revision 2) and the step, so a returning customer's new journey
// never reuses the first one's keys.
func (j *journey) key(step string) string {
	if j.c.Chapter != "" {
		return j.wfID + "/" + j.c.Chapter + "/" + step
	}
	return j.wfID + "/" + step
}

func (j *journey) emailCustomer(ctx workflow.Context, now time.Time, step, template string, data map[string]string, actions []action, summary, cause string) error {
	return j.emailCustomerAbout(ctx, now, step, template, data, actions, summary, cause, nil, nil)
}

// emailCustomerAbout is emailCustomer with the customer's facts attached
// (the activity fills the email from the latest insights at send time) and,
// since revision 6, to the contacts in roles (nil: the champion), each
// under a key of its own.
func (j *journey) emailCustomerAbout(ctx workflow.Context, now time.Time, step, template string, data map[string]string, actions []action, summary, cause string, about *insights.Subject, roles []string) error {
	fields := map[string]string{
		"AccountName": j.in.Account.Name, "CSMName": j.c.CSM.Name, "CSMEmail": j.c.CSM.Email,
		"Day": fmt.Sprint(int(j.dayOf(now))),
	}
	for _, k := range workflow.DeterministicKeys(data) {
		fields[k] = data[k]
	}
	champion := j.champion()
	req := activities.CustomerEmail{
		Key: j.key(step), CustomerID: j.in.Account.ID, Journey: j.c.Chapter, Step: step,
		To:       activities.Recipient{Name: champion.Name, Email: champion.Email},
		Template: template, Data: fields, Actions: actions, ScheduledFor: now, About: about,
	}
	if j.rev < 6 && j.c.EmailBlocked != "" {
		j.entry(now, EntrySystem, step+":not-sent", summary+" not sent", "customer emails stopped: "+j.c.EmailBlocked, "")
		return nil
	}
	if j.rev >= 2 && !j.c.PausedAt.IsZero() {
		// Only calendar steps (renewal reminders) run while paused; the
		// customer is not written to during a pause, the CSM still is.
		j.entry(now, EntrySystem, step+":not-sent", summary+" not sent", "the journey is paused: "+clip(j.c.PauseReason, 100), "")
		return nil
	}
	if j.rev >= 6 {
		j.emailContacts(ctx, now, req, roles, summary, cause)
		return nil
	}
	j.entry(now, EntryTouchpoint, step, summary, cause, champion.Email)
	if j.rev >= 2 {
		j.send(ctx, now, SendRun{Key: req.Key, Step: step, Role: roleCustomer, Customer: &req})
		return nil
	}
	var sent activities.Sent
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions), acts.SendCustomerEmail, req).Get(ctx, &sent)
	return j.sendFailed(ctx, now, step, "customer", err)
}

// emailContacts sends req to each contact of the audience of roles: the
// champion under the step's own key, every other contact under the key and
// its contact id, so each has its own message, links and failure.
func (j *journey) emailContacts(ctx workflow.Context, now time.Time, req activities.CustomerEmail, roles []string, summary, cause string) {
	to, why := j.audience(roles)
	if why != "" {
		cause += "; " + why
	}
	if len(to) == 0 {
		j.entry(now, EntrySystem, req.Step+":not-sent", summary+" not sent", cause, "")
		return
	}
	addrs := make([]string, len(to))
	for i, c := range to {
		addrs[i] = c.Email
	}
	j.entry(now, EntryTouchpoint, req.Step, summary, cause, clip(strings.Join(addrs, ", "), maxEntryText))
	for _, c := range to {
		r := req
		r.To = activities.Recipient{Name: c.Name, Email: c.Email}
		sr := SendRun{Key: r.Key, Step: r.Step, Role: roleCustomer}
		if c.Role != ContactChampion {
			r.Key, r.Contact = r.Key+"/"+c.ID, c.ID
			sr.Key, sr.Step = r.Key, r.Step+"/"+c.ID
		}
		sr.Customer = &r
		j.send(ctx, now, sr)
	}
}

func (j *journey) recipient(role string) activities.Recipient {
	switch role {
	case roleManager:
		return activities.Recipient{Name: "CS manager", Email: j.in.ManagerEmail}
	case roleSponsor:
		if j.in.SponsorEmail != "" {
			return activities.Recipient{Name: "Executive sponsor", Email: j.in.SponsorEmail}
		}
		return activities.Recipient{Name: "CS manager (as executive sponsor)", Email: j.in.ManagerEmail}
	default:
		return activities.Recipient{Name: j.c.CSM.Name, Email: j.c.CSM.Email}
	}
}

func (j *journey) notify(ctx workflow.Context, now time.Time, role, step, subject, body, cause string) error {
	return j.notifyAbout(ctx, now, role, step, subject, body, cause, nil)
}

// brief is a notice to the CSM that carries the customer's desired outcomes
// and, filled in at send time, its top gaps against green accounts.
func (j *journey) brief(ctx workflow.Context, now time.Time, step, subject, body, cause string) error {
	return j.notifyAbout(ctx, now, roleCSM, step, subject, body+j.outcomeLine(), cause, j.gapsRequest())
}

func (j *journey) notifyAbout(ctx workflow.Context, now time.Time, role, step, subject, body, cause string, about *insights.Subject) error {
	to := j.recipient(role)
	kind := EntryEscalation
	if role == roleCSM {
		kind = EntryTask
	}
	req := activities.TeamNotice{
		Key: j.key(step), CustomerID: j.in.Account.ID, Step: step, Role: role, To: to,
		Subject: subject, Body: body + "\n\nWhy: " + cause, ScheduledFor: now, About: about,
	}
	j.entry(now, kind, step, subject, cause, to.Email)
	j.taskNotice(ctx, now, role, step, subject, cause)
	if j.rev >= 2 {
		j.send(ctx, now, SendRun{Key: req.Key, Step: step, Role: role, Notice: &req})
		return nil
	}
	var sent activities.Sent
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, activityOptions), acts.NotifyTeam, req).Get(ctx, &sent)
	return j.sendFailed(ctx, now, step, role, err)
}

// sendFailed (before revision 2, where a send blocks the journey) turns a
// permanent send failure into a timeline entry and a CSM task, so nothing is
// lost silently. Only cancellation stops the journey.
func (j *journey) sendFailed(ctx workflow.Context, now time.Time, step, role string, err error) error {
	var appErr *temporal.ApplicationError
	if err == nil || !errors.As(err, &appErr) {
		return err
	}
	j.entry(now, EntrySystem, step+":failed", fmt.Sprintf("Email to %s failed permanently", role), appErr.Error(), "")
	if role == roleCSM {
		j.log.Error("notice to CSM failed permanently", "step", step, "error", err)
		return nil
	}
	return j.notify(ctx, now, roleCSM, step+":failed", fmt.Sprintf("%s: an email could not be sent", j.in.Account.Name),
		fmt.Sprintf("The %s email %q failed permanently: %s. Reach the recipient another way.", role, j.label(step), appErr.Error()),
		"permanent email failure")
}
