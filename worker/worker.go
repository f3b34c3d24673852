// Package worker runs the journey workflow and its activities. Workers are
// stateless: run as many as the load needs against one task queue.
package worker

import (
	"fmt"
	"path/filepath"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Product is the product name customers see in emails.
const Product = "Lifecycle"

// OutboxDir is where the local mailer keeps emails under the data directory.
func OutboxDir(dataDir string) string { return filepath.Join(dataDir, "outbox") }

// Activities builds the journey's activities with the local outbox mailer.
func Activities(dataDir string) (*activities.Activities, error) {
	box, err := activities.NewOutbox(OutboxDir(dataDir))
	if err != nil {
		return nil, fmt.Errorf("LIFECYCLE_DATA_DIR: %w", err)
	}
	tpl, err := activities.LoadTemplates(Product)
	if err != nil {
		return nil, err
	}
	return &activities.Activities{Mailer: box, Templates: tpl}, nil
}

// New creates a worker on the journey task queue with everything registered.
func New(c client.Client, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, workflows.TaskQueue, sdkworker.Options{})
	Register(w, acts)
	return w
}

// Register registers the workflow and activities on any registry (a worker,
// a replayer, a test environment).
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.CustomerLifecycle, workflow.RegisterOptions{Name: workflows.WorkflowName})
	r.RegisterActivity(acts)
}
