package apiserver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

func payloadText(t *testing.T, p *commonpb.Payload) string {
	t.Helper()
	if p == nil {
		return ""
	}
	var s string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &s))
	return s
}

// TestTemporalUIReadsLikeTheDashboard: a journey started through the API
// carries a summary and details that the Temporal Web UI shows (who the
// customer is), current details from the workflow (phase, day, health, the
// next step in words) and a summary on its timer (what it waits for).
func TestTemporalUIReadsLikeTheDashboard(t *testing.T) {
	e := newEnv(t)
	id := "acme-meta"
	status, body := e.do("POST", "/v1/customers", salesKey, startBody(id))
	require.Equal(t, http.StatusCreated, status, body)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wid := workflows.WorkflowID(id)

	desc, err := e.client.DescribeWorkflowExecution(ctx, wid, "")
	require.NoError(t, err)
	um := desc.GetExecutionConfig().GetUserMetadata()
	assert.Equal(t, "Acme acme-meta · enterprise plan · CSM Grace Hopper", payloadText(t, um.GetSummary()))
	details := payloadText(t, um.GetDetails())
	for _, want := range []string{"**Acme acme-meta** (acme-meta)", "- Deal: deal-acme-meta", "- Plan: enterprise",
		"- Renewal: " + time.Now().AddDate(1, 0, 0).Format("2006-01-02"), "- Champion: Ada Lovelace <ada@acme-meta.example> (Europe/London)",
		"- CSM: Grace Hopper <grace@vendor.example>", "- Playbook: default@v"} {
		assert.Contains(t, details, want)
	}

	// The state's next step, in words, is what the details and the timer name.
	status, state := e.do("GET", "/v1/customers/"+id, csmKey, nil)
	require.Equal(t, http.StatusOK, status, state)
	next := state["next_touchpoints"].([]any)[0].(map[string]any)
	assert.Equal(t, "handoff:reminder", next["step"], "the id stays for machines")
	assert.Equal(t, "Handoff call reminder", next["label"])

	var current string
	require.Eventually(t, func() bool {
		v, err := e.client.QueryWorkflow(ctx, wid, "", "__temporal_workflow_metadata")
		if err != nil {
			return false
		}
		var md sdkpb.WorkflowMetadata
		if v.Get(&md) != nil {
			return false
		}
		current = md.GetCurrentDetails()
		return current != ""
	}, 10*time.Second, 50*time.Millisecond, "current details set")
	for _, want := range []string{"**Acme acme-meta · enterprise plan · CSM Grace Hopper**", "Phase **handoff**, day 0", "health **",
		"Next: **Handoff call reminder**"} {
		assert.Contains(t, current, want)
	}
	assert.NotContains(t, current, "handoff:reminder", "people read words, not ids")

	var summaries []string
	iter := e.client.GetWorkflowHistory(ctx, wid, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		if ev.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED {
			summaries = append(summaries, payloadText(t, ev.GetUserMetadata().GetSummary()))
		}
	}
	require.NotEmpty(t, summaries, "the journey sleeps on a timer until its next step")
	assert.Equal(t, "next: Handoff call reminder", summaries[len(summaries)-1])
	for _, s := range summaries {
		assert.True(t, strings.HasPrefix(s, "next: "), s)
	}

	// Reassigned, the current details name the new CSM.
	status, body = e.do("POST", "/v1/customers/"+id+"/reassign", csmKey, map[string]any{
		"csm": map[string]any{"name": "Katherine Johnson", "email": "katherine@vendor.example"}, "reason": "rebalance"})
	require.Equal(t, http.StatusOK, status, body)
	require.Eventually(t, func() bool {
		v, err := e.client.QueryWorkflow(ctx, wid, "", "__temporal_workflow_metadata")
		var md sdkpb.WorkflowMetadata
		return err == nil && v.Get(&md) == nil && strings.Contains(md.GetCurrentDetails(), "CSM Katherine Johnson")
	}, 10*time.Second, 50*time.Millisecond, "current details follow the journey")
}
