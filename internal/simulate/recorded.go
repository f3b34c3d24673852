package simulate

import (
	"cmp"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Recorded is a real customer's journey read back: the scenario of what
// the customer and the CSMs did (events, outcomes, complaints, pauses,
// reassignments, email reports, from the timeline), and what the journey
// actually did, as a Result to compare a simulation with.
type Recorded struct {
	Scenario *Scenario
	Actual   *Result
	// Notes say what the replay could not take over as it was.
	Notes []string
}

// FromJourney turns a customer's state and timeline (GET
// /v1/customers/{id} and /timeline) into a Recorded journey. Days are
// counted from the journey's start in its own day length.
func FromJourney(st workflows.State, tl workflows.Timeline) (*Recorded, error) {
	if st.Started.IsZero() || st.DayLength <= 0 {
		return nil, fmt.Errorf("customer %s: the state has no start or day length (a journey of an earlier version); it cannot be replayed", st.CustomerID)
	}
	day := st.DayLength
	wall := func(t time.Time) float64 { return round2(float64(t.Sub(st.Started)) / float64(day)) }
	sc := &Scenario{
		Name:        "customer " + st.CustomerID,
		Description: fmt.Sprintf("what %s did, as recorded on its journey", st.AccountName),
		Customer: Customer{
			ID: st.CustomerID, Name: st.AccountName,
			Champion: Contact{Name: st.Champion.Name, Email: st.Champion.Email, TimeZone: st.Champion.TimeZone},
			CSM:      Contact{Name: st.CSM.Name, Email: st.CSM.Email},
		},
		Start:     st.Started.UTC().Format(time.RFC3339),
		DayLength: day.String(),
		Happens:   []Happening{},
	}
	if day == 24*time.Hour {
		sc.DayLength = ""
	}
	if !st.RenewalDate.IsZero() && st.Term <= 1 {
		sc.RenewalDate = st.RenewalDate.In(time.UTC).Format("2006-01-02")
	}
	actual := &Result{
		Scenario: sc.Name, Description: "what actually happened", Playbook: st.Playbook, Customer: st.AccountName,
		Start: st.Started, Steps: []Step{}, Happenings: []Applied{}, Skipped: []Skip{},
	}
	rec := &Recorded{Scenario: sc, Actual: actual}
	if tl.Older.Count > 0 {
		rec.Notes = append(rec.Notes, fmt.Sprintf("%d timeline entries before %s were folded away: what happened then is not replayed",
			tl.Older.Count, tl.Older.To.Format("2006-01-02")))
	}
	last := 0.0
	complaints := map[string]bool{}
	for _, e := range tl.Entries {
		d := wall(e.At)
		last = max(last, d)
		actual.Steps = append(actual.Steps, Step{Day: d, JourneyDay: round2(e.Day), At: e.At, Kind: e.Kind, Step: e.Step,
			Label: workflows.StepLabel(nil, e.Step), Summary: e.Summary, Cause: e.Cause, To: e.To, Role: roleOf(e, st)})
		h, ok, note := happeningOf(e, d, st)
		if note != "" {
			rec.Notes = append(rec.Notes, fmt.Sprintf("day %g: %s", math.Floor(d), note))
		}
		switch {
		case !ok:
		case h.Complaint != "":
			complaints[h.ID] = true
			sc.Happens = append(sc.Happens, h)
		case h.Outcome == workflows.OutcomeComplaintResolved && !complaints[h.ID]:
			rec.Notes = append(rec.Notes, fmt.Sprintf("day %g: complaint %s was resolved, but it was filed before the timeline kept: not replayed", math.Floor(d), h.ID))
		default:
			sc.Happens = append(sc.Happens, h)
		}
	}
	// The replay runs to the state's moment, not past it.
	sc.Until = math.Max(1, math.Ceil(max(last, wall(st.AsOf))))
	actual.Until = sc.Until
	for _, p := range st.ScoreHistory {
		actual.Days = append(actual.Days, Day{Day: p.Day, Engagement: p.Engagement, Happiness: p.Happiness})
	}
	actual.Totals = totalsOf(actual.Steps, actual.Until)
	c := checker{}
	c.scenario(sc)
	if len(c.problems) > 0 {
		return nil, &InvalidError{Name: sc.Name, Problems: c.problems}
	}
	return rec, nil
}

// roleOf is who a recorded message went to, by its address.
func roleOf(e workflows.Entry, st workflows.State) string {
	switch {
	case e.To == "" || (e.Kind != workflows.EntryTouchpoint && e.Kind != workflows.EntryTask && e.Kind != workflows.EntryEscalation):
		return ""
	case e.Kind == workflows.EntryTouchpoint:
		return "customer"
	case e.Kind == workflows.EntryTask:
		return "csm"
	case strings.HasSuffix(e.Step, ":sponsor"):
		return "sponsor"
	}
	return "manager"
}

// happeningOf reads what the customer or a CSM did from a timeline entry.
// ok is false for the journey's own entries; note says what could not be
// taken over exactly.
func happeningOf(e workflows.Entry, day float64, st workflows.State) (h Happening, ok bool, note string) {
	h.Day = day
	switch e.Kind {
	case workflows.EntryEvent:
		switch {
		case strings.HasPrefix(e.Summary, "Handoff call booked"):
			h.Event = "handoff_booked"
			if at, found := strings.CutPrefix(e.Summary, "Handoff call booked for "); found {
				if t, err := time.Parse("2006-01-02 15:04 MST", at); err == nil {
					h.CallDay = round2(float64(t.Sub(st.Started)) / float64(st.DayLength))
				}
			}
		case strings.HasPrefix(e.Summary, "Happiness pulse: "):
			h.Event = "pulse"
			fmt.Sscanf(strings.TrimPrefix(e.Summary, "Happiness pulse: "), "%d", &h.Score)
		default:
			h.Event = strings.ReplaceAll(strings.ToLower(e.Summary), " ", "_")
		}
		return h, true, ""
	case workflows.EntryComplaint:
		id := strings.TrimPrefix(e.Step, "complaint:")
		sev, summary, _ := strings.Cut(strings.TrimPrefix(e.Summary, "Complaint ("), "): ")
		h.Complaint, h.ID, h.Summary = sev, id, summary
		return h, true, ""
	case workflows.EntryOutcome:
		kind, arg, _ := strings.Cut(strings.TrimPrefix(e.Step, "outcome:"), ":")
		switch {
		case e.Step == "reassign":
			h.Reassign = &Contact{Name: st.CSM.Name, Email: st.CSM.Email}
			return h, true, "a reassignment is replayed to the customer's current CSM (" + st.CSM.Name + ")"
		case e.Step == "champion":
			return h, false, "a champion change is not replayed (the simulation keeps the current champion)"
		case !strings.HasPrefix(e.Step, "outcome:"):
			return h, false, ""
		}
		h.Outcome = kind
		switch kind {
		case workflows.OutcomeMilestoneDone, workflows.OutcomeMilestoneBlocked:
			h.Milestone = arg
			if kind == workflows.OutcomeMilestoneBlocked {
				h.Note = e.Cause
			}
		case workflows.OutcomeComplaintResolved:
			h.ID = arg
		case workflows.OutcomeSentiment:
			fmt.Sscanf(strings.TrimPrefix(e.Summary, "CSM sentiment: "), "%d", &h.Sentiment)
		case workflows.OutcomeRisk:
			h.Risk = strings.TrimPrefix(e.Summary, "Risk: ")
		case workflows.OutcomeRenewed:
			return h, true, "a renewal is replayed as renewed for a year"
		}
		return h, true, ""
	case workflows.EntrySystem:
		switch {
		case e.Step == "pause":
			h.Pause = cmp.Or(strings.TrimSpace(strings.SplitN(e.Cause, " (by ", 2)[0]), "paused")
			return h, true, ""
		case e.Step == "resume":
			h.Resume = true
			return h, true, ""
		case e.Step == "email:"+workflows.EmailSuppressed:
			h.Email = "bounce"
			return h, true, ""
		case e.Step == "email:"+workflows.EmailActive:
			h.Email = workflows.EmailActive
			return h, true, ""
		}
	}
	return h, false, ""
}

// Fit leaves out what the playbook cannot take (an event type or a
// milestone it does not have), noting each.
func (r *Recorded) Fit(pb *playbooks.Playbook) {
	kept := r.Scenario.Happens[:0]
	for _, h := range r.Scenario.Happens {
		_, weighed := pb.Scoring.Weights[h.Event]
		_, planned := pb.Milestone(h.Milestone)
		switch {
		case h.Event != "" && !weighed:
			r.Notes = append(r.Notes, fmt.Sprintf("day %g: event %s is not one of %s's event types: not replayed", math.Floor(h.Day), h.Event, pb.Ref()))
		case h.Milestone != "" && !planned:
			r.Notes = append(r.Notes, fmt.Sprintf("day %g: milestone %s is not in %s: not replayed", math.Floor(h.Day), h.Milestone, pb.Ref()))
		default:
			kept = append(kept, h)
		}
	}
	r.Scenario.Happens = kept
}
