package playbooks_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

func TestDefaultPlaybookIsValid(t *testing.T) {
	pb, err := playbooks.Parse(playbooks.DefaultYAML())
	require.NoError(t, err)
	assert.Equal(t, "default@v1", pb.Ref())
	assert.Len(t, pb.Milestones, 5)
	assert.Len(t, pb.Touchpoints, 11)
	assert.NoError(t, pb.Validate())
	assert.Equal(t, pb, playbooks.Default())
}

func TestDefaultIsACopy(t *testing.T) {
	a := playbooks.Default()
	a.Milestones[0].DueDay = 99
	assert.Equal(t, 10, playbooks.Default().Milestones[0].DueDay)
}

// Each broken playbook is the default one with one line changed.
func TestBrokenPlaybooksNameLineAndProblem(t *testing.T) {
	cases := []struct {
		name, old, new string
		line           int
		message        string
	}{
		{"negative due day", "    due_day: 10", "    due_day: -3", 30, "milestones[0].due_day: must not be negative, got -3"},
		{"due after onboarding", "    due_day: 10", "    due_day: 120", 30, "milestones[0].due_day: day 120 is after onboarding ends (day 90)"},
		{"duplicate milestone", "  - id: technical_setup", "  - id: kickoff", 33, `milestones[1].id: duplicate id "kickoff" (first at milestones[0])`},
		{"unknown template", "template: training_invite}", "template: training_invitation}", 59, `touchpoints[0].template: unknown template "training_invitation"`},
		{"negative touchpoint day", "{id: training-basics, day: 3,", "{id: training-basics, day: -1,", 59, "touchpoints[0].day: must not be negative, got -1"},
		{"duplicate touchpoint", "{id: training-basics,", "{id: webinar-welcome,", 60, `touchpoints[1].id: duplicate id "webinar-welcome" (first at touchpoints[0])`},
		{"unknown kind", "kind: training_invite,", "kind: seminar,", 59, `touchpoints[0].kind: unknown kind "seminar"`},
		{"remind after escalate", "  remind_after_days: 3 ", "  remind_after_days: 9 ", 19, "handoff.escalate_after_days: must be after remind_after_days (9), got 5"},
		{"ladder out of order", "- {after_days: 3, action: csm_task}", "- {after_days: 1, action: csm_task}", 24, "late_ladder[1].after_days: must be later than the step before (1)"},
		{"unknown ladder action", "- {after_days: 3, action: csm_task}", "- {after_days: 3, action: sms}", 24, `late_ladder[1].action: unknown action "sms"`},
		{"zero SLA", "high: 2,", "high: 0,", 76, "complaints.sla_days.high: must be more than 0 days, got 0"},
		{"unknown severity", "critical: 1}", "critical: 1, urgent: 1}", 76, `complaints.sla_days.urgent: unknown severity "urgent"`},
		{"half life", "  half_life_days: 14 ", "  half_life_days: 0 ", 80, "scoring.half_life_days: must be more than 0, got 0"},
		{"NaN SLA", "high: 2,", "high: .nan,", 76, "complaints.sla_days.high: must be a finite number"},
		{"infinite half life", "  half_life_days: 14 ", "  half_life_days: .inf ", 80, "scoring.half_life_days: must be a finite number"},
		{"reminders not descending", "[120, 90, 60, 30]", "[120, 90, 95, 30]", 107, "adoption.renewal_reminder_days[2]: must be fewer days than the reminder before (90)"},
		{"bad weekday", "[mon, tue, wed, thu, fri]", "[mon, tue, wed, thu, fri, funday]", 14, `business_hours.weekdays[5]: unknown day "funday"`},
		{"unknown field", "    due_day: 10", "    due_date: 10", 30, "field due_date not found"},
		{"bad YAML", "    name: Kickoff and", "    name: Kickoff: and", 29, "mapping values are not allowed in this context"},
		{"wrong type", "    due_day: 10", "    due_day: ten", 30, "cannot unmarshal !!str `ten` into int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := string(playbooks.DefaultYAML())
			require.Contains(t, src, tc.old)
			src = strings.Replace(src, tc.old, tc.new, 1)
			_, err := playbooks.Parse([]byte(src))
			var invalid *playbooks.InvalidError
			require.True(t, errors.As(err, &invalid), "want an InvalidError, got %v", err)
			found := false
			for _, p := range invalid.Problems {
				if strings.Contains(p.String(), tc.message) {
					found = true
					assert.Equal(t, tc.line, p.Line, p.String())
				}
			}
			assert.True(t, found, "no problem %q in %v", tc.message, invalid.Problems)
		})
	}
}

func TestEmptyPlaybook(t *testing.T) {
	_, err := playbooks.Parse([]byte("# nothing\n"))
	require.ErrorContains(t, err, "line 1: the playbook is empty")
}

func TestMissingSectionsAreNamed(t *testing.T) {
	_, err := playbooks.Parse([]byte("id: small\nversion: 1\nname: Small\n"))
	require.Error(t, err)
	for _, want := range []string{"onboarding_days", "milestones: needs at least one milestone", "silence.reengage_after_days", "complaints.sla_days", "scoring.weights"} {
		assert.Contains(t, err.Error(), want)
	}
}
