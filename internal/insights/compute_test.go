package insights

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// acct is an account at journey day d (now is t0 + d days).
func acct(id, health string, d float64) Account {
	return Account{CustomerID: id, Health: health, Quadrant: QuadrantQuiet, CSM: "grace@example.com", Facts: Facts{
		V: FactsVersion, Plan: "pro", Playbook: "default@v2", Start: t0.Add(-time.Duration(d * float64(day))), DayLength: day, HandoffDay: -1,
		Milestones: []Milestone{{ID: "kickoff", Name: "Kickoff held", Due: 7, Done: -1}, {ID: "adoption", Name: "Adoption goals met", Due: 60, Done: -1}},
		FirstValue: "adoption",
	}}
}

// portfolio is green accounts that train (trainedGreen of them) and others
// that do not (trainedRest of them do), all at day 40.
func portfolio(green, trainedGreen, rest, trainedRest int) []Account {
	var as []Account
	for i := range green {
		a := acct(fmt.Sprintf("g%d", i), Green, 40)
		a.Quadrant = QuadrantChampion
		if i < trainedGreen {
			a.Facts.Events[Trainings] = [2]int{2, 2}
			a.Facts.HandoffDay = 0.5
		}
		as = append(as, a)
	}
	for i := range rest {
		a := acct(fmt.Sprintf("r%d", i), "red", 40)
		if i < trainedRest {
			a.Facts.Events[Trainings] = [2]int{1, 1}
		}
		as = append(as, a)
	}
	return as
}

func diffOf(t *testing.T, s Segment, id string) Difference {
	t.Helper()
	for _, d := range s.Differences {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no difference %s in %s", id, s.Key)
	return Difference{}
}

func TestComputeFindsWhatGreenAccountsDo(t *testing.T) {
	r := Compute(portfolio(12, 10, 12, 2), t0, 0)
	assert.Equal(t, DefaultMinSample, r.MinSample)
	assert.Equal(t, 24, r.Journeys)
	assert.Equal(t, map[string]int{QuadrantChampion: 12, QuadrantQuiet: 12, QuadrantVocal: 0, QuadrantAtRisk: 0}, r.Quadrants)
	assert.Equal(t, map[string]int{Green: 12, "red": 12}, r.Health)
	all, ok := r.Segment("all")
	require.True(t, ok)
	assert.True(t, all.Enough)
	assert.Empty(t, all.Why)

	tr := diffOf(t, all, "event:training_completed:30")
	assert.Equal(t, [4]int{10, 12, 2, 12}, [4]int{tr.Green, tr.GreenOf, tr.Rest, tr.RestOf})
	assert.Equal(t, 0.833, tr.GreenRate)
	assert.Equal(t, 0.167, tr.RestRate)
	assert.Equal(t, 3.67, tr.Lift, "(11/14)/(3/14)")
	assert.True(t, tr.Claimed)
	assert.Equal(t, "completed a training in their first 30 days", tr.Text)
	assert.Equal(t, "training_completed", tr.Event)
	assert.Equal(t, 30, tr.Window)
	assert.Equal(t, 2.0, tr.GreenMedian)
	// Nobody is at day 90: nothing to count, nothing claimed.
	tr90 := diffOf(t, all, "event:training_completed:90")
	assert.Zero(t, tr90.GreenOf)
	assert.False(t, tr90.Claimed)
	assert.Equal(t, "only 0 green accounts could have done it (at least 10 are needed)", tr90.Why)
	h := diffOf(t, all, "handoff:1")
	assert.Equal(t, [4]int{10, 12, 0, 12}, [4]int{h.Green, h.GreenOf, h.Rest, h.RestOf})
	assert.True(t, h.Claimed)
	// Nobody filed a ticket: no difference.
	tk := diffOf(t, all, "event:ticket_opened:30")
	assert.False(t, tk.Claimed)
	assert.Equal(t, "green accounts do it no more often than the others", tk.Why)

	// Claimed first by lift, then the rest by lift; ties by id.
	var claimed []string
	seenUnclaimed := false
	for i, d := range all.Differences {
		if d.Claimed {
			assert.False(t, seenUnclaimed, "claimed differences come first")
			claimed = append(claimed, d.ID)
		} else {
			seenUnclaimed = true
		}
		if i > 0 {
			p := all.Differences[i-1]
			if p.Claimed == d.Claimed {
				assert.True(t, p.Lift > d.Lift || (p.Lift == d.Lift && p.ID < d.ID), "%s before %s", p.ID, d.ID)
			}
		}
	}
	assert.Equal(t, []string{"handoff:1", "handoff:3", "handoff:7", "event:training_completed:30"}, claimed)

	// Segments: all, then plans, then CSMs.
	var keys []string
	for _, s := range r.Segments {
		keys = append(keys, s.Key)
	}
	assert.Equal(t, []string{"all", "plan:pro", "csm:grace@example.com"}, keys)
	assert.Equal(t, "Plan pro", r.Segments[1].Label)

	// The report is plain JSON and reads back the same.
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, r.Segments[0].Differences[0], back.Segments[0].Differences[0])
}

func TestComputeClaimsNothingBelowTheMinimumSample(t *testing.T) {
	// Nine green accounts, all trained; twelve others, none: a big gap, one
	// account short of the minimum.
	r := Compute(portfolio(9, 9, 12, 0), t0, 10)
	all, _ := r.Segment("all")
	assert.False(t, all.Enough)
	assert.Equal(t, "only 9 green accounts (at least 10 are needed)", all.Why)
	for _, d := range all.Differences {
		assert.False(t, d.Claimed, d.ID)
	}
	assert.Equal(t, "only 9 green accounts could have done it (at least 10 are needed)", diffOf(t, all, "event:training_completed:30").Why)
	// At the minimum it is claimed.
	r = Compute(portfolio(10, 10, 10, 0), t0, 10)
	all, _ = r.Segment("all")
	assert.True(t, all.Enough)
	assert.True(t, diffOf(t, all, "event:training_completed:30").Claimed)
	// Few others, and one of each.
	r = Compute(portfolio(1, 1, 1, 0), t0, 10)
	all, _ = r.Segment("all")
	assert.Equal(t, "only 1 green account (at least 10 are needed); only 1 other account (at least 10 are needed)", all.Why)
	// A small lead is not claimed.
	r = Compute(portfolio(20, 11, 20, 10), t0, 10)
	all, _ = r.Segment("all")
	d := diffOf(t, all, "event:training_completed:30")
	assert.False(t, d.Claimed)
	assert.Equal(t, "green accounts do it only 5 points more often (at least 10 are needed)", d.Why)
}

func TestComputeCountsAnAccountOnceItsAnswerIsSettled(t *testing.T) {
	young := acct("young", Green, 29.9) // first 30 days not over
	young.Facts.Events[Trainings] = [2]int{1, 1}
	early := acct("early", Green, 4) // trained already: not settled either
	early.Facts.Events[Trainings] = [2]int{1, 1}
	early.Facts.HandoffDay = 2 // held by day 3 and 7, not by day 1
	exactly := acct("exactly", Green, 30)
	paused := acct("paused", Green, 40) // paused since day 20: at day 20
	paused.Facts.PausedAt = t0.Add(-20 * day)
	onDay1 := acct("on-day-1", Green, 2)
	onDay1.Facts.HandoffDay = 1.9 // still day 1
	r := Compute([]Account{young, early, exactly, paused, onDay1}, t0, 1)
	all, _ := r.Segment("all")
	tr := diffOf(t, all, "event:training_completed:30")
	assert.Equal(t, [2]int{0, 1}, [2]int{tr.Green, tr.GreenOf}, "only exactly is settled")
	h1 := diffOf(t, all, "handoff:1")
	assert.Equal(t, [2]int{1, 5}, [2]int{h1.Green, h1.GreenOf}, "from day 2 on, held on day 1.9 counts")
	h3 := diffOf(t, all, "handoff:3")
	assert.Equal(t, [2]int{1, 4}, [2]int{h3.Green, h3.GreenOf}, "from day 4 on")
	// Kickoff is due day 7: counted from day 8, or when done on time.
	k := diffOf(t, all, "milestone:kickoff")
	assert.Equal(t, 3, k.GreenOf, "young, exactly, paused; not early or on-day-1")
	assert.Equal(t, `completed “Kickoff held” by its due day (day 7)`, k.Text)
	fv := diffOf(t, all, DiffFirstValue)
	assert.Equal(t, `reached first value (“Adoption goals met”) by day 60`, fv.Text)
	assert.Equal(t, "adoption", fv.Ref)
	assert.Zero(t, fv.GreenOf)
	for _, d := range all.Differences {
		assert.NotEqual(t, "milestone:adoption", d.ID, "the first-value milestone is counted once, as first value")
	}
}

func TestComputeMixMediansOutcomesAndSegments(t *testing.T) {
	var as []Account
	for i := range 4 {
		a := acct(fmt.Sprintf("g%d", i), Green, 100)
		a.Facts.Events[Webinars] = [2]int{i, 2 * i}
		a.Facts.HandoffDay = float64(i + 1)
		a.Facts.Milestones[1].Done = float64(10 * (i + 1))
		a.Facts.Resolved, a.Facts.ResolveDays = 2, float64(2*(i+1))
		a.Facts.Outcomes = []Outcome{{ID: "cut-reporting-time", Label: "Cut reporting time"}}
		if i == 0 {
			a.Facts.Plan, a.CSM = "", ""
		}
		as = append(as, a)
	}
	for i := range 3 {
		a := acct(fmt.Sprintf("r%d", i), "yellow", 100)
		a.Facts.Plan = "starter"
		a.Facts.Outcomes = []Outcome{{ID: "replace-spreadsheets", Label: "Replace spreadsheets"}, {ID: "cut-reporting-time", Label: "Cut reporting time"}}
		if i == 2 {
			a.Facts.Outcomes = nil
		}
		as = append(as, a)
	}
	old := acct("old", Green, 10)
	old.Facts.V = 0 // began before facts were kept
	as = append(as, old)
	r := Compute(as, t0, 2)
	assert.Equal(t, 8, r.Journeys)
	assert.Equal(t, 1, r.WithoutFacts)
	assert.Equal(t, 4, r.Health[Green], "an account without facts is left out of every count")

	var keys []string
	for _, s := range r.Segments {
		keys = append(keys, s.Key)
	}
	assert.Equal(t, []string{"all", "plan:pro", "plan:starter", "csm:grace@example.com"}, keys)
	all, _ := r.Segment("all")
	var web30 Mix
	for _, m := range all.Mix {
		if m.Event == "webinar_attended" && m.Window == 30 {
			web30 = m
		}
	}
	assert.Equal(t, 1.5, web30.Green, "(0+1+2+3)/4")
	assert.Zero(t, web30.Rest)
	assert.Len(t, all.Mix, NumKinds*NumWindows)
	require.Len(t, all.Medians, 3)
	assert.Equal(t, Median{ID: "handoff_day", Label: "Day the handoff call was held", Green: 2.5, GreenN: 4, Rest: 0, RestN: 0}, all.Medians[0])
	assert.Equal(t, 25.0, all.Medians[1].Green, "first value on days 10..40")
	assert.Equal(t, 2.5, all.Medians[2].Green, "mean days per complaint, median over accounts")
	assert.Equal(t, []Share{
		{ID: "cut-reporting-time", Label: "Cut reporting time", Green: 4, Rest: 2},
		{ID: "replace-spreadsheets", Label: "Replace spreadsheets", Green: 0, Rest: 2},
	}, all.Outcomes)
	// Outcomes are judged among accounts that chose any: 4 of 4 green, 2 of 2 others.
	o := diffOf(t, all, "outcome:cut-reporting-time")
	assert.Equal(t, [4]int{4, 4, 2, 2}, [4]int{o.Green, o.GreenOf, o.Rest, o.RestOf})
	assert.Equal(t, `chose “Cut reporting time” as a desired outcome`, o.Text)

	pro, _ := r.Segment("plan:pro")
	assert.Equal(t, [2]int{3, 0}, [2]int{pro.Green, pro.Rest})
	// SegmentFor: a plan without enough falls back to all.
	assert.Equal(t, "all", (&r).SegmentFor("pro", "").Key)
	r2 := Compute(portfolio(12, 10, 12, 2), t0, 0)
	assert.Equal(t, "plan:pro", r2.SegmentFor("pro", "").Key)
	assert.Equal(t, "csm:grace@example.com", r2.SegmentFor("nope", "grace@example.com").Key)
	assert.Equal(t, "all", r2.SegmentFor("", "").Key)
}

func TestComputeEmptyPortfolio(t *testing.T) {
	r := Compute(nil, t0, 0)
	require.Len(t, r.Segments, 1)
	assert.Equal(t, "all", r.Segments[0].Key)
	assert.False(t, r.Segments[0].Enough)
	assert.Equal(t, "only 0 green accounts (at least 10 are needed); only 0 other accounts (at least 10 are needed)", r.Segments[0].Why)
	assert.Len(t, r.Quadrants, 4)
	b, err := json.Marshal(r)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "null", "empty lists, not nulls")
}

func TestComputeMilestonesOfSeveralPlaybooks(t *testing.T) {
	var as []Account
	for i := range 4 {
		a := acct(fmt.Sprintf("a%d", i), Green, 50)
		if i%2 == 1 {
			a.Facts.Milestones[0].Due = 14 // another playbook's kickoff
		}
		as = append(as, a)
	}
	r := Compute(as, t0, 1)
	all, _ := r.Segment("all")
	k := diffOf(t, all, "milestone:kickoff")
	assert.Equal(t, `completed “Kickoff held” by its due day`, k.Text, "no single due day to name")
	assert.Equal(t, 4, k.GreenOf)
}

func TestGapsFor(t *testing.T) {
	r := Compute(portfolio(12, 12, 12, 0), t0, 0)
	seg := r.SegmentFor("pro", "")
	lag := acct("lag", "red", 5).Facts
	gaps := GapsFor(lag, t0, "Acme", seg, 0)
	var texts []string
	for _, g := range gaps {
		texts = append(texts, g.Text)
	}
	assert.Equal(t, []string{
		"12 of 12 green accounts completed a training in their first 30 days (2 trainings as a median); Acme: none so far (day 5).",
		"12 of 12 green accounts held the handoff call by day 1; Acme: not held yet (day 5).",
	}, texts, "equal lifts by id; the handoff once, by its earliest day")
	assert.False(t, gaps[0].Missed, "there is still time")
	assert.True(t, gaps[1].Missed)
	assert.Equal(t, "handoff:1", gaps[1].Difference)

	assert.Len(t, GapsFor(lag, t0, "Acme", seg, 1), 1)
	// Held late, training done: the handoff is missed, the training is no gap.
	done := lag
	done.HandoffDay = 4
	done.Events[Trainings][0] = 1
	gaps = GapsFor(done, t0, "Acme", seg, 0)
	require.Len(t, gaps, 1)
	assert.Equal(t, "12 of 12 green accounts held the handoff call by day 1; Acme: held on day 4.", gaps[0].Text)
	// Past the window.
	late := acct("late", "red", 45).Facts
	late.HandoffDay = 0
	gaps = GapsFor(late, t0, "", seg, 0)
	require.Len(t, gaps, 1)
	assert.Equal(t, "12 of 12 green accounts completed a training in their first 30 days (2 trainings as a median); This account: none in its first 30 days.", gaps[0].Text)
	assert.True(t, gaps[0].Missed)

	// Not enough accounts, or facts of another version: nothing is said.
	small := Compute(portfolio(3, 3, 12, 0), t0, 0)
	assert.Empty(t, GapsFor(lag, t0, "Acme", small.SegmentFor("pro", ""), 0))
	other := lag
	other.V = FactsVersion + 1
	assert.Empty(t, GapsFor(other, t0, "Acme", seg, 0))
}

func TestGapsForMilestones(t *testing.T) {
	var as []Account
	for i := range 20 {
		health := Green
		if i >= 10 {
			health = "red"
		}
		a := acct(fmt.Sprintf("a%d", i), health, 70)
		a.Facts.HandoffDay = 0
		if health == Green {
			a.Facts.Milestones[0].Done = 3
			a.Facts.Milestones[1].Done = 30
		}
		as = append(as, a)
	}
	rep := Compute(as, t0, 0)
	seg, _ := rep.Segment("all")
	lag := acct("lag", "red", 10).Facts
	lag.HandoffDay = 0
	lag.Milestones[0].Done = 9
	var texts []string
	for _, g := range GapsFor(lag, t0, "Acme", seg, 0) {
		texts = append(texts, g.Text)
	}
	assert.Equal(t, []string{
		"10 of 10 green accounts reached first value (“Adoption goals met”) by day 60; Acme: not done yet (day 10; due day 60).",
		"10 of 10 green accounts completed “Kickoff held” by its due day (day 7); Acme: done on day 9, after its due day 7.",
	}, texts)
	for _, g := range GapsFor(lag, t0, "Acme", seg, 0) {
		assert.False(t, strings.Contains(g.Text, "outcome"))
	}
}

func TestCount(t *testing.T) {
	assert.Equal(t, "1 training", count(1, "training_completed"))
	assert.Equal(t, "1.5 webinars", count(1.5, "webinar_attended"))
	assert.Equal(t, "3", count(3, "nope"))
}

// BenchmarkCompute10k: the comparison at 10,000 journeys, 20 plans and
// 50 CSMs (the listing is measured by make bench's insights section).
func BenchmarkCompute10k(b *testing.B) {
	as := make([]Account, 10_000)
	for i := range as {
		health := []string{Green, Green, "yellow", "red"}[i%4]
		a := acct(fmt.Sprintf("c%05d", i), health, float64(i%200))
		a.Facts.Plan = fmt.Sprintf("plan-%02d", i%20)
		a.CSM = fmt.Sprintf("csm-%02d@example.com", i%50)
		a.Facts.Events[Trainings] = [2]int{i % 3, i % 5}
		a.Facts.HandoffDay = float64(i % 9)
		if i%3 == 0 {
			a.Facts.Outcomes = []Outcome{{ID: "cut-reporting-time", Label: "Cut reporting time"}}
		}
		as[i] = a
	}
	b.ReportAllocs()
	for b.Loop() {
		r := Compute(as, t0, 0)
		if len(r.Segments) != 71 {
			b.Fatalf("%d segments", len(r.Segments))
		}
	}
}

// The journey hashes Facts' JSON to tell whether its memo changed; that
// is only the same on every replay while Facts holds no map (whose JSON
// order the determinism check cannot vouch for).
func TestFactsHoldNoMap(t *testing.T) {
	var walk func(rt reflect.Type, path string)
	walk = func(rt reflect.Type, path string) {
		switch rt.Kind() {
		case reflect.Map:
			t.Errorf("%s is a map", path)
		case reflect.Struct:
			if rt == reflect.TypeFor[time.Time]() {
				return
			}
			for i := range rt.NumField() {
				walk(rt.Field(i).Type, path+"."+rt.Field(i).Name)
			}
		case reflect.Slice, reflect.Array, reflect.Pointer:
			walk(rt.Elem(), path+"[]")
		}
	}
	walk(reflect.TypeFor[Facts](), "Facts")
}

// TestComputeLeavesImportedJourneysOutOfTheComparison: an imported journey's
// first days happened before it came here; twelve untrained green imports
// would otherwise halve what the trained green accounts show.
func TestComputeLeavesImportedJourneysOutOfTheComparison(t *testing.T) {
	as := portfolio(12, 10, 12, 2)
	for i := range 12 {
		a := acct(fmt.Sprintf("imp%d", i), Green, 200)
		a.Facts.Imported = true
		as = append(as, a)
	}
	r := Compute(as, t0, 0)
	assert.Equal(t, 36, r.Journeys)
	assert.Equal(t, 12, r.Imported)
	assert.Equal(t, 24, r.Health[Green], "imported journeys are counted by health")
	all, _ := r.Segment("all")
	tr := diffOf(t, all, "event:training_completed:30")
	assert.Equal(t, [4]int{10, 12, 2, 12}, [4]int{tr.Green, tr.GreenOf, tr.Rest, tr.RestOf})
}
