package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// InsightsRunID is the workflow id of the scheduled insights job's runs
// (Temporal adds the time of each), and of a run started on demand.
const InsightsRunID = "lifecycle-insights-run"

// EnsureInsightsSchedule creates the Temporal Schedule that runs the
// insights job (workflows.InsightsScheduleID) on cron, or brings an
// existing one to that cron. Idempotent: setup and dev call it on every
// start. A run still going when the next is due is not doubled.
func EnsureInsightsSchedule(ctx context.Context, c client.Client, cron string, say func(format string, args ...any)) error {
	if cron == "" {
		cron = workflows.DefaultInsightsCron
	}
	spec := client.ScheduleSpec{CronExpressions: []string{cron}}
	// The server keeps a cron as calendars, not as the text: the note says
	// which cron the schedule was made from, to tell a changed setting.
	note := scheduleNote(cron)
	_, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      workflows.InsightsScheduleID,
		Spec:    spec,
		Note:    note,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Action: &client.ScheduleWorkflowAction{
			ID: InsightsRunID, Workflow: workflows.InsightsWorkflowName, TaskQueue: workflows.TaskQueue,
			Args:                []any{activities.InsightsRequest{}},
			WorkflowRunTimeout:  time.Hour,
			WorkflowTaskTimeout: 10 * time.Second,
		},
	})
	if err == nil {
		say("insights schedule %s created (cron %q, UTC)", workflows.InsightsScheduleID, cron)
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("insights schedule: %w", err)
	}
	h := c.ScheduleClient().GetHandle(ctx, workflows.InsightsScheduleID)
	desc, err := h.Describe(ctx)
	if err != nil {
		return fmt.Errorf("insights schedule: %w", err)
	}
	if desc.Schedule.State != nil && desc.Schedule.State.Note == note {
		say("insights schedule %s found (cron %q, UTC)", workflows.InsightsScheduleID, cron)
		return nil
	}
	err = h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
		in.Description.Schedule.Spec = &spec
		if in.Description.Schedule.State == nil {
			in.Description.Schedule.State = &client.ScheduleState{}
		}
		in.Description.Schedule.State.Note = note
		return &client.ScheduleUpdate{Schedule: &in.Description.Schedule}, nil
	}})
	if err != nil {
		return fmt.Errorf("insights schedule: %w", err)
	}
	say("insights schedule %s now runs on cron %q (UTC)", workflows.InsightsScheduleID, cron)
	return nil
}

// scheduleNote is the schedule's note for a cron.
func scheduleNote(cron string) string {
	return fmt.Sprintf("lifecycle insights job, cron %q (UTC), set by lifecycle setup or dev (LIFECYCLE_INSIGHTS_CRON)", cron)
}
