package workflows_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// outboxMessage finds the outbox message of a step.
func outboxMessage(t *testing.T, h *harness, step string) (activities.Message, bool) {
	t.Helper()
	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	for _, m := range msgs {
		if m.Step == step {
			return m, true
		}
	}
	return activities.Message{}, false
}

// The welcome email asks which outcome matters most (a button per choice and
// "something else"); the choice is kept in the state, most important first,
// and the next review email and the QBR refer to it.
func TestDesiredOutcomeAskedKeptAndNamed(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	var before, after workflows.State
	h.at(0.5, func(c *call) { before = c.state() })
	h.at(1, func(c *call) {
		c.outcome("chosen", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "replace-spreadsheets", Source: "email", By: "customer"})
		c.outcome("other", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "other", DesiredText: "  Close the books in two days  "})
		c.outcome("again", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "replace-spreadsheets"})
		c.outcome("unknown", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "world-peace"})
		c.outcome("other without words", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "other", DesiredText: " "})
		c.outcome("text of 201", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "other", DesiredText: strings.Repeat("x", 201)})
		c.outcome("remove absent", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "cut-reporting-time", Remove: true})
		c.outcome("none named", workflows.Outcome{Kind: workflows.OutcomeDesired})
	})
	h.at(2, func(c *call) {
		c.outcome("third", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "onboard-whole-team"})
		c.outcome("fourth", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "cut-reporting-time"})
		c.outcome("removed", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "onboard-whole-team", Remove: true})
	})
	h.at(2.5, func(c *call) { after = c.state() })
	h.run(31)

	welcome, ok := outboxMessage(t, h, "handoff:welcome")
	require.True(t, ok)
	var ids []string
	for _, a := range welcome.Actions {
		ids = append(ids, a.ID)
	}
	assert.Equal(t, []string{"book_handoff", "outcome_cut-reporting-time", "outcome_replace-spreadsheets", "outcome_onboard-whole-team", "outcome_other"}, ids)
	assert.Contains(t, welcome.Text, "which outcome matters most to you?")
	assert.Contains(t, welcome.Text, "Replace spreadsheets")
	assert.Len(t, before.OutcomeChoices, 4, "the playbook's three and something else")
	assert.Empty(t, before.DesiredOutcomes)

	for _, label := range []string{"chosen", "other", "again", "third", "fourth", "removed"} {
		require.NoError(t, h.results[label].rejected, label)
	}
	for label, want := range map[string]string{
		"unknown":             `unknown outcome "world-peace"`,
		"other without words": "desired_text: say what the outcome is",
		"text of 201":         "desired_text",
		"remove absent":       "is not among the customer's outcomes",
		"none named":          "desired_outcome: name one of cut-reporting-time, replace-spreadsheets, onboard-whole-team, other",
	} {
		require.Error(t, h.results[label].rejected, label)
		assert.Contains(t, h.results[label].rejected.Error(), want, label)
	}

	// Choosing again moves an outcome first; a fourth pushes the oldest out
	// (at most three); a removed one is gone.
	var got []string
	for _, d := range after.DesiredOutcomes {
		got = append(got, d.ID+"="+d.Label+"/"+d.Text)
	}
	assert.Equal(t, []string{"cut-reporting-time=Cut reporting time/", "replace-spreadsheets=Replace spreadsheets/"}, got)
	assert.Equal(t, []insights.Outcome{{ID: "cut-reporting-time", Label: "Cut reporting time"}, {ID: "replace-spreadsheets", Label: "Replace spreadsheets"}}, after.Facts.Outcomes)

	chosen, ok := h.entry("outcome:desired_outcome")
	require.True(t, ok)
	assert.Equal(t, "Desired outcome: Replace spreadsheets", chosen.Summary)
	assert.Equal(t, "chosen by the customer in an email", chosen.Cause)

	review, ok := outboxMessage(t, h, "touchpoint:review-30")
	require.True(t, ok)
	assert.Contains(t, review.Text, `You told us that "Cut reporting time" matters most`)
	task, ok := outboxMessage(t, h, "touchpoint:review-30:csm")
	require.True(t, ok)
	assert.Contains(t, task.Text, "Desired outcomes: Cut reporting time; Replace spreadsheets.")
}

// "Something else" keeps the customer's words, trimmed; the review names
// them; a welcome email after an outcome was recorded does not ask again.
func TestSomethingElseInTheCustomersWords(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	h := newHarness(t, in)
	var st workflows.State
	h.at(1, func(c *call) {
		c.outcome("other", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "other", DesiredText: "  Close the books in two days  "})
	})
	h.at(1.5, func(c *call) { st = c.state() })
	h.run(31)
	require.NoError(t, h.results["other"].rejected)
	require.Len(t, st.DesiredOutcomes, 1)
	assert.Equal(t, "Close the books in two days", st.DesiredOutcomes[0].Text)
	assert.Equal(t, "Something else", st.DesiredOutcomes[0].Label)
	review, ok := outboxMessage(t, h, "touchpoint:review-30")
	require.True(t, ok)
	assert.Contains(t, review.Text, `"Close the books in two days"`)
}

// A playbook without outcome choices asks nothing: the welcome email is as
// it was, and a desired outcome can still be "something else".
func TestNoOutcomeChoicesAsksNothing(t *testing.T) {
	pb := playbooks.Default()
	pb.Outcomes = nil
	h := newHarness(t, testInput(pb))
	var st workflows.State
	h.at(1, func(c *call) {
		c.outcome("listed", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "cut-reporting-time"})
		st = c.state()
	})
	h.run(2)
	welcome, ok := outboxMessage(t, h, "handoff:welcome")
	require.True(t, ok)
	require.Len(t, welcome.Actions, 1)
	assert.Equal(t, "book_handoff", welcome.Actions[0].ID)
	assert.NotContains(t, welcome.Text, "which outcome")
	assert.Error(t, h.results["listed"].rejected)
	assert.Empty(t, st.OutcomeChoices)
}

// The facts the insights job reads count each tracked kind in the first 30
// and 90 days by the event's own day, the handoff day, milestones against
// their due days, complaint resolution time and "show me how" clicks.
func TestFactsCountWhatGreenAccountsAreComparedOn(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	var st workflows.State
	h.at(1.5, func(c *call) {
		c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld})
		c.event("t1", "training_completed")
		c.event("w1", "webinar_attended")
		c.event("l1", "login")
	})
	h.at(9, func(c *call) {
		c.outcome("kickoff", workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: "kickoff"})
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "low", Summary: "Slow exports"}, nil)
	})
	h.at(11, func(c *call) {
		c.outcome("resolved", workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c1"})
	})
	h.at(40, func(c *call) {
		c.event("t2", "training_completed")
		c.outcome("meeting", workflows.Outcome{Kind: workflows.OutcomeMeetingHeld})
		c.event("smh", "email_click", "action", "show_me_how")
	})
	h.at(50, func(c *call) {
		c.outcome("first value", workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: "first_value"})
	})
	h.at(95, func(c *call) {
		c.event("t3", "training_completed")
		st = c.state()
	})
	h.run(96)
	for label, r := range h.results {
		require.NoError(t, r.rejected, label)
	}
	f := st.Facts
	assert.Equal(t, insights.FactsVersion, f.V)
	assert.Equal(t, "enterprise", f.Plan)
	assert.Equal(t, "default@v2", f.Playbook)
	assert.Equal(t, testDay, f.DayLength)
	assert.Equal(t, [2]int{1, 2}, f.Events[insights.Trainings], "day 1.5 in both; day 40 in 90 days; day 95 in neither")
	assert.Equal(t, [2]int{1, 1}, f.Events[insights.Webinars])
	assert.Equal(t, [2]int{0, 1}, f.Events[insights.Meetings])
	assert.Equal(t, [2]int{1, 1}, f.Events[insights.Complaints])
	assert.Equal(t, [2]int{0, 0}, f.Events[insights.Tickets])
	assert.InDelta(t, 1.5, f.HandoffDay, 0.01)
	assert.Equal(t, 1, f.Resolved)
	assert.InDelta(t, 2, f.ResolveDays, 0.01)
	assert.Equal(t, 1, f.ShowMeHow)
	assert.Equal(t, "first_value", f.FirstValue)
	require.Len(t, f.Milestones, 5)
	assert.Equal(t, insights.Milestone{ID: "kickoff", Name: "Kickoff and success plan agreed", Due: 10, Done: 9}, f.Milestones[0])
	assert.Equal(t, -1.0, f.Milestones[1].Done, "technical setup not done")
	assert.InDelta(t, 50, f.Milestones[2].Done, 0.01)
	assert.InDelta(t, 95, f.Day(st.AsOf), 0.01)
}

// The best-practices touchpoint sends its email with the playbook's own text
// when no insights are there to fill it (this journey's activities have
// none): nothing is claimed, and "show me how" is offered.
func TestBestPracticesEmailFallsBackToThePlaybooksText(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.run(36)
	m, ok := outboxMessage(t, h, "touchpoint:best-practices-35")
	require.True(t, ok)
	assert.Equal(t, "Best practices for Acme Corp", m.Subject)
	assert.Contains(t, m.Text, "Teams get the most out of Lifecycle when")
	assert.NotContains(t, m.Text, "most successful customers")
	require.Len(t, m.Actions, 2)
	assert.Equal(t, "show_me_how", m.Actions[0].ID)
}

// Facts and desired outcomes survive continue-as-new (the term boundary at
// day 365): the first 30 days stay counted as they were, and events after
// day 90 add to neither window.
func TestFactsSurviveContinueAsNew(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	h.simulate = true
	h.at(1, func(c *call) {
		c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld})
		c.outcome("desired", workflows.Outcome{Kind: workflows.OutcomeDesired, DesiredOutcome: "replace-spreadsheets"})
		c.event("t1", "training_completed")
	})
	h.at(50, func(c *call) { c.event("w1", "webinar_attended") })
	h.at(370, func(c *call) { c.event("t2", "training_completed") })
	var before, after workflows.State
	h.at(360, func(c *call) { before = c.state() })
	h.at(371, func(c *call) { after = c.state() })
	h.run(372)
	for label, r := range h.results {
		require.NoError(t, r.rejected, label)
	}
	require.GreaterOrEqual(t, len(h.runs), 2, "the term boundary continued as new")
	assert.Equal(t, before.Facts.Events, after.Facts.Events)
	assert.Equal(t, [2]int{1, 1}, after.Facts.Events[insights.Trainings])
	assert.Equal(t, [2]int{0, 1}, after.Facts.Events[insights.Webinars])
	assert.InDelta(t, 1, after.Facts.HandoffDay, 0.01)
	assert.Equal(t, []insights.Outcome{{ID: "replace-spreadsheets", Label: "Replace spreadsheets"}}, after.Facts.Outcomes)
	require.Len(t, after.DesiredOutcomes, 1)
	assert.Equal(t, before.Facts.Start, after.Facts.Start, "day 0 stays day 0")
	assert.InDelta(t, 371, after.Facts.Day(after.AsOf), 0.01)
}
