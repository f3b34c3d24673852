package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// step is one thing the journey will do at a time. Steps are derived from
// the state every time, never stored, so continue-as-new carries pending
// timers for free: their due times follow from the playbook and the state.
type step struct {
	key  string    // stable name, part of the email idempotency key
	kind string    // timeline kind of what it does
	due  time.Time // wall-clock time
	run  func(ctx workflow.Context, now time.Time) error
	// customer marks a step that emails the customer: it waits for the
	// contact's business hours, also when the journey wakes late.
	customer bool
}

// steps lists every pending step, earliest first.
func (j *journey) steps(now time.Time) []step {
	if j.c.Ended != nil {
		return nil
	}
	var out []step
	add := func(s step) { out = append(out, s) }
	j.complaintSteps(add) // complaints run on the wall clock, even when paused
	j.handoverSteps(add, now)
	j.emailNoticeSteps(add, now)
	if j.rev >= 2 {
		j.teamBounceSteps(add, now)
		j.noContactSteps(add, now)
		// The renewal date is on the calendar: a pause does not move it.
		j.renewalSteps(add)
	}
	if j.c.PausedAt.IsZero() {
		j.handoffSteps(add)
		if j.rev >= 2 {
			j.bookedHandoffSteps(add)
		}
		j.milestoneSteps(add)
		j.touchpointSteps(add)
		j.silenceSteps(add)
		j.adoptionSteps(add)
		if j.rev < 2 {
			j.renewalSteps(add)
		}
	}
	// Our side's tasks run on the wall clock, paused or not.
	j.taskSteps(add, slices.Clone(out))
	if j.rev >= 2 {
		// A customer email whose time has come outside business hours (the
		// journey woke late: a worker was down, a catch-up) waits for the
		// next business slot instead of going out at 3 a.m.
		for i := range out {
			if out[i].customer && !out[i].due.After(now) {
				out[i].due = j.customerTime(now)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b step) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

func (j *journey) businessHours() *businessHours {
	if j.hours == nil {
		bh := j.pb.BusinessHours
		h := &businessHours{}
		fmt.Sscanf(bh.Start, "%d:%d", &h.openH, &h.openM)
		fmt.Sscanf(bh.End, "%d:%d", &h.closeH, &h.closeM)
		for wd := time.Sunday; wd <= time.Saturday; wd++ {
			h.weekday[wd] = slices.Contains(bh.Weekdays, strings.ToLower(wd.String()[:3]))
		}
		j.hours = h
	}
	return j.hours
}

// customerTime moves a customer email into the champion's business hours.
// A shortened day (a demo) has no business hours.
func (j *journey) customerTime(t time.Time) time.Time {
	if j.in.DayLength != 24*time.Hour {
		return t
	}
	bh := j.businessHours()
	lt := t.In(j.loc)
	for range 8 {
		y, m, d := lt.Date()
		if bh.weekday[lt.Weekday()] {
			open := time.Date(y, m, d, bh.openH, bh.openM, 0, 0, j.loc)
			closing := time.Date(y, m, d, bh.closeH, bh.closeM, 0, 0, j.loc)
			if lt.Before(open) {
				return open.UTC()
			}
			if lt.Before(closing) {
				return lt.UTC()
			}
		}
		lt = time.Date(y, m, d+1, 0, 0, 0, 0, j.loc)
	}
	return t
}

func (j *journey) handoffSteps(add func(step)) {
	h := &j.c.Handoff
	hp := j.pb.Handoff
	if !h.WelcomeSent {
		add(step{key: "handoff:welcome", customer: true, kind: EntryTouchpoint, due: j.customerTime(j.dayAt(0)), run: func(ctx workflow.Context, now time.Time) error {
			h.WelcomeSent = true
			actions, summary := []action{actBookHandoff}, "Welcome email with the handoff booking link"
			var data map[string]string
			if asks := j.outcomeActions(); len(asks) > 0 && len(j.c.Outcomes) == 0 {
				// The champion is asked which outcome matters most, one click.
				actions = append(actions, asks...)
				data = map[string]string{"OutcomeQuestion": "yes"}
				summary += " and the desired-outcome question"
			}
			return j.emailCustomer(ctx, now, "handoff:welcome", hp.Template, data, actions, summary, "deal closed")
		}})
	}
	if !h.CSMTaskSent {
		add(step{key: "handoff:csm-task", kind: EntryTask, due: j.dayAt(0), run: func(ctx workflow.Context, now time.Time) error {
			h.CSMTaskSent = true
			return j.brief(ctx, now, "handoff:csm-task",
				fmt.Sprintf("New customer %s: hold the handoff call", j.in.Account.Name),
				fmt.Sprintf("Deal %s closed for %s (%s plan, renews %s).\nChampion: %s <%s>.\nHold the handoff call by day %d.",
					j.in.DealID, j.in.Account.Name, j.in.Account.Plan, j.c.RenewalDate.Format("2006-01-02"),
					j.champion().Name, j.champion().Email, hp.RemindAfterDays),
				"deal closed")
		}})
	}
	waiting := h.HeldAt.IsZero() && h.BookedAt.IsZero()
	if waiting && !h.ReminderSent {
		add(step{key: "handoff:reminder", customer: true, kind: EntryTouchpoint, due: j.customerTime(j.dayAt(hp.RemindAfterDays)), run: func(ctx workflow.Context, now time.Time) error {
			h.ReminderSent = true
			cause := fmt.Sprintf("handoff call not booked by day %d", hp.RemindAfterDays)
			if err := j.emailCustomer(ctx, now, "handoff:reminder", "handoff_reminder", nil, []action{actBookHandoff}, "Handoff call reminder", cause); err != nil {
				return err
			}
			return j.notify(ctx, now, roleCSM, "handoff:reminder-csm",
				fmt.Sprintf("%s has not booked the handoff call", j.in.Account.Name),
				fmt.Sprintf("The champion %s was reminded today. Reach out directly.", j.champion().Name), cause)
		}})
	}
	if waiting && !h.Escalated {
		add(step{key: "handoff:escalation", kind: EntryEscalation, due: j.dayAt(hp.EscalateAfterDays), run: func(ctx workflow.Context, now time.Time) error {
			h.Escalated = true
			return j.notify(ctx, now, roleManager, "handoff:escalation",
				fmt.Sprintf("Handoff call for %s not held after %d days", j.in.Account.Name, hp.EscalateAfterDays),
				fmt.Sprintf("%s (CSM) has not recorded the handoff call with %s. Deal %s.", j.c.CSM.Name, j.champion().Name, j.in.DealID),
				fmt.Sprintf("handoff call not held by day %d", hp.EscalateAfterDays))
		}})
	}
}

// bookedCallDue is when a booked handoff call should have been recorded as
// held: a day after the call when the booking said when, else the end of the
// playbook's handoff window, and for a booking made late in it, the
// reminder's span after the booking.
func (j *journey) bookedCallDue() time.Time {
	h := j.c.Handoff
	if !h.CallAt.IsZero() {
		return h.CallAt.Add(j.days(1))
	}
	hp := j.pb.Handoff
	end := j.dayAt(hp.EscalateAfterDays)
	if late := h.BookedAt.Add(j.days(float64(max(1, hp.RemindAfterDays)))); late.After(end) {
		return late
	}
	return end
}

// bookedKey names a booked-call step; a rebooking's steps have keys of
// their own, or the outbox would take them for the first booking's.
func (j *journey) bookedKey(step string) string {
	if n := j.c.Handoff.Rebookings; n > 0 {
		return fmt.Sprintf("%s:%d", step, n+1)
	}
	return step
}

// bookedHandoffSteps (since revision 2): a booked call is not a held one.
// Not recorded as held by its due time, the CSM is reminded; still not,
// the manager is told, as for a call never booked.
func (j *journey) bookedHandoffSteps(add func(step)) {
	h := &j.c.Handoff
	if h.BookedAt.IsZero() || !h.HeldAt.IsZero() {
		return
	}
	hp := j.pb.Handoff
	due := j.bookedCallDue()
	gap := j.days(float64(max(1, hp.EscalateAfterDays-hp.RemindAfterDays)))
	when := "by the end of the handoff window (day " + fmt.Sprint(hp.EscalateAfterDays) + ")"
	if !h.CallAt.IsZero() {
		when = "after the call booked for " + h.CallAt.Format("2006-01-02 15:04 MST")
	}
	if !h.BookedReminded {
		key := j.bookedKey("handoff:booked-reminder")
		add(step{key: key, kind: EntryTask, due: due, run: func(ctx workflow.Context, now time.Time) error {
			h.BookedReminded = true
			return j.notify(ctx, now, roleCSM, key,
				fmt.Sprintf("%s: was the handoff call held?", j.in.Account.Name),
				fmt.Sprintf("%s booked the handoff call, but it was not recorded as held %s. Record it (outcome handoff_held) or rebook it with the champion.", j.champion().Name, when),
				"booked handoff call not recorded as held "+when)
		}})
		return
	}
	if !h.BookedEscalated {
		key := j.bookedKey("handoff:booked-escalation")
		add(step{key: key, kind: EntryEscalation, due: due.Add(gap), run: func(ctx workflow.Context, now time.Time) error {
			h.BookedEscalated = true
			return j.notify(ctx, now, roleManager, key,
				fmt.Sprintf("Handoff call for %s booked but not held", j.in.Account.Name),
				fmt.Sprintf("%s (CSM) was reminded and has not recorded the handoff call with %s. Deal %s.", j.c.CSM.Name, j.champion().Name, j.in.DealID),
				"booked handoff call still not recorded as held "+when)
		}})
	}
}

func (j *journey) milestoneSteps(add func(step)) {
	for i := range j.c.Milestones {
		run := &j.c.Milestones[i]
		m, _ := j.pb.Milestone(run.ID)
		ladder := j.pb.Ladder(m)
		if run.Status != MilestonePending || run.LateStage >= len(ladder) {
			continue
		}
		rung := ladder[run.LateStage]
		key := fmt.Sprintf("milestone:%s:late-%d", m.ID, run.LateStage+1)
		due := j.dayAt(m.DueDay + rung.AfterDays)
		cause := fmt.Sprintf("milestone %q due day %d, not done %d days later", m.Name, m.DueDay, rung.AfterDays)
		s := step{key: key, due: due}
		switch rung.Action {
		case playbooks.ActionNudgeCustomer:
			s.kind, s.due, s.customer = EntryTouchpoint, j.customerTime(due), true
			s.run = func(ctx workflow.Context, now time.Time) error {
				run.LateStage++
				data := map[string]string{"Title": m.Name, "DueDay": fmt.Sprint(m.DueDay), "Deliverables": strings.Join(m.Deliverables, ", ")}
				return j.emailCustomer(ctx, now, key, "milestone_nudge", data, []action{actOnTrack, actNeedHelp}, "Nudge: "+m.Name, cause)
			}
		case playbooks.ActionCSMTask:
			s.kind = EntryTask
			s.run = func(ctx workflow.Context, now time.Time) error {
				run.LateStage++
				return j.notify(ctx, now, roleCSM, key, fmt.Sprintf("%s: milestone %q is late", j.in.Account.Name, m.Name),
					fmt.Sprintf("Due day %d, owner %s. Deliverables: %s. Unblock it or record it done.", m.DueDay, m.Owner, strings.Join(m.Deliverables, ", ")), cause)
			}
		default: // manager
			s.kind = EntryEscalation
			s.run = func(ctx workflow.Context, now time.Time) error {
				run.LateStage++
				return j.notify(ctx, now, roleManager, key, fmt.Sprintf("%s: milestone %q is %d days late", j.in.Account.Name, m.Name, rung.AfterDays),
					fmt.Sprintf("CSM %s has been tasked. Owner: %s.", j.c.CSM.Name, m.Owner), cause)
			}
		}
		add(s)
	}
}

func (j *journey) touchpointSteps(add func(step)) {
	for i, tp := range j.pb.Touchpoints {
		if j.c.TouchpointsSent[i] {
			continue
		}
		key := "touchpoint:" + tp.ID
		add(step{key: key, customer: true, kind: EntryTouchpoint, due: j.customerTime(j.dayAt(tp.Day)), run: func(ctx workflow.Context, now time.Time) error {
			j.c.TouchpointsSent[i] = true
			name := TouchpointTitle(tp)
			data := map[string]string{"Title": name}
			cause := fmt.Sprintf("playbook day %d", tp.Day)
			var about *insights.Subject
			switch tp.Kind {
			case playbooks.KindReview:
				data = j.outcomeData(data)
			case playbooks.KindBestPractices:
				// Filled at send time from the latest insights.
				data, about = j.outcomeData(data), j.gapsRequest()
			}
			if err := j.emailCustomerAbout(ctx, now, key, tp.Template, data, actionsFor(tp.Kind), name, cause, about, tp.Audience()); err != nil {
				return err
			}
			if tp.Kind != playbooks.KindReview {
				return nil
			}
			return j.notify(ctx, now, roleCSM, key+":csm", fmt.Sprintf("%s: prepare the %s", j.in.Account.Name, strings.ToLower(name)),
				"The customer was invited to book it today. Bring milestone progress and the scores."+j.outcomeLine(), cause)
		}})
	}
}

func (j *journey) silenceSteps(add func(step)) {
	s := &j.c.Silence
	sp := j.pb.Silence
	if s.Stage == 0 {
		key := fmt.Sprintf("silence:%d:reengage", s.Cycle)
		add(step{key: key, customer: true, kind: EntryTouchpoint, due: j.customerTime(j.wallAt(s.Anchor + j.days(float64(sp.ReengageAfterDays)))), run: func(ctx workflow.Context, now time.Time) error {
			s.Stage = 1
			cause := j.silenceCause(now)
			if err := j.emailCustomer(ctx, now, key, "reengage", nil, []action{actOnTrack, actNeedHelp, actProblem}, "Re-engagement email", cause); err != nil {
				return err
			}
			return j.notify(ctx, now, roleCSM, key+":csm", fmt.Sprintf("%s has gone quiet", j.in.Account.Name),
				"A re-engagement email went out today. Call the champion.", cause)
		}})
		return
	}
	key := fmt.Sprintf("silence:%d:manager", s.Cycle)
	add(step{key: key, kind: EntryEscalation, due: j.wallAt(s.Anchor + j.days(float64(sp.ManagerAfterDays))), run: func(ctx workflow.Context, now time.Time) error {
		cause := j.silenceCause(now)
		// The next cycle counts from here: a still-silent customer is chased again.
		*s = SilenceState{Anchor: j.jt(now), Cycle: s.Cycle + 1}
		return j.notify(ctx, now, roleManager, key, fmt.Sprintf("%s has been silent despite re-engagement", j.in.Account.Name),
			fmt.Sprintf("CSM %s was tasked; still no engagement.", j.c.CSM.Name), cause)
	}})
}

func (j *journey) silenceCause(now time.Time) string {
	return fmt.Sprintf("no engagement for %d days", j.silentDays(now))
}

func (j *journey) complaintSteps(add func(step)) {
	for i := range j.c.Complaints {
		c := &j.c.Complaints[i]
		if c.Status != ComplaintOpen {
			continue
		}
		switch {
		case c.Stage == ComplaintReceived:
			key := "complaint:" + c.ID + ":csm"
			add(step{key: key, kind: EntryTask, due: c.ReceivedAt, run: func(ctx workflow.Context, now time.Time) error {
				c.Stage = ComplaintCSMTold
				return j.notify(ctx, now, roleCSM, key, fmt.Sprintf("Complaint from %s (%s)", j.in.Account.Name, c.Severity),
					fmt.Sprintf("%s\n\nSLA: resolve by %s. Record the resolution as an outcome.", c.Summary, c.SLADue.Format(time.RFC1123)),
					"complaint "+c.ID+" received")
			}})
		case c.Stage == ComplaintCSMTold:
			key := "complaint:" + c.ID + ":sla"
			add(step{key: key, kind: EntryEscalation, due: c.SLADue, run: func(ctx workflow.Context, now time.Time) error {
				c.Stage = ComplaintManager
				cause := fmt.Sprintf("complaint %s (%s) unresolved past its SLA", c.ID, c.Severity)
				if err := j.notify(ctx, now, roleCSM, key+":csm", fmt.Sprintf("Complaint %s from %s is past its SLA", c.ID, j.in.Account.Name), c.Summary, cause); err != nil {
					return err
				}
				return j.notify(ctx, now, roleManager, key, fmt.Sprintf("Complaint from %s past SLA (%s)", j.in.Account.Name, c.Severity),
					fmt.Sprintf("%s\n\nCSM: %s. Received %s.", c.Summary, j.c.CSM.Name, c.ReceivedAt.Format(time.RFC1123)), cause)
			}})
		case c.Stage == ComplaintManager && c.Severity == "critical":
			key := "complaint:" + c.ID + ":sponsor"
			due := c.SLADue.Add(j.days(j.pb.Complaints.SponsorAfterSLADays))
			add(step{key: key, kind: EntryEscalation, due: due, run: func(ctx workflow.Context, now time.Time) error {
				c.Stage = ComplaintSponsor
				return j.notify(ctx, now, roleSponsor, key, fmt.Sprintf("Critical complaint from %s still unresolved", j.in.Account.Name),
					fmt.Sprintf("%s\n\nPast SLA since %s. CSM %s and the CS manager are on it.", c.Summary, c.SLADue.Format(time.RFC1123), j.c.CSM.Name),
					fmt.Sprintf("critical complaint %s unresolved %g days past SLA", c.ID, j.pb.Complaints.SponsorAfterSLADays))
			}})
		}
	}
}

// emailNoticeSteps tells the CSM that customer email stopped.
func (j *journey) emailNoticeSteps(add func(step), now time.Time) {
	if j.c.EmailNotices >= j.c.Suppressions {
		return
	}
	key := fmt.Sprintf("email:stopped:%d:csm", j.c.Suppressions)
	add(step{key: key, kind: EntryTask, due: now, run: func(ctx workflow.Context, now time.Time) error {
		j.c.EmailNotices = j.c.Suppressions
		body := fmt.Sprintf("We no longer email %s (%s). The journey continues; reach the champion another way, or change the champion's contact (PUT /v1/customers/{id}/champion).", j.champion().Name, j.c.EmailBlocked)
		if j.rev >= 6 {
			if n := j.reachable(); n > 0 {
				body += fmt.Sprintf(" The other contacts (%d reachable) still get the emails meant for their roles; the champion's own go to them only when their role is named. Make one of them the champion (PATCH /v1/customers/{id}/contacts/{contact} with role champion) to send the champion's emails there.", n)
			} else {
				body += " Nobody else at the account can be emailed: add a contact (POST /v1/customers/{id}/contacts)."
			}
		}
		return j.notify(ctx, now, roleCSM, key, fmt.Sprintf("%s: emails to %s stopped", j.in.Account.Name, j.champion().Email),
			body, "champion's address suppressed: "+j.c.EmailBlocked)
	}})
}

// handoverSteps briefs a newly assigned CSM at once.
func (j *journey) handoverSteps(add func(step), now time.Time) {
	if j.c.HandoversSent >= j.c.Reassignments {
		return
	}
	key := fmt.Sprintf("reassign:%d", j.c.Reassignments)
	add(step{key: key, kind: EntryTask, due: now, run: func(ctx workflow.Context, now time.Time) error {
		j.c.HandoversSent = j.c.Reassignments
		st := j.state(now, StateQuery{})
		return j.brief(ctx, now, key, fmt.Sprintf("You are now the CSM of %s", j.in.Account.Name),
			fmt.Sprintf("Phase %s, day %d. Health %s: %s.\nChampion: %s <%s>.", st.Phase, st.Day, st.Scores.Health,
				strings.Join(st.Scores.Reasons, "; "), j.champion().Name, j.champion().Email), "CSM reassigned")
	}})
}

func (j *journey) adoptionSteps(add func(step)) {
	a := &j.c.Adoption
	ap := j.pb.Adoption
	if !a.Started {
		add(step{key: "phase:adoption", kind: EntrySystem, due: j.dayAt(j.pb.OnboardingDays), run: func(ctx workflow.Context, now time.Time) error {
			a.Started = true
			j.entry(now, EntrySystem, "phase:adoption", "Onboarding complete: adoption phase begins", fmt.Sprintf("day %d reached", j.pb.OnboardingDays), "")
			return nil
		}})
		return
	}
	{
		day := a.NextCheckinDay
		key := fmt.Sprintf("checkin:d%d", day)
		add(step{key: key, customer: true, kind: EntryTouchpoint, due: j.customerTime(j.dayAt(day)), run: func(ctx workflow.Context, now time.Time) error {
			a.NextCheckinDay = j.checkinAfter(day)
			return j.emailCustomer(ctx, now, key, ap.CheckinTemplate, map[string]string{"Title": fmt.Sprintf("Day %d check-in", day)},
				actionsFor(playbooks.KindCheckin), fmt.Sprintf("Day %d check-in", day), fmt.Sprintf("adoption check-in every %d days", ap.CheckinEveryDays))
		}})
	}
	day := a.NextQBRDay
	key := fmt.Sprintf("qbr:d%d", day)
	add(step{key: key, customer: true, kind: EntryTouchpoint, due: j.customerTime(j.dayAt(day)), run: func(ctx workflow.Context, now time.Time) error {
		a.NextQBRDay += ap.QBREveryDays
		cause := fmt.Sprintf("QBR every %d days", ap.QBREveryDays)
		if err := j.emailCustomerAbout(ctx, now, key, ap.QBRTemplate, j.outcomeData(map[string]string{"Title": "Quarterly business review"}), []action{actBookReview}, "QBR invitation", cause, nil, ap.QBRAudience()); err != nil {
			return err
		}
		return j.brief(ctx, now, key+":csm", fmt.Sprintf("%s: prepare the QBR", j.in.Account.Name),
			"The customer was invited to book the quarterly business review.", cause)
	}})
}

func (j *journey) renewalSteps(add func(step)) {
	a := &j.c.Adoption
	ap := j.pb.Adoption
	renewal := j.c.RenewalDate.Format("2006-01-02")
	at := j.dayAt
	if j.rev >= 2 {
		at = j.calendarAt
	}
	if a.RemindersSent < len(ap.RenewalReminderDays) {
		before := ap.RenewalReminderDays[a.RemindersSent]
		key := fmt.Sprintf("renewal:%s:%dd", renewal, before)
		add(step{key: key, customer: true, kind: EntryTouchpoint, due: j.customerTime(at(j.renewalDay() - before)), run: func(ctx workflow.Context, now time.Time) error {
			a.RemindersSent++
			cause := fmt.Sprintf("%d days before renewal on %s", before, renewal)
			data := map[string]string{"RenewalDate": renewal, "DaysBefore": fmt.Sprint(before)}
			if err := j.emailCustomerAbout(ctx, now, key, ap.RenewalTemplate, data, []action{actOnTrack, actNeedHelp}, fmt.Sprintf("Renewal reminder (%d days)", before), cause, nil, ap.RenewalAudience()); err != nil {
				return err
			}
			return j.notify(ctx, now, roleCSM, key+":csm", fmt.Sprintf("%s renews in %d days", j.in.Account.Name, before),
				fmt.Sprintf("Renewal date %s. Record the renewal (or churn) as an outcome.", renewal), cause)
		}})
	}
	key := "term:" + renewal
	add(step{key: key, kind: EntrySystem, due: at(j.renewalDay()), run: func(ctx workflow.Context, now time.Time) error {
		j.startTerm(now, j.c.RenewalDate.AddDate(1, 0, 0), "renewal date reached with no churn recorded")
		return j.notify(ctx, now, roleCSM, key, fmt.Sprintf("%s: term %d began", j.in.Account.Name, j.c.Term),
			fmt.Sprintf("No churn was recorded by %s, so the next term runs to %s.", renewal, j.c.RenewalDate.Format("2006-01-02")), "renewal date reached")
	}})
}

// checkinAfter is the first check-in day after day that is not a QBR day:
// a QBR replaces the check-in that falls on the same day.
func (j *journey) checkinAfter(day int) int {
	ap := j.pb.Adoption
	next := day + ap.CheckinEveryDays
	for (next-j.pb.OnboardingDays)%ap.QBREveryDays == 0 {
		next += ap.CheckinEveryDays
	}
	return next
}

// startTerm moves to the next term; the loop continues as new right after.
func (j *journey) startTerm(now, renewal time.Time, cause string) {
	j.closeTasks(now, "renewal:"+j.c.RenewalDate.Format("2006-01-02"), TaskExpired, "the term ended", "")
	j.c.Term++
	j.c.RenewalDate = renewal.UTC()
	j.c.Adoption.RemindersSent = 0
	j.skipPastReminders(now)
	j.newRun = true
	j.entry(now, EntrySystem, fmt.Sprintf("term:%d", j.c.Term),
		fmt.Sprintf("Term %d began; next renewal %s", j.c.Term, j.c.RenewalDate.Format("2006-01-02")), cause, "")
}

// skipPastReminders skips renewal reminders whose day had passed before the
// term began: a customer renewing in 40 days gets the 30-day reminder only.
func (j *journey) skipPastReminders(now time.Time) {
	today := j.dayOf(now)
	if j.rev >= 2 {
		today = j.calendarDay(now)
	}
	days := j.pb.Adoption.RenewalReminderDays
	for j.c.Adoption.RemindersSent < len(days) && float64(j.renewalDay()-days[j.c.Adoption.RemindersSent]) < today {
		j.c.Adoption.RemindersSent++
	}
}
