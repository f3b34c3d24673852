package activities

import (
	"context"
	"time"

	"go.temporal.io/sdk/temporal"
)

// TaskRow is one task as the work lists read it.
type TaskRow struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Title        string    `json:"title"`
	Cause        string    `json:"cause"`
	Step         string    `json:"step"`
	OwnerRole    string    `json:"owner_role"`
	OwnerEmail   string    `json:"owner_email"`
	Status       string    `json:"status"`
	Due          time.Time `json:"due"`
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	OpenedAt     time.Time `json:"opened_at"`
}

// TaskSync is a journey's whole task list at one version: it replaces what
// the store holds for the customer when it is newer (a later journey, or a
// later version of the same one), so a retried older write changes nothing.
type TaskSync struct {
	CustomerID  string    `json:"customer_id"`
	Journey     string    `json:"journey"`
	Started     time.Time `json:"started"` // the journey's day 0: orders journeys
	AccountName string    `json:"account_name"`
	Version     int       `json:"version"`
	Tasks       []TaskRow `json:"tasks"` // open and snoozed ones only
}

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
