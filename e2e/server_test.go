package e2e

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// embedded runs an embedded Temporal server with the journey's search
// attributes; opts adds to its client's options (a quiet logger is set).
func embedded(t *testing.T, opts client.Options) (*temporaltest.TestServer, client.Client) {
	t.Helper()
	opts.Logger = sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(opts))
	c := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ts.GetDefaultNamespace(), SearchAttributes: workflows.SearchAttributeTypes,
	}); err != nil {
		t.Fatal(err)
	}
	return ts, c
}

// startServer runs an embedded server and a worker whose outbox lives in a
// temp dir.
func startServer(t *testing.T) (client.Client, *activities.Outbox) {
	t.Helper()
	ts, c := embedded(t, client.Options{})
	st, err := store.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box := activities.NewOutbox(st)
	tpl, err := activities.LoadTemplates("Lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	ts.NewWorker(workflows.TaskQueue, func(r worker.Registry) {
		r.RegisterWorkflow(workflows.CustomerLifecycle)
		r.RegisterActivity(&activities.Activities{Mailer: box, Templates: tpl, Tasks: st})
	})
	return c, box
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
