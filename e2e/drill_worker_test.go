package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestDrillWorkerDownWhileEventsArrive: no worker runs for a (two-second)
// journey day while an integration keeps posting events with ?async=true.
// The API accepts each at once; when a worker starts again the journey
// applies all of them, in the order they arrived.
func TestDrillWorkerDownWhileEventsArrive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ts, c := embedded(t, client.Options{})
	st, err := store.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	tpl, err := activities.LoadTemplates(worker.Product)
	require.NoError(t, err)
	acts := &activities.Activities{Templates: tpl, Mailer: activities.NewOutbox(st)}
	register := func(r sdkworker.Registry) { worker.Register(r, acts) }
	w := ts.NewWorker(workflows.TaskQueue, register)

	api := httptest.NewServer(apiserver.New(apiserver.Options{
		Client: c, Namespace: ts.GetDefaultNamespace(), APIKeys: map[string]string{"integration-key-1-01234567": "integration", "csm-key-0001-0123456789ab": "csm"},
		DayLength: 2 * time.Second, Logger: zap.NewNop(),
	}).Handler())
	defer api.Close()
	in := workflows.JourneyInput{
		Account:      workflows.Account{ID: "down-co", Name: "Down Co", Plan: "pro", RenewalDate: time.Now().AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@down.example", TimeZone: "UTC"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example", DealID: "deal-d", Playbook: playbooks.Default(), DayLength: 2 * time.Second,
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.WorkflowID(in.Account.ID), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, workflows.CustomerLifecycle, in)
	require.NoError(t, err)
	waitFor(t, "the welcome email", 10*time.Second, func() bool {
		msgs, _ := st.OutboxList(ctx, "down-co", 50)
		return slices.ContainsFunc(msgs, func(m store.OutboxMessage) bool { return m.Step == "handoff:welcome" })
	})

	w.Stop()
	post := func(id string) int {
		body, _ := json.Marshal(map[string]any{"id": id, "type": "login"})
		req, _ := http.NewRequest("POST", api.URL+"/v1/customers/down-co/events?async=true", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer integration-key-1-01234567")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	var sent []string
	deadline := time.Now().Add(2 * time.Second) // one journey day without a worker
	for i := 0; time.Now().Before(deadline); i++ {
		id := fmt.Sprintf("down-%02d", i)
		require.Equal(t, http.StatusAccepted, post(id), "accepted while no worker runs")
		sent = append(sent, id)
		time.Sleep(50 * time.Millisecond)
	}
	assert.Equal(t, http.StatusAccepted, post(sent[0]), "a repeat is accepted too ...")
	bad, _ := json.Marshal(map[string]any{"id": "", "type": "login"})
	req, _ := http.NewRequest("POST", api.URL+"/v1/customers/down-co/events?async=true", bytes.NewReader(bad))
	req.Header.Set("Authorization", "Bearer integration-key-1-01234567")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode, "a malformed event never reaches Temporal")

	ts.NewWorker(workflows.TaskQueue, register)
	var state workflows.State
	waitFor(t, "every queued event applied", 30*time.Second, func() bool {
		v, err := c.QueryWorkflow(ctx, workflows.WorkflowID("down-co"), "", workflows.QueryState)
		return err == nil && v.Get(&state) == nil && state.EventsCounted >= len(sent)
	})
	assert.Equal(t, len(sent), state.EventsCounted, "... and counted once")
	v, err := c.QueryWorkflow(ctx, workflows.WorkflowID("down-co"), "", workflows.QueryTimeline)
	require.NoError(t, err)
	var tl workflows.Timeline
	require.NoError(t, v.Get(&tl))
	var order []string
	for _, e := range tl.Entries {
		if e.Kind == workflows.EntryEvent {
			order = append(order, e.Step[len("event:"):])
		}
	}
	assert.Equal(t, sent, order, "applied in the order they arrived")
	t.Logf("%d events queued while the worker was down", len(sent))
}
