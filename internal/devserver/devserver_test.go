package devserver

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.uber.org/zap"
)

const stageAttr = "DevTestStage"

var stageKey = temporal.NewSearchAttributeKeyKeyword(stageAttr)

func upsertStageWorkflow(ctx workflow.Context, stage string) (string, error) {
	return stage, workflow.UpsertTypedSearchAttributes(ctx, stageKey.ValueSet(stage))
}

func waitForSignalWorkflow(ctx workflow.Context) (string, error) {
	var msg string
	workflow.GetSignalChannel(ctx, "go").Receive(ctx, &msg)
	return "got " + msg, nil
}

// testLogger prints server warnings to stderr. zaptest would route them to
// t.Log, which panics if a server goroutine logs after the test has ended.
func testLogger(t *testing.T) *zap.Logger {
	cfg := zap.NewDevelopmentConfig()
	cfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	l, err := cfg.Build()
	require.NoError(t, err)
	return l
}

func startServer(t *testing.T, ctx context.Context, dir string, uiPort int) *Server {
	t.Helper()
	s, err := Start(ctx, Options{
		DataDir:          dir,
		UIPort:           uiPort,
		SearchAttributes: map[string]enumspb.IndexedValueType{stageAttr: enumspb.INDEXED_VALUE_TYPE_KEYWORD},
		Logger:           testLogger(t),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	return s
}

func dial(t *testing.T, s *Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

func runWorker(t *testing.T, c client.Client, queue string, wf interface{}) worker.Worker {
	t.Helper()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(wf)
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return w
}

func TestStartRegistersAndRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	s := startServer(t, ctx, t.TempDir(), 0)
	c := dial(t, s)

	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.Namespace()})
	require.NoError(t, err)
	require.Equal(t, "default", ns.GetNamespaceInfo().GetName())
	require.Equal(t, 7*24*time.Hour, ns.GetConfig().GetWorkflowExecutionRetentionTtl().AsDuration())

	sas, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.Namespace()})
	require.NoError(t, err)
	require.Equal(t, enumspb.INDEXED_VALUE_TYPE_KEYWORD, sas.GetCustomAttributes()[stageAttr])

	runUpsert(t, ctx, s, "onboarding")

	if s.UIAddress() == "" {
		t.Fatal("UI did not start (see logs)")
	}
	resp, err := http.Get(s.UIAddress() + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "<html")

	require.NoError(t, s.Stop())
	require.NoError(t, s.Stop(), "second Stop")
}

func TestWorkflowSurvivesRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	dir := t.TempDir()

	first := startServer(t, ctx, dir, -1)
	require.Empty(t, first.UIAddress())
	c1 := dial(t, first)
	w1 := runWorker(t, c1, "devserver-restart", waitForSignalWorkflow)
	run, err := c1.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "survivor", TaskQueue: "devserver-restart"},
		waitForSignalWorkflow)
	require.NoError(t, err)
	// Let the first workflow task run so the workflow is really blocked on the signal.
	require.Eventually(t, func() bool {
		d, err := c1.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
		return err == nil && d.GetPendingWorkflowTask() == nil && d.GetWorkflowExecutionInfo().GetHistoryLength() >= 4
	}, 10*time.Second, 100*time.Millisecond)
	w1.Stop()
	c1.Close()
	require.NoError(t, first.Stop())

	second := startServer(t, ctx, dir, -1)
	c2 := dial(t, second)
	d, err := c2.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID())
	require.NoError(t, err)
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus())

	runWorker(t, c2, "devserver-restart", waitForSignalWorkflow)
	require.NoError(t, c2.SignalWorkflow(ctx, run.GetID(), run.GetRunID(), "go", "hello"))
	var got string
	require.NoError(t, c2.GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &got))
	require.Equal(t, "got hello", got)
}

func TestStartRejectsMissingDataDir(t *testing.T) {
	_, err := Start(context.Background(), Options{})
	require.ErrorContains(t, err, "DataDir")
}

func TestStartRejectsBusyFrontendPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, err = Start(context.Background(), Options{
		DataDir: t.TempDir(), FrontendPort: l.Addr().(*net.TCPAddr).Port, UIPort: -1,
	})
	require.ErrorContains(t, err, "frontend port")
}

func TestSearchAttributeTypeConflict(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	require.NoError(t, startServer(t, ctx, dir, -1).Stop())

	_, err := Start(ctx, Options{
		DataDir:          dir,
		UIPort:           -1,
		SearchAttributes: map[string]enumspb.IndexedValueType{stageAttr: enumspb.INDEXED_VALUE_TYPE_INT},
	})
	require.ErrorContains(t, err, "already registered as")
}

// visibilityRows counts the workflows listed in one SQLite file.
func visibilityRows(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM executions_visibility`).Scan(&n))
	return n
}

// runUpsert runs upsertStageWorkflow to completion and waits until it is
// listed by its search attribute.
func runUpsert(t *testing.T, ctx context.Context, s *Server, id string) {
	t.Helper()
	c := dial(t, s)
	w := runWorker(t, c, "devserver-"+id, upsertStageWorkflow)
	defer w.Stop()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: "devserver-" + id},
		upsertStageWorkflow, id)
	require.NoError(t, err)
	var got string
	require.NoError(t, run.Get(ctx, &got))
	require.Equal(t, id, got)
	// Visibility is written asynchronously after completion.
	require.Eventually(t, func() bool {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: s.Namespace(), Query: stageAttr + " = '" + id + "'",
		})
		return err == nil && len(resp.GetExecutions()) == 1
	}, 10*time.Second, 100*time.Millisecond)
}

func TestNewDataDirKeepsVisibilityInItsOwnFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	dir := t.TempDir()
	s := startServer(t, ctx, dir, -1)
	runUpsert(t, ctx, s, "split")

	require.Positive(t, visibilityRows(t, filepath.Join(dir, visibilityFileName)))
	require.Zero(t, visibilityRows(t, filepath.Join(dir, dbFileName)), "visibility rows written to the main file")
	require.NoError(t, s.Stop())
	shards, err := storedShards(filepath.Join(dir, dbFileName))
	require.NoError(t, err)
	require.EqualValues(t, newShards, shards)
	require.Equal(t, 1, dynamicConfig(layout{main: &config.SQL{}, visibility: &config.SQL{}})[dynamicconfig.MatchingNumTaskqueueReadPartitions.Key()])
}

// A data directory from before the split has temporal.db only, with one
// history shard: it keeps its visibility rows in that file, so it keeps
// listing the workflows it has, and its shard count, so it finds them.
func TestLegacyDataDirKeepsItsLayout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	mainPath := filepath.Join(dir, dbFileName)

	legacy, err := Start(ctx, Options{
		DataDir: dir, UIPort: -1, Logger: testLogger(t),
		SearchAttributes: map[string]enumspb.IndexedValueType{stageAttr: enumspb.INDEXED_VALUE_TYPE_KEYWORD},
		openLayout: func(dataDir string) (layout, error) {
			c := sqliteConfig(mainPath)
			return layout{main: c, shards: 1}, sqliteschema.SetupSchema(c)
		},
	})
	require.NoError(t, err)
	runUpsert(t, ctx, legacy, "before")
	// Workflows left running: with a different shard count most of them
	// would map to a shard that does not hold them.
	c := dial(t, legacy)
	var waiting []client.WorkflowRun
	for i := range 8 {
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("waiting-%d", i), TaskQueue: "devserver-legacy"},
			waitForSignalWorkflow)
		require.NoError(t, err)
		waiting = append(waiting, run)
	}
	require.NoError(t, legacy.Stop())
	rows := visibilityRows(t, mainPath)
	require.Positive(t, rows)
	shards, err := storedShards(mainPath)
	require.NoError(t, err)
	require.EqualValues(t, 1, shards)

	s := startServer(t, ctx, dir, -1)
	_, err = os.Stat(filepath.Join(dir, visibilityFileName))
	require.ErrorIs(t, err, os.ErrNotExist, "a legacy data dir must not get a second file")
	c = dial(t, s)
	runWorker(t, c, "devserver-legacy", waitForSignalWorkflow)
	for _, run := range waiting {
		require.NoError(t, c.SignalWorkflow(ctx, run.GetID(), "", "go", "again"))
		var got string
		require.NoError(t, c.GetWorkflow(ctx, run.GetID(), "").Get(ctx, &got))
		require.Equal(t, "got again", got)
	}
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: s.Namespace(), Query: stageAttr + " = 'before'",
	})
	require.NoError(t, err)
	require.Len(t, resp.GetExecutions(), 1)
	runUpsert(t, ctx, s, "after")
	require.NoError(t, s.Stop())
	require.Greater(t, visibilityRows(t, mainPath), rows)
	_, isSet := dynamicConfig(layout{main: &config.SQL{}})[dynamicconfig.MatchingNumTaskqueueReadPartitions.Key()]
	require.False(t, isSet, "a legacy data dir may have tasks stored in every partition")
}

// A visibility file without a main file is what a first start that failed
// half-way leaves: the next start replaces it.
func TestOpenLayoutReplacesStrayVisibilityFile(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, visibilityFileName), []byte("not a database"), 0o644))
	l, err := openLayout(dir)
	require.NoError(t, err)
	require.NotNil(t, l.visibility)
	require.Zero(t, visibilityRows(t, l.visibility.DatabaseName))
	require.Zero(t, visibilityRows(t, l.main.DatabaseName))
}
