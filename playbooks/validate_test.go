package playbooks_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

func TestDefaultPlaybookIsValid(t *testing.T) {
	pb, err := playbooks.Parse(playbooks.DefaultYAML())
	require.NoError(t, err)
	assert.Equal(t, "default@v2", pb.Ref())
	assert.Len(t, pb.Milestones, 5)
	assert.Len(t, pb.Touchpoints, 12)
	fv, ok := pb.FirstValue()
	require.True(t, ok)
	assert.Equal(t, "first_value", fv.ID)
	assert.Len(t, pb.Outcomes, 3)
	other, ok := pb.Outcome(playbooks.OutcomeOther)
	assert.True(t, ok)
	assert.Equal(t, "Something else", other.Label)
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
		{"unknown template", "template: training_invite}", "template: training_invitation}", 60, `touchpoints[0].template: unknown template "training_invitation"`},
		{"negative touchpoint day", "{id: training-basics, day: 3,", "{id: training-basics, day: -1,", 60, "touchpoints[0].day: must not be negative, got -1"},
		{"duplicate touchpoint", "{id: training-basics,", "{id: webinar-welcome,", 61, `touchpoints[1].id: duplicate id "webinar-welcome" (first at touchpoints[0])`},
		{"unknown kind", "kind: training_invite,", "kind: seminar,", 60, `touchpoints[0].kind: unknown kind "seminar"`},
		{"unknown contact role", "template: training_invite}", "template: training_invite, to: [admin, owner]}", 60, `touchpoints[0].to[1]: unknown contact role "owner" (use champion, admin, user, executive_sponsor, billing)`},
		{"contact role twice", "template: training_invite}", "template: training_invite, to: [user, user]}", 60, `touchpoints[0].to[1]: role "user" given twice`},
		{"unknown QBR role", "  qbr_template: qbr_invite\n", "  qbr_template: qbr_invite\n  qbr_to: [cfo]\n", 109, `adoption.qbr_to[0]: unknown contact role "cfo"`},
		{"remind after escalate", "  remind_after_days: 3 ", "  remind_after_days: 9 ", 19, "handoff.escalate_after_days: must be after remind_after_days (9), got 5"},
		{"ladder out of order", "- {after_days: 3, action: csm_task}", "- {after_days: 1, action: csm_task}", 24, "late_ladder[1].after_days: must be later than the step before (1)"},
		{"unknown ladder action", "- {after_days: 3, action: csm_task}", "- {after_days: 3, action: sms}", 24, `late_ladder[1].action: unknown action "sms"`},
		{"zero SLA", "high: 2,", "high: 0,", 78, "complaints.sla_days.high: must be more than 0 days, got 0"},
		{"unknown severity", "critical: 1}", "critical: 1, urgent: 1}", 78, `complaints.sla_days.urgent: unknown severity "urgent"`},
		{"half life", "  half_life_days: 14 ", "  half_life_days: 0 ", 82, "scoring.half_life_days: must be more than 0, got 0"},
		{"NaN SLA", "high: 2,", "high: .nan,", 78, "complaints.sla_days.high: must be a finite number"},
		{"infinite half life", "  half_life_days: 14 ", "  half_life_days: .inf ", 82, "scoring.half_life_days: must be a finite number"},
		{"reminders not descending", "[120, 90, 60, 30]", "[120, 90, 95, 30]", 109, "adoption.renewal_reminder_days[2]: must be fewer days than the reminder before (90)"},
		{"bad weekday", "[mon, tue, wed, thu, fri]", "[mon, tue, wed, thu, fri, funday]", 14, `business_hours.weekdays[5]: unknown day "funday"`},
		{"unknown field", "    due_day: 10", "    due_date: 10", 30, "field due_date not found"},
		{"bad YAML", "    name: Kickoff and", "    name: Kickoff: and", 29, "mapping values are not allowed in this context"},
		{"wrong type", "    due_day: 10", "    due_day: ten", 30, "cannot unmarshal !!str `ten` into int"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, edit(t, tc.old, tc.new), tc.line, tc.message)
		})
	}
}

// edit is the default playbook with the first old of each pair replaced by
// its new.
func edit(t *testing.T, pairs ...string) string {
	t.Helper()
	src := string(playbooks.DefaultYAML())
	for i := 0; i+1 < len(pairs); i += 2 {
		require.Contains(t, src, pairs[i])
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

// requireProblem parses src and wants it refused with a problem containing
// message, on line.
func requireProblem(t *testing.T, src string, line int, message string) {
	t.Helper()
	_, err := playbooks.Parse([]byte(src))
	var invalid *playbooks.InvalidError
	require.True(t, errors.As(err, &invalid), "want an InvalidError, got %v", err)
	found := false
	for _, p := range invalid.Problems {
		if strings.Contains(p.String(), message) {
			found = true
			assert.Equal(t, line, p.Line, p.String())
		}
	}
	assert.True(t, found, "no problem %q in %v", message, invalid.Problems)
}

// lines is n YAML lines made by line(i), i from 1.
func lines(n int, line func(i int) string) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString(line(i) + "\n")
	}
	return b.String()
}

// Each playbook is the default one one past a bound (a journey carries its
// playbook in every run, so nothing in it may grow without limit). Some need
// a second edit: a day after onboarding ends is refused as such, so the
// day bound shows only when onboarding_days is itself wrong.
func TestPlaybookBounds(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	noOnboarding := []string{"onboarding_days: 90 ", "onboarding_days: 0 "}
	cases := []struct {
		name    string
		edits   []string // old, new, old, new...
		line    int
		message string
	}{
		// Lists.
		{"51 milestones", []string{"    deliverables: [Adoption report]\n", "    deliverables: [Adoption report]\n" +
			lines(46, func(i int) string {
				return fmt.Sprintf("  - {id: extra-%d, name: Extra %d, due_day: 50, owner: joint}", i, i)
			})},
			28, "milestones: must have at most 50 milestones, got 51"},
		{"101 touchpoints", []string{"template: review}\n\n", "template: review}\n" +
			lines(89, func(i int) string {
				return fmt.Sprintf("  - {id: extra-%d, day: 90, kind: review, template: review}", i)
			}) + "\n"},
			60, "touchpoints: must have at most 100 touchpoints, got 101"},
		{"11 steps in the late ladder", []string{"  - {after_days: 7, action: manager}\n", "  - {after_days: 7, action: manager}\n" +
			lines(8, func(i int) string { return fmt.Sprintf("  - {after_days: %d, action: manager}", 7+i) })},
			23, "late_ladder: must have at most 10 steps, got 11"},
		{"11 steps in a milestone's ladder", []string{"      - {after_days: 10, action: manager}\n", "      - {after_days: 10, action: manager}\n" +
			lines(8, func(i int) string { return fmt.Sprintf("      - {after_days: %d, action: manager}", 10+i) })},
			50, "milestones[3].late: must have at most 10 steps, got 11"},
		{"13 renewal reminders", []string{"[120, 90, 60, 30]", "[130, 120, 110, 100, 90, 80, 70, 60, 50, 40, 30, 20, 10]"},
			109, "adoption.renewal_reminder_days: must have at most 12 reminders, got 13"},
		{"51 deliverables", []string{"[Success plan document, Stakeholder map]", "[" + strings.TrimSuffix(strings.ReplaceAll(
			lines(51, func(i int) string { return fmt.Sprintf("Deliverable %d", i) }), "\n", ", "), ", ") + "]"},
			32, "milestones[0].deliverables: must have at most 50 deliverables, got 51"},
		{"51 event types", []string{"    email_open: 2\n", "    email_open: 2\n" +
			lines(39, func(i int) string { return fmt.Sprintf("    extra_%d: 1", i) })},
			84, "scoring.weights: must name at most 50 event types, got 51"},

		// Ids, names, titles, deliverables.
		{"playbook id of 65", []string{"id: default", "id: " + long("d", 65)}, 4, "id: must be at most 64 characters, got 65"},
		{"milestone id of 65", []string{"  - id: kickoff", "  - id: " + long("k", 65)}, 28, "milestones[0].id: must be at most 64 characters, got 65"},
		{"touchpoint id of 65", []string{"{id: training-basics,", "{id: " + long("t", 65) + ","}, 60, "touchpoints[0].id: must be at most 64 characters, got 65"},
		{"event type of 65", []string{"    email_open: 2", "    " + long("e", 65) + ": 2"}, 84,
			`scoring.weights: event type "eeeeeeeeeeeeeeeeeeee"... must be at most 64 characters, got 65`},
		{"playbook name of 201", []string{"name: Standard onboarding", "name: " + long("N", 201)}, 6, "name: must be at most 200 characters, got 201"},
		{"milestone name of 201", []string{"    name: Kickoff and success plan agreed", "    name: " + long("é", 201)}, 29,
			"milestones[0].name: must be at most 200 characters, got 201"},
		{"touchpoint title of 201", []string{"template: training_invite}", "template: training_invite, title: " + long("T", 201) + "}"}, 60,
			"touchpoints[0].title: must be at most 200 characters, got 201"},
		{"deliverable of 201", []string{"Stakeholder map]", long("S", 201) + "]"}, 32, "milestones[0].deliverables[1]: must be at most 200 characters, got 201"},

		// Day counts.
		{"due day 3651", append(noOnboarding, "    due_day: 10", "    due_day: 3651"), 30, "milestones[0].due_day: must be at most 3650 days, got 3651"},
		{"touchpoint day 3651", append(noOnboarding, "{id: training-basics, day: 3,", "{id: training-basics, day: 3651,"), 60,
			"touchpoints[0].day: must be at most 3650 days, got 3651"},
		{"ladder step after 3651", []string{"- {after_days: 7, action: manager}", "- {after_days: 3651, action: manager}"}, 25,
			"late_ladder[2].after_days: must be at most 3650 days, got 3651"},
		{"milestone ladder step after 3651", []string{"- {after_days: 10, action: manager}", "- {after_days: 3651, action: manager}"}, 52,
			"milestones[3].late[2].after_days: must be at most 3650 days, got 3651"},
		{"re-engage after 3651", []string{"  reengage_after_days: 14 ", "  reengage_after_days: 3651 "}, 74,
			"silence.reengage_after_days: must be at most 3650 days, got 3651"},
		{"manager after 3651", []string{"  manager_after_days: 21 ", "  manager_after_days: 3651 "}, 75,
			"silence.manager_after_days: must be at most 3650 days, got 3651"},
		{"handoff reminder after 3651", []string{"  remind_after_days: 3 ", "  remind_after_days: 3651 "}, 18,
			"handoff.remind_after_days: must be at most 3650 days, got 3651"},
		{"handoff escalation after 3651", append(noOnboarding, "  escalate_after_days: 5 ", "  escalate_after_days: 3651 "), 19,
			"handoff.escalate_after_days: must be at most 3650 days, got 3651"},
		{"check-ins every 3651", []string{"  checkin_every_days: 30", "  checkin_every_days: 3651"}, 105,
			"adoption.checkin_every_days: must be at most 3650 days, got 3651"},
		{"QBRs every 3651", []string{"  qbr_every_days: 90", "  qbr_every_days: 3651"}, 107,
			"adoption.qbr_every_days: must be at most 3650 days, got 3651"},
		{"residual for 3651", []string{"  residual_days: 30 ", "  residual_days: 3651 "}, 101,
			"scoring.residual_days: must be at most 3650 days, got 3651"},
		{"half life 3651", []string{"  half_life_days: 14 ", "  half_life_days: 3650.5 "}, 82,
			"scoring.half_life_days: must be at most 3650 days, got 3650.5"},

		// Complaints.
		{"SLA under an hour", []string{"high: 2,", "high: 0.04,"}, 78, "complaints.sla_days.high: must be at least 1 hour (1/24 day, about 0.0417), got 0.04"},
		{"SLA over a year", []string{"low: 10,", "low: 366,"}, 78, "complaints.sla_days.low: must be at most 365 days, got 366"},
		{"sponsor after a year", []string{"  sponsor_after_sla_days: 1 ", "  sponsor_after_sla_days: 365.5 "}, 79,
			"complaints.sponsor_after_sla_days: must be at most 365 days, got 365.5"},

		// The delivery deadline.
		{"give up under an hour", []string{"  give_up_after_days: 2 ", "  give_up_after_days: 0.04 "}, 115,
			"delivery.give_up_after_days: must be between 1 hour (1/24 day, about 0.0417) and 30 days, got 0.04"},
		{"give up after a month", []string{"  give_up_after_days: 2 ", "  give_up_after_days: 31 "}, 115,
			"delivery.give_up_after_days: must be between 1 hour (1/24 day, about 0.0417) and 30 days, got 31"},
		{"give up at 0", []string{"  give_up_after_days: 2 ", "  give_up_after_days: 0 "}, 115,
			"delivery.give_up_after_days: must be between 1 hour (1/24 day, about 0.0417) and 30 days, got 0; leave it out for 2 days"},
		{"give up before", []string{"  give_up_after_days: 2 ", "  give_up_after_days: -1 "}, 115,
			"delivery.give_up_after_days: must be between 1 hour (1/24 day, about 0.0417) and 30 days, got -1"},
		{"give up never", []string{"  give_up_after_days: 2 ", "  give_up_after_days: .inf "}, 115,
			"delivery.give_up_after_days: must be a finite number"},

		// Weights.
		{"weight over 100", []string{"    meeting_held: 25", "    meeting_held: 101"}, 84, "scoring.weights.meeting_held: must be at most 100, got 101"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			requireProblem(t, edit(t, tc.edits...), tc.line, tc.message)
		})
	}
}

// A playbook at every bound is accepted, from YAML and as a snapshot.
func TestPlaybookAtItsBounds(t *testing.T) {
	text := func(c string) string { return strings.Repeat(c, playbooks.MaxTextLen) }
	id := func(prefix string, i int) string {
		s := fmt.Sprintf("%s-%d-", prefix, i)
		return s + strings.Repeat("x", playbooks.MaxIDLen-len(s))
	}
	ladder := func() []playbooks.LadderStep {
		steps := make([]playbooks.LadderStep, playbooks.MaxLadderSteps)
		for i := range steps {
			steps[i] = playbooks.LadderStep{AfterDays: playbooks.MaxDays - playbooks.MaxLadderSteps + 1 + i, Action: playbooks.ActionCSMTask}
		}
		return steps
	}
	pb := playbooks.Default()
	pb.ID = id("p", 0)
	pb.Name = text("N")
	pb.LateLadder = ladder()
	pb.Milestones = nil
	for i := range playbooks.MaxMilestones {
		m := playbooks.Milestone{ID: id("m", i), Name: text("é"), DueDay: pb.OnboardingDays, Owner: "joint", Late: ladder()}
		for range playbooks.MaxDeliverables {
			m.Deliverables = append(m.Deliverables, text("d"))
		}
		pb.Milestones = append(pb.Milestones, m)
	}
	pb.Touchpoints = nil
	for i := range playbooks.MaxTouchpoints {
		pb.Touchpoints = append(pb.Touchpoints, playbooks.Touchpoint{ID: id("t", i), Day: pb.OnboardingDays,
			Kind: playbooks.KindReview, Template: "review", Title: text("T")})
	}
	pb.Handoff.RemindAfterDays = 1
	pb.Silence = playbooks.Silence{ReengageAfterDays: playbooks.MaxDays - 1, ManagerAfterDays: playbooks.MaxDays}
	pb.Complaints.SLADays = map[string]float64{"low": playbooks.MaxSLADays, "medium": 1, "high": playbooks.MinSLADays, "critical": playbooks.MinSLADays}
	pb.Complaints.SponsorAfterSLADays = playbooks.MaxSLADays
	pb.Scoring.HalfLifeDays = playbooks.MaxDays
	pb.Scoring.ResidualDays = playbooks.MaxDays
	pb.Scoring.Weights = map[string]float64{"pulse": playbooks.MaxWeight}
	for i := len(pb.Scoring.Weights); i < playbooks.MaxEventTypes; i++ {
		pb.Scoring.Weights[id("e", i)] = playbooks.MaxWeight
	}
	pb.Adoption.CheckinEveryDays = playbooks.MaxDays
	pb.Adoption.QBREveryDays = playbooks.MaxDays - 1
	pb.Adoption.RenewalReminderDays = nil
	for i := range playbooks.MaxRenewalReminders {
		pb.Adoption.RenewalReminderDays = append(pb.Adoption.RenewalReminderDays, 360-30*i)
	}
	for _, giveUp := range []float64{playbooks.MinGiveUpAfterDays, playbooks.MaxGiveUpAfterDays} {
		pb.Delivery.GiveUpAfterDays = giveUp
		require.NoError(t, pb.Validate())
		data, err := yaml.Marshal(pb)
		require.NoError(t, err)
		parsed, err := playbooks.Parse(data)
		require.NoError(t, err)
		assert.Equal(t, pb, parsed)
		assert.NoError(t, parsed.Clone().Validate())
	}
}

// The delivery deadline is optional: two days when left out.
func TestDeliveryDeadline(t *testing.T) {
	assert.Equal(t, 2.0, playbooks.Default().GiveUpAfterDays(), "default.yaml says 2")
	for src, want := range map[string]float64{
		edit(t, "delivery:\n  give_up_after_days: 2 ", "delivery:\n  give_up_after_days: 0.5 "): 0.5,
		edit(t, "  give_up_after_days: 2 ", "  give_up_after_days: ~ "):                         playbooks.DefaultGiveUpAfterDays,
		edit(t, "delivery:\n  give_up_after_days: 2 ", "delivery: {}\n#"):                       playbooks.DefaultGiveUpAfterDays,
		edit(t, "\ndelivery:\n  give_up_after_days: 2 ", "\n#"):                                 playbooks.DefaultGiveUpAfterDays,
	} {
		pb, err := playbooks.Parse([]byte(src))
		require.NoError(t, err)
		assert.Equal(t, want, pb.GiveUpAfterDays())
		assert.NoError(t, pb.Clone().Validate(), "a snapshot without the field is valid too")
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

// The desired-outcome choices are buttons in an email: bounded in number
// and length, unique, never the built-in "other".
func TestOutcomeChoices(t *testing.T) {
	const old = "  - {id: onboard-whole-team, label: Onboard the whole team}"
	cases := []struct {
		name, new, message string
	}{
		{"duplicate", "  - {id: cut-reporting-time, label: Again}", `outcomes[2].id: duplicate id "cut-reporting-time" (first at outcomes[0])`},
		{"other is built in", "  - {id: other, label: Other}", `outcomes[2].id: "other" is the built-in "something else" choice`},
		{"label required", "  - {id: team, label: ' '}", "outcomes[2].label: is required"},
		{"label of 61", "  - {id: team, label: " + strings.Repeat("L", 61) + "}", "outcomes[2].label: must be at most 60 characters, got 61"},
		{"bad id", "  - {id: Team!, label: Team}", "outcomes[2].id: must be 1-64 lower-case letters"},
		{"eleven", old + "\n" + lines(8, func(i int) string { return fmt.Sprintf("  - {id: extra-%d, label: Extra %d}", i, i) }),
			"outcomes: must have at most 10 outcomes, got 11"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := playbooks.Parse([]byte(edit(t, old, tc.new)))
			require.ErrorContains(t, err, tc.message)
		})
	}
	// At the bound: ten choices, a 60-character label.
	ten := old + "\n" + lines(6, func(i int) string { return fmt.Sprintf("  - {id: extra-%d, label: Extra %d}", i, i) }) +
		"  - {id: long, label: " + strings.Repeat("L", 60) + "}"
	pb, err := playbooks.Parse([]byte(edit(t, old, ten)))
	require.NoError(t, err)
	assert.Len(t, pb.Outcomes, 10)
	_, ok := pb.Outcome("extra-6")
	assert.True(t, ok)
	_, ok = pb.Outcome("nope")
	assert.False(t, ok)
}

func TestOneFirstValueMilestone(t *testing.T) {
	src := edit(t, "    deliverables: [Success plan document, Stakeholder map]",
		"    deliverables: [Success plan document, Stakeholder map]\n    first_value: true")
	_, err := playbooks.Parse([]byte(src))
	require.ErrorContains(t, err, "milestones[2].first_value: only one milestone can be first value (already milestones[0])")
}
