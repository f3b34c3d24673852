package simulate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func run(t *testing.T, pb *playbooks.Playbook, sc *simulate.Scenario) *simulate.Result {
	t.Helper()
	r, err := simulate.Simulate(context.Background(), pb, sc, simulate.Options{})
	require.NoError(t, err)
	return r
}

func builtin(t *testing.T, name string) *simulate.Scenario {
	t.Helper()
	sc, err := simulate.Builtin(name)
	require.NoError(t, err)
	return sc
}

func parse(t *testing.T, yaml string) *simulate.Scenario {
	t.Helper()
	sc, err := simulate.ParseScenario([]byte(yaml))
	require.NoError(t, err)
	return sc
}

// step finds the first step with the key.
func step(r *simulate.Result, key string) (simulate.Step, bool) {
	for _, s := range r.Steps {
		if s.Step == key {
			return s, true
		}
	}
	return simulate.Step{}, false
}

func TestSilentCustomerGetsEveryLadder(t *testing.T) {
	r := run(t, playbooks.Default(), builtin(t, "silent"))
	want := []struct {
		key, role string
		day       float64
		cause     string
	}{
		{"handoff:welcome", "customer", 0, "deal closed"},
		{"handoff:reminder", "customer", 3, "handoff call not booked by day 3"},
		{"handoff:reminder-csm", "csm", 3, "handoff call not booked by day 3"},
		{"handoff:escalation", "manager", 5, "handoff call not held by day 5"},
		{"milestone:kickoff:late-1", "customer", 11, `milestone "Kickoff and success plan agreed" due day 10, not done 1 days later`},
		{"milestone:kickoff:late-2", "csm", 13, "not done 3 days later"},
		{"milestone:kickoff:late-3", "manager", 17, "not done 7 days later"},
		{"silence:0:reengage", "customer", 14, "no engagement for 14 days"},
		{"silence:0:manager", "manager", 21, "no engagement for 21 days"},
	}
	for _, w := range want {
		s, ok := step(r, w.key)
		if !assert.True(t, ok, "no step %s", w.key) {
			continue
		}
		assert.Equal(t, w.role, s.Role, w.key)
		assert.InDelta(t, w.day, s.Day, 0.01, w.key)
		assert.Contains(t, s.Cause, w.cause, w.key)
		assert.NotEmpty(t, s.Subject, w.key)
	}
	assert.Equal(t, "ada@acme.example", "ada@acme.example") // defaults are not used: the scenario names its people
	welcome, _ := step(r, "handoff:welcome")
	assert.Equal(t, "hank@globex.example", welcome.To)
	assert.Empty(t, r.Skipped, "a silent customer cancels nothing")
	assert.Equal(t, "red", r.Days[len(r.Days)-1].Health)
	require.GreaterOrEqual(t, len(r.HealthChanges), 2)
	assert.Equal(t, simulate.Change{Day: 5, From: "yellow", To: "red", Reasons: r.HealthChanges[1].Reasons}, r.HealthChanges[1])
	assert.Contains(t, r.HealthChanges[1].Reasons, "handoff call not held after 5 days")
	assert.Len(t, r.Days, 121, "a standing for every day 0-120")

	var story bytes.Buffer
	require.NoError(t, simulate.WriteStory(&story, r))
	for _, s := range []string{
		"Day 3 (Thu 2026-01-08)", "-> customer  Your handoff call for Globex is not booked yet  [handoff:reminder]",
		"why: handoff call not booked by day 3", "Day 5 (Sat 2026-01-10)", "-> manager   Handoff call for Globex not held after 5 days",
		"health yellow -> red: handoff call not held after 5 days", "why: no engagement for 21 days", "phase handoff -> adoption",
	} {
		assert.Contains(t, story.String(), s)
	}

	data, err := json.Marshal(r)
	require.NoError(t, err)
	var back simulate.Result
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, len(r.Steps), len(back.Steps))
	assert.Equal(t, r.Totals, back.Totals)
}

func TestSkippedStepsSayWhy(t *testing.T) {
	r := run(t, playbooks.Default(), builtin(t, "booked-no-show"))
	var skipped []string
	for _, k := range r.Skipped {
		if !k.Moved {
			skipped = append(skipped, fmt.Sprintf("%s due %g day %g: %s", k.Step, k.Due, k.Day, k.Reason))
		}
	}
	assert.Equal(t, []string{
		"handoff:reminder due 3 day 1: event handoff_booked on day 1",
		"handoff:escalation due 5 day 1: event handoff_booked on day 1",
	}, skipped)
	held, ok := step(r, "handoff:booked-reminder")
	require.True(t, ok)
	assert.Equal(t, "csm", held.Role)
	var story bytes.Buffer
	require.NoError(t, simulate.WriteStory(&story, r))
	assert.Contains(t, story.String(), "xx handoff reminder not sent (due day 3): event handoff_booked on day 1")
}

func TestPauseDelaysStepsWithoutSkippingThem(t *testing.T) {
	sc := parse(t, `
name: holiday
until: 40
happens:
  - {day: 1, outcome: handoff_held}
  - {day: 2, every: 2, through: 40, event: login}
  - {day: 5, pause: company holiday}
  - {day: 15, resume: true}
`)
	r := run(t, playbooks.Default(), sc)
	for _, k := range r.Skipped { // what the pause held back came back
		assert.True(t, k.Moved || k.Day == 1, "%s skipped on day %g: %s", k.Step, k.Day, k.Reason)
	}
	webinar, ok := step(r, "touchpoint:webinar-welcome")
	require.True(t, ok)
	// Day 7 of the journey, ten paused days later.
	assert.GreaterOrEqual(t, webinar.Day, 16.99)
	assert.InDelta(t, 7, webinar.JourneyDay, 0.5)
	for _, a := range r.Happenings {
		assert.Equal(t, "accepted", a.Result, a.What)
	}
}

func TestHappeningsTheJourneyRefuses(t *testing.T) {
	sc := parse(t, `
name: twice
until: 20
happens:
  - {day: 1, outcome: handoff_held}
  - {day: 2, outcome: handoff_held}
  - {day: 3, complaint: high, id: slow, summary: Reports are slow}
  - {day: 4, outcome: complaint_resolved, id: slow}
  - {day: 5, outcome: complaint_resolved, id: slow}
`)
	r := run(t, playbooks.Default(), sc)
	require.Len(t, r.Happenings, 5)
	assert.Equal(t, "accepted", r.Happenings[0].Result)
	assert.Equal(t, "rejected", r.Happenings[1].Result)
	assert.Contains(t, r.Happenings[1].Error, "already recorded")
	assert.Equal(t, 6, r.Happenings[1].Line)
	assert.Equal(t, "accepted", r.Happenings[3].Result, "the complaint is resolved by the id the journey gave it")
	assert.Equal(t, "rejected", r.Happenings[4].Result)
	var story bytes.Buffer
	require.NoError(t, simulate.WriteStory(&story, r))
	assert.Contains(t, story.String(), "<- outcome handoff_held (line 6): rejected,")
}

func TestBounceAndReassign(t *testing.T) {
	sc := parse(t, `
name: bounce
until: 40
happens:
  - {day: 1, outcome: handoff_held}
  - {day: 2, every: 2, through: 40, event: login}
  - {day: 6, email: bounce}
  - {day: 8, reassign: {name: Katherine Johnson, email: katherine@vendor.example}}
`)
	r := run(t, playbooks.Default(), sc)
	webinar, ok := step(r, "touchpoint:webinar-welcome:not-sent")
	require.True(t, ok, "the day-7 webinar invitation is not sent to a bounced address")
	assert.Contains(t, webinar.Cause, "bounce")
	for _, s := range r.Steps {
		if s.Message() && s.Day > 8 {
			assert.NotEqual(t, "customer", s.Role, "%s: no customer email after the bounce", s.Step)
			if s.Role == "csm" {
				assert.Equal(t, "katherine@vendor.example", s.To, s.Step)
			}
		}
	}
	assert.Positive(t, r.Totals.NotSent)
}

func TestThreeYearsFollowContinueAsNew(t *testing.T) {
	r := run(t, playbooks.Default(), builtin(t, "three-years"))
	assert.GreaterOrEqual(t, len(r.Runs), 3, "terms and the history budget start new runs")
	for _, run := range r.Runs {
		assert.Less(t, run.Events, workflows.HistoryBudget+200)
	}
	lastYear := 0
	for _, s := range r.Steps {
		if s.Message() && s.Day > 730 {
			lastYear++
		}
	}
	assert.Positive(t, lastYear, "the journey still writes in its third year")
	assert.Len(t, r.Days, 1101)
	for _, a := range r.Happenings {
		require.Equal(t, "accepted", a.Result, "%s on day %g: %s", a.What, a.Day, a.Error)
	}
	green := 0
	for _, d := range r.Days {
		if d.Health == "green" {
			green++
		}
	}
	assert.Greater(t, green, len(r.Days)*3/4, "steady use keeps the account green most days")
}

func TestCompareShorterHandoffEscalation(t *testing.T) {
	old := playbooks.Default()
	newer := old.Clone()
	newer.Version = 2
	newer.Handoff.EscalateAfterDays = 4
	require.NoError(t, newer.Validate())
	for _, name := range simulate.BuiltinNames() {
		t.Run(name, func(t *testing.T) {
			sc := builtin(t, name)
			d := simulate.Compare(run(t, newer, sc), run(t, old, sc))
			assert.Empty(t, d.Added)
			assert.Empty(t, d.Removed)
			for _, m := range d.Moved {
				assert.Contains(t, []string{"handoff:escalation", "handoff:booked-escalation"}, m.Step)
				assert.Equal(t, "manager", m.Role)
				assert.Negative(t, m.By)
			}
			switch name {
			case "silent":
				require.Len(t, d.Moved, 1)
				assert.Equal(t, 4.0, d.Moved[0].Day)
				assert.Equal(t, 5.0, d.Moved[0].OldDay)
				var out bytes.Buffer
				require.NoError(t, simulate.WriteComparison(&out, "new.yaml", "old.yaml", []simulate.Diff{d}))
				assert.Contains(t, out.String(), "moved    handoff:escalation")
				assert.Contains(t, out.String(), "day 5 -> day 4 (1 day earlier)")
			case "booked-no-show":
				require.Len(t, d.Moved, 1)
			default:
				assert.Empty(t, d.Moved, "the handoff was held: no escalation either way")
				assert.True(t, d.Same())
			}
			for _, h := range d.HealthDays {
				assert.Equal(t, 4, h.Day, "health differs only on the day the escalation moved to")
			}
		})
	}
}

func TestScenarioErrorsNameTheLine(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"typo in a field", "name: x\nhappens:\n  - {day: 1, outcom: handoff_held}\n", []string{"line 3:", "outcom"}},
		{"unknown outcome", "name: x\nhappens:\n  - {day: 1, event: login}\n  - {day: 2, outcome: handoff_hled}\n", []string{"line 4:", "happens[1].outcome", `unknown outcome "handoff_hled"`}},
		{"two things at once", "name: x\nhappens:\n  - {day: 1, event: login, pause: away}\n", []string{"line 3:", "exactly one of"}},
		{"no name", "happens: []\n", []string{"line 1:", "name: is required"}},
		{"day past the limit", "name: x\nhappens:\n  - {day: 5000, event: login}\n", []string{"line 3:", "happens[0].day", "must be 0 to 1158"}},
		{"day at the limit", "name: x\nhappens:\n  - {day: 1158, event: login}\n", nil},
		{"repeat without end", "name: x\nhappens:\n  - {day: 1, every: 2, event: login}\n", []string{"line 3:", "through"}},
		{"too many happenings", "name: x\nhappens:\n  - {day: 0, every: 0.1, through: 600, event: login}\n", []string{"line 3:", "6001 happenings", "at most 5000"}},
		{"bad time zone", "name: x\ncustomer:\n  champion: {time_zone: Mars/Olympus}\nhappens: []\n", []string{"line 3:", "Mars/Olympus"}},
		{"renewal before the start", "name: x\nstart: 2026-03-01\nrenewal_date: 2026-02-01\nhappens: []\n", []string{"line 3:", "renewal_date", "after the start"}},
		{"renewal too far", "name: x\nrenewal_date: 2040-01-01\nhappens: []\n", []string{"line 2:", "renewal_date"}},
		{"resolving nothing", "name: x\nhappens:\n  - {day: 3, outcome: complaint_resolved, id: nope}\n", []string{"line 3:", "names no complaint"}},
		{"long summary", "name: x\nhappens:\n  - {day: 3, complaint: low, summary: " + strings.Repeat("a", workflows.MaxTextLen+1) + "}\n", []string{"line 3:", "summary: at most 2000 characters"}},
		{"bad champion email", "name: x\ncustomer:\n  champion: {email: not-an-address}\nhappens: []\n", []string{"line 3:", "champion.email"}},
		{"not yaml", "name: [x\n", []string{"line 1:"}},
		{"empty", "", []string{"empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := simulate.ParseScenario([]byte(c.yaml))
			if c.want == nil {
				assert.NoError(t, err)
				return
			}
			var invalid *simulate.InvalidError
			require.True(t, errors.As(err, &invalid), "%v", err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
	_, err := simulate.ParseScenario(bytes.Repeat([]byte("#"), simulate.MaxScenario+1))
	assert.ErrorContains(t, err, "at most 262144")

	// What only the playbook can say: its event types and milestones.
	sc := parse(t, "name: x\nhappens:\n  - {day: 1, event: login}\n  - {day: 2, event: logn}\n  - {day: 3, outcome: milestone_completed, milestone: kickof}\n")
	_, err = simulate.Simulate(context.Background(), playbooks.Default(), sc, simulate.Options{})
	assert.ErrorContains(t, err, `line 4: happens[1].event: the playbook default@v2 has no event type "logn"`)
	assert.ErrorContains(t, err, `line 5: happens[2].milestone: the playbook default@v2 has no milestone "kickof"`)
	_, err = simulate.Simulate(context.Background(), playbooks.Default(), parse(t, "name: x\nhappens: []\n"), simulate.Options{Until: simulate.MaxDays + 1})
	assert.ErrorContains(t, err, "until")
}

func TestBuiltinScenariosAllRun(t *testing.T) {
	names := simulate.BuiltinNames()
	assert.Equal(t, []string{"engaged", "silent", "complainer", "quiet-and-happy", "booked-no-show", "churn-risk", "three-years"}, names)
	for _, name := range names {
		sc := builtin(t, name)
		assert.NotEmpty(t, sc.Description, name)
		if name == "three-years" {
			continue // its own test
		}
		r := run(t, playbooks.Default(), sc)
		for _, a := range r.Happenings {
			assert.Equal(t, "accepted", a.Result, "%s: %s on day %g: %s", name, a.What, a.Day, a.Error)
		}
		switch name {
		case "quiet-and-happy":
			quiet := 0
			for _, d := range r.Days {
				if d.Quadrant == "quiet" {
					quiet++
				}
			}
			assert.Greater(t, quiet, len(r.Days)/2, "mostly quiet")
		case "complainer":
			_, sponsor := step(r, "complaint:c2:sponsor")
			assert.True(t, sponsor, "the critical complaint reaches the sponsor")
		}
	}
	_, err := simulate.Builtin("nope")
	assert.ErrorContains(t, err, "there are: engaged, silent")
}

// The scenario in the README's Simulate section parses and runs, every
// happening accepted: the documentation shows a file that works.
func TestReadmeScenarioRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(readme), "**Scenarios.**")
	require.True(t, ok, "README has a Scenarios paragraph")
	_, rest, ok = strings.Cut(rest, "```yaml\n")
	require.True(t, ok)
	src, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	sc := parse(t, src)
	r := run(t, playbooks.Default(), sc)
	require.Len(t, r.Happenings, 37)
	for _, a := range r.Happenings {
		assert.Equal(t, "accepted", a.Result, "line %d, %s: %s", a.Line, a.What, a.Error)
	}
}

func TestADeadlineStopsASimulation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := simulate.Simulate(ctx, playbooks.Default(), builtin(t, "three-years"), simulate.Options{})
	assert.ErrorIs(t, err, context.Canceled)
}

// timelineOf is a result's steps as the journey's timeline query answers them.
func timelineOf(r *simulate.Result) workflows.Timeline {
	tl := workflows.Timeline{CustomerID: r.Final.CustomerID}
	for _, s := range r.Steps {
		tl.Entries = append(tl.Entries, workflows.Entry{At: s.At, Day: s.JourneyDay, Kind: s.Kind, Step: s.Step, Summary: s.Summary, Cause: s.Cause, To: s.To})
	}
	return tl
}

// A journey read back and replayed under its own playbook does again what
// it did: the recorded happenings are the scenario's.
func TestRecordedJourneyReplaysAsItRan(t *testing.T) {
	for _, name := range []string{"complainer", "booked-no-show", "churn-risk"} {
		t.Run(name, func(t *testing.T) {
			sc := builtin(t, name)
			sc.Until = 100
			ran := run(t, playbooks.Default(), sc)
			st := ran.Final
			st.AsOf = ran.Start.Add(100 * 24 * time.Hour)
			rec, err := simulate.FromJourney(st, timelineOf(ran))
			require.NoError(t, err)
			rec.Fit(playbooks.Default())
			accepted := 0
			for _, a := range ran.Happenings {
				if a.Result == "accepted" {
					accepted++
				}
			}
			assert.Len(t, rec.Scenario.Happens, accepted, "every accepted happening is read back: %v", rec.Notes)
			again := run(t, playbooks.Default(), rec.Scenario)
			d := simulate.Compare(again, rec.Actual)
			assert.Empty(t, d.Added)
			assert.Empty(t, d.Removed)
			assert.Empty(t, d.Moved)

			// Under a shorter handoff escalation the replay shows what would differ.
			v2 := playbooks.Default().Clone()
			v2.Version, v2.Handoff.EscalateAfterDays = 2, 4
			d = simulate.Compare(run(t, v2, rec.Scenario), rec.Actual)
			if name == "booked-no-show" {
				require.Len(t, d.Moved, 1)
				assert.Equal(t, "handoff:booked-escalation", d.Moved[0].Step)
			} else {
				assert.Empty(t, d.Moved)
			}
		})
	}
	_, err := simulate.FromJourney(workflows.State{CustomerID: "old"}, workflows.Timeline{})
	assert.ErrorContains(t, err, "cannot be replayed")
}
