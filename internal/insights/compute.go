package insights

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// HandoffDays are the days "held the handoff call by day D" is judged at.
var HandoffDays = []int{1, 3, 7}

// Compute compares green accounts with the rest in every segment: all
// accounts, each plan, each CSM's book. minSample <= 0 is DefaultMinSample.
// It reads each account once; at 10,000 accounts it takes milliseconds
// (BENCHMARKS.md).
func Compute(accounts []Account, now time.Time, minSample int) Report {
	if minSample <= 0 {
		minSample = DefaultMinSample
	}
	r := Report{ComputedAt: now.UTC(), MinSample: minSample, Journeys: len(accounts),
		Quadrants: map[string]int{}, Health: map[string]int{}}
	for _, q := range Quadrants {
		r.Quadrants[q] = 0
	}
	c := newCatalog()
	// Each account's answers once, then added to each segment it is in.
	segs := map[string]*tally{}
	seg := func(key, label string) *tally {
		t, ok := segs[key]
		if !ok {
			t = &tally{key: key, label: label}
			segs[key] = t
		}
		return t
	}
	for i := range accounts {
		a := &accounts[i]
		if a.Facts.V != FactsVersion {
			r.WithoutFacts++
			continue
		}
		if a.Quadrant != "" {
			r.Quadrants[a.Quadrant]++
		}
		if a.Health != "" {
			r.Health[a.Health]++
		}
		if a.Facts.Imported {
			r.Imported++
			continue
		}
		ans := c.answer(a, now)
		seg("all", "All accounts").add(c, ans)
		if a.Facts.Plan != "" {
			seg("plan:"+a.Facts.Plan, "Plan "+a.Facts.Plan).add(c, ans)
		}
		if a.CSM != "" {
			seg("csm:"+a.CSM, "CSM "+a.CSM).add(c, ans)
		}
	}
	seg("all", "All accounts") // an empty portfolio still has its "all"
	keys := make([]string, 0, len(segs))
	for k := range segs {
		if k != "all" {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		pi, pj := strings.HasPrefix(keys[i], "plan:"), strings.HasPrefix(keys[j], "plan:")
		if pi != pj {
			return pi
		}
		return keys[i] < keys[j]
	})
	r.Segments = append(r.Segments, segs["all"].segment(c, minSample))
	for _, k := range keys {
		r.Segments = append(r.Segments, segs[k].segment(c, minSample))
	}
	return r
}

// SegmentFor is the segment a customer is judged in: its plan's when that
// has enough accounts of both groups, else its CSM's (csm != "") when that
// has, else all accounts.
func (r *Report) SegmentFor(plan, csm string) Segment {
	if plan != "" {
		if s, ok := r.Segment("plan:" + plan); ok && s.Enough {
			return s
		}
	}
	if csm != "" {
		if s, ok := r.Segment("csm:" + csm); ok && s.Enough {
			return s
		}
	}
	s, _ := r.Segment("all")
	return s
}

// heldBy: the handoff call was held by day d (on day d at the latest).
func heldBy(f *Facts, d int) bool { return f.HandoffDay >= 0 && f.HandoffDay < float64(d+1) }

// onTime: the milestone was done by its due day.
func onTime(m Milestone) bool { return m.Done >= 0 && m.Done < float64(m.Due+1) }

// def is one difference the job measures.
type def struct {
	id, kind, text string
	event          string
	kindIdx, win   int // DiffEvent: Facts.Events[kindIdx][win]
	day            int
	ref            string
	dues           map[int]bool // DiffMilestone, DiffFirstValue: the due days seen
	label          string       // the milestone's name or the outcome's label
}

// catalog is every difference seen in the portfolio, in a fixed order:
// events, handoff days, then milestones and outcomes as first met.
type catalog struct {
	defs  []*def
	index map[string]int
}

func newCatalog() *catalog {
	c := &catalog{index: map[string]int{}}
	for w, days := range Windows {
		for k := range NumKinds {
			c.add(&def{id: fmt.Sprintf("event:%s:%d", KindEvents[k], days), kind: DiffEvent,
				text:  fmt.Sprintf("%s in their first %d days", kindWords[k].did, days),
				event: KindEvents[k], kindIdx: k, win: w, day: days})
		}
	}
	for _, d := range HandoffDays {
		c.add(&def{id: fmt.Sprintf("handoff:%d", d), kind: DiffHandoff, text: fmt.Sprintf("held the handoff call by day %d", d), day: d})
	}
	return c
}

func (c *catalog) add(d *def) int {
	c.index[d.id] = len(c.defs)
	c.defs = append(c.defs, d)
	return len(c.defs) - 1
}

// lookup finds or adds the def id (made by mk when new).
func (c *catalog) lookup(id string, mk func() *def) *def {
	if i, ok := c.index[id]; ok {
		return c.defs[i]
	}
	return c.defs[c.add(mk())]
}

// answers is one account's answer to each def: could it have done it
// (counted) and did it.
type answers struct {
	green    bool
	day      float64
	counted  []int // def indexes
	did      []bool
	events   *[NumKinds][NumWindows]int
	handoff  float64 // -1: not held
	firstVal float64 // days to first value; -1 not reached or no such milestone
	resolve  float64 // mean days to resolve a complaint; -1 none resolved
	outcomes []Outcome
}

func (c *catalog) answer(a *Account, now time.Time) answers {
	f := &a.Facts
	ans := answers{green: a.Health == Green, day: f.Day(now), events: &f.Events, handoff: f.HandoffDay, firstVal: -1, resolve: -1, outcomes: f.Outcomes}
	mark := func(d *def, did bool) {
		ans.counted = append(ans.counted, c.index[d.id])
		ans.did = append(ans.did, did)
	}
	for _, d := range c.defs[:len(Windows)*NumKinds+len(HandoffDays)] {
		switch d.kind {
		case DiffEvent:
			if ans.day >= float64(d.day) {
				mark(d, f.Events[d.kindIdx][d.win] > 0)
			}
		case DiffHandoff:
			if ans.day >= float64(d.day+1) {
				mark(d, heldBy(f, d.day))
			}
		}
	}
	for _, m := range f.Milestones {
		var d *def
		if m.ID == f.FirstValue {
			d = c.lookup(DiffFirstValue, func() *def {
				return &def{id: DiffFirstValue, kind: DiffFirstValue, ref: m.ID, label: m.Name, dues: map[int]bool{}}
			})
			if m.Done >= 0 {
				ans.firstVal = m.Done
			}
		} else {
			d = c.lookup(DiffMilestone+":"+m.ID, func() *def {
				return &def{id: DiffMilestone + ":" + m.ID, kind: DiffMilestone, ref: m.ID, label: m.Name, dues: map[int]bool{}}
			})
		}
		d.dues[m.Due] = true
		if ans.day >= float64(m.Due+1) {
			mark(d, onTime(m))
		}
	}
	for _, o := range f.Outcomes {
		c.lookup(DiffOutcome+":"+o.ID, func() *def {
			return &def{id: DiffOutcome + ":" + o.ID, kind: DiffOutcome, ref: o.ID, label: o.Label}
		})
	}
	if f.Resolved > 0 {
		ans.resolve = f.ResolveDays / float64(f.Resolved)
	}
	return ans
}

// group is the running counts of one group (green or the rest) in a segment.
type group struct {
	n       int
	did     []int // by def index
	of      []int
	counts  [][]float64 // DiffEvent defs: each counted account's count
	mixSum  [NumKinds][NumWindows]float64
	mixN    [NumWindows]int
	medians [3][]float64 // handoff day, first value day, resolution days
	chose   map[string]int
	// outcomesOf is how many accounts of the group chose any outcome.
	outcomesOf int
}

type tally struct {
	key, label  string
	green, rest group
}

func (g *group) grow(n int) {
	for len(g.did) < n {
		g.did = append(g.did, 0)
		g.of = append(g.of, 0)
		g.counts = append(g.counts, nil)
	}
}

func (t *tally) add(c *catalog, a answers) {
	g := &t.rest
	if a.green {
		g = &t.green
	}
	g.n++
	g.grow(len(c.defs))
	for i, d := range a.counted {
		g.of[d]++
		if a.did[i] {
			g.did[d]++
		}
		if def := c.defs[d]; def.kind == DiffEvent {
			g.counts[d] = append(g.counts[d], float64(a.events[def.kindIdx][def.win]))
		}
	}
	for w, days := range Windows {
		if a.day >= float64(days) {
			g.mixN[w]++
			for k := range NumKinds {
				g.mixSum[k][w] += float64(a.events[k][w])
			}
		}
	}
	for i, v := range []float64{a.handoff, a.firstVal, a.resolve} {
		if v >= 0 {
			g.medians[i] = append(g.medians[i], v)
		}
	}
	if len(a.outcomes) > 0 {
		g.outcomesOf++
		if g.chose == nil {
			g.chose = map[string]int{}
		}
		for _, o := range a.outcomes {
			g.chose[o.ID]++
		}
	}
}

var medianLabels = [3]struct{ id, label string }{
	{"handoff_day", "Day the handoff call was held"},
	{"first_value_day", "Day first value was reached"},
	{"resolution_days", "Days to resolve a complaint"},
}

func (t *tally) segment(c *catalog, min int) Segment {
	t.green.grow(len(c.defs))
	t.rest.grow(len(c.defs))
	s := Segment{Key: t.key, Label: t.label, Green: t.green.n, Rest: t.rest.n,
		Differences: []Difference{}, Mix: []Mix{}, Medians: []Median{}, Outcomes: []Share{}}
	var why []string
	if t.green.n < min {
		why = append(why, fmt.Sprintf("only %s (at least %d are needed)", plural(t.green.n, "green account", "green accounts"), min))
	}
	if t.rest.n < min {
		why = append(why, fmt.Sprintf("only %s (at least %d are needed)", plural(t.rest.n, "other account", "other accounts"), min))
	}
	s.Enough = len(why) == 0
	s.Why = strings.Join(why, "; ")
	for i, d := range c.defs {
		if d.kind == DiffOutcome {
			// Out of every account that chose any outcome: one that chose
			// none has not answered the question.
			s.Differences = append(s.Differences, difference(d, t.green.chose[d.ref], t.green.outcomesOf, t.rest.chose[d.ref], t.rest.outcomesOf, min))
			continue
		}
		diff := difference(d, t.green.did[i], t.green.of[i], t.rest.did[i], t.rest.of[i], min)
		if d.kind == DiffEvent && len(t.green.counts[i]) > 0 {
			diff.GreenMedian = round(median(t.green.counts[i]), 1)
		}
		s.Differences = append(s.Differences, diff)
	}
	sort.SliceStable(s.Differences, func(i, j int) bool {
		a, b := s.Differences[i], s.Differences[j]
		if a.Claimed != b.Claimed {
			return a.Claimed
		}
		if a.Lift != b.Lift {
			return a.Lift > b.Lift
		}
		return a.ID < b.ID
	})
	for w, days := range Windows {
		for k := range NumKinds {
			s.Mix = append(s.Mix, Mix{Event: KindEvents[k], Window: days,
				Green: round(mean(t.green.mixSum[k][w], t.green.mixN[w]), 2), Rest: round(mean(t.rest.mixSum[k][w], t.rest.mixN[w]), 2)})
		}
	}
	for i, m := range medianLabels {
		s.Medians = append(s.Medians, Median{ID: m.id, Label: m.label,
			Green: round(median(t.green.medians[i]), 1), GreenN: len(t.green.medians[i]),
			Rest: round(median(t.rest.medians[i]), 1), RestN: len(t.rest.medians[i])})
	}
	for _, d := range c.defs {
		if d.kind == DiffOutcome && (t.green.chose[d.ref] > 0 || t.rest.chose[d.ref] > 0) {
			s.Outcomes = append(s.Outcomes, Share{ID: d.ref, Label: d.label, Green: t.green.chose[d.ref], Rest: t.rest.chose[d.ref]})
		}
	}
	sort.SliceStable(s.Outcomes, func(i, j int) bool {
		a, b := s.Outcomes[i], s.Outcomes[j]
		if a.Green+a.Rest != b.Green+b.Rest {
			return a.Green+a.Rest > b.Green+b.Rest
		}
		return a.ID < b.ID
	})
	return s
}

// difference is one def's numbers in a segment, and whether it is claimed.
func difference(d *def, g, gOf, r, rOf, min int) Difference {
	diff := Difference{ID: d.id, Kind: d.kind, Text: d.text, Ref: d.ref,
		Green: g, GreenOf: gOf, Rest: r, RestOf: rOf,
		GreenRate: round(rate(g, gOf), 3), RestRate: round(rate(r, rOf), 3),
		Lift: round((float64(g+1)/float64(gOf+2))/(float64(r+1)/float64(rOf+2)), 2)}
	switch d.kind {
	case DiffEvent:
		diff.Event, diff.Window, diff.Day = d.event, d.day, 0
	case DiffHandoff:
		diff.Day = d.day
	case DiffMilestone, DiffFirstValue:
		due, single := singleDue(d.dues)
		diff.Day = due
		by := "by its due day"
		if single {
			by = fmt.Sprintf("by its due day (day %d)", due)
		}
		switch {
		case d.kind == DiffMilestone:
			diff.Text = fmt.Sprintf("completed “%s” %s", d.label, by)
		case single:
			diff.Text = fmt.Sprintf("reached first value (“%s”) by day %d", d.label, due)
		default:
			diff.Text = fmt.Sprintf("reached first value (“%s”) by its due day", d.label)
		}
	case DiffOutcome:
		diff.Text = fmt.Sprintf("chose “%s” as a desired outcome", d.label)
	}
	points := (rate(g, gOf) - rate(r, rOf)) * 100
	switch {
	case gOf < min:
		diff.Why = fmt.Sprintf("only %s could have done it (at least %d are needed)", plural(gOf, "green account", "green accounts"), min)
	case rOf < min:
		diff.Why = fmt.Sprintf("only %s could have done it (at least %d are needed)", plural(rOf, "other account", "other accounts"), min)
	case points <= 0:
		diff.Why = "green accounts do it no more often than the others"
	case points < MinPoints:
		diff.Why = fmt.Sprintf("green accounts do it only %.0f points more often (at least %d are needed)", points, MinPoints)
	default:
		diff.Claimed = true
	}
	return diff
}

// singleDue is the due day of a milestone, and whether every playbook
// seen gives it the same one (else the earliest).
func singleDue(dues map[int]bool) (int, bool) {
	first := true
	due := 0
	for d := range dues {
		if first || d < due {
			due = d
		}
		first = false
	}
	return due, len(dues) <= 1
}

func rate(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

func mean(sum float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// median of xs (reordered), 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 1 {
		return xs[m]
	}
	return (xs[m-1] + xs[m]) / 2
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

// plural is "1 green account", "2 green accounts".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
