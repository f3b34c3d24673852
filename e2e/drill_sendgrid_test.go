package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/metrics"
	"github.com/seed-a80403e2/lifecycle/internal/sendgridfake"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestDrillSendGridOutage: SendGrid answers 500, 503 and 429 for a stretch.
// Every email of the journey's first day still arrives exactly once, and
// the retries show in the Temporal SDK's activity metrics.
func TestDrillSendGridOutage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	reg := prometheus.NewRegistry()
	ts, c := embedded(t, client.Options{MetricsHandler: metrics.NewTemporalHandler(reg)})
	st, err := store.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	defer st.Close()
	fake := sendgridfake.New(t)
	fake.Enqueue(
		sendgridfake.Answer{Status: http.StatusInternalServerError},
		sendgridfake.Answer{Status: http.StatusServiceUnavailable},
		sendgridfake.Answer{Status: http.StatusTooManyRequests, RateLimitReset: time.Now().Add(time.Second)},
		sendgridfake.Answer{Status: http.StatusInternalServerError},
	)
	tpl, err := activities.LoadTemplates(worker.Product)
	require.NoError(t, err)
	acts := &activities.Activities{Templates: tpl, Mailer: &activities.SendGrid{
		APIKey: fake.APIKey(), BaseURL: fake.URL(), From: activities.Recipient{Name: "CS", Email: "cs@vendor.example"},
		Timeout: 5 * time.Second, Ledger: activities.StoreLedger{Store: st}, Suppressions: st,
	}}
	ts.NewWorker(workflows.TaskQueue, func(r sdkworker.Registry) { worker.Register(r, acts) })

	in := workflows.JourneyInput{
		Account:      workflows.Account{ID: "outage-co", Name: "Outage Co", Plan: "pro", RenewalDate: time.Now().AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@outage.example", TimeZone: "UTC"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example", DealID: "deal-o", Playbook: playbooks.Default(), DayLength: time.Hour,
	}
	_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.WorkflowID(in.Account.ID), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, workflows.CustomerLifecycle, in)
	require.NoError(t, err)

	waitFor(t, "both day-0 emails accepted after the outage", 60*time.Second, func() bool {
		return fake.Pending() == 0 && len(fake.Accepted()) >= 2
	})
	time.Sleep(time.Second) // any duplicate would arrive now
	for _, step := range []string{"handoff:welcome", "handoff:csm-task"} {
		mails := fake.AcceptedWith("step", step)
		require.Len(t, mails, 1, "%s delivered exactly once", step)
		key := mails[0].CustomArgs["idempotency_key"]
		assert.Regexp(t, `^customer:outage-co/j[0-9a-f]+/`+step+`$`, key, "keyed by workflow, journey and step")
		assert.Len(t, fake.AcceptedWith("idempotency_key", key), 1, "%s delivered exactly once", key)
		e, ok, err := st.LedgerGet(ctx, key)
		require.NoError(t, err)
		assert.True(t, ok && e.Status == store.StatusSent, key)
	}
	assert.GreaterOrEqual(t, len(fake.Requests()), 6, "four failures, two successes")

	failed, err := testutil.GatherAndCount(reg, "temporal_activity_execution_failed_total")
	require.NoError(t, err)
	require.Positive(t, failed, "the retries are visible in metrics")
	families, err := reg.Gather()
	require.NoError(t, err)
	var types []string
	for _, f := range families {
		if f.GetName() != "temporal_activity_execution_failed_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "activity_type" && m.GetCounter().GetValue() > 0 {
					types = append(types, l.GetValue())
				}
			}
		}
	}
	assert.NotEmpty(t, types, "failed attempts counted by activity type")
	t.Logf("failed attempts by activity type: %s", strings.Join(types, ", "))
}
