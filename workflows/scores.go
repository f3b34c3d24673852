package workflows

import (
	"fmt"
	"math"
	"time"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// engagement is the decayed sum of weighted events, capped at 100.
func (j *journey) engagement(now time.Time) int {
	return int(math.Round(j.decayedRaw(j.jt(now))))
}

func (j *journey) decayedRaw(jt time.Duration) float64 {
	e := j.c.Engagement
	halfLife := j.days(j.pb.Scoring.HalfLifeDays)
	if jt <= e.At || halfLife <= 0 {
		return e.Raw
	}
	return e.Raw * math.Pow(0.5, float64(jt-e.At)/float64(halfLife))
}

// engage adds an engagement and restarts the silence clock.
func (j *journey) engage(now time.Time, points float64) {
	jt := j.jt(now)
	e := &j.c.Engagement
	e.Raw = math.Min(100, j.decayedRaw(jt)+points)
	e.At = jt
	e.LastEvent = now.UTC()
	e.LastEventJT = jt
	e.Events++
	j.c.Silence = SilenceState{Anchor: jt, Cycle: j.c.Silence.Cycle + 1}
}

// engageAt adds an engagement that happened at its own time (zero: now):
// its points decay from then, and it restarts the silence clock only if it
// is newer than what the clock counts from. Validators keep at within the
// journey (not before it began, not in the future).
func (j *journey) engageAt(now, at time.Time, points float64) {
	jtNow := j.jt(now)
	evJT := jtNow
	if !at.IsZero() && at.Before(now) {
		evJT = max(0, min(jtNow, at.Sub(j.c.Start)-j.c.PausedTotal))
	}
	e := &j.c.Engagement
	add := points
	if hl := j.days(j.pb.Scoring.HalfLifeDays); hl > 0 && evJT < jtNow {
		add *= math.Pow(0.5, float64(jtNow-evJT)/float64(hl))
	}
	e.Raw = math.Min(100, j.decayedRaw(jtNow)+add)
	e.At = jtNow
	e.Events++
	if evJT >= e.LastEventJT {
		e.LastEventJT = evJT
		e.LastEvent = j.wallAt(evJT).UTC()
	}
	if evJT > j.c.Silence.Anchor {
		j.c.Silence = SilenceState{Anchor: evJT, Cycle: j.c.Silence.Cycle + 1}
	}
}

// silentDays counts journey days since the last engagement (or the start).
func (j *journey) silentDays(now time.Time) int {
	return int((j.jt(now) - j.c.Engagement.LastEventJT) / j.in.DayLength)
}

// happiness: pulses and CSM sentiment, less open complaints (and a residue
// of recently resolved ones) and less a penalty for prolonged silence.
func (j *journey) happiness(now time.Time) int {
	return clampScore(j.happinessBase(now) - float64(j.silencePenalty(j.silentDays(now))))
}

func clampScore(f float64) int { return int(math.Round(math.Max(0, math.Min(100, f)))) }

// silencePenalty is what silence of so many days takes off happiness.
func (j *journey) silencePenalty(silent int) int {
	penalty := 0
	if silent >= j.pb.Silence.ReengageAfterDays {
		penalty += j.pb.Scoring.SilencePenalty
	}
	if silent >= j.pb.Silence.ManagerAfterDays {
		penalty += j.pb.Scoring.SilencePenalty
	}
	return penalty
}

// happinessBase is happiness before the silence penalty, unclamped.
func (j *journey) happinessBase(now time.Time) float64 {
	sp := j.pb.Scoring
	h := j.c.Happiness
	base := h.PulseAvg // starts at initial_happiness
	if h.Sentiment > 0 {
		sentiment := float64(h.Sentiment-1) * 25
		if h.Pulses > 0 {
			base = (base + sentiment) / 2
		} else {
			base = sentiment
		}
	}
	penalty := 0.0
	for _, c := range j.c.Complaints {
		p := float64(sp.ComplaintPenalty[c.Severity])
		switch {
		case c.Status == ComplaintOpen:
			penalty += p
		case now.Sub(c.ResolvedAt) < j.days(float64(sp.ResidualDays)):
			penalty += p * sp.ResolvedResidual
		}
	}
	return base - penalty
}

func pulseScore(answer int) float64 { return float64(answer-1) * 25 }

// scores computes every score with the reasons behind health.
func (j *journey) scores(now time.Time) Scores {
	sp := j.pb.Scoring
	s := Scores{Engagement: j.engagement(now), Happiness: j.happiness(now)}
	engaged, happy := s.Engagement >= sp.EngagedAt, s.Happiness >= sp.HappyAt
	switch {
	case engaged && happy:
		s.Quadrant = QuadrantChampion
	case engaged:
		s.Quadrant = QuadrantVocal
	case happy:
		s.Quadrant = QuadrantQuiet
	default:
		s.Quadrant = QuadrantAtRisk
	}
	var red, yellow []string
	silent := j.silentDays(now)
	switch {
	case silent >= j.pb.Silence.ManagerAfterDays:
		red = append(red, fmt.Sprintf("no engagement for %d days", silent))
	case silent >= j.pb.Silence.ReengageAfterDays:
		yellow = append(yellow, fmt.Sprintf("no engagement for %d days", silent))
	}
	var open, pastSLA int
	for _, c := range j.c.Complaints {
		if c.Status == ComplaintOpen {
			open++
			if !now.Before(c.SLADue) {
				pastSLA++
			}
		}
	}
	if pastSLA > 0 {
		red = append(red, plural(pastSLA, "complaint")+" open past SLA")
	}
	if open > pastSLA {
		yellow = append(yellow, plural(open-pastSLA, "complaint")+" open")
	}
	h := j.c.Handoff
	day := j.dayOf(now)
	if j.rev >= 2 && h.HeldAt.IsZero() && !h.BookedAt.IsZero() && !now.Before(j.bookedCallDue()) {
		if h.BookedEscalated {
			red = append(red, "booked handoff call not recorded as held")
		} else {
			yellow = append(yellow, "booked handoff call not recorded as held")
		}
	}
	if h.HeldAt.IsZero() && h.BookedAt.IsZero() {
		switch {
		case day >= float64(j.pb.Handoff.EscalateAfterDays):
			red = append(red, fmt.Sprintf("handoff call not held after %d days", int(day)))
		case day >= float64(j.pb.Handoff.RemindAfterDays):
			yellow = append(yellow, "handoff call not booked yet")
		}
	}
	for _, m := range j.milestoneViews(now) {
		switch m.Status {
		case MilestoneLate:
			reason := fmt.Sprintf("milestone %q %s late", m.Name, plural(m.DaysLate, "day"))
			if j.escalatedMilestone(m.ID) {
				red = append(red, reason)
			} else {
				yellow = append(yellow, reason)
			}
		case MilestoneBlocked:
			yellow = append(yellow, fmt.Sprintf("milestone %q blocked: %s", m.Name, m.Blocker))
		}
	}
	switch s.Quadrant {
	case QuadrantAtRisk:
		red = append(red, fmt.Sprintf("disengaged and unhappy (engagement %d, happiness %d)", s.Engagement, s.Happiness))
	case QuadrantQuiet:
		yellow = append(yellow, fmt.Sprintf("quiet: happy but disengaged (engagement %d)", s.Engagement))
	case QuadrantVocal:
		yellow = append(yellow, fmt.Sprintf("vocal: engaged but unhappy (happiness %d)", s.Happiness))
	}
	switch j.c.Happiness.Risk {
	case "high":
		red = append(red, "CSM flagged high risk")
	case "medium":
		yellow = append(yellow, "CSM flagged medium risk")
	}
	switch {
	case len(red) > 0:
		s.Health = HealthRed
	case len(yellow) > 0:
		s.Health = HealthYellow
	default:
		s.Health = HealthGreen
		yellow = []string{fmt.Sprintf("engaged and happy (engagement %d, happiness %d)", s.Engagement, s.Happiness)}
	}
	s.Reasons = append(red, yellow...)
	return s
}

// escalatedMilestone: the late ladder has reached the manager.
func (j *journey) escalatedMilestone(id string) bool {
	for _, run := range j.c.Milestones {
		if run.ID != id {
			continue
		}
		m, _ := j.pb.Milestone(id)
		for _, rung := range j.pb.Ladder(m)[:run.LateStage] {
			if rung.Action == playbooks.ActionManager {
				return true
			}
		}
	}
	return false
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
