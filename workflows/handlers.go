package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// DuplicateEventType is the rejection type of an event id already counted;
// the API answers it as a success with duplicate=true.
const DuplicateEventType = "DuplicateEvent"

// IsDuplicateEvent reports whether an event update was rejected as a repeat.
func IsDuplicateEvent(err error) bool {
	var appErr *temporal.ApplicationError
	return err != nil && errors.As(err, &appErr) && appErr.Type() == DuplicateEventType
}

func (j *journey) registerHandlers(ctx workflow.Context) error {
	// The state is true when read: as of the reader's clock, never earlier
	// than the journey's own (a query changes nothing, so reading the
	// caller's time here cannot break a replay).
	if err := workflow.SetQueryHandler(ctx, QueryState, func(q StateQuery) (State, error) {
		now := workflow.Now(ctx)
		if q.At.After(now) {
			now = q.At
		}
		return j.state(now, q), nil
	}); err != nil {
		return err
	}
	if err := workflow.SetQueryHandler(ctx, QueryTimeline, func(q TimelineQuery) (Timeline, error) {
		return j.timelineSince(q.Since), nil
	}); err != nil {
		return err
	}
	updates := []struct {
		name      string
		handler   any
		validator any
	}{
		{UpdateEvent, j.onEvent, j.validateEvent},
		{UpdateComplaint, j.onComplaint, j.validateComplaint},
		{UpdateOutcome, j.onOutcome, j.validateOutcome},
		{UpdatePause, j.onPause, j.validatePause},
		{UpdateResume, j.onResume, j.validateResume},
		{UpdateReassign, j.onReassign, j.validateReassign},
		{UpdateEmail, j.onEmailStatus, j.validateEmailStatus},
		{UpdateChampion, j.onChampion, j.validateChampion},
		{UpdateTask, j.onTask, j.validateTask},
		{UpdateContact, j.onContact, j.validateContact},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validator}); err != nil {
			return err
		}
	}
	return nil
}

// JourneyEndedType is the rejection type of a message to an ended journey;
// the API answers 409, as it does once the workflow has completed.
const JourneyEndedType = "JourneyEnded"

// IsJourneyEnded reports whether a message was refused because the journey ended.
func IsJourneyEnded(err error) bool {
	var appErr *temporal.ApplicationError
	return err != nil && errors.As(err, &appErr) && appErr.Type() == JourneyEndedType
}

func (j *journey) open() error {
	if j.c.Ended != nil {
		return temporal.NewApplicationError(fmt.Sprintf("the journey has ended (%s)", j.c.Ended.Kind), JourneyEndedType)
	}
	return nil
}

// ValidateEventShape checks what can be checked without the journey's
// playbook; the API runs it before anything reaches Temporal.
func ValidateEventShape(ev EngagementEvent) error {
	switch {
	case strings.TrimSpace(ev.ID) == "" || len(ev.ID) > 200:
		return rejectf("id: must be 1-200 characters")
	case strings.TrimSpace(ev.Type) == "" || len(ev.Type) > 64:
		return rejectf("type: is required (up to 64 characters)")
	case len(ev.Attributes) > 32:
		return rejectf("attributes: at most 32")
	case len(ev.Source) > 100:
		return rejectf("source: at most 100 characters")
	}
	if ev.Type == "pulse" {
		if n, err := strconv.Atoi(ev.Attributes["score"]); err != nil || n < 1 || n > 5 {
			return rejectf("attributes.score: a pulse needs a score from 1 to 5")
		}
	}
	// Every entry is checked; the answer does not depend on the order.
	//workflowcheck:ignore
	for k, v := range ev.Attributes {
		if len(k) > 64 || len(v) > 1000 {
			return rejectf("attributes: keys up to 64 and values up to 1000 characters")
		}
	}
	return nil
}

// ValidateEvent checks an event against a playbook: its shape, and a type
// the playbook scores.
func ValidateEvent(pb *playbooks.Playbook, ev EngagementEvent) error {
	if err := ValidateEventShape(ev); err != nil {
		return err
	}
	if _, ok := pb.Scoring.Weights[ev.Type]; !ok {
		return rejectf("type: unknown event type %q (known: %s)", ev.Type, strings.Join(sortedWeights(pb), ", "))
	}
	return nil
}

func sortedWeights(pb *playbooks.Playbook) []string {
	var keys []string
	// Sorted below.
	//workflowcheck:ignore
	for k := range pb.Scoring.Weights {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validateEvent runs live for updates and, for events sent as signals, on
// every replay too: a check added here for revision 2 must stay behind it.
func (j *journey) validateEvent(ctx workflow.Context, ev EngagementEvent) error {
	if err := j.open(); err != nil {
		return err
	}
	if slices.Contains(j.c.Seen, ev.ID) {
		return temporal.NewApplicationError("event "+ev.ID+" was already counted", DuplicateEventType)
	}
	if err := ValidateEvent(j.pb, ev); err != nil {
		return err
	}
	if j.rev < 2 {
		return nil
	}
	if err := ValidateEventTime(ev.Time, j.c.Start, workflow.Now(ctx)); err != nil {
		return err
	}
	// An open or a click of a message to someone else (a team notice, a
	// former champion) is not the customer engaging.
	if to := ev.Attributes[EventAttrRecipient]; to != "" && !strings.EqualFold(to, j.champion().Email) {
		if j.rev < 6 {
			return rejectf("attributes.%s: %s is not the customer's champion; not counted", EventAttrRecipient, to)
		}
		if j.contactByEmail(to) == nil {
			return rejectf("attributes.%s: %s is not one of the customer's contacts; not counted", EventAttrRecipient, to)
		}
	}
	if err := j.sameJourney("attributes."+EventAttrJourney, ev.Attributes[EventAttrJourney]); err != nil {
		return err
	}
	if ev.Type == "handoff_booked" && ev.Attributes["call_at"] != "" {
		if _, err := time.Parse(time.RFC3339, ev.Attributes["call_at"]); err != nil {
			return rejectf("attributes.call_at: not an RFC 3339 time")
		}
	}
	return nil
}

// seen remembers an event or complaint id in the bounded dedupe window.
func (j *journey) seen(id string) {
	j.c.Seen = append(j.c.Seen, id)
	if over := len(j.c.Seen) - MaxSeenEvents; over > 0 {
		j.c.Seen = slices.Clone(j.c.Seen[over:])
	}
}

// sameJourney refuses a message from a link of another journey of this
// customer (they churned and came back: the old emails' links are not the
// new journey's answers).
func (j *journey) sameJourney(field, journey string) error {
	if journey == "" || journey == j.c.Chapter {
		return nil
	}
	return rejectf("%s: this link belongs to an earlier journey of this customer (%s; now %s)", field, journey, j.c.Chapter)
}

func (j *journey) onEvent(ctx workflow.Context, ev EngagementEvent) (EventResult, error) {
	now := workflow.Now(ctx)
	j.seen(ev.ID)
	if j.rev >= 2 {
		// An event counts from its own time: a 20-day-old event decays as
		// much and does not reset 20 days of silence.
		j.engageAt(now, ev.Time, j.pb.Scoring.Weights[ev.Type])
	} else {
		j.engage(now, j.pb.Scoring.Weights[ev.Type])
	}
	at := now
	if j.rev >= 2 && !ev.Time.IsZero() && ev.Time.Before(now) {
		at = ev.Time
	}
	j.countEvent(ev, at)
	summary := title(ev.Type)
	switch ev.Type {
	case "pulse":
		score, _ := strconv.Atoi(ev.Attributes["score"])
		h := &j.c.Happiness
		if h.Pulses == 0 {
			h.PulseAvg = pulseScore(score)
		} else {
			h.PulseAvg = (h.PulseAvg + pulseScore(score)) / 2
		}
		h.Pulses++
		summary = fmt.Sprintf("Happiness pulse: %d of 5", score)
	case "handoff_booked":
		if j.c.Handoff.BookedAt.IsZero() {
			j.c.Handoff.BookedAt = now.UTC()
		}
		summary = "Handoff call booked"
		if at, err := time.Parse(time.RFC3339, ev.Attributes["call_at"]); err == nil && j.rev >= 2 {
			if !j.c.Handoff.CallAt.IsZero() || j.c.Handoff.BookedReminded {
				j.c.Handoff.Rebookings++
			}
			j.c.Handoff.CallAt = at.UTC()
			j.c.Handoff.BookedReminded, j.c.Handoff.BookedEscalated = false, false
			summary += " for " + at.UTC().Format("2006-01-02 15:04 MST")
		}
	}
	cause := "event " + ev.ID
	if ev.Source != "" {
		cause += " from " + ev.Source
	}
	j.entry(now, EntryEvent, "event:"+ev.ID, summary, cause, "")
	j.closeTasks(now, "silence", TaskDone, "the customer engaged again ("+ev.Type+")", "")
	j.poke()
	return EventResult{Engagement: j.engagement(now), Happiness: j.happiness(now)}, nil
}

func (j *journey) validateComplaint(c Complaint) error {
	if err := j.open(); err != nil {
		return err
	}
	if err := ValidateComplaint(c); err != nil {
		return err
	}
	if err := j.sameJourney("journey", c.Journey); err != nil {
		return err
	}
	if c.ID != "" && slices.Contains(j.c.Seen, c.ID) {
		return temporal.NewApplicationError("complaint "+c.ID+" was already filed", DuplicateEventType)
	}
	open := 0
	for _, cr := range j.c.Complaints {
		if cr.Status == ComplaintOpen {
			open++
		}
	}
	if open >= MaxOpenComplaints {
		return rejectf("complaints: %d are open already (at most %d); resolve some first", open, MaxOpenComplaints)
	}
	return nil
}

// ValidateComplaint checks a complaint's fields.
func ValidateComplaint(c Complaint) error {
	if !oneOf(c.Severity, playbooks.Severities) {
		return rejectf("severity: must be one of %s", strings.Join(playbooks.Severities, ", "))
	}
	var ch checker
	ch.text("id", c.ID, 200, false)
	ch.text("summary", c.Summary, MaxTextLen, true)
	ch.text("source", c.Source, MaxShortLen, false)
	return asRejection(ch.err())
}

func (j *journey) onComplaint(ctx workflow.Context, c Complaint) (ComplaintReceipt, error) {
	if c.ID != "" {
		j.seen(c.ID)
	}
	now := workflow.Now(ctx).UTC()
	j.c.NextComplaint++
	run := ComplaintRun{
		ID: fmt.Sprintf("c%d", j.c.NextComplaint), Severity: c.Severity, Summary: c.Summary, Source: c.Source,
		Status: ComplaintOpen, ReceivedAt: now, SLADue: now.Add(j.days(j.pb.Complaints.SLADays[c.Severity])),
	}
	j.c.Complaints = append(j.c.Complaints, run)
	j.count(insights.Complaints, now)
	// A complaint is engagement too: the customer cares enough to say so.
	j.engage(now, j.pb.Scoring.Weights["complaint"])
	j.entry(now, EntryComplaint, "complaint:"+run.ID, fmt.Sprintf("Complaint (%s): %s", c.Severity, firstLine(c.Summary)),
		"received"+via(c.Source), "")
	j.poke()
	return ComplaintReceipt{ComplaintID: run.ID, SLADue: run.SLADue}, nil
}

func via(source string) string {
	if source == "" {
		return ""
	}
	return " via " + source
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func (j *journey) validateOutcome(ctx workflow.Context, o Outcome) error {
	if err := j.open(); err != nil {
		return err
	}
	if err := ValidateOutcomeFields(o, workflow.Now(ctx)); err != nil {
		return asRejection(err)
	}
	switch o.Kind {
	case OutcomeHandoffHeld:
		if !j.c.Handoff.HeldAt.IsZero() {
			return rejectf("kind: the handoff call was already recorded")
		}
	case OutcomeMilestoneDone, OutcomeMilestoneBlocked:
		run := j.milestone(o.MilestoneID)
		switch {
		case run == nil:
			return rejectf("milestone_id: unknown milestone %q", o.MilestoneID)
		case run.Status == MilestoneDone:
			return rejectf("milestone_id: milestone %q is already completed", o.MilestoneID)
		case o.Kind == OutcomeMilestoneBlocked && strings.TrimSpace(o.Note) == "":
			return rejectf("note: say what blocks the milestone")
		}
	case OutcomeComplaintResolved:
		c := j.complaint(o.ComplaintID)
		switch {
		case c == nil:
			return rejectf("complaint_id: no complaint %q", o.ComplaintID)
		case c.Status != ComplaintOpen:
			return rejectf("complaint_id: complaint %q is already resolved", o.ComplaintID)
		}
	case OutcomeSentiment:
		if o.Sentiment < 1 || o.Sentiment > 5 {
			return rejectf("sentiment: must be 1 (very unhappy) to 5 (delighted)")
		}
	case OutcomeRisk:
		if !oneOf(o.Risk, []string{"none", "low", "medium", "high"}) {
			return rejectf("risk: must be none, low, medium or high")
		}
	case OutcomeRenewed:
		if !o.RenewalDate.IsZero() && !o.RenewalDate.After(j.c.RenewalDate) {
			return rejectf("renewal_date: must be after the current renewal date %s", j.c.RenewalDate.Format("2006-01-02"))
		}
	case OutcomeDesired:
		return j.validateDesired(o)
	case OutcomeMeetingHeld, OutcomeChurned, OutcomeOffboarded:
	default:
		return rejectf("kind: unknown outcome %q (use %s)", o.Kind, strings.Join(OutcomeKinds, ", "))
	}
	return nil
}

func (j *journey) milestone(id string) *MilestoneRun {
	for i := range j.c.Milestones {
		if j.c.Milestones[i].ID == id {
			return &j.c.Milestones[i]
		}
	}
	return nil
}

func (j *journey) complaint(id string) *ComplaintRun {
	for i := range j.c.Complaints {
		if j.c.Complaints[i].ID == id {
			return &j.c.Complaints[i]
		}
	}
	return nil
}

func (j *journey) onOutcome(ctx workflow.Context, o Outcome) (State, error) {
	now := workflow.Now(ctx).UTC()
	summary, step := "", "outcome:"+o.Kind
	switch o.Kind {
	case OutcomeHandoffHeld:
		j.c.Handoff.HeldAt = now
		j.engage(now, j.pb.Scoring.Weights["meeting_held"])
		summary = "Handoff call held"
		j.closeTasks(now, "handoff", TaskDone, "handoff call held", o.By)
	case OutcomeMilestoneDone:
		run := j.milestone(o.MilestoneID)
		run.Status, run.CompletedAt, run.CompletedOn, run.Blocker = MilestoneDone, now, j.dayOf(now), ""
		summary, step = "Milestone completed: "+o.MilestoneID, step+":"+o.MilestoneID
		j.closeTasks(now, "milestone:"+o.MilestoneID, TaskDone, "milestone completed", o.By)
	case OutcomeMilestoneBlocked:
		run := j.milestone(o.MilestoneID)
		run.Status, run.Blocker = MilestoneBlocked, firstLine(o.Note)
		summary, step = "Milestone blocked: "+o.MilestoneID, step+":"+o.MilestoneID
	case OutcomeComplaintResolved:
		c := j.complaint(o.ComplaintID)
		c.Status, c.ResolvedAt, c.Resolution = ComplaintResolved, now, firstLine(o.Note)
		j.c.Insight.Resolved++
		j.c.Insight.ResolveDays += float64(now.Sub(c.ReceivedAt)) / float64(j.in.DayLength)
		summary, step = "Complaint resolved: "+o.ComplaintID, step+":"+o.ComplaintID
		j.closeTasks(now, "complaint:"+o.ComplaintID, TaskDone, "complaint resolved", o.By)
		j.pruneComplaints(now)
	case OutcomeMeetingHeld:
		j.engage(now, j.pb.Scoring.Weights["meeting_held"])
		j.count(insights.Meetings, now)
		summary = "Meeting held"
		j.closeTasks(now, "touchpoint:", TaskDone, "meeting held", o.By)
		j.closeTasks(now, "qbr:", TaskDone, "meeting held", o.By)
	case OutcomeDesired:
		summary = j.applyDesired(now, o)
	case OutcomeSentiment:
		j.c.Happiness.Sentiment = o.Sentiment
		summary = fmt.Sprintf("CSM sentiment: %d of 5", o.Sentiment)
	case OutcomeRisk:
		j.c.Happiness.Risk = o.Risk
		if o.Risk == "none" {
			j.c.Happiness.Risk = ""
		}
		summary = "Risk: " + o.Risk
	case OutcomeRenewed:
		next := o.RenewalDate
		if next.IsZero() {
			next = j.c.RenewalDate.AddDate(1, 0, 0)
		}
		j.closeTasks(now, "renewal:", TaskDone, "renewal recorded", o.By)
		j.startTerm(now, next, "renewal recorded")
		summary = "Renewed until " + next.Format("2006-01-02")
	case OutcomeChurned, OutcomeOffboarded:
		j.c.Ended = &Ending{Kind: o.Kind, At: now, Note: o.Note}
		summary = "Journey ended: " + o.Kind
		if j.rev >= 5 {
			j.expireTasks(now, "the journey ended: "+o.Kind)
		}
	}
	j.entry(now, EntryOutcome, step, summary, outcomeCause(o), "")
	j.poke()
	return j.state(now, StateQuery{}), nil
}

func outcomeCause(o Outcome) string {
	cause := "recorded"
	switch {
	case o.Source == "email":
		cause = "chosen by the customer in an email"
	case o.By != "":
		cause += " by " + o.By
	}
	if o.Note != "" {
		cause += ": " + firstLine(o.Note)
	}
	return cause
}

// pruneComplaints keeps open complaints and resolved ones still weighing on
// happiness, plus the last 20 for the record.
func (j *journey) pruneComplaints(now time.Time) {
	residual := j.days(float64(j.pb.Scoring.ResidualDays))
	var kept []ComplaintRun
	for i, c := range j.c.Complaints {
		if c.Status == ComplaintOpen || now.Sub(c.ResolvedAt) < residual || i >= len(j.c.Complaints)-20 {
			kept = append(kept, c)
		}
	}
	j.c.Complaints = kept
}

func (j *journey) validatePause(p PauseRequest) error {
	if err := j.open(); err != nil {
		return err
	}
	if !j.c.PausedAt.IsZero() {
		return rejectf("the journey is already paused")
	}
	if strings.TrimSpace(p.Reason) == "" {
		return rejectf("reason: say why the journey is paused")
	}
	return asRejection(ValidatePause(p))
}

func (j *journey) onPause(ctx workflow.Context, p PauseRequest) (State, error) {
	now := workflow.Now(ctx).UTC()
	j.entry(now, EntrySystem, "pause", "Journey paused", p.Reason+by(p.By), "")
	j.c.PausedAt, j.c.PauseReason = now, p.Reason
	j.poke()
	return j.state(now, StateQuery{}), nil
}

func (j *journey) validateResume(r ResumeRequest) error {
	if err := j.open(); err != nil {
		return err
	}
	if j.c.PausedAt.IsZero() {
		return rejectf("the journey is not paused")
	}
	return asRejection(ValidateResume(r))
}

func (j *journey) onResume(ctx workflow.Context, r ResumeRequest) (State, error) {
	now := workflow.Now(ctx).UTC()
	paused := now.Sub(j.c.PausedAt)
	j.c.PausedTotal += paused
	j.c.PausedAt, j.c.PauseReason = time.Time{}, ""
	j.entry(now, EntrySystem, "resume", "Journey resumed",
		fmt.Sprintf("paused for %.1f days; the schedule moves by as much%s", float64(paused)/float64(j.in.DayLength), by(r.By)), "")
	j.poke()
	return j.state(now, StateQuery{}), nil
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " (by " + who + ")"
}

func (j *journey) validateReassign(r Reassignment) error {
	if err := j.open(); err != nil {
		return err
	}
	if err := ValidateReassign(r); err != nil {
		return asRejection(err)
	}
	if strings.EqualFold(r.CSM.Email, j.c.CSM.Email) {
		return rejectf("csm.email: %s is already the CSM", r.CSM.Email)
	}
	return nil
}

func (j *journey) onReassign(ctx workflow.Context, r Reassignment) (State, error) {
	now := workflow.Now(ctx).UTC()
	old := j.c.CSM
	j.c.CSM = Person{Name: r.CSM.Name, Email: r.CSM.Email}
	j.c.Reassignments++
	j.entry(now, EntryOutcome, "reassign", fmt.Sprintf("CSM changed from %s to %s", old.Name, r.CSM.Name), strings.TrimSpace(r.Reason+by(r.By)), "")
	if j.rev >= 5 {
		// The new CSM takes the open tasks over; an earlier handover's
		// briefing is moot.
		j.closeTasks(now, "reassign:", TaskExpired, "the account was reassigned again", "")
		j.retargetTasks()
	}
	j.poke()
	return j.state(now, StateQuery{}), nil
}

// drainEvents applies every engagement event that arrived as a signal, in
// the order the server received them. The API checked their shape; one
// the journey still refuses (an event type this playbook does not know, a
// journey that ended) is put on the timeline, not dropped silently.
func (j *journey) drainEvents(ctx workflow.Context) {
	var ev EngagementEvent
	for j.events.ReceiveAsync(&ev) {
		err := j.validateEvent(ctx, ev)
		switch {
		case err == nil:
			_, _ = j.onEvent(ctx, ev) // cannot fail
		case IsDuplicateEvent(err):
		default:
			var appErr *temporal.ApplicationError
			msg := err.Error()
			if errors.As(err, &appErr) {
				msg = appErr.Message()
			}
			j.entry(workflow.Now(ctx), EntrySystem, "event:"+ev.ID+":refused", "Event refused", msg, "")
		}
		ev = EngagementEvent{}
	}
}
