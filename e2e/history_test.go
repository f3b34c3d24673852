package e2e

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/histories"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

var update = flag.Bool("update", false, "write the histories recorded by this run to workflows/testdata/corpus (RecordCorpus, RealServer)")

// TestJourneyOnARealServer runs a short journey end to end on the embedded
// server: messages of every kind, a rejected update, pause and resume, churn.
// Its history must hold no trace of the rejected update; with -update it
// joins the replay corpus as corpus/real-server.run1.json
// (testdata/journey_history.json is the same journey on revision 1: kept,
// never rewritten).
func TestJourneyOnARealServer(t *testing.T) {
	c, box := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	in := workflows.JourneyInput{
		Account:      workflows.Account{ID: "replay-co", Name: "Replay Co", Plan: "growth", RenewalDate: time.Now().AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@replay.example", TimeZone: "Asia/Tokyo"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example",
		DealID:       "deal-7",
		Playbook:     playbooks.Default(),
		DayLength:    time.Second,
		Revision:     workflows.Revision,
	}
	id := workflows.WorkflowID(in.Account.ID)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.CustomerLifecycle, in)
	require.NoError(t, err)

	sent := func(step string) func() bool {
		return func() bool {
			msgs, _ := box.List(ctx)
			return slices.ContainsFunc(msgs, func(m activities.Message) bool { return m.Step == step })
		}
	}
	waitFor(t, "the welcome email", 10*time.Second, sent("handoff:welcome"))

	upd := func(name, uid string, arg any) error {
		h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: id, UpdateID: uid, UpdateName: name, Args: []any{arg}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return err
		}
		return h.Get(ctx, nil)
	}
	require.NoError(t, upd(workflows.UpdateEvent, "ev-1", workflows.EngagementEvent{ID: "ev-1", Type: "login"}))
	err = upd(workflows.UpdateEvent, "ev-1-again", workflows.EngagementEvent{ID: "ev-1", Type: "login"})
	assert.True(t, workflows.IsDuplicateEvent(err), "%v", err)
	err = upd(workflows.UpdateOutcome, "rejected-outcome", workflows.Outcome{Kind: workflows.OutcomeMilestoneDone, MilestoneID: "no-such-milestone"})
	require.Error(t, err)
	assert.True(t, workflows.IsValidationError(err), "%v", err)
	require.NoError(t, upd(workflows.UpdateOutcome, "handoff", workflows.Outcome{Kind: workflows.OutcomeHandoffHeld}))
	waitFor(t, "the day-3 training invite", 15*time.Second, sent("touchpoint:training-basics"))
	require.NoError(t, upd(workflows.UpdateComplaint, "complaint", workflows.Complaint{Severity: "low", Summary: "Slow exports"}))
	require.NoError(t, upd(workflows.UpdatePause, "pause", workflows.PauseRequest{Reason: "holiday"}))
	require.NoError(t, upd(workflows.UpdateResume, "resume", workflows.ResumeRequest{}))
	require.NoError(t, upd(workflows.UpdateOutcome, "churn", workflows.Outcome{Kind: workflows.OutcomeChurned, Note: "moved on"}))

	var final workflows.State
	require.NoError(t, run.Get(ctx, &final))
	assert.Equal(t, workflows.PhaseEnded, final.Phase)
	assert.Len(t, final.OpenComplaints, 1)

	hist := &historypb.History{}
	iter := c.GetWorkflowHistory(ctx, id, run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		hist.Events = append(hist.Events, ev)
	}
	data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
	require.NoError(t, err)
	for _, rejected := range []string{"rejected-outcome", "no-such-milestone", "ev-1-again"} {
		assert.NotContains(t, string(data), rejected, "a rejected update leaves nothing in history")
	}
	accepted := 0
	for _, ev := range hist.Events {
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED {
			accepted++
		}
	}
	assert.Equal(t, 6, accepted, "the six valid updates")
	assert.True(t, strings.Contains(string(data), "LifecycleHealth"), "search attributes were upserted")
	// Since revision 2 the worker records the revision a run takes, once:
	// exactly one version marker (journey-revision, the current Revision),
	// no other marker, and TemporalChangeVersion names that change only.
	h, err := histories.Of(hist)
	require.NoError(t, err)
	assertRevisionMarker(t, h, "history")
	assert.Equal(t, []string{fmt.Sprintf("journey-revision-%d", workflows.Revision)}, changeVersions(t, hist))
	t.Logf("history: %d events, %d bytes", len(hist.Events), len(data))

	if *update {
		writeCorpusFile(t, "real-server.run1.json", data)
	}
}

// changeVersions lists the values the history upserted to
// TemporalChangeVersion (GetVersion's search attribute).
func changeVersions(t *testing.T, hist *historypb.History) []string {
	t.Helper()
	var out []string
	for _, ev := range hist.Events {
		p := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()["TemporalChangeVersion"]
		if p == nil {
			continue
		}
		var v []string
		require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v), "event %d", ev.GetEventId())
		out = append(out, v...)
	}
	return out
}
