package workflows_test

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestReplaySavedHistories replays histories recorded on a real server by
// earlier versions of the workflow (see e2e.TestJourneyOnARealServer;
// `go test ./e2e -run RealServer -update` writes journey_history.json). A
// change that would break running journeys, such as reordering the commands
// a step issues, fails here. Keep the old files: journeys that started on
// those versions may still be running.
func TestReplaySavedHistories(t *testing.T) {
	files, err := filepath.Glob("testdata/*.json")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 3)
	for _, f := range files {
		r := worker.NewWorkflowReplayer()
		r.RegisterWorkflow(workflows.CustomerLifecycle)
		err := r.ReplayWorkflowHistoryFromJSONFile(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), f)
		require.NoError(t, err, f)
	}
}
