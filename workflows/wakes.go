package workflows

import (
	"math"
	"time"
)

// scoreChange is the next moment after now at which health or quadrant can
// change by time alone: engagement decaying below the engaged threshold, a
// silence threshold, a resolved complaint's residue expiring, a milestone
// turning late, a handoff window closing. The journey wakes then to update
// the search attributes that list it, with no wake-up per day. A candidate
// that changes nothing costs one timer; health is recomputed on waking.
func (j *journey) scoreChange(now time.Time) (time.Time, bool) {
	if j.c.Ended != nil {
		return time.Time{}, false
	}
	var best time.Time
	consider := func(t time.Time) {
		if t.After(now) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if j.c.PausedAt.IsZero() { // journey time stands still while paused
		quiet := j.c.Engagement.LastEventJT
		consider(j.wallAt(quiet + j.days(float64(j.pb.Silence.ReengageAfterDays))))
		consider(j.wallAt(quiet + j.days(float64(j.pb.Silence.ManagerAfterDays))))
		if at, ok := j.engagementDropsAt(now); ok {
			consider(at)
		}
		for _, run := range j.c.Milestones {
			if m, ok := j.pb.Milestone(run.ID); ok && run.Status == MilestonePending {
				consider(j.dayAt(m.DueDay + 1))
			}
		}
		if h := j.c.Handoff; h.HeldAt.IsZero() {
			consider(j.dayAt(j.pb.Handoff.RemindAfterDays))
			consider(j.dayAt(j.pb.Handoff.EscalateAfterDays))
			if !h.BookedAt.IsZero() {
				consider(j.bookedCallDue())
			}
		}
	}
	residual := j.days(float64(j.pb.Scoring.ResidualDays))
	for _, c := range j.c.Complaints {
		if c.Status == ComplaintResolved {
			consider(c.ResolvedAt.Add(residual))
		}
	}
	return best, !best.IsZero()
}

// engagementDropsAt is when the decaying engagement score rounds below the
// engaged threshold, if it is at or above it now. Rounded up to the next
// whole second, so that waking then finds it below.
func (j *journey) engagementDropsAt(now time.Time) (time.Time, bool) {
	e := j.c.Engagement
	target := float64(j.pb.Scoring.EngagedAt) - 0.5
	hl := j.days(j.pb.Scoring.HalfLifeDays)
	if hl <= 0 || target <= 0 || e.Raw <= target || j.engagement(now) < j.pb.Scoring.EngagedAt {
		return time.Time{}, false
	}
	after := durationOf(math.Log2(e.Raw/target), hl)
	at := j.wallAt(e.At + after).Truncate(time.Second).Add(time.Second)
	return at, true
}

// scoreHistory is one point per journey day, from the first stored point to
// today. The journey stores a point on the days it wakes; a day between two
// stored points had no input (every input wakes the journey), so its scores
// follow from the earlier point: engagement decays from it, and the silence
// penalty grows with the days since its last engagement. Points stored
// before revision 2 have no makings and carry their values forward.
func (j *journey) scoreHistory(now time.Time) []ScorePoint {
	stored := j.c.Scores
	if len(stored) == 0 {
		return []ScorePoint{}
	}
	today := int(j.dayOf(now))
	out := make([]ScorePoint, 0, min(400, today-stored[0].Day+1))
	hl := j.days(j.pb.Scoring.HalfLifeDays)
	for i, p := range stored {
		out = append(out, ScorePoint{Day: p.Day, Engagement: p.Engagement, Happiness: p.Happiness})
		end := today
		if i+1 < len(stored) {
			end = stored[i+1].Day - 1
		}
		for d := p.Day + 1; d <= end; d++ {
			q := ScorePoint{Day: d, Engagement: p.Engagement, Happiness: p.Happiness, Derived: true}
			if p.At > 0 || p.Raw > 0 || p.Base > 0 {
				jt := max(p.At, j.days(float64(d)))
				if d == today {
					jt = max(p.At, j.jt(now))
				}
				raw := p.Raw
				if hl > 0 {
					raw *= math.Pow(0.5, float64(jt-p.At)/float64(hl))
				}
				q.Engagement = int(math.Round(raw))
				q.Happiness = clampScore(p.Base - float64(j.silencePenalty(int((jt-p.Quiet)/j.in.DayLength))))
			}
			out = append(out, q)
		}
	}
	if len(out) > 400 {
		out = out[len(out)-400:]
	}
	return out
}
