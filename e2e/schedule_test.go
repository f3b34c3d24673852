package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestInsightsScheduleOnARealServer: setup's schedule is created once,
// found on the next start, moved to a new cron when the setting changes,
// refuses a cron the server cannot parse, and a triggered run stores a
// report.
func TestInsightsScheduleOnARealServer(t *testing.T) {
	e := newInsightsEnv(t, insightsPlaybook(), time.Hour)
	ctx := context.Background()
	var said []string
	say := func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }

	require.NoError(t, worker.EnsureInsightsSchedule(ctx, e.c, "", say))
	require.NoError(t, worker.EnsureInsightsSchedule(ctx, e.c, workflows.DefaultInsightsCron, say))
	require.NoError(t, worker.EnsureInsightsSchedule(ctx, e.c, "30 4 * * 1", say))
	assert.Equal(t, []string{
		`insights schedule lifecycle-insights created (cron "0 3 * * *", UTC)`,
		`insights schedule lifecycle-insights found (cron "0 3 * * *", UTC)`,
		`insights schedule lifecycle-insights now runs on cron "30 4 * * 1" (UTC)`,
	}, said)
	h := e.c.ScheduleClient().GetHandle(ctx, workflows.InsightsScheduleID)
	desc, err := h.Describe(ctx)
	require.NoError(t, err)
	require.Len(t, desc.Schedule.Spec.Calendars, 1, "the server keeps the cron as a calendar")
	assert.Equal(t, []client.ScheduleRange{{Start: 4, End: 4, Step: 1}}, desc.Schedule.Spec.Calendars[0].Hour)
	assert.Contains(t, desc.Schedule.State.Note, `cron "30 4 * * 1"`)
	assert.Equal(t, enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, desc.Schedule.Policy.Overlap, "a run still going is not doubled")
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	require.True(t, ok)
	assert.Equal(t, workflows.InsightsWorkflowName, action.Workflow)
	assert.Equal(t, workflows.TaskQueue, action.TaskQueue)

	assert.Error(t, worker.EnsureInsightsSchedule(ctx, e.c, "not a cron", say))

	// A run now, as the schedule would start it at its time.
	e.startAs(t, "scheduled-co", "grace@vendor.example")
	require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
	waitFor(t, "the scheduled run's report", 30*time.Second, func() bool {
		run, ok, err := e.st.LatestInsights(ctx)
		require.NoError(t, err)
		return ok && run.Journeys >= 1
	})
}
