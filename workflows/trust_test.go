package workflows_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Tests of the journey's promises since revision 2: nothing stalls it, no
// input breaks it, its state is true when read, and its times mean what the
// customer signed. Each was a reproduced defect of revision 1.

// failingMailer fails every message to one address, as SendGrid answering
// 500 for it would (a retryable error), and hands the rest to the outbox.
type failingMailer struct {
	next     activities.Mailer
	address  string
	mu       sync.Mutex
	attempts int
}

func (m *failingMailer) Send(ctx context.Context, msg activities.Message) (activities.Sent, error) {
	if strings.EqualFold(msg.To.Email, m.address) {
		m.mu.Lock()
		m.attempts++
		m.mu.Unlock()
		return activities.Sent{}, errors.New("sendgrid: 500 Internal Server Error")
	}
	return m.next.Send(ctx, msg)
}

func TestFailingChampionMailboxStallsNothing(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	mailer := &failingMailer{next: h.outbox, address: "ada@acme.example"}
	h.mailer = mailer
	var during workflows.State
	h.at(0.5, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "critical", Summary: "Nothing loads"}, nil)
	})
	h.at(0.75, func(c *call) {
		during = c.state()
		c.outcome("sentiment", workflows.Outcome{Kind: workflows.OutcomeSentiment, Sentiment: 4})
	})
	h.run(4)

	require.NoError(t, h.results["complaint"].rejected)
	require.NoError(t, h.results["sentiment"].err, "updates answer while the welcome retries")
	assert.Equal(t, 1, during.Sending, "the welcome is in flight, the journey goes on")
	// Critical: SLA 1 day (manager), sponsor a day after.
	assert.Equal(t, []string{"complaint:c1:sla@1.5", "complaint:c1:sponsor@2.5"},
		filter(h.sent(workflows.EntryEscalation), "complaint:"))
	assert.Contains(t, h.sent(workflows.EntryTask), "complaint:c1:csm@0.5", "the CSM's task went out at once")

	failed, ok := h.entry("handoff:welcome:failed")
	require.True(t, ok, "the welcome is given up at its deadline")
	// Given up at the deadline, or at the last retry that fits before it
	// (the retry interval is at most 10 minutes: 1/6 of a test day).
	assert.InDelta(t, pb.GiveUpAfterDays()-0.08, h.wallDay(failed.At), 0.09, "given up at the playbook's delivery deadline")
	assert.Contains(t, failed.Cause, "500")
	assert.Len(t, filter(h.sent(workflows.EntryTask), "handoff:welcome:failed@1.9"), 1, "the CSM is tasked with the failed welcome")
	assert.Equal(t, 1, h.final.Failures)
	assert.Greater(t, mailer.attempts, 3, "retried until the deadline")

	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	var toManager, failureTask int
	for _, m := range msgs {
		if m.To.Email == "manager@vendor.example" {
			toManager++
		}
		if m.Step == "handoff:welcome:failed" {
			failureTask++
			assert.Equal(t, "grace@vendor.example", m.To.Email)
		}
	}
	assert.GreaterOrEqual(t, toManager, 1, "the manager's escalation really went out")
	assert.Equal(t, 1, failureTask)
}

func TestFailingCSMNoticeGoesToTheManager(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.mailer = &failingMailer{next: h.outbox, address: "grace@vendor.example"}
	h.run(3)
	assert.Len(t, filter(h.sent(workflows.EntryEscalation), "handoff:csm-task:failed@1.9"), 1,
		"the CSM's own notice failed: the manager hears of it")
	_, ok := h.entry("handoff:csm-task:failed:failed")
	assert.False(t, ok, "the manager's notice went out; no further failure")
}

func TestOversizedInputsAreRefusedNamingTheField(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	long := strings.Repeat("x", workflows.MaxTextLen+1)
	h.at(1, func(c *call) {
		c.update("reassign", workflows.UpdateReassign, workflows.Reassignment{
			CSM: workflows.Person{Name: "Bob", Email: strings.Repeat("b", 3000) + "@vendor.example"}}, nil)
		c.update("pause", workflows.UpdatePause, workflows.PauseRequest{Reason: long}, nil)
		c.update("by", workflows.UpdatePause, workflows.PauseRequest{Reason: "holiday", By: strings.Repeat("y", 201)}, nil)
		c.update("note", workflows.UpdateOutcome, workflows.Outcome{Kind: workflows.OutcomeMeetingHeld, Note: long}, nil)
		c.update("summary", workflows.UpdateComplaint, workflows.Complaint{Severity: "low", Summary: long}, nil)
		c.update("source", workflows.UpdateComplaint, workflows.Complaint{Severity: "low", Summary: "x", Source: strings.Repeat("s", 201)}, nil)
		c.update("renewal", workflows.UpdateOutcome, workflows.Outcome{Kind: workflows.OutcomeRenewed, RenewalDate: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, nil)
		c.update("champion", workflows.UpdateChampion, workflows.ChampionChange{Champion: workflows.Person{Name: strings.Repeat("n", 201), Email: "new@acme.example"}}, nil)
		c.update("at-limit", workflows.UpdatePause, workflows.PauseRequest{Reason: long[:workflows.MaxTextLen]}, nil)
	})
	h.at(2, func(c *call) { c.event("after", "login") })
	h.run(3)
	for label, field := range map[string]string{
		"reassign": "csm.email", "pause": "reason", "by": "by", "note": "note", "summary": "summary",
		"source": "source", "renewal": "renewal_date", "champion": "champion.name",
	} {
		err := h.results[label].rejected
		require.Error(t, err, label)
		assert.True(t, workflows.IsValidationError(err), label)
		assert.Contains(t, err.Error(), field+":", label)
	}
	require.NoError(t, h.results["at-limit"].rejected, "a reason of exactly the limit is fine")
	assert.True(t, h.final.Paused)
	for _, e := range h.timeline.Entries {
		assert.LessOrEqual(t, len([]rune(e.Cause)), 300, "the timeline keeps a line of long text")
	}
}

func TestOpenComplaintsAreBounded(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.at(1, func(c *call) {
		for i := range workflows.MaxOpenComplaints + 1 {
			c.update("complaint-"+string(rune('A'+i/26))+string(rune('a'+i%26)), workflows.UpdateComplaint,
				workflows.Complaint{Severity: "low", Summary: "again"}, nil)
		}
	})
	h.run(1.5)
	var refused int
	for label, r := range h.results {
		if strings.HasPrefix(label, "complaint-") && r.rejected != nil {
			refused++
			assert.Contains(t, r.rejected.Error(), "complaints:")
		}
	}
	assert.Equal(t, 1, refused)
	assert.Len(t, h.final.OpenComplaints, workflows.MaxOpenComplaints)
}

func TestRenewalDateOutOfRangeIsRefusedAtStart(t *testing.T) {
	in := testInput(playbooks.Default())
	in.Account.RenewalDate = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	err := in.ValidateStart(testStart)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "account.renewal_date: at most 10 years ahead")
	in.Account.RenewalDate = testStart.AddDate(0, 0, -1)
	assert.ErrorContains(t, in.ValidateStart(testStart), "account.renewal_date: must be after today")
	in.Account.RenewalDate = testStart.AddDate(workflows.MaxRenewalYears, 0, 0)
	assert.NoError(t, in.ValidateStart(testStart), "exactly ten years is fine")

	// A workflow started directly (not through the API) fails at once
	// instead of sending a thousand term notices.
	in.Account.RenewalDate = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, in)
	h.expectFail = true
	h.run(1)
	require.Error(t, h.err)
	assert.Contains(t, h.err.Error(), "account.renewal_date")
	assert.Empty(t, h.timeline.Entries, "nothing ran")
}

func TestLiveStateIsTrueWhenRead(t *testing.T) {
	pb := playbooks.Default()
	pb.Touchpoints, pb.Milestones = nil, pb.Milestones[len(pb.Milestones)-1:] // nothing before day 85
	h := newHarness(t, testInput(pb))
	var at, wake, later workflows.State
	h.at(1, func(c *call) {
		for i := range 12 {
			c.event("burst-"+string(rune('a'+i)), "meeting_held")
		}
	})
	h.at(1.1, func(c *call) {
		wake = c.state()
		at = c.stateAt(c.Now().Add(7 * testDay))
		later = c.state()
	})
	h.run(2)
	assert.Equal(t, 1, wake.Day)
	assert.Equal(t, 8, at.Day, "the day as of the reader's clock")
	assert.Equal(t, 100, wake.Scores.Engagement)
	assert.InDelta(t, 100*math.Sqrt(0.5), at.Scores.Engagement, 1, "half-life 14 days: 7 days later, 1/sqrt(2) of it")
	assert.Equal(t, wake.Day, later.Day, "reading ahead changes nothing")
}

func TestScoreHistoryHasAPointPerDay(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.at(10, func(c *call) { c.event("one", "meeting_held") })
	h.run(200.5)
	hist := h.final.ScoreHistory
	require.Len(t, hist, 201, "days 0 to 200")
	for i, p := range hist {
		assert.Equal(t, i, p.Day)
	}
	// Day 24 (14 days after the meeting): half of the 25 points left.
	assert.InDelta(t, float64(hist[10].Engagement)/2, float64(hist[24].Engagement), 1)
}

func TestPauseLeavesTheRenewalOnTheCalendar(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.Account.RenewalDate = testStart.AddDate(0, 0, 200)
	h := newHarness(t, in)
	engaged(h, pb)
	h.at(100, func(c *call) {
		c.update("pause", workflows.UpdatePause, workflows.PauseRequest{Reason: "customer on holiday"}, nil)
	})
	h.at(130, func(c *call) { c.update("resume", workflows.UpdateResume, workflows.ResumeRequest{}, nil) })
	h.run(215)
	require.NoError(t, h.results["pause"].rejected)
	renewal := filter(h.sent(workflows.EntryTask), "renewal:")
	assert.Contains(t, renewal, "renewal:2026-07-24:90d:csm@110", "90 days before the date, during the pause: the CSM still hears")
	assert.Contains(t, renewal, "renewal:2026-07-24:30d:csm@170", "30 days before the calendar date, not 30 days late")
	_, held := h.entry("renewal:2026-07-24:90d:not-sent")
	assert.True(t, held, "no customer email during the pause")
	term, ok := h.entry("term:2")
	require.True(t, ok)
	assert.InDelta(t, 200, h.wallDay(term.At), 0.01, "the next term begins on the renewal date")
	// Journey-relative steps moved with the pause: the first QBR (journey
	// day 180) comes 30 days later on the calendar.
	assert.Contains(t, h.sent(workflows.EntryTouchpoint), "qbr:d180@210")
}

func TestBookedHandoffCallNotHeldIsChased(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.at(1, func(c *call) { c.event("book", "handoff_booked") })
	var st workflows.State
	h.at(5.5, func(c *call) { st = c.state() })
	h.run(8)
	assert.NotContains(t, h.sent(workflows.EntryTouchpoint), "handoff:reminder@3", "booked: no 'book your call' reminder")
	assert.Contains(t, h.sent(workflows.EntryTask), "handoff:booked-reminder@5", "not held by the window's end: the CSM is asked")
	assert.Contains(t, h.sent(workflows.EntryEscalation), "handoff:booked-escalation@7", "still not: the manager")
	assert.Contains(t, st.Scores.Reasons, "booked handoff call not recorded as held")

	// A booking that says when: expected the day after the call.
	h2 := newHarness(t, testInput(pb))
	h2.at(1, func(c *call) {
		c.event("book", "handoff_booked", "call_at", testStart.Add(2*testDay).Format(time.RFC3339))
	})
	h2.at(2.5, func(c *call) { c.outcome("held", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld}) })
	h2.run(9)
	assert.Empty(t, filter(h2.sent(workflows.EntryTask, workflows.EntryEscalation), "handoff:booked"), "held after booking: nothing chases it")
}

func TestEventCountsFromItsOwnTime(t *testing.T) {
	pb := playbooks.Default()
	pb.Touchpoints, pb.Milestones = nil, pb.Milestones[len(pb.Milestones)-1:] // nothing before day 85
	h := newHarness(t, testInput(pb))
	var st workflows.State
	h.at(0.5, func(c *call) { c.outcome("held", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld}) })
	h.at(22, func(c *call) {
		old := workflows.EngagementEvent{ID: "old", Type: "meeting_held", Time: c.Now().Add(-20 * testDay)}
		c.update("old", workflows.UpdateEvent, old, nil)
		future := workflows.EngagementEvent{ID: "future", Type: "login", Time: c.Now().Add(time.Hour)}
		c.update("future", workflows.UpdateEvent, future, nil)
		before := workflows.EngagementEvent{ID: "before", Type: "login", Time: testStart.Add(-time.Hour)}
		c.update("before", workflows.UpdateEvent, before, nil)
		// SendGrid's timestamps are whole seconds: an open stamped just
		// before the journey's first task is within the leeway.
		edge := workflows.EngagementEvent{ID: "edge", Type: "email_open", Time: testStart.Add(-time.Second)}
		c.update("edge", workflows.UpdateEvent, edge, nil)
	})
	h.at(22.1, func(c *call) { st = c.state() })
	h.run(23)
	require.NoError(t, h.results["old"].rejected)
	assert.ErrorContains(t, h.results["future"].rejected, "time:")
	assert.ErrorContains(t, h.results["before"].rejected, "time:")
	require.NoError(t, h.results["edge"].rejected)
	// The meeting was 20 days ago: a quarter-ish of its 25 points remain,
	// added to the held call's decayed 25.
	assert.Less(t, st.Scores.Engagement, 25, "an old event counts decayed")
	assert.Contains(t, st.Scores.Reasons, "no engagement for 20 days", "it does not reset 20 days of silence")
}

func TestLateWakeWaitsForBusinessHours(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.DayLength = 24 * time.Hour
	// The run begins late: its journey began on Saturday, the worker was
	// down, and it is Monday 03:00 in London now. The welcome is overdue.
	start := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	in.Carry = &workflows.Carry{
		Start: start, Term: 1, RenewalDate: in.Account.RenewalDate, CSM: in.CSM,
		TouchpointsSent: make([]bool, len(pb.Touchpoints)),
		Handoff:         workflows.HandoffState{CSMTaskSent: true},
		Adoption:        workflows.AdoptionState{NextQBRDay: 180, NextCheckinDay: 120},
	}
	h := newHarness(t, in)
	h.start = time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)
	h.day = 24 * time.Hour
	h.run(0.5)
	e, ok := h.entry("handoff:welcome")
	require.True(t, ok)
	assert.Equal(t, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), e.At, "not at 03:00: at the next business slot")
}

// TestPausedJourneyCanBeCancelled: a paused journey keeps its calendar
// steps pending (on revision 1 it had none, and a cancellation found
// nothing to wake it), and a cancellation ends it.
func TestPausedJourneyCanBeCancelled(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	var paused workflows.State
	h.at(1, func(c *call) {
		c.update("pause", workflows.UpdatePause, workflows.PauseRequest{Reason: "legal hold"}, nil)
	})
	h.at(2, func(c *call) { paused = c.state() })
	h.run(400)
	require.NotEmpty(t, paused.Next, "something is always pending while paused")
	var steps []string
	for _, n := range paused.Next {
		steps = append(steps, n.Step)
	}
	assert.Contains(t, steps, "renewal:2027-01-05:120d", "the renewal reminders stay on the calendar")
	assert.True(t, h.final.Paused)
	assert.Equal(t, workflows.PhasePaused, h.final.Phase)
	_, began := h.entry("term:2")
	assert.True(t, began, "the renewal date came during the pause: the next term began")
}

func TestTeamAddressEventsAreNotTheCustomers(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	var st workflows.State
	h.at(1, func(c *call) {
		c.event("csm-open", "email_open", workflows.EventAttrRecipient, "grace@vendor.example")
		c.event("champion-open", "email_open", workflows.EventAttrRecipient, "ADA@acme.example")
		c.update("manager-bounce", workflows.UpdateEmail, workflows.EmailStatus{
			Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: "manager@vendor.example"}, nil)
	})
	h.at(1.5, func(c *call) { st = c.state() })
	h.run(8)
	assert.Equal(t, 1, st.EventsCounted, "only the champion's open counts")
	assert.Empty(t, st.EmailBlocked, "the manager's bounce does not stop the champion's mail")
	assert.Contains(t, h.sent(workflows.EntryTouchpoint), "touchpoint:training-basics@3", "customer email goes on")
	assert.Contains(t, h.sent(workflows.EntryTask), "email:team:1:notice@1", "the CSM is told to fix the manager's address")
}

func TestChampionChangeResumesCustomerEmail(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.at(1, func(c *call) {
		c.update("bounce", workflows.UpdateEmail, workflows.EmailStatus{
			Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: "ada@acme.example"}, nil)
	})
	h.at(4, func(c *call) {
		c.update("champion", workflows.UpdateChampion, workflows.ChampionChange{
			Champion: workflows.Person{Name: "Alan Turing", Email: "alan@acme.example", TimeZone: "Europe/London"}, Reason: "Ada left"}, nil)
	})
	h.run(8)
	require.NoError(t, h.results["champion"].rejected)
	_, skipped := h.entry("touchpoint:training-basics:not-sent")
	assert.True(t, skipped, "day 3: emails stopped for Ada's address")
	webinar, ok := h.entry("touchpoint:webinar-welcome")
	require.True(t, ok, "day 7: emails resumed for the new champion")
	assert.Equal(t, "alan@acme.example", webinar.To)
	assert.Equal(t, "alan@acme.example", h.final.Champion.Email)
	assert.Empty(t, h.final.EmailBlocked)
}

func TestEmailKeysAreScopedByJourney(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.run(0.5)
	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, msgs)
	for _, m := range msgs {
		assert.Regexp(t, `^customer:acme/j[0-9a-z]+/`, m.Key, "workflow id, journey, step")
	}
}

func TestLinksOfAnEarlierJourneyDoNotAct(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	var journey string
	h.at(1, func(c *call) {
		journey = c.state().Journey
		c.event("old-click", "email_click", workflows.EventAttrJourney, "jearlier")
		c.update("old-help", workflows.UpdateComplaint, workflows.Complaint{Severity: "low", Summary: "help", Source: "email", Journey: "jearlier"}, nil)
		c.update("new-help", workflows.UpdateComplaint, workflows.Complaint{Severity: "low", Summary: "help", Source: "email", Journey: journey}, nil)
	})
	h.run(2)
	require.NotEmpty(t, journey)
	assert.Len(t, h.final.OpenComplaints, 1, "only the current journey's link filed a complaint")
	assert.ErrorContains(t, h.results["old-help"].rejected, "journey: this link belongs to an earlier journey")
	_, counted := h.entry("event:old-click")
	assert.False(t, counted, "the old link's click does not count")
	assert.Equal(t, 1, h.final.EventsCounted, "the current journey's complaint only")
}

// TestRevisionOneStateContinuesOnRevisionTwo: a journey that ran on
// revision 1 hands its state to a run of this worker at continue-as-new.
// The run takes revision 2, keeps the journey's old email keys (it has no
// chapter) and its stored score points, and goes on where it was.
func TestRevisionOneStateContinuesOnRevisionTwo(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.Revision = 1
	in.Carry = &workflows.Carry{
		Start: testStart.Add(-10 * testDay), Term: 1, RenewalDate: in.Account.RenewalDate, CSM: in.CSM, Runs: 1,
		TouchpointsSent: append([]bool{true, true}, make([]bool, len(pb.Touchpoints)-2)...),
		Handoff:         workflows.HandoffState{WelcomeSent: true, CSMTaskSent: true, HeldAt: testStart.Add(-9 * testDay)},
		Milestones:      []workflows.MilestoneRun{{ID: "kickoff", Status: workflows.MilestonePending}},
		Adoption:        workflows.AdoptionState{NextQBRDay: 180, NextCheckinDay: 120},
		Happiness:       workflows.HappinessCalc{PulseAvg: 70},
		Engagement:      workflows.EngagementCalc{Raw: 40, At: time.Duration(9 * testDay), LastEventJT: time.Duration(9 * testDay), Events: 3},
		Scores:          []workflows.ScorePoint{{Day: 0, Engagement: 0, Happiness: 70}, {Day: 9, Engagement: 40, Happiness: 70}},
	}
	h := newHarness(t, in)
	h.run(5)
	assert.Equal(t, workflows.Revision, h.final.Revision, "the run took this worker's revision")
	assert.Empty(t, h.final.Journey, "a journey from before chapters keeps none")
	assert.Equal(t, 2, h.final.Runs)
	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	require.NotEmpty(t, msgs, "the schedule went on")
	for _, m := range msgs {
		assert.Regexp(t, `^customer:acme/[a-z]+:`, m.Key, "its old key format: <workflow id>/<step>")
	}
	assert.Contains(t, h.sent(workflows.EntryTouchpoint), "touchpoint:checkin-14@4", "day 14 of the journey: 4 days into this run")
	hist := h.final.ScoreHistory
	require.Len(t, hist, 16, "days 0 to 15")
	assert.Equal(t, 40, hist[9].Engagement)
	assert.Equal(t, 0, hist[5].Engagement, "old points carry forward to the next stored one")
}

func TestLateBookingAndRebookingAreChasedInTime(t *testing.T) {
	pb := playbooks.Default()
	// Booked on day 6, after the handoff window (escalation on day 5): the
	// call is expected within the reminder's span (3 days), not at once.
	h := newHarness(t, testInput(pb))
	h.at(6, func(c *call) { c.event("late-book", "handoff_booked") })
	h.run(12)
	assert.Contains(t, h.sent(workflows.EntryTask), "handoff:booked-reminder@9")
	assert.Contains(t, h.sent(workflows.EntryEscalation), "handoff:booked-escalation@11")

	// Booked for day 2, not held, rebooked for day 4: each booking is
	// chased under its own key, so the outbox keeps both reminders.
	h2 := newHarness(t, testInput(pb))
	h2.at(1, func(c *call) {
		c.event("book", "handoff_booked", "call_at", testStart.Add(2*testDay).Format(time.RFC3339))
	})
	h2.at(3.5, func(c *call) {
		c.event("rebook", "handoff_booked", "call_at", testStart.Add(4*testDay).Format(time.RFC3339))
	})
	h2.run(5.5)
	assert.Equal(t, []string{"handoff:booked-reminder@3", "handoff:booked-reminder:2@5"}, filter(h2.sent(workflows.EntryTask), "handoff:booked"))
	msgs, err := h2.outbox.List(context.Background())
	require.NoError(t, err)
	var reminders int
	for _, m := range msgs {
		if strings.HasPrefix(m.Step, "handoff:booked-reminder") {
			reminders++
		}
	}
	assert.Equal(t, 2, reminders, "both reminders went out")
}

func TestComplaintWithAnIDIsFiledOnce(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	help := workflows.Complaint{ID: "action-use-1", Severity: "low", Summary: "help", Source: "email"}
	h.at(1, func(c *call) { c.update("first", workflows.UpdateComplaint, help, nil) })
	h.at(2, func(c *call) { c.update("again", workflows.UpdateComplaint, help, nil) })
	h.run(3)
	require.NoError(t, h.results["first"].rejected)
	assert.True(t, workflows.IsDuplicateEvent(h.results["again"].rejected), "%v", h.results["again"].rejected)
	assert.Len(t, h.final.OpenComplaints, 1)
}

// flakyMailer fails the first n attempts of the messages whose step starts
// with prefix (SendGrid answering 500, then recovering).
type flakyMailer struct {
	next     activities.Mailer
	prefix   string
	n        int
	mu       sync.Mutex
	attempts int
}

func (m *flakyMailer) Send(ctx context.Context, msg activities.Message) (activities.Sent, error) {
	if strings.HasPrefix(msg.Step, m.prefix) {
		m.mu.Lock()
		m.attempts++
		fail := m.attempts <= m.n
		m.mu.Unlock()
		if fail {
			return activities.Sent{}, errors.New("sendgrid: 500 Internal Server Error")
		}
	}
	return m.next.Send(ctx, msg)
}

// TestMessageInFlightAtContinueAsNewGoesOutOnce: the term notice is sent by
// the step that makes the journey continue as new, so it is still retrying
// when the run ends. The next run issues it again under the same key; it
// goes out once, and nothing is recorded as failed.
func TestMessageInFlightAtContinueAsNewGoesOutOnce(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.Account.RenewalDate = testStart.AddDate(0, 0, 40)
	h := newHarness(t, in)
	mailer := &flakyMailer{next: h.outbox, prefix: "term:", n: 4}
	h.mailer = mailer
	h.run(42)

	require.GreaterOrEqual(t, len(h.runs), 2, "the term boundary continued the journey as new")
	assert.Equal(t, 2, h.final.Term)
	assert.Zero(t, h.final.Sending, "nothing left in flight")
	assert.Zero(t, h.final.Failures)
	assert.Greater(t, mailer.attempts, mailer.n, "retried past the failures")
	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	var term []activities.Message
	for _, m := range msgs {
		if strings.HasPrefix(m.Step, "term:") {
			term = append(term, m)
		}
	}
	require.Len(t, term, 1, "the term notice went out once")
	assert.Equal(t, "grace@vendor.example", term[0].To.Email)
	assert.Equal(t, "customer:acme/"+h.final.Journey+"/"+term[0].Step, term[0].Key, "under the key of the run that sent it")
	for _, e := range h.timeline.Entries {
		assert.NotContains(t, e.Step, ":failed")
	}
}

// TestRevisionTwoMessagesInFlightGoOutOnRevisionThree: a revision-2 run
// (each message waited for in a coroutine) carried two messages in flight to
// its continue-as-new; the run of this worker issues them from its main loop
// and each goes out once, under its key.
func TestRevisionTwoMessagesInFlightGoOutOnRevisionThree(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.Revision = 2
	key := func(step string) string { return "customer:acme/first-run/" + step }
	in.Carry = &workflows.Carry{
		Start: testStart.Add(-10 * testDay), Term: 1, RenewalDate: in.Account.RenewalDate, CSM: in.CSM, Runs: 1, Chapter: "first-run",
		TouchpointsSent: append([]bool{true, true}, make([]bool, len(pb.Touchpoints)-2)...),
		Handoff:         workflows.HandoffState{WelcomeSent: true, CSMTaskSent: true, HeldAt: testStart.Add(-9 * testDay)},
		Milestones:      []workflows.MilestoneRun{{ID: "kickoff", Status: workflows.MilestonePending}},
		Adoption:        workflows.AdoptionState{NextQBRDay: 180, NextCheckinDay: 120},
		Happiness:       workflows.HappinessCalc{PulseAvg: 70},
		Sending: []workflows.SendRun{
			{Key: key("touchpoint:checkin-7"), Step: "touchpoint:checkin-7", Role: "customer", Since: testStart.Add(-3 * testDay),
				Customer: &activities.CustomerEmail{Key: key("touchpoint:checkin-7"), CustomerID: "acme", Journey: "first-run", Step: "touchpoint:checkin-7",
					To: activities.Recipient{Name: "Ada Lovelace", Email: "ada@acme.example"}, Template: "checkin",
					Data: map[string]string{"AccountName": "Acme Corp", "CSMName": "Grace Hopper", "CSMEmail": "grace@vendor.example", "Day": "7"}}},
			{Key: key("milestone:kickoff:late"), Step: "milestone:kickoff:late", Role: "csm", Since: testStart.Add(-testDay),
				Notice: &activities.TeamNotice{Key: key("milestone:kickoff:late"), CustomerID: "acme", Step: "milestone:kickoff:late", Role: "csm",
					To: activities.Recipient{Name: "Grace Hopper", Email: "grace@vendor.example"}, Subject: "Acme Corp: kickoff is late", Body: "Chase it."}},
		},
	}
	h := newHarness(t, in)
	h.run(1)
	assert.Equal(t, workflows.Revision, h.final.Revision)
	assert.Zero(t, h.final.Sending)
	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	got := map[string]int{}
	for _, m := range msgs {
		got[m.Key]++
	}
	assert.Equal(t, 1, got[key("touchpoint:checkin-7")], "the customer's message went out once")
	assert.Equal(t, 1, got[key("milestone:kickoff:late")], "the CSM's notice went out once")
}
