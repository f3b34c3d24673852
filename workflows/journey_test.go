package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// expectedTouchpoints lists every customer email of the default playbook's
// first 90 days for a customer who does everything on time.
func expectedTouchpoints(pb *playbooks.Playbook) []string {
	out := []string{"handoff:welcome@0"}
	for _, tp := range pb.Touchpoints {
		out = append(out, fmt.Sprintf("touchpoint:%s@%d", tp.ID, tp.Day))
	}
	return out
}

// engaged scripts a model customer: handoff held on day 1, milestones done a
// day early, a webinar and a login every week.
func engaged(h *harness, pb *playbooks.Playbook) {
	h.at(1, func(c *call) {
		c.outcome("handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld, By: "grace"})
	})
	for _, m := range pb.Milestones {
		h.at(float64(m.DueDay)-1, func(c *call) {
			c.outcome("done:"+m.ID, workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: m.ID})
		})
	}
	for d := 2; d <= 95; d += 7 {
		h.at(float64(d), func(c *call) {
			c.event(fmt.Sprintf("web-%d", d), "webinar_attended")
			c.event(fmt.Sprintf("login-%d", d), "login")
		})
	}
}

func TestEngagedCustomerNeverEscalates(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	engaged(h, pb)
	var at90 workflows.State
	h.at(90.5, func(c *call) { at90 = c.state() })
	h.run(91)

	for label, r := range h.results {
		require.NoError(t, r.rejected, label)
		require.NoError(t, r.err, label)
	}
	assert.Equal(t, expectedTouchpoints(pb), h.sent(workflows.EntryTouchpoint), "customer emails and their days")
	assert.Empty(t, h.sent(workflows.EntryEscalation), "no escalation")
	assert.Equal(t, []string{"handoff:csm-task@0", "touchpoint:review-30:csm@30", "touchpoint:review-60:csm@60", "touchpoint:review-90:csm@90"},
		h.sent(workflows.EntryTask), "CSM tasks")
	assert.Equal(t, workflows.HealthGreen, at90.Scores.Health, at90.Scores.Reasons)
	assert.Equal(t, workflows.QuadrantChampion, at90.Scores.Quadrant)
	assert.Equal(t, workflows.PhaseAdoption, at90.Phase)
	assert.Equal(t, 90, at90.Day)
	assert.Equal(t, workflows.Progress{Total: 5, Done: 5, OnTime: 5, Percent: 100}, at90.Progress)
	assert.Equal(t, 0, at90.Escalations)
	require.NotEmpty(t, at90.ScoreHistory)
	last := at90.ScoreHistory[len(at90.ScoreHistory)-1]
	assert.Equal(t, 90, last.Day, "a score point per journey day")
	assert.Greater(t, last.Engagement, 50)

	msgs, err := h.outbox.List(context.Background())
	require.NoError(t, err)
	var customer int
	for _, m := range msgs {
		if m.Kind == "customer" {
			customer++
			assert.Equal(t, "ada@acme.example", m.To.Email)
			assert.True(t, strings.HasPrefix(m.Key, "customer:acme/"), m.Key)
		}
	}
	assert.Equal(t, len(expectedTouchpoints(pb)), customer, "one outbox message per customer touchpoint")
}

func TestSilentCustomerIsChasedAndTurnsRed(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	var at10, at90 workflows.State
	h.at(10.5, func(c *call) { at10 = c.state() })
	h.at(90.5, func(c *call) { at90 = c.state() })
	h.run(91)

	assert.Equal(t, []string{
		"handoff:escalation@5",
		"milestone:kickoff:late-3@17",
		"silence:0:manager@21",
		"milestone:technical_setup:late-3@28",
		"silence:1:manager@42",
		"milestone:first_value:late-3@52",
		"silence:2:manager@63",
		"milestone:team_trained:late-3@70",
		"silence:3:manager@84",
	}, h.sent(workflows.EntryEscalation), "escalations to the manager")
	reminders := filter(h.sent(workflows.EntryTouchpoint), "handoff:reminder", "silence:", "milestone:")
	assert.Equal(t, []string{
		"handoff:reminder@3",
		"milestone:kickoff:late-1@11",
		"silence:0:reengage@14",
		"milestone:technical_setup:late-1@22",
		"silence:1:reengage@35",
		"milestone:first_value:late-1@46",
		"silence:2:reengage@56",
		"milestone:team_trained:late-1@62",
		"silence:3:reengage@77",
		"milestone:adoption_review:late-1@86",
	}, reminders, "reminders and re-engagement emails to the customer")
	assert.Equal(t, expectedTouchpoints(pb), filter(h.sent(workflows.EntryTouchpoint), "handoff:welcome", "touchpoint:"),
		"the playbook's touchpoints still go out")

	assert.Equal(t, workflows.HealthRed, at10.Scores.Health, "the handoff was escalated on day 5")
	assert.Equal(t, []string{"handoff call not held after 10 days", "quiet: happy but disengaged (engagement 0)"}, at10.Scores.Reasons)
	assert.Equal(t, workflows.QuadrantQuiet, at10.Scores.Quadrant)
	assert.Equal(t, workflows.HealthRed, at90.Scores.Health)
	assert.Equal(t, workflows.QuadrantAtRisk, at90.Scores.Quadrant)
	assert.Equal(t, 0, at90.Scores.Engagement)
	assert.Equal(t, 40, at90.Scores.Happiness, "initial 70 less two silence penalties of 15")
	assert.Contains(t, at90.Scores.Reasons, "no engagement for 90 days")
	assert.Contains(t, at90.Scores.Reasons, "disengaged and unhappy (engagement 0, happiness 40)")
	assert.Contains(t, at90.Scores.Reasons, `milestone "Team trained" 30 days late`)
	assert.Equal(t, 5, at90.Progress.Late)
}

// filter keeps the entries whose step starts with one of the prefixes.
func filter(entries []string, prefixes ...string) []string {
	var out []string
	for _, e := range entries {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(e, p) }) {
			out = append(out, e)
		}
	}
	return out
}
