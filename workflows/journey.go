package workflows

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // every IANA zone, whatever the host has installed

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// HistoryBudget is the history length at which a run hands over to a new one,
// well below the 4,096 events at which Temporal suggests continue-as-new.
const HistoryBudget = 3000

// MaxSeenEvents bounds the engagement-event dedupe window.
const MaxSeenEvents = 1000

// journey is one run of a customer's lifecycle. All durable state is in c.
type journey struct {
	in     JourneyInput
	pb     *playbooks.Playbook
	c      *Carry
	wfID   string
	loc    *time.Location
	wake   workflow.Channel
	events workflow.ReceiveChannel // engagement events sent as signals
	log    log.Logger
	newRun bool // continue as new at the next safe point (a term began)
}

// CustomerLifecycle runs one customer's journey: handoff, onboarding,
// adoption, renewals, until the customer churns or is offboarded.
func CustomerLifecycle(ctx workflow.Context, in JourneyInput) (State, error) {
	j, err := newJourney(ctx, in)
	if err != nil {
		return State{}, err
	}
	if err := j.registerHandlers(ctx); err != nil {
		return State{}, err
	}
	return j.run(ctx)
}

func newJourney(ctx workflow.Context, in JourneyInput) (*journey, error) {
	if in.DayLength == 0 {
		in.DayLength = DefaultDayLength
	}
	if err := in.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	loc, err := loadZone(in.Champion.TimeZone)
	if err != nil {
		return nil, err
	}
	info := workflow.GetInfo(ctx)
	j := &journey{
		in: in, pb: in.Playbook, c: in.Carry, wfID: info.WorkflowExecution.ID, loc: loc,
		wake: workflow.NewBufferedChannel(ctx, 1), events: workflow.GetSignalChannel(ctx, SignalEvent),
		log: log.With(workflow.GetLogger(ctx), "customer_id", in.Account.ID),
	}
	j.in.Carry = nil
	if j.c == nil {
		j.c = j.initial(workflow.Now(ctx))
	} else {
		j.c.Runs++
	}
	return j, nil
}

func (j *journey) initial(now time.Time) *Carry {
	c := &Carry{
		Start:           now.UTC(),
		Term:            1,
		RenewalDate:     j.in.Account.RenewalDate.UTC(),
		CSM:             j.in.CSM,
		TouchpointsSent: make([]bool, len(j.pb.Touchpoints)),
		Adoption: AdoptionState{
			NextQBRDay: j.pb.OnboardingDays + j.pb.Adoption.QBREveryDays,
		},
		Happiness: HappinessCalc{PulseAvg: float64(j.pb.Scoring.InitialHappiness)},
	}
	for _, m := range j.pb.Milestones {
		c.Milestones = append(c.Milestones, MilestoneRun{ID: m.ID, Status: MilestonePending})
	}
	j.c = c
	c.Adoption.NextCheckinDay = j.checkinAfter(j.pb.OnboardingDays)
	j.skipPastReminders(now)
	j.entry(now, EntrySystem, "journey:start",
		fmt.Sprintf("Journey started on playbook %s", j.pb.Ref()),
		fmt.Sprintf("deal %s closed for %s (%s plan)", j.in.DealID, j.in.Account.Name, j.in.Account.Plan), "")
	return c
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// Journey time (JT) is the time since day 0 with pauses taken out; every
// playbook day is a point in journey time, so a pause shifts them all.

func (j *journey) days(d float64) time.Duration { return time.Duration(d * float64(j.in.DayLength)) }

func (j *journey) jt(now time.Time) time.Duration {
	if !j.c.PausedAt.IsZero() {
		now = j.c.PausedAt
	}
	return now.Sub(j.c.Start) - j.c.PausedTotal
}

func (j *journey) wallAt(jt time.Duration) time.Time { return j.c.Start.Add(j.c.PausedTotal + jt) }

func (j *journey) dayAt(day int) time.Time { return j.wallAt(j.days(float64(day))) }

func (j *journey) dayOf(now time.Time) float64 {
	return float64(j.jt(now)) / float64(j.in.DayLength)
}

// renewalDay is the journey day of the renewal date.
func (j *journey) renewalDay() int {
	return int(math.Ceil(j.c.RenewalDate.Sub(j.c.Start).Hours() / 24))
}

func (j *journey) phase(now time.Time) string {
	switch {
	case j.c.Ended != nil:
		return PhaseEnded
	case !j.c.PausedAt.IsZero():
		return PhasePaused
	case j.c.Adoption.Started:
		return PhaseAdoption
	case j.c.Handoff.HeldAt.IsZero():
		return PhaseHandoff
	default:
		return PhaseOnboarding
	}
}

func (j *journey) entry(now time.Time, kind, step, summary, cause, to string) {
	j.c.Timeline.add(Entry{
		At: now.UTC(), Day: math.Round(j.dayOf(now)*100) / 100, Kind: kind, Step: step,
		Summary: summary, Cause: cause, To: to,
	})
}

func (j *journey) poke() { j.wake.SendAsync(struct{}{}) }

// run is the main loop: do what is due, keep scores and search attributes
// current, then sleep until the next step or until a message changes things.
func (j *journey) run(ctx workflow.Context) (State, error) {
	var (
		timer   workflow.Future
		timerAt time.Time
		cancel  workflow.CancelFunc
	)
	for {
		if err := ctx.Err(); err != nil {
			return j.state(workflow.Now(ctx)), err
		}
		j.drainEvents(ctx)
		if err := j.runDue(ctx); err != nil {
			return j.state(workflow.Now(ctx)), err
		}
		now := workflow.Now(ctx)
		j.refresh(ctx, now)
		if j.c.Ended != nil {
			return j.finish(ctx)
		}
		if j.newRun || j.historyFull(ctx) {
			return j.continueAsNew(ctx)
		}
		next, ok := j.nextDue(now)
		if !ok || !next.Equal(timerAt) {
			if cancel != nil {
				cancel()
			}
			timer, timerAt, cancel = nil, time.Time{}, nil
			if ok {
				var tctx workflow.Context
				tctx, cancel = workflow.WithCancel(ctx)
				timer, timerAt = workflow.NewTimer(tctx, next.Sub(now)), next
			}
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(j.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddReceive(j.events, func(workflow.ReceiveChannel, bool) { j.drainEvents(ctx) })
		if timer != nil {
			sel.AddFuture(timer, func(workflow.Future) { timer, timerAt, cancel = nil, time.Time{}, nil })
		}
		sel.Select(ctx)
	}
}

// runDue runs every step that is due, earliest first. A step can make
// another one due (a complaint's first task), hence the loop.
func (j *journey) runDue(ctx workflow.Context) error {
	for range 1000 {
		now := workflow.Now(ctx)
		steps := j.steps(now)
		i := slices.IndexFunc(steps, func(s step) bool { return !s.due.After(now) })
		if i < 0 {
			return nil
		}
		if err := steps[i].run(ctx, now); err != nil {
			return err
		}
		j.refresh(ctx, workflow.Now(ctx))
	}
	return errors.New("more than 1000 steps due at once: the playbook or state is inconsistent")
}

func (j *journey) nextDue(now time.Time) (time.Time, bool) {
	steps := j.steps(now)
	if len(steps) == 0 {
		return time.Time{}, false
	}
	return steps[0].due, true
}

func (j *journey) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= HistoryBudget
}

// continueAsNew hands the whole state to a fresh run once no update handler
// is still working on it.
func (j *journey) continueAsNew(ctx workflow.Context) (State, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return State{}, err
	}
	// Signals that arrived meanwhile belong to this run's history: apply them
	// now, or they would be lost with it.
	j.drainEvents(ctx)
	next := j.in
	next.Carry = j.c
	// A fresh history can take the current code's branches.
	next.Revision = Revision
	j.log.Info("continuing as new", "run", j.c.Runs, "term", j.c.Term)
	return State{}, workflow.NewContinueAsNewError(ctx, CustomerLifecycle, next)
}

func (j *journey) finish(ctx workflow.Context) (State, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return State{}, err
	}
	j.drainEvents(ctx) // recorded as refused: the journey has ended
	return j.state(workflow.Now(ctx)), nil
}

// refresh records a daily score point and upserts search attributes that changed.
func (j *journey) refresh(ctx workflow.Context, now time.Time) {
	sc := j.scores(now)
	day := int(j.dayOf(now))
	if n := len(j.c.Scores); n == 0 || j.c.Scores[n-1].Day < day {
		j.c.Scores = append(j.c.Scores, ScorePoint{Day: day, Engagement: sc.Engagement, Happiness: sc.Happiness})
		if len(j.c.Scores) > 400 {
			j.c.Scores = slices.Clone(j.c.Scores[1:])
		}
	} else {
		j.c.Scores[n-1] = ScorePoint{Day: day, Engagement: sc.Engagement, Happiness: sc.Happiness}
	}
	v := SAValues{
		Health: sc.Health, Quadrant: sc.Quadrant, Phase: j.phase(now), CSMEmail: j.c.CSM.Email,
		Engagement: sc.Engagement, Happiness: sc.Happiness, RenewalDate: j.c.RenewalDate,
	}
	// Listing needs the scores only roughly: rounded to 5 points, a stream of
	// events (or a day's decay) no longer rewrites the visibility row every
	// time, which was the largest cost of an event on the dev server.
	// Versioned, because fewer upserts would break the replay of journeys
	// that ran before; GetVersion only for those (see Revision).
	if j.in.Revision >= 1 || workflow.GetVersion(ctx, "sa-scores-rounded", workflow.DefaultVersion, 1) == 1 {
		v.Engagement, v.Happiness = roundTo5(v.Engagement), roundTo5(v.Happiness)
	}
	if v == j.c.Upserted {
		return
	}
	err := workflow.UpsertTypedSearchAttributes(ctx,
		SAHealth.ValueSet(v.Health), SAQuadrant.ValueSet(v.Quadrant), SAPhase.ValueSet(v.Phase),
		SACSMEmail.ValueSet(v.CSMEmail), SAEngagement.ValueSet(int64(v.Engagement)),
		SAHappiness.ValueSet(int64(v.Happiness)), SARenewalDate.ValueSet(v.RenewalDate))
	if err != nil {
		j.log.Error("search attributes not updated", "error", err)
		return
	}
	j.c.Upserted = v
}

func roundTo5(n int) int { return (n + 2) / 5 * 5 }

// state is the live view answered by the state query.
func (j *journey) state(now time.Time) State {
	sc := j.scores(now)
	s := State{
		CustomerID: j.in.Account.ID, AccountName: j.in.Account.Name, Playbook: j.pb.Ref(),
		Phase: j.phase(now), Day: int(j.dayOf(now)), Term: j.c.Term, RenewalDate: j.c.RenewalDate,
		CSM: j.c.CSM, Champion: j.in.Champion, Paused: !j.c.PausedAt.IsZero(), PauseReason: j.c.PauseReason,
		Ended: j.c.Ended, Scores: sc, Handoff: j.c.Handoff, Runs: j.c.Runs,
		Milestones: j.milestoneViews(now), OpenComplaints: []ComplaintRun{}, EmailBlocked: j.c.EmailBlocked,
		EventsCounted: j.c.Engagement.Events, ScoreHistory: slices.Clone(j.c.Scores),
	}
	s.Progress = progress(s.Milestones)
	for _, c := range j.c.Complaints {
		if c.Status == ComplaintOpen {
			s.OpenComplaints = append(s.OpenComplaints, c)
		}
	}
	for _, e := range j.c.Timeline.Entries {
		if e.Kind == EntryEscalation {
			s.Escalations++
		}
	}
	s.Escalations += j.c.Timeline.Older.ByKind[EntryEscalation]
	for _, st := range j.steps(now) {
		if len(s.Next) == 5 {
			break
		}
		s.Next = append(s.Next, Upcoming{Step: st.key, Kind: st.kind, At: st.due, Day: int(j.dayOf(st.due))})
	}
	return s
}

func (j *journey) milestoneViews(now time.Time) []MilestoneView {
	today := j.dayOf(now)
	views := make([]MilestoneView, 0, len(j.c.Milestones))
	for _, run := range j.c.Milestones {
		m, _ := j.pb.Milestone(run.ID)
		v := MilestoneView{
			ID: m.ID, Name: m.Name, Owner: m.Owner, DueDay: m.DueDay, Deliverables: m.Deliverables,
			Status: run.Status, CompletedDay: run.CompletedOn, Blocker: run.Blocker,
		}
		switch {
		case run.Status == MilestoneDone && run.CompletedOn > float64(m.DueDay):
			v.DaysLate = int(run.CompletedOn) - m.DueDay
		case run.Status == MilestonePending && today >= float64(m.DueDay+1):
			v.Status, v.DaysLate = "late", int(today)-m.DueDay
		}
		views = append(views, v)
	}
	return views
}

func progress(ms []MilestoneView) Progress {
	p := Progress{Total: len(ms)}
	for _, m := range ms {
		switch {
		case m.Status == MilestoneDone:
			p.Done++
			if m.DaysLate == 0 {
				p.OnTime++
			} else {
				p.Late++
			}
		case m.Status == MilestoneBlocked:
			p.Blocked++
		case m.Status == "late":
			p.Late++
		default:
			p.OnTime++
		}
	}
	if p.Total > 0 {
		p.Percent = p.Done * 100 / p.Total
	}
	return p
}

// timeline is the answer to the timeline query.
func (j *journey) timeline() Timeline {
	return Timeline{CustomerID: j.in.Account.ID, Entries: slices.Clone(j.c.Timeline.Entries), Older: j.c.Timeline.Older}
}

func title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
