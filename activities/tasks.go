package activities

import (
	"context"

	"go.temporal.io/sdk/temporal"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// TaskRow is one task as the work lists read it; TaskSync a journey's
// whole task list at one version (see store.TaskSync).
type (
	TaskRow  = store.Task
	TaskSync = store.TaskSync
)

// TaskStore keeps the work lists.
type TaskStore interface {
	SyncTasks(ctx context.Context, s TaskSync) (applied bool, err error)
}

// SaveTasks writes a journey's tasks to the store, for GET /v1/tasks and
// the "My work" page. The journey keeps the truth; this is its index.
func (a *Activities) SaveTasks(ctx context.Context, s TaskSync) error {
	if a.Tasks == nil {
		return temporal.NewNonRetryableApplicationError("this worker has no store for tasks", PermanentFailureType, nil)
	}
	_, err := a.Tasks.SyncTasks(ctx, s)
	return err
}
