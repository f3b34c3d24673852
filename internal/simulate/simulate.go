package simulate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Result is what a journey did under a playbook in a scenario. Days are
// counted on the calendar from the deal's close (day 0), as the scenario
// counts them; JourneyDay (pauses excluded) is the journey's own count.
type Result struct {
	Scenario    string    `json:"scenario"`
	Description string    `json:"description,omitempty"`
	Playbook    string    `json:"playbook"`
	Customer    string    `json:"customer"`
	Start       time.Time `json:"start"`
	Until       float64   `json:"until"`
	// Steps is everything the journey did to the world and to itself, in
	// order: emails, tasks, escalations, phase changes, what was not sent.
	Steps      []Step    `json:"steps"`
	Happenings []Applied `json:"happenings"`
	// Skipped lists steps the journey had planned and dropped, with why.
	Skipped       []Skip    `json:"skipped"`
	Days          []Day     `json:"days"`
	HealthChanges []Change  `json:"health_changes"`
	PhaseChanges  []Change  `json:"phase_changes"`
	Runs          []RunCost `json:"runs"`
	Totals        Totals    `json:"totals"`
	// Ended says how the journey ended by itself before the until day
	// (its phase then), empty when it was still running.
	Ended     string          `json:"ended,omitempty"`
	Final     workflows.State `json:"final"`
	ElapsedMS float64         `json:"elapsed_ms"`
}

// Step is one entry of the journey's timeline, with the message it sent.
type Step struct {
	Day        float64   `json:"day"`
	JourneyDay float64   `json:"journey_day"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"` // touchpoint, task, escalation, event, outcome, complaint, system
	Step       string    `json:"step"`
	Label      string    `json:"label"` // the step in words (workflows.StepLabel)
	Summary    string    `json:"summary"`
	Cause      string    `json:"cause"`
	To         string    `json:"to,omitempty"`
	// Role is who the message went to (customer, csm, manager, sponsor);
	// Subject its rendered subject. Empty for entries without a message.
	Role    string `json:"role,omitempty"`
	Subject string `json:"subject,omitempty"`
}

// Message reports whether the step sent (or tried to send) a message.
func (s Step) Message() bool {
	return s.To != "" && (s.Kind == workflows.EntryTouchpoint || s.Kind == workflows.EntryTask || s.Kind == workflows.EntryEscalation)
}

// Applied is a scenario happening and what the journey made of it.
type Applied struct {
	Day  float64 `json:"day"`
	Line int     `json:"line,omitempty"`
	What string  `json:"what"`
	// Result: accepted, or rejected with Error (the journey's validator
	// said no: a duplicate, a milestone already done, the journey ended).
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// Skip is a planned step that never ran.
type Skip struct {
	Step   string  `json:"step"`
	Kind   string  `json:"kind"`
	Due    float64 `json:"due"`    // the day it was planned for
	Day    float64 `json:"day"`    // the day it was dropped
	Reason string  `json:"reason"` // why
	Cause  string  `json:"cause,omitempty"`
	// Moved marks a step planned again under a new name (a silence clock
	// restarted by engagement: silence:3:reengage becomes
	// silence:4:reengage), due on NewDue.
	Moved  bool    `json:"moved,omitempty"`
	NewDue float64 `json:"new_due,omitempty"`
}

// Day is the customer's standing at the end of a day.
type Day struct {
	Day        int      `json:"day"`
	Engagement int      `json:"engagement"`
	Happiness  int      `json:"happiness"`
	Health     string   `json:"health"`
	Quadrant   string   `json:"quadrant"`
	Phase      string   `json:"phase"`
	Reasons    []string `json:"reasons,omitempty"`
}

// Change is a health or phase change, on the day it was first seen.
type Change struct {
	Day     int      `json:"day"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Reasons []string `json:"reasons,omitempty"`
}

// Totals sum a result up.
type Totals struct {
	CustomerEmails int     `json:"customer_emails"`
	EmailsPerMonth float64 `json:"customer_emails_per_month"`
	Tasks          int     `json:"tasks"`
	Escalations    int     `json:"escalations"` // to a manager or the sponsor
	NotSent        int     `json:"not_sent"`
	HistoryEvents  int     `json:"history_events"` // estimated, every run together
	MaxRunEvents   int     `json:"max_run_events"`
	Runs           int     `json:"runs"`
}

// Options adjust a simulation.
type Options struct {
	// Until overrides the scenario's last day (0: the scenario's).
	Until float64
	// Templates renders the emails; the embedded ones when nil.
	Templates *activities.Templates
}

// Simulate runs the scenario's customer under the playbook.
func Simulate(ctx context.Context, pb *playbooks.Playbook, sc *Scenario, opts Options) (*Result, error) {
	if err := sc.Check(pb); err != nil {
		return nil, err
	}
	in, err := sc.input(pb)
	if err != nil {
		return nil, err
	}
	start, _ := sc.startTime()
	until := sc.until()
	if opts.Until > 0 {
		if opts.Until > MaxDays || math.IsNaN(opts.Until) {
			return nil, fmt.Errorf("until: at most %d days", MaxDays)
		}
		until = opts.Until
	}
	t0 := time.Now()
	r := &Result{
		Scenario: sc.Name, Description: sc.Description, Playbook: pb.Ref(), Customer: in.Account.Name,
		Start: start, Until: until, Steps: []Step{}, Happenings: []Applied{}, Skipped: []Skip{},
	}
	box := NewOutbox()
	j := &Journey{In: in, Start: start, Mailer: box, Templates: opts.Templates, CountHistory: true, Context: ctx}
	rec := &recorder{r: r, j: j, pending: map[string]workflows.Upcoming{}, ran: map[string]bool{}, dropped: map[string]int{}}
	complaintIDs := map[string]string{}
	champion := in.Champion.Email
	n := 0
	for i, h := range sc.Happens {
		days := []float64{h.Day}
		if h.Every > 0 {
			days = days[:0]
			for d := h.Day; d <= h.Through+1e-9; d += h.Every {
				days = append(days, d)
			}
		}
		for _, d := range days {
			if d >= until {
				break
			}
			n++
			h, d, id := h, d, fmt.Sprintf("sim-%d-%d", i, n)
			j.At(d, func(c *Call) {
				k := len(r.Happenings)
				r.Happenings = append(r.Happenings, Applied{Day: round2(d), Line: h.line, What: h.What(), Result: "sent"})
				rec.since = append(rec.since, k)
				name, arg := happeningUpdate(h, id, start, j.day(), champion, complaintIDs)
				c.Update(name, id, arg, func(v any, rejected, err error) {
					a := &r.Happenings[k]
					switch {
					case rejected != nil:
						a.Result, a.Error = "rejected", rejectedText(rejected)
					case err != nil:
						a.Result, a.Error = "failed", err.Error()
					default:
						a.Result = "accepted"
						if h.Complaint != "" && h.ID != "" && v != nil {
							var receipt workflows.ComplaintReceipt
							if Decode(v, &receipt) == nil {
								complaintIDs[h.ID] = receipt.ComplaintID
							}
						}
					}
				})
			})
		}
	}
	// The end of each day: the day's standing, and what the journey did.
	for d := 0; float64(d) < until; d++ {
		j.At(float64(d+1)-1.0/86400, func(c *Call) { rec.sample(c, d) })
	}
	j.Finally = func(c *Call) {
		rec.sample(c, int(until))
		r.Final, _ = c.State(workflows.StateQuery{At: c.Now()})
	}
	ending, err := j.Run(until)
	if err != nil {
		return nil, err
	}
	if ending.ByItself {
		r.Final = ending.Final
		r.Ended = ending.Final.Phase
		rec.finish(ending)
	}
	rec.close(box.Messages())
	r.Runs = j.Runs
	r.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
	return r, ctx.Err()
}

func rejectedText(err error) string {
	s := err.Error()
	// The SDK wraps the validator's message: keep the message.
	if i := strings.Index(s, " (type: "); i > 0 {
		s = s[:i]
	}
	return s
}

// happeningUpdate is the update a happening sends, as the API would.
func happeningUpdate(h Happening, id string, start time.Time, day time.Duration, champion string, complaintIDs map[string]string) (string, any) {
	switch {
	case h.Event != "":
		ev := workflows.EngagementEvent{ID: id, Type: h.Event, Source: "simulation"}
		if h.CallDay > 0 {
			ev.Attributes = map[string]string{"call_at": start.Add(time.Duration(h.CallDay * float64(day))).UTC().Format(time.RFC3339)}
		}
		if h.Score > 0 {
			ev.Attributes = map[string]string{"score": fmt.Sprint(h.Score)}
		}
		return workflows.UpdateEvent, ev
	case h.Complaint != "":
		cid := id
		if h.ID != "" {
			cid = "sim-" + h.ID
		}
		return workflows.UpdateComplaint, workflows.Complaint{ID: cid, Severity: h.Complaint, Summary: cmp.Or(h.Summary, "Simulated complaint"), Source: "simulation"}
	case h.Pause != "":
		return workflows.UpdatePause, workflows.PauseRequest{Reason: h.Pause, By: "simulation"}
	case h.Resume:
		return workflows.UpdateResume, workflows.ResumeRequest{By: "simulation"}
	case h.Reassign != nil:
		return workflows.UpdateReassign, workflows.Reassignment{CSM: workflows.Person{Name: h.Reassign.Name, Email: h.Reassign.Email}, Reason: cmp.Or(h.Note, "simulation"), By: "simulation"}
	case h.Email != "":
		status := workflows.EmailSuppressed
		if h.Email == workflows.EmailActive {
			status = workflows.EmailActive
		}
		return workflows.UpdateEmail, workflows.EmailStatus{Status: status, Reason: h.Email, Source: "simulation", Address: champion, By: "simulation"}
	default:
		o := workflows.Outcome{Kind: h.Outcome, MilestoneID: h.Milestone, Sentiment: h.Sentiment, Risk: h.Risk, Note: h.Note, By: "simulation"}
		if h.Outcome == workflows.OutcomeComplaintResolved {
			o.ComplaintID = complaintIDs[h.ID]
		}
		if h.Outcome == workflows.OutcomeMilestoneBlocked && o.Note == "" {
			o.Note = "blocked (simulated)"
		}
		return workflows.UpdateOutcome, o
	}
}

var digits = regexp.MustCompile(`[0-9]+`)

// family is a step's key with its numbers left out: the steps of one kind
// across cycles.
func family(key string) string { return digits.ReplaceAllString(key, "#") }

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// totalsOf counts the messages of steps over until days (the history's
// share is the caller's).
func totalsOf(steps []Step, until float64) Totals {
	var t Totals
	for _, s := range steps {
		switch {
		case strings.HasSuffix(s.Step, ":not-sent"):
			t.NotSent++
		case !s.Message():
		case s.Kind == workflows.EntryTouchpoint:
			t.CustomerEmails++
		case s.Kind == workflows.EntryTask:
			t.Tasks++
		default:
			t.Escalations++
		}
	}
	if months := until / 30.44; months > 0 {
		t.EmailsPerMonth = math.Round(float64(t.CustomerEmails)/months*10) / 10
	}
	return t
}

// recorder collects a result from the journey's state and timeline, read
// at the end of every day.
type recorder struct {
	r       *Result
	j       *Journey
	seen    int                           // timeline entries read so far
	pending map[string]workflows.Upcoming // steps planned at the last read
	ran     map[string]bool               // steps that ran
	since   []int                         // happenings since the last read
	// drops are steps gone from the plan without having run; one planned
	// again later (a pause ended) is blanked out. dropped indexes them.
	drops   []Skip
	dropped map[string]int
	last    *Day
}

func (rec *recorder) wallDay(t time.Time) float64 {
	return round2(float64(t.Sub(rec.j.Start)) / float64(rec.j.day()))
}

func (rec *recorder) sample(c *Call, day int) {
	tl, err := c.Timeline(rec.seen)
	if err == nil {
		rec.entries(tl)
	}
	st, err := c.State(workflows.StateQuery{At: c.Now(), Upcoming: workflows.MaxUpcoming, Brief: true})
	if err != nil {
		return
	}
	rec.day(day, st)
	rec.plan(st.Next, float64(day))
}

// finish reads what it can of a journey that ended by itself.
func (rec *recorder) finish(e Ending) {
	rec.day(int(math.Ceil(rec.wallDay(e.At))), e.Final)
	rec.plan(nil, math.Floor(rec.wallDay(e.At)))
}

func (rec *recorder) entries(tl workflows.Timeline) {
	for _, e := range tl.Entries {
		rec.r.Steps = append(rec.r.Steps, Step{
			Day: rec.wallDay(e.At), JourneyDay: round2(e.Day), At: e.At, Kind: e.Kind, Step: e.Step, Label: workflows.StepLabel(rec.j.In.Playbook, e.Step),
			Summary: e.Summary, Cause: e.Cause, To: e.To,
		})
		rec.ran[e.Step] = true
		if base, ok := strings.CutSuffix(e.Step, ":not-sent"); ok {
			rec.ran[base] = true
			rec.r.Skipped = append(rec.r.Skipped, Skip{Step: base, Kind: workflows.EntryTouchpoint, Due: rec.wallDay(e.At), Day: rec.wallDay(e.At),
				Reason: e.Cause, Cause: e.Summary})
		}
	}
	rec.seen = max(rec.seen, tl.Older.Count) + len(tl.Entries)
}

func (rec *recorder) day(day int, st workflows.State) {
	d := Day{Day: day, Engagement: st.Scores.Engagement, Happiness: st.Scores.Happiness, Health: st.Scores.Health,
		Quadrant: st.Scores.Quadrant, Phase: st.Phase, Reasons: st.Scores.Reasons}
	r := rec.r
	if n := len(r.Days); n > 0 && r.Days[n-1].Day == day {
		r.Days[n-1] = d
	} else {
		r.Days = append(r.Days, d)
	}
	if rec.last == nil {
		r.HealthChanges = append(r.HealthChanges, Change{Day: day, To: d.Health, Reasons: d.Reasons})
		r.PhaseChanges = append(r.PhaseChanges, Change{Day: day, To: d.Phase})
	} else {
		if rec.last.Health != d.Health {
			r.HealthChanges = append(r.HealthChanges, Change{Day: day, From: rec.last.Health, To: d.Health, Reasons: d.Reasons})
		}
		if rec.last.Phase != d.Phase {
			r.PhaseChanges = append(r.PhaseChanges, Change{Day: day, From: rec.last.Phase, To: d.Phase})
		}
	}
	rec.last = &d
}

// plan compares the steps now planned with those planned at the last
// read: one that is gone without having run was skipped, because of what
// happened in between.
func (rec *recorder) plan(next []workflows.Upcoming, today float64) {
	current := make(map[string]workflows.Upcoming, len(next))
	for _, u := range next {
		current[u.Step] = u
	}
	var gone []string
	for key := range rec.pending {
		if _, still := current[key]; !still && !rec.ran[key] {
			gone = append(gone, key)
		}
	}
	slices.SortFunc(gone, func(a, b string) int {
		if c := rec.pending[a].At.Compare(rec.pending[b].At); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, key := range gone {
		u := rec.pending[key]
		k := Skip{Step: key, Kind: u.Kind, Due: rec.wallDay(u.At), Day: today, Reason: rec.reason()}
		for _, n := range next {
			if _, before := rec.pending[n.Step]; !before && family(n.Step) == family(key) {
				k.Moved, k.NewDue = true, rec.wallDay(n.At)
				break
			}
		}
		if _, ok := rec.dropped[key]; !ok {
			rec.dropped[key] = len(rec.drops)
			rec.drops = append(rec.drops, k)
		}
	}
	// A step planned again (a pause ended) was postponed, not skipped; one
	// of its family planned under a new name was moved.
	for key, u := range current {
		if i, ok := rec.dropped[key]; ok {
			rec.drops[i].Step = ""
			delete(rec.dropped, key)
			continue
		}
		if _, before := rec.pending[key]; before {
			continue
		}
		for i := range rec.drops {
			if k := &rec.drops[i]; k.Step != "" && !k.Moved && family(k.Step) == family(key) {
				k.Moved, k.NewDue = true, rec.wallDay(u.At)
			}
		}
	}
	rec.pending = current
	rec.since = rec.since[:0]
}

// reason is why planned steps were dropped: what happened since the last
// read, or how the journey stands.
func (rec *recorder) reason() string {
	var parts []string
	for _, k := range rec.since {
		a := rec.r.Happenings[k]
		if a.Result == "accepted" {
			parts = append(parts, fmt.Sprintf("%s on day %g", a.What, math.Floor(a.Day)))
		}
	}
	if len(parts) > 0 {
		return strings.Join(parts, ", ")
	}
	if rec.r.Ended != "" || (rec.last != nil && rec.last.Phase == workflows.PhaseEnded) {
		return "the journey ended"
	}
	return "no longer due"
}

// close joins each message to the timeline entry that sent it and sums up.
func (rec *recorder) close(msgs []activities.Message) {
	r := rec.r
	for _, k := range rec.drops {
		if k.Step != "" && !rec.ran[k.Step] {
			r.Skipped = append(r.Skipped, k)
		}
	}
	slices.SortStableFunc(r.Skipped, func(a, b Skip) int { return cmp.Compare(a.Day, b.Day) })
	used := make([]bool, len(msgs))
	for i := range r.Steps {
		s := &r.Steps[i]
		if !s.Message() {
			continue
		}
		for k, m := range msgs {
			if !used[k] && m.Step == s.Step && strings.EqualFold(m.To.Email, s.To) {
				used[k] = true
				s.Role, s.Subject = m.Kind, m.Subject
				break
			}
		}
	}
	r.Totals = totalsOf(r.Steps, r.Until)
	r.Totals.Runs = len(rec.j.Runs)
	for _, run := range rec.j.Runs {
		r.Totals.HistoryEvents += run.Events
		r.Totals.MaxRunEvents = max(r.Totals.MaxRunEvents, run.Events)
	}
}
