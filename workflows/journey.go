package workflows

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // every IANA zone, whatever the host has installed

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
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
	// rev is the code revision this run follows (see Revision): recorded by
	// the worker that started the run, so a replay takes the same branches.
	rev int
	// inflight holds the activity of each message in flight, by key (since
	// revision 3; see sending.go).
	inflight map[string]workflow.Future
	// wakes counts the main loop's wake-ups in this run; upgrading is set
	// once the run is leaving for a new build.
	wakes     int
	upgrading bool
	// preview marks a journey computed for a dry run: it queues no event.
	preview bool
	// hours is the playbook's business hours, parsed on first use.
	hours *businessHours
	// syncing is the store write of the tasks in flight (since revision 5),
	// of version syncingVersion.
	syncing        workflow.Future
	syncingVersion int
}

// businessHours is a playbook's business hours, parsed.
type businessHours struct {
	openH, openM, closeH, closeM int
	weekday                      [7]bool
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

// revisionChange is the GetVersion change id that records a run's revision.
const revisionChange = "journey-revision"

func newJourney(ctx workflow.Context, in JourneyInput) (*journey, error) {
	if in.DayLength == 0 {
		in.DayLength = DefaultDayLength
	}
	// The worker decides: a run recorded before revision 2 has no marker and
	// keeps the revision its API chose.
	rev := in.Revision
	if v := workflow.GetVersion(ctx, revisionChange, workflow.DefaultVersion, Revision); v != workflow.DefaultVersion {
		rev = int(v)
	}
	if err := in.validateRun(rev, workflow.Now(ctx)); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	champion := in.Champion
	if in.Carry != nil && in.Carry.Champion != nil {
		champion = *in.Carry.Champion
	}
	loc, err := loadZone(champion.TimeZone)
	if err != nil {
		return nil, err
	}
	info := workflow.GetInfo(ctx)
	j := &journey{
		in: in, pb: in.Playbook, c: in.Carry, wfID: info.WorkflowExecution.ID, loc: loc, rev: rev,
		wake: workflow.NewBufferedChannel(ctx, 1), events: workflow.GetSignalChannel(ctx, SignalEvent),
		inflight: map[string]workflow.Future{},
		log:      log.With(workflow.GetLogger(ctx), "customer_id", in.Account.ID, "workflow_id", info.WorkflowExecution.ID),
	}
	j.in.Carry = nil
	if j.c == nil {
		first := info.FirstRunID
		if first == "" {
			first = info.WorkflowExecution.RunID
		}
		j.c = j.initial(workflow.Now(ctx), first)
	} else {
		j.c.Runs++
	}
	j.initContacts(workflow.Now(ctx))
	return j, nil
}

// validateRun checks a run's input. A new journey on revision 2 or later is
// checked as the API checks a start (renewal date within bounds as of the
// workflow's clock); a continued run, or one that began on an earlier
// revision, carries input that was checked when it arrived, so only what the
// run cannot work without is checked again, and a journey that started under
// looser rules keeps running.
func (in *JourneyInput) validateRun(rev int, now time.Time) error {
	if in.Carry == nil && rev >= 2 {
		return in.ValidateStart(now)
	}
	// A run that started before revision 2 passed the checks of its day;
	// checking it against today's limits on replay would fail a journey
	// whose history goes on.
	// The playbook was checked when the journey began and is carried
	// unchanged: checking it again against newer bounds would fail a journey
	// that started on a playbook valid then.
	switch {
	case in.Playbook == nil:
		return &FieldError{Field: "playbook", Message: "is required"}
	case in.DayLength < 100*time.Millisecond:
		return &FieldError{Field: "day_length", Message: "must be at least 100ms"}
	}
	return nil
}

func (j *journey) initial(now time.Time, firstRunID string) *Carry {
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
	if j.rev >= 2 {
		c.Chapter = chapterOf(firstRunID)
	}
	j.c = c
	c.Adoption.NextCheckinDay = j.checkinAfter(j.pb.OnboardingDays)
	imported, cause, ok := j.applyImport(now)
	j.skipPastReminders(now)
	j.entry(now, EntrySystem, "journey:start",
		fmt.Sprintf("Journey started on playbook %s", j.pb.Ref()),
		fmt.Sprintf("deal %s closed for %s (%s plan)", j.in.DealID, j.in.Account.Name, j.in.Account.Plan), "")
	if ok {
		j.entry(now, EntrySystem, "journey:import", imported, cause, "")
	}
	return c
}

// chapterOf names a journey by its first run: a returning customer's new
// journey has another first run, hence other email keys and link uses.
func chapterOf(firstRunID string) string {
	id := strings.ReplaceAll(firstRunID, "-", "")
	if len(id) > 12 {
		id = id[:12]
	}
	return "j" + id
}

// champion is the current champion contact.
func (j *journey) champion() Person {
	if j.c.Champion != nil {
		return *j.c.Champion
	}
	return j.in.Champion
}

func loadZone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

// zones holds each time zone loaded once: a Location is immutable and
// about 4 KiB, and ten thousand cached journeys loading their champion's
// zone each held 40 MB of copies of a few dozen zones. The result is the
// same whichever journey loads it first, so sharing it is deterministic.
var zones sync.Map

// Journey time (JT) is the time since day 0 with pauses taken out; every
// playbook day is a point in journey time, so a pause shifts them all.

func (j *journey) days(d float64) time.Duration { return durationOf(d, j.in.DayLength) }

// durationOf is d days of the given length, saturated at time.Duration's
// range: converting an out-of-range float to an integer gives different
// answers on different CPUs (amd64 and arm64 disagree), so a replay on
// another architecture would diverge. Inside the range the conversion is
// exact and the same everywhere.
func durationOf(d float64, day time.Duration) time.Duration {
	f := d * float64(day)
	switch {
	case f != f: // NaN: playbooks refuse it; never a timer of garbage
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(f)
}

// calendarAt is the wall time of a calendar day counted from day 0 (the
// renewal date, its reminders, a term boundary): pauses do not move it.
func (j *journey) calendarAt(day int) time.Time { return j.c.Start.Add(j.days(float64(day))) }

// calendarDay is the calendar day (pauses included) at now.
func (j *journey) calendarDay(now time.Time) float64 {
	return float64(now.Sub(j.c.Start)) / float64(j.in.DayLength)
}

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
	return int(math.Ceil(j.c.RenewalDate.Sub(j.realStart()).Hours() / 24))
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

// Timeline texts are kept to a line: the full text stays in its place (the
// complaint, the pause), and 400 entries stay small.
const maxEntryText = 300

func (j *journey) entry(now time.Time, kind, step, summary, cause, to string) {
	e := Entry{
		At: now.UTC(), Day: math.Round(j.dayOf(now)*100) / 100, Kind: kind, Step: clip(step, maxEntryText),
		Summary: clip(summary, maxEntryText), Cause: clip(cause, maxEntryText), To: to,
	}
	j.c.Timeline.add(e)
	if t := eventOf(kind, step); t != "" {
		j.queueEvent(e, t, activities.EventData{})
	}
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
	// Messages the previous run left in flight go out under the same keys.
	for _, sr := range j.c.Sending {
		j.issue(ctx, sr)
	}
	for {
		if err := ctx.Err(); err != nil {
			return j.state(workflow.Now(ctx), StateQuery{}), err
		}
		j.drainEvents(ctx)
		if err := j.runDue(ctx); err != nil {
			return j.state(workflow.Now(ctx), StateQuery{}), err
		}
		now := workflow.Now(ctx)
		j.refresh(ctx, now)
		j.describe(ctx, now)
		if j.c.Ended != nil {
			return j.finish(ctx)
		}
		if j.newRun || j.historyFull(ctx) || j.upgrade(ctx) {
			return j.continueAsNew(ctx)
		}
		next, ok := j.nextWake(now)
		// Since revision 2 a timer that fires before the next wake is kept:
		// waking early costs one fired timer, while cancelling and starting
		// one for every event that moves the next wake later (the silence
		// clock, a decay) cost two history events per event.
		early := j.rev >= 2 && timer != nil && (!ok || timerAt.Before(next))
		if !early && (!ok || !next.Equal(timerAt)) {
			if cancel != nil {
				cancel()
			}
			timer, timerAt, cancel = nil, time.Time{}, nil
			if ok {
				var tctx workflow.Context
				tctx, cancel = workflow.WithCancel(ctx)
				timer, timerAt = workflow.NewTimerWithOptions(tctx, next.Sub(now), workflow.TimerOptions{Summary: j.timerSummary(now, next)}), next
			}
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(j.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.AddReceive(j.events, func(workflow.ReceiveChannel, bool) { j.drainEvents(ctx) })
		// A journey with nothing scheduled still hears its cancellation (the
		// loop's first check returns). Since revision 2 only: a revision-1
		// history may show a cancel request that its run did not act on.
		if j.rev >= 2 {
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		}
		if timer != nil {
			sel.AddFuture(timer, func(workflow.Future) { timer, timerAt, cancel = nil, time.Time{}, nil })
		}
		j.awaitSends(ctx, sel)
		j.awaitTaskSync(ctx, sel)
		sel.Select(ctx)
		j.wakes++
	}
}

// upgrade reports whether the run should continue as new to move to a new
// build: under Worker Versioning a journey is pinned to the build its run
// started on, and Temporal marks the workflow task once another build has
// become current. Never on a run's first task, so a run that starts on the
// old build (its continue-as-new raced the promotion) cannot loop.
func (j *journey) upgrade(ctx workflow.Context) bool {
	if j.rev < 3 || j.wakes == 0 || !workflow.GetInfo(ctx).GetTargetWorkerDeploymentVersionChanged() {
		return false
	}
	if !j.upgrading {
		j.upgrading = true
		j.log.Info("a new build is current: continuing as new on it")
	}
	return true
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

// nextWake is when the loop must wake next: the next step, or (since
// revision 2) the next moment health or quadrant changes by time alone, so
// that the search attributes that list the journey stay true.
func (j *journey) nextWake(now time.Time) (time.Time, bool) {
	next, ok := time.Time{}, false
	if steps := j.steps(now); len(steps) > 0 {
		next, ok = steps[0].due, true
	}
	if j.rev >= 2 {
		if at, found := j.scoreChange(now); found && (!ok || at.Before(next)) {
			next, ok = at, true
		}
	}
	return next, ok
}

func (j *journey) historyFull(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() >= HistoryBudget
}

// StateTooLargeType is the failure of a journey whose state cannot be
// handed to its next run even after compaction.
const StateTooLargeType = "StateTooLarge"

// continueAsNew hands the whole state to a fresh run once no update handler
// is still working on it. Messages in flight are carried and issued again.
func (j *journey) continueAsNew(ctx workflow.Context) (State, error) {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return State{}, err
	}
	// Signals that arrived meanwhile belong to this run's history: apply them
	// now, or they would be lost with it.
	j.drainEvents(ctx)
	next := j.in
	next.Carry = j.c
	// A fresh history takes the revision its worker records.
	next.Revision = Revision
	if err := j.fitCarry(workflow.Now(ctx), &next); err != nil {
		return State{}, err
	}
	j.log.Info("continuing as new", "run", j.c.Runs, "term", j.c.Term)
	// Under Worker Versioning the next run starts on the current build (a
	// pinned run would otherwise pass its build on); unversioned, this
	// changes nothing.
	return State{}, workflow.NewContinueAsNewErrorWithOptions(ctx,
		workflow.ContinueAsNewErrorOptions{InitialVersioningBehavior: workflow.ContinueAsNewVersioningBehaviorAutoUpgrade},
		CustomerLifecycle, next)
}

// fitCarry checks the encoded size of what the next run receives. Every
// input is bounded, so this should never bite; if it does, the oldest
// timeline entries, event ids and score points are folded away, and a
// state still too large fails the run with a clear error rather than
// wedging every workflow task of the next one.
func (j *journey) fitCarry(now time.Time, next *JourneyInput) error {
	size := func() int {
		p, err := converter.GetDefaultDataConverter().ToPayload(next)
		if err != nil {
			return math.MaxInt
		}
		return len(p.GetData())
	}
	n := size()
	if n <= MaxCarryBytes {
		return nil
	}
	c := next.Carry
	for len(c.Timeline.Entries) > 50 {
		c.Timeline.Older.fold(c.Timeline.Entries[0])
		c.Timeline.Entries = c.Timeline.Entries[1:]
	}
	c.Timeline.Entries = slices.Clone(c.Timeline.Entries)
	if len(c.Seen) > 100 {
		c.Seen = slices.Clone(c.Seen[len(c.Seen)-100:])
	}
	if len(c.Scores) > 100 {
		c.Scores = slices.Clone(c.Scores[len(c.Scores)-100:])
	}
	c.Complaints = slices.DeleteFunc(c.Complaints, func(cr ComplaintRun) bool { return cr.Status != ComplaintOpen })
	m := size()
	j.log.Warn("journey state compacted before continue-as-new", "bytes_before", n, "bytes_after", m)
	j.entry(now, EntrySystem, "state:compacted", "Older timeline entries folded away",
		fmt.Sprintf("the journey's state reached %d bytes (limit %d)", n, MaxCarryBytes), "")
	if m > MaxCarryBytes {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("journey state is %d bytes after compaction, over the %d-byte limit; nothing was lost yet: fix the input that grew it and reset the workflow", m, MaxCarryBytes),
			StateTooLargeType, nil)
	}
	return nil
}

func (j *journey) finish(ctx workflow.Context) (State, error) {
	// Messages in flight (a complaint's task, a failure notice) still go out;
	// each is bounded by its delivery deadline.
	if j.rev >= 3 {
		if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
			return State{}, err
		}
		// The store's index learns that the tasks expired.
		j.syncTasks(ctx)
		for (len(j.c.Sending) > 0 || j.syncing != nil) && ctx.Err() == nil {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(j.wake, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
			sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
			j.awaitSends(ctx, sel)
			j.awaitTaskSync(ctx, sel)
			sel.Select(ctx)
			j.syncTasks(ctx)
		}
		if err := ctx.Err(); err != nil {
			return State{}, err
		}
	} else if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && len(j.c.Sending) == 0 }); err != nil {
		return State{}, err
	}
	j.drainEvents(ctx) // recorded as refused: the journey has ended
	return j.state(workflow.Now(ctx), StateQuery{}), nil
}

// refresh records the day's score point and upserts search attributes that changed.
func (j *journey) refresh(ctx workflow.Context, now time.Time) {
	sc := j.scores(now)
	day := int(j.dayOf(now))
	jt := j.jt(now)
	point := ScorePoint{Day: day, Engagement: sc.Engagement, Happiness: sc.Happiness,
		Raw: j.decayedRaw(jt), At: jt, Quiet: j.c.Engagement.LastEventJT, Base: j.happinessBase(now)}
	if n := len(j.c.Scores); n == 0 || j.c.Scores[n-1].Day < day {
		j.c.Scores = append(j.c.Scores, point)
		if len(j.c.Scores) > 400 {
			j.c.Scores = slices.Clone(j.c.Scores[1:])
		}
	} else {
		j.c.Scores[n-1] = point
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
	if j.rev >= 1 || workflow.GetVersion(ctx, "sa-scores-rounded", workflow.DefaultVersion, 1) == 1 {
		v.Engagement, v.Happiness = roundTo5(v.Engagement), roundTo5(v.Happiness)
	}
	j.upsertFacts(ctx)
	j.syncTasks(ctx)
	j.healthEvent(now, sc)
	j.flushEvents(ctx, now)
	if j.rev >= 5 {
		v.OpenTasks, v.NextTaskDue = j.taskCounts()
	}
	if v == j.c.Upserted {
		return
	}
	updates := []temporal.SearchAttributeUpdate{
		SAHealth.ValueSet(v.Health), SAQuadrant.ValueSet(v.Quadrant), SAPhase.ValueSet(v.Phase),
		SACSMEmail.ValueSet(v.CSMEmail), SAEngagement.ValueSet(int64(v.Engagement)),
		SAHappiness.ValueSet(int64(v.Happiness)), SARenewalDate.ValueSet(v.RenewalDate),
	}
	if j.rev >= 5 {
		updates = append(updates, SAOpenTasks.ValueSet(int64(v.OpenTasks)))
		if v.NextTaskDue.IsZero() {
			updates = append(updates, SANextTaskDue.ValueUnset())
		} else {
			updates = append(updates, SANextTaskDue.ValueSet(v.NextTaskDue))
		}
	}
	err := workflow.UpsertTypedSearchAttributes(ctx, updates...)
	if err != nil {
		j.log.Error("search attributes not updated", "error", err)
		return
	}
	j.c.Upserted = v
}

func roundTo5(n int) int { return (n + 2) / 5 * 5 }

// state is the live view answered by the state query, as of now.
func (j *journey) state(now time.Time, q StateQuery) State {
	upcoming := q.Upcoming
	if upcoming <= 0 {
		upcoming = 5
	}
	upcoming = min(upcoming, MaxUpcoming)
	sc := j.scores(now)
	s := State{
		CustomerID: j.in.Account.ID, AccountName: j.in.Account.Name, Playbook: j.pb.Ref(),
		Phase: j.phase(now), Day: int(j.dayOf(now)), Term: j.c.Term, RenewalDate: j.c.RenewalDate,
		CSM: j.c.CSM, Champion: j.champion(), Paused: !j.c.PausedAt.IsZero(), PauseReason: j.c.PauseReason,
		Ended: j.c.Ended, Scores: sc, Handoff: j.c.Handoff, Runs: j.c.Runs,
		Milestones: j.milestoneViews(now), OpenComplaints: []ComplaintRun{}, EmailBlocked: j.c.EmailBlocked,
		EventsCounted: j.c.Engagement.Events, ScoreHistory: []ScorePoint{},
		Journey: j.c.Chapter, AsOf: now.UTC(), Sending: len(j.c.Sending), Failures: j.c.Failures, Revision: j.rev,
		Started: j.c.Start.UTC(), DayLength: j.in.DayLength,
		DesiredOutcomes: append([]DesiredOutcome{}, j.c.Outcomes...), Facts: j.facts(),
		OutcomeChoices: []playbooks.OutcomeChoice{}, Imported: j.c.Imported,
	}
	if len(j.pb.Outcomes) > 0 {
		s.OutcomeChoices = append(append(s.OutcomeChoices, j.pb.Outcomes...), playbooks.OutcomeChoice{ID: playbooks.OutcomeOther, Label: "Something else"})
	}
	if !q.Brief {
		s.ScoreHistory = j.scoreHistory(now)
	}
	s.Progress = progress(s.Milestones)
	s.Contacts, s.Reachable = j.contactViews()
	s.Tasks = j.taskViews(now)
	for _, t := range s.Tasks {
		if t.Status == TaskOpen {
			s.OpenTasks++
		}
		if t.Overdue {
			s.OverdueTasks++
		}
	}
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
		if len(s.Next) == upcoming {
			break
		}
		s.Next = append(s.Next, Upcoming{Step: st.key, Label: j.label(st.key), Kind: st.kind, At: st.due, Day: int(j.dayOf(st.due))})
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
			v.Status, v.DaysLate = MilestoneLate, int(today)-m.DueDay
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
		case m.Status == MilestoneImported:
			p.Imported++
		case m.Status == MilestoneLate:
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
func (j *journey) timeline() Timeline { return j.timelineSince(0) }

// timelineSince answers the timeline's entries from the since-th on
// (counted from the journey's first, folded ones included).
func (j *journey) timelineSince(since int) Timeline {
	entries := j.c.Timeline.Entries
	if skip := since - j.c.Timeline.Older.Count; skip > 0 {
		entries = entries[min(skip, len(entries)):]
	}
	return Timeline{CustomerID: j.in.Account.ID, Entries: slices.Clone(entries), Older: j.c.Timeline.Older}
}

func title(s string) string {
	s = strings.ReplaceAll(s, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
