package simulate

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Diff is what one playbook does differently from another in a scenario.
type Diff struct {
	Scenario string `json:"scenario"`
	// Added and Removed are steps only the new or only the old playbook
	// took; Moved those both took on different days.
	Added   []StepAt    `json:"added"`
	Removed []StepAt    `json:"removed"`
	Moved   []StepMoved `json:"moved"`
	New     Totals      `json:"new"`
	Old     Totals      `json:"old"`
	// HealthDays are the days whose health differs, with both.
	HealthDays []HealthDiff `json:"health_days"`
	// Health curves of both, day by day: engagement and happiness.
	NewCurve []Day `json:"new_curve"`
	OldCurve []Day `json:"old_curve"`
}

// Same reports whether both playbooks did the same in the scenario.
func (d Diff) Same() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Moved) == 0 && len(d.HealthDays) == 0
}

// StepAt is a step that sent a message, on a day.
type StepAt struct {
	Step    string  `json:"step"`
	Label   string  `json:"label"`
	Role    string  `json:"role"`
	Kind    string  `json:"kind"`
	Day     float64 `json:"day"`
	Subject string  `json:"subject,omitempty"`
}

// StepMoved is a step both playbooks took, on different days.
type StepMoved struct {
	StepAt
	OldDay float64 `json:"old_day"`
	By     float64 `json:"by"` // days later (negative: earlier)
}

// HealthDiff is a day whose health differs.
type HealthDiff struct {
	Day int    `json:"day"`
	New string `json:"new"`
	Old string `json:"old"`
}

// Compare diffs what the new playbook did with what the old one did in the
// same scenario.
func Compare(newer, older *Result) Diff { return CompareWithin(newer, older, 0.01) }

// CompareWithin is Compare where a step counts as moved only when its days
// differ by tolerance or more: a journey that ran on a server (its timers a
// little late) against a simulation.
func CompareWithin(newer, older *Result, tolerance float64) Diff {
	d := Diff{Scenario: newer.Scenario, New: newer.Totals, Old: older.Totals, NewCurve: newer.Days, OldCurve: older.Days,
		Added: []StepAt{}, Removed: []StepAt{}, Moved: []StepMoved{}, HealthDays: []HealthDiff{}}
	index := func(r *Result) (map[string][]StepAt, []string) {
		m := map[string][]StepAt{}
		var order []string
		for _, s := range r.Steps {
			if !s.Message() {
				continue
			}
			key := s.Step + "|" + s.Role
			if _, ok := m[key]; !ok {
				order = append(order, key)
			}
			m[key] = append(m[key], StepAt{Step: s.Step, Label: s.Label, Role: s.Role, Kind: s.Kind, Day: s.Day, Subject: s.Subject})
		}
		return m, order
	}
	nm, norder := index(newer)
	om, oorder := index(older)
	for _, key := range norder {
		ns, os := nm[key], om[key]
		for i, s := range ns {
			switch {
			case i >= len(os):
				d.Added = append(d.Added, s)
			case math.Abs(s.Day-os[i].Day) >= tolerance:
				d.Moved = append(d.Moved, StepMoved{StepAt: s, OldDay: os[i].Day, By: round2(s.Day - os[i].Day)})
			}
		}
	}
	for _, key := range oorder {
		ns, os := nm[key], om[key]
		for i := len(ns); i < len(os); i++ {
			d.Removed = append(d.Removed, os[i])
		}
	}
	byDay := func(a, b StepAt) int {
		if a.Day != b.Day {
			if a.Day < b.Day {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Step, b.Step)
	}
	slices.SortStableFunc(d.Added, byDay)
	slices.SortStableFunc(d.Removed, byDay)
	slices.SortStableFunc(d.Moved, func(a, b StepMoved) int { return byDay(a.StepAt, b.StepAt) })
	old := map[int]string{}
	for _, day := range older.Days {
		old[day.Day] = day.Health
	}
	for _, day := range newer.Days {
		if o, ok := old[day.Day]; ok && o != "" && day.Health != "" && o != day.Health {
			d.HealthDays = append(d.HealthDays, HealthDiff{Day: day.Day, New: day.Health, Old: o})
		}
	}
	return d
}

// WriteComparison prints diffs for people: per scenario, the steps added,
// removed or moved, emails per month, escalations, and where health differs.
func WriteComparison(w io.Writer, newName, oldName string, diffs []Diff) error {
	p := &printer{w: w}
	p.f("Comparing %s (new) with %s (old)\n", newName, oldName)
	for _, d := range diffs {
		p.f("\n%s\n", d.Scenario)
		for _, m := range d.Moved {
			dir := "later"
			if m.By < 0 {
				dir = "earlier"
			}
			p.f("  moved    %-34s %-8s day %g -> day %g (%s %s)\n", m.Step, m.Role, m.OldDay, m.Day, days(math.Abs(m.By)), dir)
		}
		for _, a := range d.Added {
			p.f("  added    %-34s %-8s day %g\n", a.Step, a.Role, a.Day)
		}
		for _, a := range d.Removed {
			p.f("  removed  %-34s %-8s day %g\n", a.Step, a.Role, a.Day)
		}
		if len(d.Moved)+len(d.Added)+len(d.Removed) == 0 {
			p.f("  the same steps on the same days\n")
		}
		p.f("  customer emails a month %.1f -> %.1f; escalations %d -> %d; CSM tasks %d -> %d\n",
			d.Old.EmailsPerMonth, d.New.EmailsPerMonth, d.Old.Escalations, d.New.Escalations, d.Old.Tasks, d.New.Tasks)
		if len(d.HealthDays) == 0 {
			p.f("  health the same on every day\n")
			continue
		}
		var spans []string
		for i := 0; i < len(d.HealthDays); {
			j := i
			for j+1 < len(d.HealthDays) && d.HealthDays[j+1].Day == d.HealthDays[j].Day+1 && d.HealthDays[j+1].New == d.HealthDays[i].New && d.HealthDays[j+1].Old == d.HealthDays[i].Old {
				j++
			}
			h := d.HealthDays[i]
			when := fmt.Sprintf("day %d", h.Day)
			if j > i {
				when = fmt.Sprintf("days %d-%d", h.Day, d.HealthDays[j].Day)
			}
			spans = append(spans, fmt.Sprintf("%s %s instead of %s", when, h.New, h.Old))
			i = j + 1
		}
		p.f("  health differs on %s: %s\n", days(float64(len(d.HealthDays))), strings.Join(spans, "; "))
	}
	return p.err
}

func days(n float64) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%g days", n)
}
