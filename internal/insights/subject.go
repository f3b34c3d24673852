package insights

import "time"

// Subject is one customer as a message about it needs them at send time:
// the best-practices email and the CSM's briefings fill in the customer's
// gaps against green accounts from the latest report.
type Subject struct {
	Account string `json:"account"` // the account's name, as the sentences say it
	Plan    string `json:"plan,omitempty"`
	Facts   Facts  `json:"facts"`
}

// Summary is the small part of a report kept for trends: how the portfolio
// stood on the day of the run.
type Summary struct {
	ComputedAt   time.Time      `json:"computed_at"`
	Journeys     int            `json:"journeys"`
	WithoutFacts int            `json:"without_facts"`
	Quadrants    map[string]int `json:"quadrants"`
	Health       map[string]int `json:"health"`
	// Claimed counts the differences claimed across all accounts.
	Claimed int `json:"claimed"`
}

// Summary is the report's summary.
func (r *Report) Summary() Summary {
	s := Summary{ComputedAt: r.ComputedAt, Journeys: r.Journeys, WithoutFacts: r.WithoutFacts, Quadrants: r.Quadrants, Health: r.Health}
	if all, ok := r.Segment("all"); ok {
		for _, d := range all.Differences {
			if d.Claimed {
				s.Claimed++
			}
		}
	}
	return s
}
