package workflows_test

import (
	"encoding/json"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/seed-a80403e2/lifecycle/internal/histories"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// savedHistories is how many histories testdata holds at least: the three
// recorded by earlier releases (testdata/*.json) and the corpus
// (testdata/corpus, written by e2e.TestRecordCorpus). Raise it when files
// are added; never lower it.
const savedHistories = 3 + 9 + 9 + 9 + 9 + 9 + 10 + 10

// historyFiles lists every saved history under testdata, corpus included.
func historyFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			files = append(files, path)
		}
		return err
	})
	require.NoError(t, err)
	return files
}

func replay(h *historypb.History) error {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflow(workflows.CustomerLifecycle)
	return r.ReplayWorkflowHistory(log.NewStructuredLogger(slog.New(slog.DiscardHandler)), h)
}

// TestReplaySavedHistories replays every history recorded on a real server
// by this and earlier versions of the workflow: the three files in
// testdata (revisions 0 and 1, days 0-3) and the corpus in testdata/corpus
// (every kind of step, continue-as-new, recorded by e2e.TestRecordCorpus;
// `go test ./e2e -run RecordCorpus -update`). A change that would break
// running journeys, such as reordering the commands a step issues, fails
// here. Never delete a history: journeys recorded by earlier releases may
// still be running.
func TestReplaySavedHistories(t *testing.T) {
	files := historyFiles(t, "testdata")
	require.GreaterOrEqual(t, len(files), savedHistories)
	for _, f := range files {
		h, err := histories.Load(f)
		require.NoError(t, err)
		require.NoError(t, replay(h.Raw), f)
	}
}

// TestRevisionOneHistoryWithLongFieldsReplays: a journey that began before
// the input limits (revision 1) with, say, a 250-character account name is
// still running; replaying its history must not apply today's limits to its
// input (which would fail the run where its history goes on).
func TestRevisionOneHistoryWithLongFieldsReplays(t *testing.T) {
	for _, f := range []string{"testdata/journey_history.json", "testdata/journey_history_before_revision.json"} {
		h, err := histories.Load(f)
		require.NoError(t, err)
		started := h.Raw.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
		payload := started.GetInput().GetPayloads()[0]
		var in map[string]any
		require.NoError(t, json.Unmarshal(payload.GetData(), &in))
		in["account"].(map[string]any)["name"] = strings.Repeat("Long Name Co ", 20) // 260 characters
		in["deal_id"] = strings.Repeat("d", 300)
		data, err := json.Marshal(in)
		require.NoError(t, err)
		payload.Data = data
		require.NoError(t, replay(h.Raw), f)
	}
}
