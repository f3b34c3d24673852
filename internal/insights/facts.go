// Package insights learns from green accounts: what healthy customers do
// that the others do not. Every journey keeps a small record of facts (what
// the customer attended, when the handoff was held, which milestones were
// done by their due day, which outcomes the customer wants) in its Temporal
// memo; the nightly job lists every journey with its memo and search
// attributes, compares green accounts with the rest, and stores the ranked
// differences with their date. Nothing is claimed below a minimum sample.
//
// The package has no dependency on Temporal or the store: the workflow
// builds Facts, the job's activity feeds them to Compute, and the API, the
// dashboard and the best-practices email read the stored Report.
package insights

import (
	"encoding/json"
	"time"
)

// Tracked engagement kinds: Facts.Events is indexed by these.
const (
	Trainings = iota
	Webinars
	Meetings
	Tickets
	Complaints
	NumKinds
)

// KindEvents is the engagement-event type each tracked kind counts
// (Complaints counts complaints filed, by any route).
var KindEvents = [NumKinds]string{"training_completed", "webinar_attended", "meeting_held", "ticket_opened", "complaint"}

// kindWords is how a kind reads: the verb phrase for "at least one", the
// singular and plural noun.
var kindWords = [NumKinds]struct{ did, one, many string }{
	{"completed a training", "training", "trainings"},
	{"attended a webinar", "webinar", "webinars"},
	{"held a meeting with us", "meeting", "meetings"},
	{"opened a support ticket", "ticket", "tickets"},
	{"filed a complaint", "complaint", "complaints"},
}

// Windows are the journey days the event counts cover: Facts.Events[k][w]
// counts kind k in the first Windows[w] journey days.
var Windows = [2]int{30, 90}

// NumWindows is len(Windows).
const NumWindows = 2

// FactsVersion is the format of Facts; a memo of another version is skipped.
const FactsVersion = 1

// MemoKey is the memo field a journey keeps its facts in.
const MemoKey = "lifecycle_facts"

// Bounds on what a journey's facts carry, so the memo stays small (a few
// hundred bytes for the default playbook; under 5 KiB at the bounds).
const (
	MaxMilestones    = 50
	MaxLabelLen      = 60
	MaxOutcomes      = 3
	MaxOutcomeChoice = 10 // choices a playbook may offer
)

// Facts is what a journey tells the insights job about itself. Days are
// journey days (pauses taken out); -1 means "not yet".
type Facts struct {
	V        int    `json:"v"`
	Plan     string `json:"plan,omitempty"`
	Playbook string `json:"playbook,omitempty"`
	// Start is day 0, DayLength the length of a journey day, Paused the
	// pauses so far: with them the job tells a journey's day at its own
	// clock without asking the journey.
	Start     time.Time     `json:"start"`
	DayLength time.Duration `json:"day_length"`
	Paused    time.Duration `json:"paused,omitempty"`
	// PausedAt is set while the journey is paused.
	PausedAt time.Time `json:"paused_at,omitzero"`
	// Events counts each tracked kind in the first 30 and 90 days.
	Events [NumKinds][NumWindows]int `json:"events"`
	// HandoffDay is the day the handoff call was held (-1: not yet).
	HandoffDay float64 `json:"handoff_day"`
	// Milestones are the playbook's milestones with their due day and the
	// day each was done (-1: not yet). FirstValue names the milestone the
	// playbook marks as first value ("" when none).
	Milestones []Milestone `json:"milestones,omitempty"`
	FirstValue string      `json:"first_value,omitempty"`
	// Resolved counts complaints resolved; ResolveDays sums the days each
	// took, from filing to resolution.
	Resolved    int     `json:"resolved,omitempty"`
	ResolveDays float64 `json:"resolve_days,omitempty"`
	// Outcomes are the desired outcomes chosen, most important first
	// (their ids and labels; free text stays in the journey).
	Outcomes []Outcome `json:"outcomes,omitempty"`
	// ShowMeHow counts clicks on a best-practices email's "show me how".
	ShowMeHow int `json:"show_me_how,omitempty"`
	// Imported marks a journey that began mid-playbook: what happened in
	// its first days is not known, so it is counted but not compared.
	Imported bool `json:"imported,omitempty"`
}

// Milestone is one playbook milestone in a journey's facts.
type Milestone struct {
	ID   string  `json:"id"`
	Name string  `json:"name"`
	Due  int     `json:"due"`
	Done float64 `json:"done"` // the day it was done; -1 not yet
}

// Outcome is a desired outcome a customer chose.
type Outcome struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// Day is the journey's day at now.
func (f *Facts) Day(now time.Time) float64 {
	if f.DayLength <= 0 {
		return 0
	}
	if !f.PausedAt.IsZero() && f.PausedAt.Before(now) {
		now = f.PausedAt
	}
	d := float64(now.Sub(f.Start)-f.Paused) / float64(f.DayLength)
	return max(d, 0)
}

// Encode is the facts as the memo holds them.
func (f *Facts) Encode() []byte {
	b, _ := json.Marshal(f) // plain data: never fails
	return b
}

// Clip bounds a label to MaxLabelLen characters.
func Clip(s string) string {
	r := []rune(s)
	if len(r) <= MaxLabelLen {
		return s
	}
	return string(r[:MaxLabelLen-1]) + "…"
}

// Account is one journey as the job reads it: its facts (from the memo) and
// what the search attributes say now.
type Account struct {
	CustomerID string `json:"customer_id"`
	Health     string `json:"health"`
	Quadrant   string `json:"quadrant"`
	Phase      string `json:"phase"`
	CSM        string `json:"csm"`
	Facts      Facts  `json:"facts"`
}

// Health colours and quadrants, as the journey names them.
const (
	Green = "green"

	QuadrantChampion = "champion"
	QuadrantVocal    = "vocal"
	QuadrantQuiet    = "quiet"
	QuadrantAtRisk   = "at-risk"
)

// Quadrants in the order the page shows them.
var Quadrants = []string{QuadrantChampion, QuadrantVocal, QuadrantQuiet, QuadrantAtRisk}

// DefaultMinSample is the least number of accounts in each group (green and
// the rest) before a difference is claimed.
const DefaultMinSample = 10

// Report is one run of the job: every segment's comparison.
type Report struct {
	ComputedAt time.Time `json:"computed_at"`
	MinSample  int       `json:"min_sample"`
	// Journeys is how many journeys were read; WithoutFacts how many had no
	// facts yet (journeys that began before facts were kept, until their
	// next continue-as-new), left out of every comparison.
	Journeys     int `json:"journeys"`
	WithoutFacts int `json:"without_facts"`
	// Imported counts journeys that began mid-playbook (an import): in the
	// quadrant and health counts, out of the comparisons, whose early days
	// they did not spend here.
	Imported int `json:"imported,omitempty"`
	// Quadrants and Health count the journeys that have facts, by quadrant
	// and by health colour.
	Quadrants map[string]int `json:"quadrants"`
	Health    map[string]int `json:"health"`
	// Segments: "all" first, then one per plan ("plan:NAME") and one per
	// CSM ("csm:EMAIL"), each sorted by key.
	Segments []Segment `json:"segments"`
	// Took is how long the job ran (listing included).
	Took time.Duration `json:"took"`
}

// Segment compares green accounts with the rest inside one group of
// accounts (all of them, one plan, one CSM's book).
type Segment struct {
	Key   string `json:"key"`   // "all", "plan:pro", "csm:grace@example.com"
	Label string `json:"label"` // "All accounts", "Plan pro", "CSM grace@example.com"
	Green int    `json:"green"` // green accounts in the segment
	Rest  int    `json:"rest"`
	// Enough is true when both groups reach the minimum sample; without it
	// no difference is claimed, and Why says what is missing.
	Enough bool   `json:"enough"`
	Why    string `json:"why,omitempty"`
	// Differences, most telling first: claimed ones ranked by how many times
	// more often green accounts do the thing (Lift), then the unclaimed.
	Differences []Difference `json:"differences"`
	// Mix is the engagement-event mix: the average count of each tracked
	// kind per account in each window, green against the rest.
	Mix []Mix `json:"mix"`
	// Medians: handoff day, days to first value, complaint resolution days.
	Medians []Median `json:"medians"`
	// Outcomes: how often each desired outcome was chosen, per group.
	Outcomes []Share `json:"outcomes"`
}

// Difference kinds.
const (
	DiffEvent      = "event"       // at least one of a kind in a window
	DiffHandoff    = "handoff"     // handoff held by a day
	DiffMilestone  = "milestone"   // a milestone done by its due day
	DiffFirstValue = "first_value" // first value reached by its due day
	DiffOutcome    = "outcome"     // chose a desired outcome
)

// Difference is one thing an account does or not, green against the rest.
type Difference struct {
	ID   string `json:"id"`   // stable: "event:training_completed:30", "handoff:3", "milestone:kickoff", "first_value", "outcome:ID"
	Kind string `json:"kind"` // a Diff constant
	// Text says what accounts did, to follow "N of M green accounts":
	// "completed a training in their first 30 days".
	Text string `json:"text"`
	// Event and Window (DiffEvent), Day (DiffHandoff: by that day;
	// DiffMilestone, DiffFirstValue: the due day), Ref (the milestone or
	// outcome id) say which.
	Event  string `json:"event,omitempty"`
	Window int    `json:"window,omitempty"`
	Day    int    `json:"day,omitempty"`
	Ref    string `json:"ref,omitempty"`
	// Counts: Green of GreenOf green accounts did it, Rest of RestOf others.
	// An account counts once its answer is settled: from day 30 for "in
	// the first 30 days", from day 4 for "by day 3", from the day after a
	// milestone's due day. Counting those who did it early before those who
	// did not are settled would flatter whoever acts early.
	Green     int     `json:"green"`
	GreenOf   int     `json:"green_of"`
	Rest      int     `json:"rest"`
	RestOf    int     `json:"rest_of"`
	GreenRate float64 `json:"green_rate"` // Green / GreenOf
	RestRate  float64 `json:"rest_rate"`
	// Lift is how many times more often green accounts do it, smoothed so
	// that a group that never does it does not make it infinite:
	// ((Green+1)/(GreenOf+2)) / ((Rest+1)/(RestOf+2)).
	Lift float64 `json:"lift"`
	// Claimed: both groups reach the minimum sample and green accounts do
	// it at least MinPoints percentage points more often. Why says why not.
	Claimed bool   `json:"claimed"`
	Why     string `json:"why,omitempty"`
	// GreenMedian is the median count per green account in the window
	// (DiffEvent only), for the sentence "green accounts had attended 2
	// trainings by day 30".
	GreenMedian float64 `json:"green_median,omitempty"`
}

// MinPoints is how many percentage points more often green accounts must
// do a thing for it to be claimed.
const MinPoints = 10

// Mix is one kind's average count per account in one window.
type Mix struct {
	Event  string  `json:"event"`
	Window int     `json:"window"`
	Green  float64 `json:"green"`
	Rest   float64 `json:"rest"`
}

// Median is a duration in days, per group, with how many accounts it is
// taken over (accounts that have not got there yet are not counted).
type Median struct {
	ID     string  `json:"id"`    // "handoff_day", "first_value_day", "resolution_days"
	Label  string  `json:"label"` // "Day the handoff call was held"
	Green  float64 `json:"green"`
	GreenN int     `json:"green_n"`
	Rest   float64 `json:"rest"`
	RestN  int     `json:"rest_n"`
}

// Share is how many accounts of each group chose an outcome.
type Share struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Green int    `json:"green"`
	Rest  int    `json:"rest"`
}

// Gap is a claimed difference one customer is behind on: green accounts
// do it, this customer has not (yet).
type Gap struct {
	Difference string `json:"difference"` // Difference.ID
	// Text is the sentence the CSM and the customer read: "8 of 10 green
	// accounts completed a training in their first 30 days (2 as a median);
	// Acme has completed none by day 12."
	Text string `json:"text"`
	// Missed is true when the customer can no longer do it in time (the
	// window or due day is past); false when there is still time.
	Missed bool    `json:"missed"`
	Lift   float64 `json:"lift"`
}

// Segment finds a segment by key.
func (r *Report) Segment(key string) (Segment, bool) {
	for _, s := range r.Segments {
		if s.Key == key {
			return s, true
		}
	}
	return Segment{}, false
}
