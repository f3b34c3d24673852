package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
)

// InsightsWorkflowName is the registered name of the insights job, and
// InsightsScheduleID the Temporal Schedule that runs it nightly (created
// by `lifecycle setup` and `lifecycle dev`).
const (
	InsightsWorkflowName = "LifecycleInsights"
	InsightsScheduleID   = "lifecycle-insights"
	// DefaultInsightsCron is when the schedule runs: 03:00 UTC every night.
	DefaultInsightsCron = "0 3 * * *"
)

// insightsOptions: reading 10,000 journeys takes seconds, not minutes; a
// heartbeat a minute notices a dead worker, and three attempts cover a
// store or server hiccup without retrying a broken run all night.
var insightsOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Minute,
	HeartbeatTimeout:    time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3,
	},
}

// Insights runs the insights job once: one activity that reads every
// journey's facts, computes what green accounts do differently and stores
// the report.
func Insights(ctx workflow.Context, req activities.InsightsRequest) (activities.InsightsResult, error) {
	var res activities.InsightsResult
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, insightsOptions), acts.ComputeInsights, req).Get(ctx, &res)
	return res, err
}
