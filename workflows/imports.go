package workflows

import (
	"fmt"
	"math"
	"time"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// Import places a new journey at a point of its playbook (since revision
// 7): a customer who was already on its way when the team brought its book
// of business in. The journey begins at day Day without sending what would
// have happened before it: no welcome to a customer in month 7, touchpoints
// before today counted as sent, milestones due before today marked
// imported rather than late. What is due from today on runs as usual.
type Import struct {
	// Day is the journey day the customer is at on the day of the import.
	Day int `json:"day"`
	// Phase is where the customer stands: handoff (the handoff call is
	// still to be held), onboarding or adoption.
	Phase string `json:"phase"`
	// Since is the customer's real start date when the import gave one.
	Since time.Time `json:"since,omitzero"`
	// Source says where the import came from ("import", a file and line).
	Source string `json:"source,omitempty"`
}

// MaxImportDay bounds an imported journey's day: ten years of customer life.
const MaxImportDay = 3650

// ImportPhases are the phases an import may place a customer in.
var ImportPhases = []string{PhaseHandoff, PhaseOnboarding, PhaseAdoption}

// PlaceImport decides where an imported customer stands on pb as of today,
// from its real start date (since), its journey day, or its phase; any of
// them may be missing, and at most one of since and day may be given. A
// customer at day 0 in the handoff phase is a new customer: PlaceImport
// answers nil, an ordinary start. Errors name the field ("start_date",
// "day", "phase").
func PlaceImport(pb *playbooks.Playbook, today, since time.Time, day *int, phase string) (*Import, error) {
	var c checker
	if !since.IsZero() && day != nil {
		c.fail("day", "give start_date or day, not both")
		return nil, c.err()
	}
	if phase != "" && !oneOf(phase, ImportPhases) {
		c.fail("phase", "must be one of handoff, onboarding, adoption")
		return nil, c.err()
	}
	im := &Import{Phase: phase}
	known := true
	switch {
	case !since.IsZero():
		y, m, d := today.UTC().Date()
		sy, sm, sd := since.UTC().Date()
		days := int(math.Round(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Sub(time.Date(sy, sm, sd, 0, 0, 0, 0, time.UTC)).Hours() / 24))
		switch {
		case days < 0:
			c.fail("start_date", "is after today (%s): a customer who has not started yet is an ordinary start", today.UTC().Format(time.DateOnly))
		case days > MaxImportDay:
			c.fail("start_date", "is more than %d days before today", MaxImportDay)
		}
		im.Day, im.Since = days, time.Date(sy, sm, sd, 0, 0, 0, 0, time.UTC)
	case day != nil:
		if *day < 0 || *day > MaxImportDay {
			c.fail("day", "must be 0 to %d", MaxImportDay)
		}
		im.Day = *day
	default:
		known = false
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	onboarding := pb.OnboardingDays
	if !known {
		// A phase alone: the customer is at its beginning.
		switch phase {
		case PhaseOnboarding:
			im.Day = 1
		case PhaseAdoption:
			im.Day = onboarding
		}
	}
	if im.Phase == "" {
		im.Phase = PhaseOnboarding
		switch {
		case im.Day == 0:
			im.Phase = PhaseHandoff
		case im.Day >= onboarding:
			im.Phase = PhaseAdoption
		}
	}
	switch {
	case im.Phase == PhaseHandoff && im.Day >= onboarding:
		c.fail("phase", "handoff at day %d: onboarding ends on day %d of playbook %s; record the handoff as held (phase adoption)", im.Day, onboarding, pb.Ref())
	case im.Phase == PhaseOnboarding && im.Day >= onboarding:
		c.fail("phase", "onboarding at day %d: onboarding ends on day %d of playbook %s (phase adoption)", im.Day, onboarding, pb.Ref())
	case im.Phase == PhaseAdoption && im.Day < onboarding:
		c.fail("phase", "adoption at day %d: adoption begins on day %d of playbook %s (phase onboarding, or an earlier start_date)", im.Day, onboarding, pb.Ref())
	}
	if err := c.err(); err != nil {
		return nil, err
	}
	if im.Day == 0 && im.Phase == PhaseHandoff {
		return nil, nil
	}
	return im, nil
}

// importFields checks an import carried by a start request.
func (c *checker) importFields(im *Import) {
	if im == nil {
		return
	}
	if im.Day < 0 || im.Day > MaxImportDay {
		c.fail("import.day", "must be 0 to %d", MaxImportDay)
	}
	if !oneOf(im.Phase, ImportPhases) {
		c.fail("import.phase", "must be one of handoff, onboarding, adoption")
	}
	c.text("import.source", im.Source, MaxShortLen, false)
}

// applyImport moves a new journey to the day its import gives: day 0 lies
// Day journey days back, and every step due before today is marked done
// without running, so only what is due from today on is sent. It answers
// the timeline entry that says so (ok is false without an import).
func (j *journey) applyImport(now time.Time) (summary, cause string, ok bool) {
	im := j.in.Import
	if im == nil || j.rev < 7 {
		return "", "", false
	}
	c, pb := j.c, j.pb
	c.Start = now.Add(-j.days(float64(im.Day))).UTC()
	imported := *im
	c.Imported = &imported

	h := &c.Handoff
	h.WelcomeSent = true // never a welcome past day 0
	if im.Phase == PhaseHandoff {
		h.ReminderSent = pb.Handoff.RemindAfterDays < im.Day
		h.Escalated = pb.Handoff.EscalateAfterDays < im.Day
	} else {
		h.CSMTaskSent, h.ReminderSent, h.Escalated = true, true, true
		h.HeldAt = c.Start
	}
	skipped, overdue := 0, 0
	for i, tp := range pb.Touchpoints {
		if tp.Day < im.Day {
			c.TouchpointsSent[i] = true
			skipped++
		}
	}
	for i := range c.Milestones {
		if m, ok := pb.Milestone(c.Milestones[i].ID); ok && m.DueDay < im.Day {
			c.Milestones[i].Status = MilestoneImported
			overdue++
		}
	}
	// Silence counts from the import: what the customer did before it is
	// not known here.
	jt := j.days(float64(im.Day))
	c.Engagement.At, c.Engagement.LastEventJT, c.Engagement.LastEvent = jt, jt, now.UTC()
	c.Silence.Anchor = jt
	if im.Day >= pb.OnboardingDays {
		a := &c.Adoption
		a.Started = true
		for a.NextQBRDay < im.Day {
			a.NextQBRDay += pb.Adoption.QBREveryDays
		}
		for a.NextCheckinDay < im.Day {
			a.NextCheckinDay = j.checkinAfter(a.NextCheckinDay)
		}
	}
	cause = fmt.Sprintf("phase %s given by the import", im.Phase)
	if !im.Since.IsZero() {
		cause = "start date " + im.Since.Format(time.DateOnly) + " given by the import"
	}
	if im.Source != "" {
		cause += " (" + im.Source + ")"
	}
	return fmt.Sprintf("Imported at day %d (%s): %s before today not sent, %s marked imported", im.Day, im.Phase,
		plural(skipped, "touchpoint"), plural(overdue, "overdue milestone")), cause, true
}

// realStart is when the calendar day 0 of an imported journey was: the
// renewal date counts its days from there. With days of 24 hours it is the
// journey's day 0; with shortened days (a demo) day 0 is Day short days
// back while the customer's start is Day calendar days back.
func (j *journey) realStart() time.Time {
	im := j.c.Imported
	if im == nil {
		return j.c.Start
	}
	return j.c.Start.Add(j.days(float64(im.Day)) - time.Duration(im.Day)*24*time.Hour)
}

// Preview is the journey in would begin, as of now, without starting it:
// the same code as a first run, with nothing sent. A dry run of an import
// reads what each customer would receive next from its Next.
func Preview(in JourneyInput, now time.Time, upcoming int) (State, error) {
	if in.DayLength == 0 {
		in.DayLength = DefaultDayLength
	}
	if err := in.ValidateStart(now); err != nil {
		return State{}, err
	}
	loc, err := loadZone(in.Champion.TimeZone)
	if err != nil {
		return State{}, err
	}
	j := &journey{in: in, pb: in.Playbook, wfID: WorkflowID(in.Account.ID), loc: loc, rev: Revision, preview: true}
	j.c = j.initial(now, "preview")
	j.initContacts(now)
	return j.state(now, StateQuery{Upcoming: upcoming, Brief: true}), nil
}
