package workflows_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func TestComplaintEscalatesAtSLAAndResolutionRestoresHappiness(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	engaged(h, pb)
	var before, open, after workflows.State
	h.at(19.5, func(c *call) { before = c.state() })
	h.at(20, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "high", Summary: "Exports fail every night"}, nil)
	})
	h.at(21, func(c *call) { open = c.state() })
	h.at(23, func(c *call) {
		c.outcome("resolve", workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c1", Note: "patched"})
	})
	h.at(23.5, func(c *call) { after = c.state() })
	h.run(24)

	require.NoError(t, h.results["complaint"].rejected)
	receipt := h.results["complaint"].value.(workflows.ComplaintReceipt)
	assert.Equal(t, "c1", receipt.ComplaintID)
	assert.Equal(t, testStart.Add(22*testDay), receipt.SLADue, "high severity: 2-day SLA")
	assert.Equal(t, []string{"complaint:c1:csm@20", "complaint:c1:sla:csm@22"},
		filter(h.sent(workflows.EntryTask), "complaint:"), "CSM tasked at once, reminded at SLA")
	assert.Equal(t, []string{"complaint:c1:sla@22"}, h.sent(workflows.EntryEscalation), "manager at SLA expiry")
	assert.Empty(t, filter(h.sent(workflows.EntryEscalation), "complaint:c1:sponsor"), "no sponsor for a high complaint")

	assert.Equal(t, workflows.QuadrantChampion, before.Scores.Quadrant)
	assert.Equal(t, 70, before.Scores.Happiness)
	assert.Equal(t, workflows.QuadrantVocal, open.Scores.Quadrant, "engaged but unhappy while open")
	assert.Equal(t, 50, open.Scores.Happiness, "70 less the high-severity penalty of 20")
	assert.Contains(t, open.Scores.Reasons, "1 complaint open")
	assert.Len(t, open.OpenComplaints, 1)
	assert.Equal(t, 65, after.Scores.Happiness, "resolution restores all but a quarter of the penalty")
	assert.Equal(t, workflows.QuadrantChampion, after.Scores.Quadrant)
	assert.Empty(t, after.OpenComplaints)
}

func TestCriticalComplaintReachesTheSponsor(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.at(1, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "critical", Summary: "Data loss"}, nil)
	})
	var st workflows.State
	h.at(3.5, func(c *call) { st = c.state() })
	h.run(4)
	assert.Equal(t, []string{"complaint:c1:sla@2", "complaint:c1:sponsor@3"}, filter(h.sent(workflows.EntryEscalation), "complaint:"))
	e, _ := h.entry("complaint:c1:sponsor")
	assert.Equal(t, "vp@vendor.example", e.To)
	assert.Contains(t, st.Scores.Reasons, "1 complaint open past SLA")
	assert.Equal(t, workflows.HealthRed, st.Scores.Health)
}

var threeYears = 1095.0

func TestThreeYearsContinueAsNewKeepsEverything(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.simulate = true
	engaged(h, pb)
	for d := 96; d <= 1094; d++ {
		h.at(float64(d)+0.5, func(c *call) {
			c.event(fmt.Sprintf("login-%d", d), "login")
			c.event(fmt.Sprintf("use-%d", d), "feature_used")
		})
	}
	// The same event id on both sides of the first term boundary.
	h.at(364.2, func(c *call) {
		c.update("dup-before", workflows.UpdateEvent, workflows.EngagementEvent{ID: "x-1", Type: "meeting_held"}, nil)
	})
	h.at(366.2, func(c *call) {
		c.update("dup-after", workflows.UpdateEvent, workflows.EngagementEvent{ID: "x-1", Type: "meeting_held"}, nil)
	})
	var day366 workflows.State
	h.at(366.3, func(c *call) { day366 = c.state() })
	h.run(threeYears)

	require.GreaterOrEqual(t, len(h.runs), 4, "terms and history length both continue-as-new")
	for i, r := range h.runs {
		t.Logf("run %d: days %.0f to %.0f, about %d history events", i, h.wallDay(r.Start), h.wallDay(r.End), r.Events)
		assert.Less(t, r.Events, 4096, "run %d (%s to %s) history", i, r.Start, r.End)
	}
	assert.Equal(t, 3, h.final.Term)
	assert.Equal(t, len(h.runs)-1, h.final.Runs, "every run carried the counter")
	assert.Equal(t, workflows.Progress{Total: 5, Done: 5, OnTime: 5, Percent: 100}, h.final.Progress, "milestones survive")
	assert.Equal(t, workflows.PhaseAdoption, h.final.Phase)
	assert.Equal(t, workflows.QuadrantChampion, day366.Scores.Quadrant, "scores survive the term boundary")
	assert.Greater(t, day366.Scores.Engagement, 50)
	require.NoError(t, h.results["dup-before"].rejected)
	assert.True(t, workflows.IsDuplicateEvent(h.results["dup-after"].rejected), "the dedupe window survives continue-as-new")
	assert.Len(t, h.timeline.Entries, workflows.MaxTimeline, "the timeline keeps its tail")
	assert.Greater(t, h.timeline.Older.Count, 1000, "and summarises the rest")
	assert.Equal(t, h.timeline.Older.From, testStart, "from day 0")

	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	days := map[string][]int{}
	for _, m := range msgs {
		assert.NotContains(t, m.Step, ":failed", "every template rendered and every email went out")
		if m.Kind != "customer" {
			continue
		}
		kind, _, _ := strings.Cut(m.Step, ":")
		days[kind] = append(days[kind], int(h.wallDay(m.ScheduledFor)))
	}
	assert.Equal(t, []int{180, 270, 360, 450, 540, 630, 720, 810, 900, 990, 1080}, days["qbr"], "QBR every 90 days after day 90")
	assert.Equal(t, []int{245, 275, 305, 335, 610, 640, 670, 700, 976, 1006, 1036, 1066}, days["renewal"],
		"renewal reminders 120/90/60/30 days before each renewal date")
	assert.Equal(t, 120, days["checkin"][0])
	assert.NotContains(t, days["checkin"], 180, "a QBR replaces that day's check-in")
	assert.Len(t, days["checkin"], 22)
}

func TestPlaybookVersionStaysWithTheJourney(t *testing.T) {
	v1 := playbooks.Default()
	v2 := playbooks.Default()
	v2.Version++
	for i := range v2.Touchpoints {
		v2.Touchpoints[i].Day = min(v2.Touchpoints[i].Day+2, v2.OnboardingDays)
	}
	require.NoError(t, v2.Validate())

	// Journey A starts on v1 and crosses a term boundary (continue-as-new)
	// on day 60; journey B starts on v2 meanwhile.
	inA := testInput(v1)
	inA.Account.RenewalDate = testStart.AddDate(0, 0, 60)
	a := newHarness(t, inA)
	a.run(91)
	b := newHarness(t, testInput(v2))
	b.run(91)

	require.Len(t, a.runs, 2, "A continued as new at its term boundary")
	assert.Equal(t, "default@v2", a.final.Playbook)
	assert.Equal(t, expectedTouchpoints(v1), filter(a.sent(workflows.EntryTouchpoint), "handoff:welcome", "touchpoint:"))
	assert.Equal(t, "default@v3", b.final.Playbook)
	assert.Equal(t, expectedTouchpoints(v2), filter(b.sent(workflows.EntryTouchpoint), "handoff:welcome", "touchpoint:"))
}

func TestPauseShiftsTheSchedule(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.at(1, func(c *call) { c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld}) })
	var paused workflows.State
	h.at(10, func(c *call) {
		c.update("pause", workflows.UpdatePause, workflows.PauseRequest{Reason: "customer on holiday"}, nil)
	})
	h.at(12, func(c *call) { paused = c.state() })
	h.at(24, func(c *call) { c.update("resume", workflows.UpdateResume, workflows.ResumeRequest{By: "grace"}, nil) })
	h.run(105)

	require.NoError(t, h.results["pause"].rejected)
	require.NoError(t, h.results["resume"].rejected)
	assert.Equal(t, workflows.PhasePaused, paused.Phase)
	var want []string
	for _, tp := range pb.Touchpoints {
		day := tp.Day
		if day > 10 {
			day += 14
		}
		want = append(want, fmt.Sprintf("touchpoint:%s@%d", tp.ID, day))
	}
	assert.Equal(t, want, filter(h.sent(workflows.EntryTouchpoint), "touchpoint:"))
	for _, e := range h.timeline.Entries {
		if d := h.wallDay(e.At); e.Kind == workflows.EntryTouchpoint && d > 10 && d < 24 {
			t.Errorf("customer email %s on day %g while paused", e.Step, d)
		}
	}
	kickoff, ok := h.entry("milestone:kickoff:late-1")
	require.True(t, ok)
	assert.Equal(t, 25.0, h.wallDay(kickoff.At), "the kickoff nudge (day 11) moves to day 25")
	assert.Equal(t, 91.0, kickoff.Day+80, "journey days do not count the pause")
}

func TestBadMessagesAreRejected(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	var before, after workflows.State
	var timelineBefore int
	h.at(1, func(c *call) {
		before = c.state()
		timelineBefore = len(c.timeline().Entries)
		c.outcome("unknown-milestone", workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: "nope"})
		c.outcome("unknown-complaint", workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c9"})
		c.outcome("unknown-kind", workflows.Outcome{Kind: "promoted"})
		c.outcome("bad-sentiment", workflows.Outcome{Kind: workflows.OutcomeSentiment, Sentiment: 9})
		c.update("event-no-id", workflows.UpdateEvent, workflows.EngagementEvent{Type: "login"}, nil)
		c.update("event-bad-type", workflows.UpdateEvent, workflows.EngagementEvent{ID: "e1", Type: "hacked"}, nil)
		c.update("pulse-no-score", workflows.UpdateEvent, workflows.EngagementEvent{ID: "e2", Type: "pulse"}, nil)
		c.update("complaint-bad", workflows.UpdateComplaint, workflows.Complaint{Severity: "apocalyptic", Summary: "x"}, nil)
		c.update("resume-unpaused", workflows.UpdateResume, workflows.ResumeRequest{}, nil)
	})
	h.at(1.5, func(c *call) {
		after = c.state()
		assert.Equal(t, timelineBefore, len(c.timeline().Entries), "nothing rejected reaches the timeline")
	})
	h.at(2, func(c *call) {
		c.outcome("churn", workflows.Outcome{Kind: workflows.OutcomeChurned, Note: "budget cut"})
	})
	h.run(4)

	for label, want := range map[string]string{
		"unknown-milestone": `unknown milestone "nope"`,
		"unknown-complaint": `no complaint "c9"`,
		"unknown-kind":      `unknown outcome "promoted"`,
		"bad-sentiment":     "sentiment: must be 1",
		"event-no-id":       "id: must be 1-200 characters",
		"event-bad-type":    `unknown event type "hacked"`,
		"pulse-no-score":    "a pulse needs a score",
		"complaint-bad":     "severity: must be one of",
		"resume-unpaused":   "not paused",
	} {
		r := h.results[label]
		require.Error(t, r.rejected, label)
		assert.True(t, workflows.IsValidationError(r.rejected), label)
		assert.Contains(t, r.rejected.Error(), want, label)
	}
	assert.Equal(t, before.Scores, after.Scores)
	assert.Equal(t, before.Progress, after.Progress)
	require.NoError(t, h.results["churn"].rejected)
	assert.Equal(t, workflows.PhaseEnded, h.final.Phase, "the journey ended on churn")
	assert.Equal(t, "churned", h.final.Ended.Kind)
	assert.Equal(t, 2.0, h.wallDay(h.final.Ended.At), "completed on day 2")
	// An outcome after the end finds a completed workflow: the API answers
	// 409 (apiserver tests) and no history can be written to.
}

func TestReassignmentBriefsTheNewCSM(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.at(2, func(c *call) {
		c.update("reassign", workflows.UpdateReassign, workflows.Reassignment{
			CSM: workflows.Person{Name: "Katherine Johnson", Email: "kj@vendor.example"}, Reason: "territory change"}, nil)
		c.update("same", workflows.UpdateReassign, workflows.Reassignment{
			CSM: workflows.Person{Name: "Katherine Johnson", Email: "kj@vendor.example"}}, nil)
	})
	h.run(4)
	require.NoError(t, h.results["reassign"].rejected)
	assert.ErrorContains(t, h.results["same"].rejected, "already the CSM")
	assert.Equal(t, "kj@vendor.example", h.final.CSM.Email)
	brief, ok := h.entry("reassign:1")
	require.True(t, ok)
	assert.Equal(t, "kj@vendor.example", brief.To)
	reminder, ok := h.entry("handoff:reminder-csm")
	require.True(t, ok)
	assert.Equal(t, "kj@vendor.example", reminder.To, "later tasks go to the new CSM")
	first, _ := h.entry("handoff:csm-task")
	assert.Equal(t, "grace@vendor.example", first.To)
}

func TestDuplicateEventsCountOnce(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.at(1, func(c *call) {
		c.update("first", workflows.UpdateEvent, workflows.EngagementEvent{ID: "evt-1", Type: "webinar_attended"}, nil)
	})
	h.at(1.1, func(c *call) {
		c.update("again", workflows.UpdateEvent, workflows.EngagementEvent{ID: "evt-1", Type: "webinar_attended"}, nil)
	})
	h.at(1.2, func(c *call) {
		c.update("other", workflows.UpdateEvent, workflows.EngagementEvent{ID: "evt-2", Type: "login"}, nil)
	})
	h.run(2)
	first := h.results["first"].value.(workflows.EventResult)
	assert.Equal(t, 20, first.Engagement)
	assert.True(t, workflows.IsDuplicateEvent(h.results["again"].rejected))
	assert.Equal(t, 24, h.results["other"].value.(workflows.EventResult).Engagement, "20 + 4, the duplicate not counted")
	assert.Equal(t, []string{"event:evt-1@1", "event:evt-2@1.2"}, h.sent(workflows.EntryEvent))
}

func TestCustomerEmailsLandInBusinessHours(t *testing.T) {
	at := map[string]time.Time{}
	for _, zone := range []string{"Asia/Tokyo", "America/Los_Angeles"} {
		in := testInput(playbooks.Default())
		in.DayLength = 24 * time.Hour
		in.Champion.TimeZone = zone
		h := newHarness(t, in)
		h.start = time.Date(2026, 1, 5, 15, 0, 0, 0, time.UTC)
		h.run(4)
		e, ok := h.entry("touchpoint:training-basics")
		require.True(t, ok, zone)
		loc, _ := time.LoadLocation(zone)
		local := e.At.In(loc)
		assert.True(t, local.Hour() >= 9 && local.Hour() < 17, "%s: %s", zone, local)
		assert.NotContains(t, []time.Weekday{time.Saturday, time.Sunday}, local.Weekday(), zone)
		at[zone] = e.At
		csm, _ := h.entry("handoff:csm-task")
		assert.Equal(t, h.start, csm.At, "tasks for our side do not wait")
	}
	// Day 3 is 2026-01-08 15:00 UTC: midnight in Tokyo (so 09:00 the next
	// morning there), 07:00 in Los Angeles (so 09:00 the same day).
	assert.Equal(t, time.Date(2026, 1, 9, 0, 0, 0, 0, time.UTC), at["Asia/Tokyo"])
	assert.Equal(t, time.Date(2026, 1, 8, 17, 0, 0, 0, time.UTC), at["America/Los_Angeles"])
}

func TestSuppressedAddressStopsCustomerEmail(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.at(1, func(c *call) { c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld}) })
	h.at(2, func(c *call) {
		c.update("bounce", workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid"}, nil)
		c.update("again", workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "spamreport"}, nil)
	})
	h.at(8.5, func(c *call) {
		c.update("resume", workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailActive, Source: "csm"}, nil)
	})
	h.run(15)
	require.NoError(t, h.results["bounce"].rejected)
	assert.ErrorContains(t, h.results["again"].rejected, "already stopped (bounce)")
	require.NoError(t, h.results["resume"].rejected)
	notice, ok := h.entry("email:stopped:1:csm")
	require.True(t, ok, "the CSM is told")
	assert.Equal(t, 2.0, h.wallDay(notice.At))
	assert.Equal(t, []string{"handoff:welcome@0", "touchpoint:checkin-14@14"}, filter(h.sent(workflows.EntryTouchpoint), "handoff:welcome", "touchpoint:"),
		"days 3 and 7 were not emailed; day 14 was, after the resume")
	_, skipped := h.entry("touchpoint:training-basics:not-sent")
	assert.True(t, skipped, "the skipped email is on the timeline")
	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	for _, m := range msgs {
		assert.NotEqual(t, "touchpoint:webinar-welcome", m.Step)
	}
}

// A permanent send failure (here the store already lists the address as
// suppressed, so the mailer refuses it) is recorded and becomes a CSM task.
func TestPermanentEmailFailureTasksTheCSM(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	require.NoError(t, h.outbox.Store.Suppress(context.Background(), "ada@acme.example", "bounce", testStart))
	h.run(1)
	failed, ok := h.entry("handoff:welcome:failed")
	require.True(t, ok, "the failure is on the timeline")
	assert.Contains(t, failed.Cause, "suppressed (bounce)")
	assert.Equal(t, workflows.EntrySystem, failed.Kind)
	var tasked bool
	for _, e := range h.timeline.Entries {
		if e.Kind == workflows.EntryTask && e.Step == "handoff:welcome:failed" && e.To == "grace@vendor.example" {
			tasked = true
		}
	}
	assert.True(t, tasked, "the CSM is tasked to reach the champion another way")
}

func TestEventsBySignalAreAppliedInOrder(t *testing.T) {
	h := newHarness(t, testInput(playbooks.Default()))
	h.at(1, func(c *call) {
		for _, ev := range []workflows.EngagementEvent{
			{ID: "s1", Type: "login"}, {ID: "s2", Type: "teleported"}, {ID: "s1", Type: "login"}, {ID: "s3", Type: "webinar_attended"},
		} {
			c.Signal(workflows.SignalEvent, ev)
		}
	})
	h.run(2)
	assert.Equal(t, []string{"event:s1@1", "event:s3@1"}, h.sent(workflows.EntryEvent), "in order, the repeat counted once")
	refused, ok := h.entry("event:s2:refused")
	require.True(t, ok, "an event the playbook does not know is refused on the timeline")
	assert.Contains(t, refused.Cause, `unknown event type "teleported"`)
	assert.Equal(t, 2, h.final.EventsCounted)
	assert.Equal(t, 23, h.final.Scores.Engagement, "4 + 20, a day of decay later")
}
