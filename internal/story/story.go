// Package story tells an account's story in a few sentences from its
// journey's own state and timeline: where it stands, what changed in the
// last 30 days, its open risks and what to do next. No language model:
// each sentence is a template over facts and names the timeline entry that
// backs it, so it is true whenever the state and timeline are. A fact no
// entry backs (its entry folded away, say) is left out rather than told
// unbacked.
package story

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Window is how far back "what changed" looks.
const Window = 30 * 24 * time.Hour

// Bounds: sentences of each list, and quoted text.
const (
	MaxListed = 3   // complaints, milestones, tasks, outcomes
	maxQuote  = 120 // characters of a summary or reason quoted
)

// Parts of a story, in order.
const (
	PartStanding = "standing"
	PartRecent   = "recent"
	PartRisk     = "risk"
	PartNext     = "next"
)

// Sentence is one sentence and the timeline entry behind it.
type Sentence struct {
	Text string `json:"text"`
	// Entry numbers the entry across the journey's life: the timeline's
	// Older.Count plus its position in Entries. It stays the same as older
	// entries are folded away.
	Entry int       `json:"entry"`
	Step  string    `json:"step"`
	At    time.Time `json:"at"`
	Part  string    `json:"part"`
}

// Story is GET /v1/customers/{id}/summary.
type Story struct {
	CustomerID string     `json:"customer_id"`
	AsOf       time.Time  `json:"as_of"`
	Sentences  []Sentence `json:"sentences"`
}

// EntryNumber is the number of the timeline's i-th kept entry.
func EntryNumber(tl workflows.Timeline, i int) int { return tl.Older.Count + i }

// Compose tells the story of st and tl as of st.AsOf (now, when zero).
func Compose(st workflows.State, tl workflows.Timeline, now time.Time) Story {
	if !st.AsOf.IsZero() {
		now = st.AsOf
	}
	t := teller{st: st, tl: tl, now: now.UTC()}
	t.standing()
	t.recent()
	t.risks()
	t.next()
	if t.out == nil {
		t.out = []Sentence{}
	}
	return Story{CustomerID: st.CustomerID, AsOf: t.now, Sentences: t.out}
}

type teller struct {
	st  workflows.State
	tl  workflows.Timeline
	now time.Time
	out []Sentence
}

// say adds a sentence backed by the i-th kept entry.
func (t *teller) say(part string, i int, format string, args ...any) {
	e := t.tl.Entries[i]
	t.out = append(t.out, Sentence{Text: fmt.Sprintf(format, args...), Entry: EntryNumber(t.tl, i), Step: e.Step, At: e.At, Part: part})
}

// last is the newest kept entry that match accepts, -1 when none.
func (t *teller) last(match func(workflows.Entry) bool) int {
	for i := len(t.tl.Entries) - 1; i >= 0; i-- {
		if match(t.tl.Entries[i]) {
			return i
		}
	}
	return -1
}

func step(s string) func(workflows.Entry) bool {
	return func(e workflows.Entry) bool { return e.Step == s }
}

func prefix(p string) func(workflows.Entry) bool {
	return func(e workflows.Entry) bool { return strings.HasPrefix(e.Step, p) }
}

func (t *teller) name() string {
	if t.st.AccountName != "" {
		return quote(t.st.AccountName)
	}
	return t.st.CustomerID
}

// standing: the journey's chapter (start, adoption, a new term or its
// end), the day, the phase and the health.
func (t *teller) standing() {
	st := t.st
	health := fmt.Sprintf("health %s (%s)", st.Scores.Health, st.Scores.Quadrant)
	if st.Ended != nil {
		if i := t.last(func(e workflows.Entry) bool { return e.Step == "outcome:"+st.Ended.Kind }); i >= 0 {
			t.say(PartStanding, i, "%s's journey ended on %s: %s.", t.name(), date(st.Ended.At), st.Ended.Kind)
		}
		return
	}
	i := t.last(func(e workflows.Entry) bool {
		return e.Step == "journey:start" || e.Step == "phase:adoption" || strings.HasPrefix(e.Step, "term:")
	})
	if i >= 0 {
		e := t.tl.Entries[i]
		switch {
		case e.Step == "journey:start":
			t.say(PartStanding, i, "%s started its journey on %s and is on day %d, in %s; %s.", t.name(), date(e.At), st.Day, st.Phase, health)
		case e.Step == "phase:adoption":
			t.say(PartStanding, i, "%s finished onboarding on %s and is on day %d, in adoption; %s.", t.name(), date(e.At), st.Day, health)
		default:
			t.say(PartStanding, i, "%s began term %d on %s and is on day %d, in %s; %s.", t.name(), st.Term, date(e.At), st.Day, st.Phase, health)
		}
	}
	if st.Paused {
		if i := t.last(step("pause")); i >= 0 {
			t.say(PartStanding, i, "The journey is paused since %s: %s.", date(t.tl.Entries[i].At), clip(t.tl.Entries[i].Cause))
		}
	}
}

// recent: what changed in the last 30 days, one sentence a kind, backed by
// its newest entry, and each outcome a CSM recorded.
func (t *teller) recent() {
	from := t.now.Add(-Window)
	inWindow := func(kind string) (int, int) {
		n, newest := 0, -1
		for i, e := range t.tl.Entries {
			if e.Kind == kind && !e.At.Before(from) && !e.At.After(t.now) {
				n, newest = n+1, i
			}
		}
		return n, newest
	}
	switch n, i := inWindow(workflows.EntryEvent); {
	case n > 0:
		e := t.tl.Entries[i]
		t.say(PartRecent, i, "%s in the last 30 days, the latest %s on %s.", count(n, "engagement event"), quote(e.Summary), date(e.At))
	case t.st.Ended == nil: // an ended journey's silence is no risk
		t.silence()
	}
	if n, i := inWindow(workflows.EntryTouchpoint); n > 0 {
		e := t.tl.Entries[i]
		t.say(PartRecent, i, "%s went to the customer in the last 30 days, the latest %s on %s.", count(n, "email"), quote(e.Summary), date(e.At))
	}
	if n, i := inWindow(workflows.EntryComplaint); n > 0 {
		e := t.tl.Entries[i]
		t.say(PartRecent, i, "%s received in the last 30 days, the latest on %s.", count(n, "complaint"), date(e.At))
	}
	if n, i := inWindow(workflows.EntryEscalation); n > 0 {
		e := t.tl.Entries[i]
		t.say(PartRecent, i, "%s in the last 30 days, the latest on %s: %s.", count(n, "escalation"), date(e.At), clip(e.Summary))
	}
	// Outcomes, the newest MaxListed, told oldest first.
	var outcomes []int
	for i := len(t.tl.Entries) - 1; i >= 0 && len(outcomes) < MaxListed; i-- {
		e := t.tl.Entries[i]
		if e.Kind == workflows.EntryOutcome && !e.At.Before(from) && !e.At.After(t.now) && !strings.HasPrefix(e.Step, "task:") {
			outcomes = append(outcomes, i)
		}
	}
	slices.Reverse(outcomes)
	for _, i := range outcomes {
		e := t.tl.Entries[i]
		t.say(PartRecent, i, "On %s: %s.", date(e.At), strings.TrimSuffix(clip(e.Summary), "."))
	}
}

// silence: no engagement in the window, since the last event or the start.
func (t *teller) silence() {
	if i := t.last(func(e workflows.Entry) bool { return e.Kind == workflows.EntryEvent }); i >= 0 {
		e := t.tl.Entries[i]
		t.say(PartRisk, i, "No engagement in the last 30 days; the last was %s on %s (day %s).", quote(e.Summary), date(e.At), day(e.Day))
	} else if i := t.last(step("journey:start")); i >= 0 && t.now.Sub(t.tl.Entries[i].At) >= Window {
		t.say(PartRisk, i, "No engagement recorded since the journey started on %s.", date(t.tl.Entries[i].At))
	}
}

// risks: open complaints, late and blocked milestones, stopped email, a
// handoff call not held.
func (t *teller) risks() {
	st := t.st
	listed := 0
	for _, c := range st.OpenComplaints {
		if listed == MaxListed {
			break
		}
		i := t.last(step("complaint:" + c.ID))
		if i < 0 {
			continue
		}
		sla := "its SLA is due " + datetime(c.SLADue)
		if !c.SLADue.IsZero() && t.now.After(c.SLADue) {
			sla = "past its SLA since " + datetime(c.SLADue)
		}
		t.say(PartRisk, i, "Complaint %s (%s) is open since %s, %s: %s.", c.ID, c.Severity, date(c.ReceivedAt), sla, quote(firstLine(c.Summary)))
		listed++
	}
	listed = 0
	for _, m := range st.Milestones {
		if listed == MaxListed {
			break
		}
		switch m.Status {
		case "late":
			if i := t.last(prefix("milestone:" + m.ID + ":late-")); i >= 0 {
				t.say(PartRisk, i, "Milestone %s is %s late (due day %d).", quote(m.Name), count(m.DaysLate, "day"), m.DueDay)
				listed++
			}
		case "blocked":
			if i := t.last(step("outcome:milestone_blocked:" + m.ID)); i >= 0 {
				why := ""
				if m.Blocker != "" {
					why = ": " + quote(m.Blocker)
				}
				t.say(PartRisk, i, "Milestone %s is blocked since %s%s.", quote(m.Name), date(t.tl.Entries[i].At), why)
				listed++
			}
		}
	}
	if st.EmailBlocked != "" {
		if i := t.last(prefix("email:stopped:")); i >= 0 {
			t.say(PartRisk, i, "Customer email is stopped since %s: %s.", date(t.tl.Entries[i].At), clip(st.EmailBlocked))
		}
	}
	if st.Ended == nil && st.Handoff.HeldAt.IsZero() {
		if i := t.last(step("handoff:welcome")); i >= 0 {
			t.say(PartRisk, i, "The handoff call has not been held; the welcome email asked for it on %s.", date(t.tl.Entries[i].At))
		}
	}
}

// next: the team's active tasks, the overdue first, then by due time.
func (t *teller) next() {
	var tasks []workflows.TaskView
	for _, tk := range t.st.Tasks {
		if tk.Active() {
			tasks = append(tasks, tk)
		}
	}
	slices.SortStableFunc(tasks, func(a, b workflows.TaskView) int {
		if a.Overdue != b.Overdue {
			if a.Overdue {
				return -1
			}
			return 1
		}
		return a.Due.Compare(b.Due)
	})
	listed := 0
	for _, tk := range tasks {
		if listed == MaxListed {
			break
		}
		i := t.last(step("task:" + tk.ID + ":opened"))
		if i < 0 {
			continue
		}
		when := "due " + datetime(tk.Due)
		switch {
		case tk.Status == workflows.TaskSnoozed:
			when = "snoozed until " + datetime(tk.SnoozedUntil)
		case tk.Overdue:
			when = "overdue since " + datetime(tk.Due)
		}
		t.say(PartNext, i, "To do: %s (task %s, for the %s, %s).", clip(tk.Title), tk.ID, tk.Owner, when)
		listed++
	}
	if len(tasks) > listed && listed > 0 {
		// The rest are counted in the last listed task's sentence.
		last := &t.out[len(t.out)-1]
		last.Text = strings.TrimSuffix(last.Text, ".") + fmt.Sprintf("; %s more open.", count(len(tasks)-listed, "task"))
	}
}

func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func date(t time.Time) string { return t.UTC().Format("2006-01-02") }

func datetime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func day(d float64) string {
	s := fmt.Sprintf("%.1f", d)
	return strings.TrimSuffix(s, ".0")
}

func quote(s string) string { return "“" + clip(s) + "”" }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// clip bounds quoted text to maxQuote characters on one line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= maxQuote {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:maxQuote-1])) + "…"
}
