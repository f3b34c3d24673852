package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// Insights gives the latest insights report to the messages filled at send
// time. Latest answers nil when no run is stored yet.
type Insights interface {
	Latest(ctx context.Context) (*insights.Report, error)
}

// MaxGaps is how many gaps a message names: the few that matter most.
const MaxGaps = 3

// StoreInsights reads the latest report from the store, decoding each run
// once: a report can be megabytes, and every email of the night reads the
// same one. A newer run replaces it after at most CheckEvery.
type StoreInsights struct {
	Store      *store.Store
	CheckEvery time.Duration // 0: a minute
	Now        func() time.Time

	mu      sync.Mutex
	id      int64
	report  *insights.Report
	checked time.Time
}

// Latest implements Insights.
func (s *StoreInsights) Latest(ctx context.Context) (*insights.Report, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	every := s.CheckEvery
	if every <= 0 {
		every = time.Minute
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.report != nil && now().Sub(s.checked) < every {
		return s.report, nil
	}
	run, ok, err := s.Store.LatestInsights(ctx)
	if err != nil || !ok {
		return nil, err
	}
	s.checked = now()
	if run.ID == s.id && s.report != nil {
		return s.report, nil
	}
	var r insights.Report
	if err := json.Unmarshal(run.Report, &r); err != nil {
		return nil, fmt.Errorf("insights run %d: %w", run.ID, err)
	}
	s.id, s.report = run.ID, &r
	return s.report, nil
}

// gaps is the customer's gaps against green accounts, with the segment they
// were judged in. None without insights, without enough data, or when the
// store cannot be read: a message is never held up for them, and says
// nothing it cannot back.
func (a *Activities) gaps(ctx context.Context, about *insights.Subject, now time.Time) ([]insights.Gap, insights.Segment) {
	if a.Insights == nil || about == nil {
		return nil, insights.Segment{}
	}
	r, err := a.Insights.Latest(ctx)
	if err != nil {
		if activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Warn("insights not read; the message goes out without them", "error", err)
		}
		return nil, insights.Segment{}
	}
	if r == nil {
		return nil, insights.Segment{}
	}
	seg := r.SegmentFor(about.Plan, "")
	return insights.GapsFor(about.Facts, now, about.Account, seg, MaxGaps), seg
}

// practices is the best-practices email's text from the customer's gaps: what
// the most successful customers did, in numbers, or "" (the template's own
// text then applies).
func practices(gaps []insights.Gap, seg insights.Segment) string {
	var b strings.Builder
	for _, g := range gaps {
		for _, d := range seg.Differences {
			if d.ID == g.Difference {
				fmt.Fprintf(&b, "- %d of %d of our most successful customers %s.\n", d.Green, d.GreenOf, d.Text)
			}
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// briefing is the CSM's paragraph on the customer's gaps, or "".
func briefing(gaps []insights.Gap, account string) string {
	if len(gaps) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n\nWhere %s stands against green accounts:\n", account)
	for _, g := range gaps {
		fmt.Fprintf(&b, "- %s\n", g.Text)
	}
	return strings.TrimRight(b.String(), "\n")
}
