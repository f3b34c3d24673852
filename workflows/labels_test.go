package workflows_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// rawStep matches a step id as machines read it: a known prefix and a colon.
var rawStep = regexp.MustCompile(`\b(handoff|milestone|touchpoint|silence|complaint|checkin|qbr|renewal|term|phase|reassign|email|contacts|task|journey):\S`)

func TestStepLabelsReadAsWords(t *testing.T) {
	pb := playbooks.Default()
	titled := *pb
	titled.Touchpoints = append([]playbooks.Touchpoint{}, pb.Touchpoints...)
	titled.Touchpoints[0].Title = "Admin training: the basics"
	for key, want := range map[string]string{
		"handoff:welcome":                      "Welcome email",
		"handoff:csm-task":                     "Handoff call brief for the CSM",
		"handoff:reminder":                     "Handoff call reminder",
		"handoff:reminder-csm":                 "Handoff call reminder to the CSM",
		"handoff:escalation":                   "Handoff call escalation",
		"handoff:booked-reminder":              "Booked handoff call: was it held?",
		"handoff:booked-escalation:2":          "Booked handoff call escalation (booking 2)",
		"milestone:kickoff:late-1":             "Kickoff and success plan agreed: late nudge",
		"milestone:kickoff:late-2":             "Kickoff and success plan agreed: late, CSM task",
		"milestone:team_trained:late-3":        "Team trained: late, manager told",
		"milestone:kickoff":                    "Kickoff and success plan agreed",
		"touchpoint:training-basics":           "Training basics",
		"touchpoint:webinar-best-practice":     "Webinar best practice",
		"touchpoint:checkin-14":                "Day 14 check-in",
		"touchpoint:pulse-21":                  "How is it going?",
		"touchpoint:review-30":                 "30-day review",
		"touchpoint:review-30:csm":             "Prepare the 30-day review",
		"touchpoint:best-practices-35":         "Best practices",
		"silence:0:reengage":                   "Re-engagement email",
		"silence:2:reengage:csm":               "Re-engagement call",
		"silence:1:manager":                    "Silence escalation to the manager",
		"complaint:c1":                         "Complaint c1 received",
		"complaint:c1:csm":                     "Complaint c1: CSM task",
		"complaint:c1:sla":                     "Complaint c1: SLA escalation",
		"complaint:c1:sla:csm":                 "Complaint c1: past its SLA",
		"complaint:c12:sponsor":                "Complaint c12: sponsor escalation",
		"checkin:d120":                         "Day 120 check-in",
		"qbr:d180":                             "Day 180 QBR",
		"qbr:d180:csm":                         "Prepare the day 180 QBR",
		"renewal:2027-01-05:30d":               "Renewal reminder (30 days)",
		"renewal:2027-01-05:120d:csm":          "Renewal in 120 days",
		"term:2027-01-05":                      "Renewal date 2027-01-05",
		"term:2":                               "Term 2 began",
		"phase:adoption":                       "Adoption phase begins",
		"reassign:1":                           "Handover brief for the new CSM",
		"email:stopped:1:csm":                  "Customer email stopped: CSM told",
		"email:team:1:notice":                  "Team address undeliverable: notice",
		"contacts:none:1":                      "Nobody at the account can be emailed",
		"task:t3:overdue":                      "Task t3 overdue",
		"task:t3:back:1":                       "Task t3 back from snooze",
		"handoff:reminder:failed":              "Handoff call reminder: not delivered",
		"complaint:c1:csm:slack":               "Complaint c1: CSM task (Slack)",
		"complaint:c1:csm:slack:failed":        "Complaint c1: CSM task (Slack): not delivered",
		"touchpoint:review-30:not-sent":        "30-day review: not sent",
		"journey:start":                        "Journey started",
		"some-future:step_kind":                "Some future step kind",
		"touchpoint:not-in-the-playbook":       "Not in the playbook",
		"milestone:not_in_the_playbook:late-2": "Not in the playbook: late (2)",
	} {
		got := workflows.StepLabel(pb, key)
		assert.Equal(t, want, got, key)
		assert.NotRegexp(t, rawStep, got, key)
	}
	assert.Equal(t, "Admin training: the basics", workflows.StepLabel(&titled, "touchpoint:training-basics"), "the playbook's title wins")
	assert.Equal(t, "Training basics", workflows.StepLabel(nil, "touchpoint:training-basics"), "no playbook: the id in words")
}

// TestLabelsInTheStateAndTimeline: a journey's next steps and tasks carry
// their ids for machines and their labels for people, and a touchpoint
// without a title reads as words in the timeline.
func TestLabelsInTheStateAndTimeline(t *testing.T) {
	pb := playbooks.Default()
	h := newHarness(t, testInput(pb))
	var states []workflows.State
	for _, d := range []float64{0.5, 2.5, 4, 11.5, 12.5, 15, 95, 185} {
		h.at(d, func(c *call) { states = append(states, c.state()) })
	}
	h.at(12, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "high", Summary: "Exports fail"}, nil)
	})
	h.run(186)
	require.Len(t, states, 8)

	labels := map[string]string{}
	for _, st := range states {
		require.NotEmpty(t, st.Next)
		for _, u := range st.Next {
			require.NotEmpty(t, u.Step)
			assert.NotEmpty(t, u.Label, u.Step)
			assert.NotRegexp(t, rawStep, u.Label, u.Step)
			labels[u.Step] = u.Label
		}
		for _, tv := range st.Tasks {
			require.NotEmpty(t, tv.Step)
			assert.Equal(t, workflows.StepLabel(pb, tv.Step), tv.Label, tv.Step)
			labels[tv.Step] = tv.Label
		}
	}
	assert.Equal(t, "Handoff call reminder", labels["handoff:reminder"])
	assert.Equal(t, "Training basics", labels["touchpoint:training-basics"])
	assert.Equal(t, "Complaint c1: CSM task", labels["complaint:c1:csm"])
	assert.Equal(t, "Complaint c1: SLA escalation", labels["complaint:c1:sla"])
	assert.Equal(t, "Day 14 check-in", labels["touchpoint:checkin-14"])
	assert.Equal(t, "Day 180 QBR", labels["qbr:d180"])

	e, ok := h.entry("touchpoint:training-basics")
	require.True(t, ok)
	assert.Equal(t, "Training basics", e.Summary, "the timeline reads the touchpoint in words")
}
