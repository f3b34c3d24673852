package e2e

import (
	"fmt"
	"slices"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// A corpus scenario plays one journey and says, per run, what that run's
// history must show. Days are short (100-500 ms) and the playbooks small,
// so that every scenario's steps fall within seconds; they all run at once.
type corpusScenario struct {
	name string
	play func(r *recording)
	runs [][]check
}

var (
	completed      = ended(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
	continuedAsNew = ended(enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW)
	stillRunning   = ended(enumspb.EVENT_TYPE_UNSPECIFIED)
)

var corpusScenarios = []corpusScenario{
	{
		// Handoff reminder and escalation, every touchpoint kind, both
		// milestone ladders to the manager, events as signals and as
		// updates, a pause.
		name: "onboarding",
		play: playOnboarding,
		runs: [][]check{{
			sent("handoff:welcome"), sent("handoff:csm-task"), sent("handoff:reminder"), sent("handoff:reminder-csm"),
			sent("handoff:escalation"),
			sent("touchpoint:training-basics"), sent("touchpoint:webinar-welcome"), sent("touchpoint:checkin-3"),
			sent("touchpoint:pulse-5"), sent("touchpoint:review-7"), sent("touchpoint:review-7:csm"), sent("touchpoint:practices-4"),
			memoUpserted(3), updated(workflows.UpdateOutcome),
			sent("milestone:kickoff:late-1"), sent("milestone:kickoff:late-2"), sent("milestone:kickoff:late-3"),
			sent("milestone:team_trained:late-1"), sent("milestone:team_trained:late-2"), sent("milestone:team_trained:late-3"),
			signaled(workflows.SignalEvent), updated(workflows.UpdateEvent),
			updated(workflows.UpdatePause), updated(workflows.UpdateResume), completed,
		}},
	},
	{
		// Two silence cycles to the manager, then an event (a signal)
		// starts the clock again.
		name: "silence",
		play: playSilence,
		runs: [][]check{{
			sentLike("silence:", ":reengage", 3), sentLike("silence:", ":reengage:csm", 3),
			sentLike("silence:", ":manager", 2), signaled(workflows.SignalEvent), sentLikeAfterSignal("silence:", ":reengage"), completed,
		}},
	},
	{
		// One complaint per severity, each past its SLA; the critical one
		// reaches the sponsor.
		name: "complaints",
		play: playComplaints,
		runs: [][]check{{
			sentAbout("complaint:c1:csm", "(low)"), sentAbout("complaint:c1:sla", "(low)"), sent("complaint:c1:sla:csm"),
			sentAbout("complaint:c2:sla", "(medium)"), sentAbout("complaint:c3:sla", "(high)"),
			sentAbout("complaint:c4:sla", "(critical)"), sentTo("complaint:c4:sponsor", "vp@vendor.example"),
			updated(workflows.UpdateComplaint), updated(workflows.UpdateTask), completed,
		}},
	},
	{
		// Adoption: check-ins, QBRs, both renewal reminders and the term
		// boundary, where the journey continues as new; the second run goes
		// on with the same schedule.
		name: "renewal-term",
		play: playRenewalTerm,
		runs: [][]check{
			{
				sent("checkin:d20"), sent("checkin:d40"), sent("qbr:d30"), sent("qbr:d30:csm"), sent("qbr:d50"),
				sentLike("renewal:", ":30d", 1), sentLike("renewal:", ":30d:csm", 1), sentLike("renewal:", ":15d", 1),
				sentLike("term:", "", 1), continuedAsNew,
			},
			{sent("qbr:d70"), completed},
		},
	},
	{
		// Reassignment, the champion's address suppressed (customer email
		// stops), a team address suppressed (customer email goes on), a new
		// champion (customer email resumes, to the new address), a pause.
		name: "contacts",
		play: playContacts,
		runs: [][]check{{
			sentTo("reassign:1", "linus@vendor.example"), sent("email:stopped:1:csm"),
			sentTo("email:team:1:notice", "linus@vendor.example"),
			sentTo("touchpoint:checkin-4", "barbara@contacts.example"), sentTo("touchpoint:checkin-8", "barbara@contacts.example"),
			sentTo("touchpoint:training-5", "uma@contacts.example"),
			updated(workflows.UpdateReassign), updated(workflows.UpdateEmail), updated(workflows.UpdateChampion), updated(workflows.UpdateContact),
			updated(workflows.UpdatePause), updated(workflows.UpdateResume), completed,
		}},
	},
	{
		// Since revision 7: a customer imported at day 6 of onboarding
		// (nothing of days 0-5 sent, the milestone due on day 3 imported),
		// a complaint opened and resolved, and churn; the journey events the
		// corpus's subscriber takes go out as webhook messages in flight.
		name: "import",
		play: playImport,
		runs: [][]check{{
			sent("touchpoint:checkin-7"), sent("touchpoint:training-8"), notSent("handoff:welcome"), notSent("touchpoint:checkin-2"),
			notSent("milestone:kickoff:late-1"), sent("milestone:setup:late-1"),
			webhook("complaint.opened"), webhook("task.opened"), webhook("complaint.resolved"), webhook("customer.churned"),
			updated(workflows.UpdateComplaint), updated(workflows.UpdateOutcome), completed,
		}},
	},
	{
		// The welcome cannot be delivered: retried, given up at its
		// delivery deadline, and the CSM is told.
		name: "send-failure",
		play: playSendFailure,
		runs: [][]check{{sentTo("handoff:welcome", unreachable), sent("handoff:welcome:failed"), completed}},
	},
	{
		// A 24-hour day started outside the champion's business hours: the
		// welcome waits for the next business slot on a timer; the CSM's
		// task goes out at once. Recorded while it waits, then terminated.
		name: "business-hours",
		play: playBusinessHours,
		runs: [][]check{{sent("handoff:csm-task"), noCustomerEmail(), timerBetween(time.Minute, 3*24*time.Hour), stillRunning}},
	},
}

func corpusInput(id string, pb *playbooks.Playbook, day time.Duration) workflows.JourneyInput {
	return workflows.JourneyInput{
		Account:      workflows.Account{ID: id, Name: "Corpus " + id, Plan: "growth", RenewalDate: time.Now().AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@" + id + ".example", TimeZone: "Europe/London"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example",
		SponsorEmail: "vp@vendor.example",
		DealID:       "deal-" + id,
		Playbook:     pb,
		DayLength:    day,
	}
}

// corpusPlaybook is the default playbook under the scenario's own name.
func corpusPlaybook(name string) *playbooks.Playbook {
	pb := playbooks.Default()
	pb.ID, pb.Version, pb.Name = "corpus-"+name, 1, "Corpus: "+name
	return pb
}

// lean is a playbook about one thing: one milestone (recorded done by
// settle), no touchpoints, no silence within the scenario's days.
func lean(name string, onboardingDays int) *playbooks.Playbook {
	pb := corpusPlaybook(name)
	pb.OnboardingDays = onboardingDays
	pb.Milestones = []playbooks.Milestone{{ID: "kickoff", Name: "Kickoff and success plan agreed", DueDay: 1, Owner: "csm",
		Deliverables: []string{"Success plan document"}}}
	pb.Touchpoints = nil
	pb.Silence = playbooks.Silence{ReengageAfterDays: 1000, ManagerAfterDays: 1001}
	return pb
}

func playOnboarding(r *recording) {
	pb := corpusPlaybook("onboarding")
	pb.OnboardingDays = 14
	pb.Handoff.RemindAfterDays, pb.Handoff.EscalateAfterDays = 2, 4
	pb.Milestones = []playbooks.Milestone{
		{ID: "kickoff", Name: "Kickoff and success plan agreed", DueDay: 3, Owner: "csm", Deliverables: []string{"Success plan document"}},
		{ID: "team_trained", Name: "Team trained", DueDay: 5, Owner: "customer", Deliverables: []string{"Admins certified"},
			Late: []playbooks.LadderStep{{AfterDays: 1, Action: playbooks.ActionNudgeCustomer}, {AfterDays: 2, Action: playbooks.ActionCSMTask}, {AfterDays: 3, Action: playbooks.ActionManager}}},
	}
	pb.Touchpoints = []playbooks.Touchpoint{
		{ID: "training-basics", Day: 1, Kind: playbooks.KindTrainingInvite, Template: "training_invite"},
		{ID: "webinar-welcome", Day: 2, Kind: playbooks.KindWebinarInvite, Template: "webinar_invite"},
		{ID: "checkin-3", Day: 3, Kind: playbooks.KindCheckin, Template: "checkin"},
		{ID: "pulse-5", Day: 5, Kind: playbooks.KindHappinessPulse, Template: "happiness_pulse"},
		{ID: "review-7", Day: 7, Kind: playbooks.KindReview, Template: "review"},
		{ID: "practices-4", Day: 4, Kind: playbooks.KindBestPractices, Template: "best_practices"},
	}
	pb.Silence = playbooks.Silence{ReengageAfterDays: 30, ManagerAfterDays: 40}
	r.begin(corpusInput("onboarding", pb, 500*time.Millisecond))
	r.waitStep("handoff:welcome", 10*time.Second)
	r.day(0.5)
	r.signal(workflows.EngagementEvent{ID: "login-1", Type: "login", Source: "product"})
	r.outcome(workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "cut-reporting-time", Source: "email", By: "customer"})
	r.update(workflows.UpdateEvent, workflows.EngagementEvent{ID: "training-1", Type: "training_completed", Source: "academy"})
	r.day(1.5)
	r.update(workflows.UpdateEvent, workflows.EngagementEvent{ID: "webinar-1", Type: "webinar_attended", Source: "webinar tool"})
	r.waitStep("handoff:reminder", 10*time.Second)
	// Longer than the server's timer resolution (about a second), so that
	// the schedule visibly moves by the pause.
	r.update(workflows.UpdatePause, workflows.PauseRequest{Reason: "customer on holiday", By: "grace"})
	time.Sleep(1500 * time.Millisecond)
	r.update(workflows.UpdateResume, workflows.ResumeRequest{By: "grace"})
	r.signal(workflows.EngagementEvent{ID: "login-2", Type: "login", Source: "product"})
	r.waitStep("milestone:team_trained:late-3", 20*time.Second) // journey day 8
	r.waitStep("milestone:kickoff:late-3", 20*time.Second)      // journey day 10
	r.waitIdle(10 * time.Second)
	r.end()
}

func playSilence(r *recording) {
	pb := lean("silence", 30)
	pb.Silence = playbooks.Silence{ReengageAfterDays: 3, ManagerAfterDays: 5}
	r.begin(corpusInput("silence", pb, 500*time.Millisecond))
	r.settle()
	// Cycles from day 0: re-engage at 3, manager at 5; again at 8 and 10.
	r.waitFor("two silence escalations", 20*time.Second, func(tl workflows.Timeline) bool {
		return count(tl, like("silence:", ":manager")) >= 2
	})
	r.signal(workflows.EngagementEvent{ID: "back-1", Type: "login", Source: "product"})
	r.waitFor("a re-engagement after the event", 20*time.Second, func(tl workflows.Timeline) bool {
		i := slices.IndexFunc(tl.Entries, exactly("event:back-1"))
		return i >= 0 && slices.ContainsFunc(tl.Entries[i:], like("silence:", ":reengage"))
	})
	r.waitIdle(10 * time.Second)
	r.end()
}

func playComplaints(r *recording) {
	pb := lean("complaints", 30)
	pb.Complaints = playbooks.Complaints{
		SLADays:             map[string]float64{"low": 4, "medium": 3, "high": 2, "critical": 1},
		SponsorAfterSLADays: 1,
	}
	r.begin(corpusInput("complaints", pb, 500*time.Millisecond))
	r.settle()
	// Received in this order, they are c1 (low) to c4 (critical).
	for _, sev := range playbooks.Severities {
		r.update(workflows.UpdateComplaint, workflows.Complaint{Severity: sev, Summary: "Nightly export fails (" + sev + ")", Source: "support"})
	}
	// Since revision 5 each complaint is a task: one is snoozed (its SLA
	// step ends the snooze), one marked done by hand.
	st, err := r.state()
	if err != nil {
		r.failf("state: %v", err)
		return
	}
	for _, tk := range st.Tasks {
		switch tk.Subject {
		case "complaint:c1":
			r.update(workflows.UpdateTask, workflows.TaskAction{Task: tk.ID, Action: workflows.TaskActionSnooze,
				Until: time.Now().Add(time.Second), Reason: "waiting for the nightly run", By: "Grace Hopper"})
		case "complaint:c2":
			r.update(workflows.UpdateTask, workflows.TaskAction{Task: tk.ID, Action: workflows.TaskActionDone, Reason: "called the champion", By: "Grace Hopper"})
		}
	}
	r.waitStep("complaint:c4:sponsor", 15*time.Second)
	r.waitStep("complaint:c1:sla", 15*time.Second)
	r.outcome(workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c1", Note: "patched"})
	r.waitIdle(10 * time.Second)
	r.end()
}

func playRenewalTerm(r *recording) {
	pb := lean("renewal-term", 10)
	pb.Adoption.CheckinEveryDays, pb.Adoption.QBREveryDays = 10, 20
	pb.Adoption.RenewalReminderDays = []int{30, 15}
	in := corpusInput("renewal-term", pb, 100*time.Millisecond)
	// Renewal on calendar day 60: reminders on days 30 and 45, the term
	// boundary on day 60, six seconds in.
	in.Account.RenewalDate = time.Now().AddDate(0, 0, 60)
	r.begin(in)
	r.settle()
	r.waitStep("term:2", 20*time.Second)
	r.waitStep("qbr:d70", 20*time.Second)
	r.waitIdle(10 * time.Second)
	r.end()
}

func playContacts(r *recording) {
	pb := lean("contacts", 20)
	pb.Touchpoints = []playbooks.Touchpoint{
		{ID: "checkin-2", Day: 2, Kind: playbooks.KindCheckin, Template: "checkin"},
		{ID: "checkin-4", Day: 4, Kind: playbooks.KindCheckin, Template: "checkin"},
		{ID: "training-5", Day: 5, Kind: playbooks.KindTrainingInvite, Template: "training_invite"},
		{ID: "pulse-6", Day: 6, Kind: playbooks.KindHappinessPulse, Template: "happiness_pulse"},
		{ID: "checkin-8", Day: 8, Kind: playbooks.KindCheckin, Template: "checkin"},
	}
	// One-second days: eight journeys record at once, and an update can
	// land a few hundred milliseconds after it is sent; the bounce must
	// come before day 2's check-in.
	in := corpusInput("contacts", pb, time.Second)
	in.Contacts = []workflows.Contact{{Role: workflows.ContactAdmin, Name: "Tim Admin", Email: "tim@contacts.example"}}
	r.begin(in)
	r.settle()
	r.day(0.5)
	r.update(workflows.UpdateReassign, workflows.Reassignment{
		CSM: workflows.Person{Name: "Linus Torvalds", Email: "linus@vendor.example"}, Reason: "Grace moves to enterprise accounts", By: "lead"})
	r.waitStep("reassign:1", 10*time.Second)
	r.day(1)
	r.update(workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: in.Champion.Email})
	r.waitStep("email:stopped:1:csm", 10*time.Second)
	r.waitStep("touchpoint:checkin-2:not-sent", 10*time.Second)
	r.day(2.5)
	r.update(workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: in.ManagerEmail})
	r.waitStep("email:team:1:notice", 10*time.Second)
	r.day(3)
	r.update(workflows.UpdateChampion, workflows.ChampionChange{
		Champion: workflows.Person{Name: "Barbara Liskov", Email: "barbara@contacts.example", TimeZone: "America/New_York"}, Reason: "Ada left", By: "linus"})
	r.waitStep("touchpoint:checkin-4", 10*time.Second)
	// Since revision 6: a user added, the admin's address bounced; the
	// training invite goes to the user alone.
	r.update(workflows.UpdateContact, workflows.ContactChange{Op: workflows.ContactAdd,
		Contact: workflows.Contact{Role: workflows.ContactUser, Name: "Uma User", Email: "uma@contacts.example"}, By: "linus"})
	r.update(workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: "tim@contacts.example"})
	r.update(workflows.UpdatePause, workflows.PauseRequest{Reason: "legal hold", By: "linus"})
	time.Sleep(1500 * time.Millisecond) // a day and a half: pulse-6 and checkin-8 move by as much
	r.update(workflows.UpdateResume, workflows.ResumeRequest{By: "linus"})
	r.waitStep("touchpoint:checkin-8", 15*time.Second)
	r.waitIdle(10 * time.Second)
	r.end()
}

func playImport(r *recording) {
	pb := lean("import", 20)
	pb.Milestones = append(pb.Milestones, playbooks.Milestone{ID: "setup", Name: "Technical setup complete", DueDay: 8, Owner: "customer",
		Deliverables: []string{"SSO configured"}})
	pb.Touchpoints = []playbooks.Touchpoint{
		{ID: "checkin-2", Day: 2, Kind: playbooks.KindCheckin, Template: "checkin"},
		{ID: "checkin-7", Day: 7, Kind: playbooks.KindCheckin, Template: "checkin"},
		{ID: "training-8", Day: 8, Kind: playbooks.KindTrainingInvite, Template: "training_invite"},
	}
	in := corpusInput("import", pb, 500*time.Millisecond)
	in.Import = &workflows.Import{Day: 6, Phase: workflows.PhaseOnboarding, Source: "line 2"}
	r.begin(in)
	r.waitStep("journey:import", 10*time.Second)
	r.update(workflows.UpdateComplaint, workflows.Complaint{Severity: "high", Summary: "Exports fail", Source: "support"})
	r.waitStep("touchpoint:checkin-7", 10*time.Second)
	r.outcome(workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c1", Note: "patched"})
	r.waitStep("milestone:setup:late-1", 15*time.Second) // journey day 9
	r.waitIdle(10 * time.Second)
	r.end()
}

func playSendFailure(r *recording) {
	pb := lean("send-failure", 200)
	// Half a day, raised to the journey's minimum delivery window (10 s of
	// real time): attempts at 0, 1, 3 and 7 s (the retry policy's backoff),
	// and the next would be past the deadline.
	pb.Delivery.GiveUpAfterDays = 0.5
	in := corpusInput("send-failure", pb, 500*time.Millisecond)
	in.MinDeliveryWindow = 10 * time.Second
	in.Champion.Email = unreachable
	r.begin(in)
	r.settle()
	r.waitFor("the failure notice", in.MinDeliveryWindow+30*time.Second, func(tl workflows.Timeline) bool {
		return slices.ContainsFunc(tl.Entries, func(e workflows.Entry) bool {
			return e.Step == "handoff:welcome:failed" && e.Kind == workflows.EntryTask
		})
	})
	r.waitIdle(10 * time.Second)
	r.end()
}

// outsideHoursZones are candidate champion zones, one every few hours
// around the globe: at any moment several are outside 09:00-17:00.
var outsideHoursZones = []string{
	"Pacific/Kiritimati", "Pacific/Auckland", "Asia/Tokyo", "Asia/Bangkok", "Asia/Dubai", "Europe/Moscow",
	"Europe/London", "Atlantic/Azores", "America/Sao_Paulo", "America/New_York", "America/Chicago",
	"America/Denver", "America/Los_Angeles", "Pacific/Honolulu", "Pacific/Pago_Pago",
}

// businessSlot is the next opening of the default playbook's business
// hours (Mon-Fri 09:00-17:00) at or after t in loc, and whether t is in
// them.
func businessSlot(t time.Time, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	for range 8 {
		y, m, d := lt.Date()
		if wd := lt.Weekday(); wd != time.Saturday && wd != time.Sunday {
			open, closing := time.Date(y, m, d, 9, 0, 0, 0, loc), time.Date(y, m, d, 17, 0, 0, 0, loc)
			if lt.Before(open) {
				return open, false
			}
			if lt.Before(closing) {
				return lt, true
			}
		}
		lt = time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	}
	return time.Time{}, false
}

func playBusinessHours(r *recording) {
	// A zone where now and the next quarter of an hour are outside hours,
	// with the same next slot: the welcome is deferred whenever it starts.
	now := time.Now()
	zone, slot := "", time.Time{}
	for _, z := range outsideHoursZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			continue
		}
		s1, in1 := businessSlot(now, loc)
		s2, in2 := businessSlot(now.Add(15*time.Minute), loc)
		if !in1 && !in2 && s1.Equal(s2) {
			zone, slot = z, s1
			break
		}
	}
	if zone == "" {
		r.failf("no candidate zone is outside business hours at %s", now)
		return
	}
	in := corpusInput("business-hours", playbooks.Default(), workflows.DefaultDayLength)
	in.Champion.TimeZone = zone
	r.begin(in)
	r.waitStep("handoff:csm-task", 10*time.Second)
	r.waitIdle(10 * time.Second)
	if r.err != nil {
		return
	}
	s, err := r.state()
	if err != nil {
		r.failf("state: %v", err)
		return
	}
	i := slices.IndexFunc(s.Next, func(u workflows.Upcoming) bool { return u.Step == "handoff:welcome" })
	if i < 0 || !s.Next[i].At.Equal(slot.UTC()) {
		r.failf("champion in %s: welcome not deferred to the next business slot %s: next steps %+v", zone, slot, s.Next)
		return
	}
	// The history of the journey as it waits, at the end of a workflow task.
	for try := 0; ; try++ {
		r.snapshot()
		if r.err != nil {
			return
		}
		evs := r.runs[0].Raw.GetEvents()
		if evs[len(evs)-1].GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			break
		}
		if try == 50 {
			r.failf("history does not end with a completed workflow task")
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := r.c.TerminateWorkflow(r.ctx, r.id, "", fmt.Sprintf("corpus recorded (champion in %s, welcome due %s)", zone, slot.UTC())); err != nil {
		r.failf("terminate: %v", err)
	}
}
