package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// Portfolio lists every running journey with its facts and search
// attributes (the worker's is Temporal visibility). progress is told how
// many journeys were read so far.
type Portfolio interface {
	Accounts(ctx context.Context, progress func(read int)) ([]insights.Account, error)
}

// InsightResults is where runs are kept (the store).
type InsightResults interface {
	SaveInsights(ctx context.Context, run store.InsightRun) (int64, error)
	PruneInsights(ctx context.Context, before time.Time) (int64, error)
}

// InsightsKeep is how long runs are kept for the trends.
const InsightsKeep = 366 * 24 * time.Hour

// InsightsRequest asks for one run of the insights job.
type InsightsRequest struct {
	MinSample int `json:"min_sample,omitempty"` // 0: insights.DefaultMinSample
}

// InsightsResult is what a run did.
type InsightsResult struct {
	RunID        int64         `json:"run_id"`
	ComputedAt   time.Time     `json:"computed_at"`
	Journeys     int           `json:"journeys"`
	WithoutFacts int           `json:"without_facts"`
	Claimed      int           `json:"claimed"`
	Took         time.Duration `json:"took"`
}

// ComputeInsights reads every journey's facts, compares green accounts with
// the rest, and stores the report with its date. It heartbeats its progress,
// so a worker that dies mid-way is noticed within a minute and the run is
// retried elsewhere; a run is one insert, so a retry stores no half report.
func (a *Activities) ComputeInsights(ctx context.Context, req InsightsRequest) (InsightsResult, error) {
	if a.Portfolio == nil || a.Results == nil {
		return InsightsResult{}, fmt.Errorf("insights job: this worker has no portfolio reader or store")
	}
	begin := time.Now()
	accounts, err := a.Portfolio.Accounts(ctx, func(read int) {
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, read)
		}
	})
	if err != nil {
		return InsightsResult{}, fmt.Errorf("insights job: listing journeys: %w", err)
	}
	report := insights.Compute(accounts, a.now(), req.MinSample)
	report.Took = time.Since(begin)
	summary := report.Summary()
	sb, err := json.Marshal(summary)
	if err != nil {
		return InsightsResult{}, err
	}
	rb, err := json.Marshal(report)
	if err != nil {
		return InsightsResult{}, err
	}
	id, err := a.Results.SaveInsights(ctx, store.InsightRun{ComputedAt: report.ComputedAt, Journeys: report.Journeys, Summary: sb, Report: rb})
	if err != nil {
		return InsightsResult{}, fmt.Errorf("insights job: storing the report: %w", err)
	}
	if _, err := a.Results.PruneInsights(ctx, report.ComputedAt.Add(-InsightsKeep)); err != nil && activity.IsActivity(ctx) {
		// The new run is stored; old ones go next time.
		activity.GetLogger(ctx).Warn("insights job: old runs not pruned", "error", err)
	}
	res := InsightsResult{RunID: id, ComputedAt: report.ComputedAt, Journeys: report.Journeys,
		WithoutFacts: report.WithoutFacts, Claimed: summary.Claimed, Took: time.Since(begin)}
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Info("insights computed", "run_id", id, "journeys", res.Journeys, "claimed", res.Claimed, "took", res.Took)
	}
	return res, nil
}
