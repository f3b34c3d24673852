package workflows_test

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestReplaySavedHistory replays a history recorded on a real server (see
// e2e.TestJourneyOnARealServer; regenerate with `go test ./e2e -run
// RealServer -update`). A change that would break running journeys, such as
// reordering the commands a step issues, fails here.
func TestReplaySavedHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.CustomerLifecycle)
	err := r.ReplayWorkflowHistoryFromJSONFile(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), "testdata/journey_history.json")
	require.NoError(t, err)
}
