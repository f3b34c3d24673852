package workflows

import (
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// OutcomeDesired records (or, with Remove, drops) a business outcome the
// customer wants: one of the playbook's choices, or "other" with Text.
const OutcomeDesired = "desired_outcome"

// Bounds on desired outcomes: a journey keeps at most three, the most
// important first, and "something else" in at most MaxDesiredText
// characters of the customer's own words.
const (
	MaxDesiredOutcomes = insights.MaxOutcomes
	MaxDesiredText     = 200
)

// DesiredOutcome is a business outcome the customer wants, as recorded.
type DesiredOutcome struct {
	ID     string    `json:"id"`
	Label  string    `json:"label"`
	Text   string    `json:"text,omitempty"` // the customer's words, for "other"
	At     time.Time `json:"at"`
	Source string    `json:"source,omitempty"` // "email" or "csm"
	By     string    `json:"by,omitempty"`
}

// InsightCounts is what the journey counts for the insights job, beyond
// what its state keeps anyway.
type InsightCounts struct {
	// Events counts each tracked kind (insights.KindEvents) in the first 30
	// and 90 journey days.
	Events [insights.NumKinds][insights.NumWindows]int `json:"events"`
	// ResolveDays sums the journey days each resolved complaint took.
	Resolved    int     `json:"resolved,omitempty"`
	ResolveDays float64 `json:"resolve_days,omitempty"`
	ShowMeHow   int     `json:"show_me_how,omitempty"`
	// Memo is a hash of the facts last written to the memo (since revision 4).
	Memo uint64 `json:"memo,omitempty"`
}

// One-click answers of the insight emails.
var (
	actShowMeHow = action{ID: "show_me_how", Label: "Show me how"}
)

// OutcomeActionPrefix starts the action id of a desired-outcome button:
// "outcome_" + the choice id.
const OutcomeActionPrefix = "outcome_"

// outcomeActions are the welcome email's buttons: one per choice of the
// playbook, and "something else".
func (j *journey) outcomeActions() []action {
	if len(j.pb.Outcomes) == 0 {
		return nil
	}
	out := make([]action, 0, len(j.pb.Outcomes)+1)
	for _, o := range j.pb.Outcomes {
		out = append(out, action{ID: OutcomeActionPrefix + o.ID, Label: o.Label})
	}
	return append(out, action{ID: OutcomeActionPrefix + playbooks.OutcomeOther, Label: "Something else"})
}

// count adds a tracked engagement to the windows its journey day falls in.
func (j *journey) count(kind int, at time.Time) {
	day := j.dayOf(at)
	for w, limit := range insights.Windows {
		if day < float64(limit) {
			j.c.Insight.Events[kind][w]++
		}
	}
}

// countEvent counts an engagement event of a tracked type.
func (j *journey) countEvent(ev EngagementEvent, at time.Time) {
	if ev.Attributes["action"] == actShowMeHow.ID {
		j.c.Insight.ShowMeHow++
	}
	for k, t := range insights.KindEvents {
		if t == ev.Type {
			j.count(k, at)
		}
	}
}

// validateDesired checks a desired outcome against the playbook.
func (j *journey) validateDesired(o Outcome) error {
	choice, ok := j.pb.Outcome(o.DesiredOutcome)
	switch {
	case o.DesiredOutcome == "":
		return rejectf("desired_outcome: name one of %s", strings.Join(j.outcomeIDs(), ", "))
	case !ok:
		return rejectf("desired_outcome: unknown outcome %q (use %s)", o.DesiredOutcome, strings.Join(j.outcomeIDs(), ", "))
	case o.Remove:
		if j.desiredIndex(choice.ID) < 0 {
			return rejectf("desired_outcome: %q is not among the customer's outcomes", choice.ID)
		}
	case choice.ID == playbooks.OutcomeOther && strings.TrimSpace(o.DesiredText) == "":
		return rejectf("desired_text: say what the outcome is (up to %d characters)", MaxDesiredText)
	}
	return nil
}

func (j *journey) outcomeIDs() []string {
	ids := make([]string, 0, len(j.pb.Outcomes)+1)
	for _, o := range j.pb.Outcomes {
		ids = append(ids, o.ID)
	}
	return append(ids, playbooks.OutcomeOther)
}

func (j *journey) desiredIndex(id string) int {
	return slices.IndexFunc(j.c.Outcomes, func(d DesiredOutcome) bool { return d.ID == id })
}

// applyDesired makes the outcome the customer's most important one (or
// drops it), keeping at most MaxDesiredOutcomes; it returns the summary.
func (j *journey) applyDesired(now time.Time, o Outcome) string {
	choice, _ := j.pb.Outcome(o.DesiredOutcome)
	if i := j.desiredIndex(choice.ID); i >= 0 {
		j.c.Outcomes = slices.Delete(slices.Clone(j.c.Outcomes), i, i+1)
	}
	if o.Remove {
		return "Desired outcome removed: " + choice.Label
	}
	d := DesiredOutcome{ID: choice.ID, Label: choice.Label, At: now, Source: o.Source, By: o.By}
	if choice.ID == playbooks.OutcomeOther {
		d.Text = strings.TrimSpace(o.DesiredText)
	}
	j.c.Outcomes = append([]DesiredOutcome{d}, j.c.Outcomes...)
	if len(j.c.Outcomes) > MaxDesiredOutcomes {
		j.c.Outcomes = j.c.Outcomes[:MaxDesiredOutcomes]
	}
	return "Desired outcome: " + desiredWords(d)
}

// desiredWords is how an outcome reads in an email or on the timeline.
func desiredWords(d DesiredOutcome) string {
	if d.Text != "" {
		return d.Text
	}
	return d.Label
}

// outcomeData adds the customer's most important outcome to an email's
// fields, for the review and QBR emails to refer to.
func (j *journey) outcomeData(data map[string]string) map[string]string {
	if len(j.c.Outcomes) == 0 {
		return data
	}
	if data == nil {
		data = map[string]string{}
	}
	data["Outcome"] = desiredWords(j.c.Outcomes[0])
	return data
}

// outcomeLine is the CSM's reminder of what the customer wants.
func (j *journey) outcomeLine() string {
	if len(j.c.Outcomes) == 0 {
		return ""
	}
	words := make([]string, len(j.c.Outcomes))
	for i, d := range j.c.Outcomes {
		words[i] = desiredWords(d)
	}
	return "\nDesired outcomes: " + strings.Join(words, "; ") + "."
}

// facts is what the journey tells the insights job about itself.
func (j *journey) facts() insights.Facts {
	day := func(t time.Time) float64 {
		return max(0, float64(t.Sub(j.c.Start)-j.c.PausedTotal)/float64(j.in.DayLength))
	}
	f := insights.Facts{
		V: insights.FactsVersion, Plan: j.in.Account.Plan, Playbook: j.pb.Ref(),
		Start: j.c.Start.UTC(), DayLength: j.in.DayLength, Paused: j.c.PausedTotal, PausedAt: j.c.PausedAt,
		Events: j.c.Insight.Events, HandoffDay: -1,
		Resolved: j.c.Insight.Resolved, ResolveDays: round2(j.c.Insight.ResolveDays), ShowMeHow: j.c.Insight.ShowMeHow,
	}
	if j.c.Imported != nil {
		// Its first days happened before the import: the job leaves it out
		// of what green accounts do differently.
		f.Imported = true
	}
	if !j.c.Handoff.HeldAt.IsZero() {
		f.HandoffDay = round2(day(j.c.Handoff.HeldAt))
	}
	if m, ok := j.pb.FirstValue(); ok {
		f.FirstValue = m.ID
	}
	for _, run := range j.c.Milestones {
		if len(f.Milestones) == insights.MaxMilestones {
			break
		}
		m, _ := j.pb.Milestone(run.ID)
		fm := insights.Milestone{ID: m.ID, Name: insights.Clip(m.Name), Due: m.DueDay, Done: -1}
		if run.Status == MilestoneDone {
			fm.Done = round2(run.CompletedOn)
		}
		f.Milestones = append(f.Milestones, fm)
	}
	for _, d := range j.c.Outcomes {
		f.Outcomes = append(f.Outcomes, insights.Outcome{ID: d.ID, Label: insights.Clip(d.Label)})
	}
	return f
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// upsertFacts writes the facts to the journey's memo when they changed
// (since revision 4): the insights job lists every journey with its memo,
// instead of asking each one. Facts change with what the customer does,
// not with time, so this costs an event only when something happened.
func (j *journey) upsertFacts(ctx workflow.Context) {
	if j.rev < 4 {
		return
	}
	f := j.facts()
	h := fnv.New64a()
	// Facts hold no map: their JSON is the same bytes on every replay.
	//workflowcheck:ignore
	h.Write(f.Encode())
	sum := h.Sum64()
	if sum == j.c.Insight.Memo {
		return
	}
	if err := workflow.UpsertMemo(ctx, map[string]any{insights.MemoKey: f}); err != nil {
		j.log.Error("facts memo not updated", "error", err)
		return
	}
	j.c.Insight.Memo = sum
}

// gapsRequest is what a team notice needs to add the customer's gaps
// against green accounts at send time.
func (j *journey) gapsRequest() *insights.Subject {
	return &insights.Subject{Account: j.in.Account.Name, Plan: j.in.Account.Plan, Facts: j.facts()}
}
