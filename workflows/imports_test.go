package workflows_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func intp(n int) *int { return &n }

// customerSteps lists the timeline's customer-facing touchpoints as step@day.
func (h *harness) touchpoints() []string { return h.sent(workflows.EntryTouchpoint) }

// TestImportedMidOnboarding: a customer imported at day 33 of onboarding is
// sent nothing of days 0-32 (no welcome, no training invite, no review),
// its milestones due before day 33 are imported rather than late, and from
// day 33 on the playbook runs as for anyone.
func TestImportedMidOnboarding(t *testing.T) {
	in := testInput(playbooks.Default())
	in.Import = &workflows.Import{Day: 33, Phase: workflows.PhaseOnboarding, Source: "book.csv line 2"}
	h := newHarness(t, in)
	var first workflows.State
	h.at(0.01, func(c *call) { first = c.state() })
	h.run(16)

	assert.Equal(t, 33, first.Day)
	assert.Equal(t, workflows.PhaseOnboarding, first.Phase)
	require.NotNil(t, first.Imported)
	assert.Equal(t, 33, first.Imported.Day)
	statuses := map[string]string{}
	for _, m := range first.Milestones {
		statuses[m.ID] = m.Status
	}
	assert.Equal(t, map[string]string{"kickoff": "imported", "technical_setup": "imported", "first_value": "pending",
		"team_trained": "pending", "adoption_review": "pending"}, statuses)
	assert.Equal(t, 2, first.Progress.Imported)
	assert.Zero(t, first.Progress.Late, "imported milestones are not late")
	for _, r := range first.Scores.Reasons {
		assert.NotContains(t, r, "late")
		assert.NotContains(t, r, "handoff")
	}
	require.NotEmpty(t, first.Next)
	assert.Equal(t, "touchpoint:best-practices-35", first.Next[0].Step, "the next step is the first one due from day 33")
	assert.Equal(t, 35, first.Next[0].Day)

	// best practices on day 35, advanced training on 40, first value's
	// nudge the day after its due day 45: wall days 2, 7 and 13; silence
	// counts from the import, so the re-engagement comes 14 days after it.
	assert.Equal(t, []string{"touchpoint:best-practices-35@2", "touchpoint:training-advanced@7", "milestone:first_value:late-1@13", "silence:0:reengage@14"}, h.touchpoints())
	for _, step := range []string{"handoff:welcome", "handoff:csm-task", "handoff:reminder", "handoff:escalation", "touchpoint:training-basics", "touchpoint:review-30", "milestone:kickoff:late-1"} {
		_, ok := h.entry(step)
		assert.False(t, ok, "%s must not run for a customer imported at day 33", step)
	}
	imp, ok := h.entry("journey:import")
	require.True(t, ok)
	assert.Equal(t, "Imported at day 33 (onboarding): 5 touchpoints before today not sent, 2 overdue milestones marked imported", imp.Summary)
	assert.Contains(t, imp.Cause, "book.csv line 2")
	assert.Equal(t, 33.0, imp.Day)
}

// TestImportedInMonthSeven: a customer who started 200 days ago, renewing
// in 165 days, is in adoption: its next check-in and QBR are the playbook's
// next ones after day 200, the renewal reminders whose day has not passed
// go out, and the term that begins at the renewal carries the import into
// the next run.
func TestImportedInMonthSeven(t *testing.T) {
	in := testInput(playbooks.Default())
	in.Account.RenewalDate = testStart.AddDate(0, 0, 165)
	im, err := workflows.PlaceImport(in.Playbook, testStart, testStart.AddDate(0, 0, -200), nil, "")
	require.NoError(t, err)
	require.Equal(t, &workflows.Import{Day: 200, Phase: workflows.PhaseAdoption, Since: testStart.AddDate(0, 0, -200)}, im)
	in.Import = im
	h := newHarness(t, in)
	var first workflows.State
	h.at(0.01, func(c *call) { first = c.state() })
	h.run(168)

	assert.Equal(t, 200, first.Day)
	assert.Equal(t, workflows.PhaseAdoption, first.Phase)
	assert.Equal(t, 5, first.Progress.Imported, "every onboarding milestone was due before day 200")
	steps := make([]string, 0, len(first.Next))
	for _, n := range first.Next {
		steps = append(steps, n.Step)
	}
	assert.Equal(t, "checkin:d210", steps[0], "check-ins every 30 days from day 90, day 180 being a QBR")

	var got []string
	for _, s := range h.touchpoints() {
		if !strings.HasPrefix(s, "silence:") {
			got = append(got, s)
		}
	}
	require.GreaterOrEqual(t, len(got), 6, "%v", got)
	assert.Equal(t, []string{"checkin:d210@10", "checkin:d240@40"}, got[:2])
	assert.True(t, strings.HasPrefix(got[2], "renewal:") && strings.HasSuffix(got[2], ":120d@45"), "the 120-day reminder on day 245: %v", got)
	assert.Equal(t, "qbr:d270@70", got[3], "%v", got)
	for _, s := range got {
		assert.False(t, strings.HasPrefix(s, "handoff:") || strings.HasPrefix(s, "touchpoint:"), "nothing of onboarding: %s", s)
	}
	// The renewal on day 365 began term 2 (a continue-as-new) with the import kept.
	assert.Equal(t, 2, h.final.Term)
	require.NotNil(t, h.final.Imported)
	assert.Equal(t, 200, h.final.Imported.Day)
	assert.GreaterOrEqual(t, h.final.Runs, 1, "the term continued as new")
}

// TestImportedBeforeTheHandoff: a customer in the handoff phase at day 2 gets
// no welcome; the CSM is briefed at once, and the handoff reminder (day 3)
// and escalation (day 5) still come.
func TestImportedBeforeTheHandoff(t *testing.T) {
	in := testInput(playbooks.Default())
	in.Import = &workflows.Import{Day: 2, Phase: workflows.PhaseHandoff}
	h := newHarness(t, in)
	var first workflows.State
	h.at(0.01, func(c *call) { first = c.state() })
	h.run(4)
	assert.Equal(t, workflows.PhaseHandoff, first.Phase)
	_, welcomed := h.entry("handoff:welcome")
	assert.False(t, welcomed)
	assert.Equal(t, []string{"handoff:reminder@1"}, slices.DeleteFunc(h.touchpoints(), func(s string) bool { return strings.HasPrefix(s, "touchpoint:") }))
	assert.Contains(t, h.sent(workflows.EntryEscalation), "handoff:escalation@3")
	assert.Contains(t, h.sent(workflows.EntryTask), "handoff:csm-task@0")
	assert.Contains(t, h.sent(workflows.EntryTouchpoint), "touchpoint:training-basics@1", "day 3's training invite goes out")
}

// TestPreviewIsWhatTheJourneyDoes: the dry run's next steps are the ones a
// started journey runs at once (those already due) and then lists.
func TestPreviewIsWhatTheJourneyDoes(t *testing.T) {
	for _, im := range []*workflows.Import{nil, {Day: 33, Phase: workflows.PhaseOnboarding}, {Day: 200, Phase: workflows.PhaseAdoption}, {Day: 4, Phase: workflows.PhaseHandoff}} {
		in := testInput(playbooks.Default())
		in.Import = im
		preview, err := workflows.Preview(in, testStart, 5)
		require.NoError(t, err)
		h := newHarness(t, in)
		var first workflows.State
		h.at(0.001, func(c *call) { first = c.state() })
		h.run(0.01)
		require.Len(t, preview.Next, 5)
		var now []string
		later := preview.Next
		for len(later) > 0 && !later[0].At.After(testStart) {
			now, later = append(now, later[0].Step), later[1:]
		}
		for _, step := range now {
			e, ok := h.entry(step)
			if assert.True(t, ok, "%s due at once in the preview, import %+v", step, im) {
				assert.Equal(t, 0.0, h.wallDay(e.At))
			}
		}
		assert.Equal(t, later, first.Next[:len(later)], "import %+v", im)
		assert.Equal(t, first.Phase, preview.Phase)
		assert.Equal(t, first.Day, preview.Day)
	}
}

func TestPlaceImport(t *testing.T) {
	pb := playbooks.Default()
	today := time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC)
	day := func(n int) time.Time { return today.AddDate(0, 0, -n) }
	cases := []struct {
		name  string
		since time.Time
		day   *int
		phase string
		want  *workflows.Import
		field string
	}{
		{name: "nothing: an ordinary start", want: nil},
		{name: "started today", since: today, want: nil},
		{name: "handoff alone", phase: "handoff", want: nil},
		{name: "onboarding alone", phase: "onboarding", want: &workflows.Import{Day: 1, Phase: "onboarding"}},
		{name: "adoption alone", phase: "adoption", want: &workflows.Import{Day: 90, Phase: "adoption"}},
		{name: "a start date in onboarding", since: day(33), want: &workflows.Import{Day: 33, Phase: "onboarding", Since: time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)}},
		{name: "day 89 is onboarding", day: intp(89), want: &workflows.Import{Day: 89, Phase: "onboarding"}},
		{name: "day 90 is adoption", day: intp(90), want: &workflows.Import{Day: 90, Phase: "adoption"}},
		{name: "handoff still to hold", day: intp(4), phase: "handoff", want: &workflows.Import{Day: 4, Phase: "handoff"}},
		{name: "onboarding at day 0: the handoff was held", day: intp(0), phase: "onboarding", want: &workflows.Import{Day: 0, Phase: "onboarding"}},
		{name: "the longest ago", day: intp(workflows.MaxImportDay), want: &workflows.Import{Day: workflows.MaxImportDay, Phase: "adoption"}},
		{name: "past the longest", day: intp(workflows.MaxImportDay + 1), field: "day"},
		{name: "negative day", day: intp(-1), field: "day"},
		{name: "start date too old", since: day(workflows.MaxImportDay + 1), field: "start_date"},
		{name: "start date tomorrow", since: today.AddDate(0, 0, 1), field: "start_date"},
		{name: "both", since: day(3), day: intp(3), field: "day"},
		{name: "unknown phase", phase: "renewal", field: "phase"},
		{name: "adoption too early", day: intp(30), phase: "adoption", field: "phase"},
		{name: "onboarding too late", day: intp(120), phase: "onboarding", field: "phase"},
		{name: "handoff too late", day: intp(95), phase: "handoff", field: "phase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := workflows.PlaceImport(pb, today, tc.since, tc.day, tc.phase)
			if tc.field != "" {
				var fe *workflows.FieldError
				require.ErrorAs(t, err, &fe)
				assert.Equal(t, tc.field, fe.Field, "%v", err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestImportBounds: the import's fields are checked with the start's.
func TestImportBounds(t *testing.T) {
	in := testInput(playbooks.Default())
	for field, im := range map[string]workflows.Import{
		"import.day":    {Day: workflows.MaxImportDay + 1, Phase: "adoption"},
		"import.phase":  {Day: 3, Phase: "later"},
		"import.source": {Day: 3, Phase: "onboarding", Source: strings.Repeat("x", workflows.MaxShortLen+1)},
	} {
		in.Import = &im
		err := in.ValidateStart(testStart)
		require.Error(t, err, field)
		assert.Contains(t, err.Error(), field)
	}
	in.Import = &workflows.Import{Day: 3, Phase: "onboarding", Source: strings.Repeat("x", workflows.MaxShortLen)}
	assert.NoError(t, in.ValidateStart(testStart))
}
