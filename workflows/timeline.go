package workflows

import (
	"slices"
	"time"
)

// Timeline entry kinds.
const (
	EntryTouchpoint = "touchpoint" // an email to the customer
	EntryTask       = "task"       // the CSM is asked to do something
	EntryEscalation = "escalation" // a manager or sponsor is told
	EntryEvent      = "event"      // the customer did something
	EntryOutcome    = "outcome"    // a CSM recorded something
	EntryComplaint  = "complaint"
	EntrySystem     = "system" // phase changes, pauses, terms, failures
)

// MaxTimeline is how many entries a journey keeps in full; older ones are
// folded into counts so the state stays small over years.
const MaxTimeline = 400

// Entry is one thing that happened in a journey.
type Entry struct {
	At      time.Time `json:"at"`
	Day     float64   `json:"day"` // journey day, pauses excluded
	Kind    string    `json:"kind"`
	Step    string    `json:"step"` // stable id of the step, e.g. "touchpoint:review-30"
	Summary string    `json:"summary"`
	Cause   string    `json:"cause"`
	To      string    `json:"to,omitempty"`
}

// TimelineLog is the bounded timeline: the newest entries in full and a
// summary of the ones folded away.
type TimelineLog struct {
	Entries []Entry      `json:"entries"`
	Older   OlderEntries `json:"older"`
}

// OlderEntries summarises entries no longer kept in full.
type OlderEntries struct {
	Count  int            `json:"count"`
	ByKind map[string]int `json:"by_kind,omitempty"`
	From   time.Time      `json:"from,omitzero"`
	To     time.Time      `json:"to,omitzero"`
}

func (t *TimelineLog) add(e Entry) {
	t.Entries = append(t.Entries, e)
	if over := len(t.Entries) - MaxTimeline; over > 0 {
		for _, old := range t.Entries[:over] {
			t.Older.fold(old)
		}
		t.Entries = slices.Clone(t.Entries[over:])
	}
}

func (o *OlderEntries) fold(e Entry) {
	if o.ByKind == nil {
		o.ByKind = map[string]int{}
	}
	if o.Count == 0 {
		o.From = e.At
	}
	o.Count++
	o.ByKind[e.Kind]++
	o.To = e.At
}

// Timeline is the answer to the timeline query.
type Timeline struct {
	CustomerID string       `json:"customer_id"`
	Entries    []Entry      `json:"entries"`
	Older      OlderEntries `json:"older"`
}
