package client_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	sdkclient "go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/client"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The committed client is what oapi-codegen makes of the document today:
// a change to openapi.yaml without `go generate ./client` fails here.
func TestGeneratedClientIsCurrent(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "client.gen.go")
	config, err := os.ReadFile("oapi-codegen.yaml")
	require.NoError(t, err)
	config = bytes.Replace(config, []byte("\noutput: client.gen.go\n"), []byte("\noutput: "+out+"\n"), 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.yaml"), config, 0o644))
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join(dir, "config.yaml"), "../apiserver/openapi.yaml")
	msg, err := cmd.CombinedOutput()
	require.NoError(t, err, string(msg))
	fresh, err := os.ReadFile(out)
	require.NoError(t, err)
	committed, err := os.ReadFile("client.gen.go")
	require.NoError(t, err)
	if !bytes.Equal(fresh, committed) {
		t.Fatal("client/client.gen.go is stale: run go generate ./client and commit the result")
	}
}

const (
	salesKey = "sales-key-0001-0123456789ab"
	csmKey   = "csm-key-00001-0123456789ab"
	integKey = "integration-key-1-01234567"
)

// apiOn serves the API, with a worker, on an embedded Temporal server.
func apiOn(t *testing.T) string {
	t.Helper()
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(sdkclient.Options{Logger: quiet}))
	c := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ts.GetDefaultNamespace(), SearchAttributes: workflows.SearchAttributeTypes,
	})
	require.NoError(t, err)
	st, err := store.Open(ctx, "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	acts, err := worker.Activities(&config.Config{LinkSecret: "link-secret-for-tests", PublicURL: "http://lifecycle.test"}, st)
	require.NoError(t, err)
	ts.NewWorker(workflows.TaskQueue, func(r sdkworker.Registry) { worker.Register(r, acts) })
	api := apiserver.New(apiserver.Options{
		Client: c, Namespace: ts.GetDefaultNamespace(),
		APIKeys:   map[string]string{salesKey: "sales", csmKey: "csm", integKey: "integration"},
		DayLength: time.Hour, Logger: zap.NewNop(), Store: st,
	})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// withKey sends an API key with each request.
func withKey(key string) client.ClientOption {
	return client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	})
}

// The generated client starts a customer, posts an engagement event and
// reads the state that counts it, against the real API and journey.
func TestClientDrivesAJourney(t *testing.T) {
	url := apiOn(t)
	ctx := t.Context()
	sales, err := client.NewClientWithResponses(url, withKey(salesKey))
	require.NoError(t, err)
	integration, err := client.NewClientWithResponses(url, withKey(integKey))
	require.NoError(t, err)
	csm, err := client.NewClientWithResponses(url, withKey(csmKey))
	require.NoError(t, err)

	var start client.StartRequest
	start.Account.Id = "client-acme"
	start.Account.Name = "Acme Client Test"
	start.Account.RenewalDate.Time = time.Now().AddDate(1, 0, 0)
	start.Champion = &client.Person{Name: "Ada Lovelace", Email: "ada@acme.example"}
	start.Csm = client.Person{Name: "Grace Hopper", Email: "grace@vendor.example"}
	start.ManagerEmail = "manager@vendor.example"
	start.DealId = "deal-client-1"
	started, err := sales.StartCustomerWithResponse(ctx, start)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, started.StatusCode(), string(started.Body))
	require.NotNil(t, started.JSON201)
	assert.Equal(t, "customer:client-acme", started.JSON201.WorkflowId)

	again, err := sales.StartCustomerWithResponse(ctx, start)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, again.StatusCode(), "the same deal joins the journey")
	require.NotNil(t, again.JSON200)

	event := client.EngagementEvent{Id: "ev-client-1", Type: "login"}
	posted, err := integration.PostEventWithResponse(ctx, "client-acme", nil, event)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, posted.StatusCode(), string(posted.Body))
	counted, err := posted.JSON202.AsEventResponse()
	require.NoError(t, err)
	assert.False(t, counted.Duplicate)
	require.NotNil(t, counted.Engagement)
	assert.Positive(t, *counted.Engagement)

	dup, err := integration.PostEventWithResponse(ctx, "client-acme", nil, event)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, dup.StatusCode())
	assert.True(t, dup.JSON200.Duplicate)

	state, err := csm.GetCustomerWithResponse(ctx, "client-acme")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, state.StatusCode(), string(state.Body))
	require.NotNil(t, state.JSON200)
	assert.Equal(t, "client-acme", state.JSON200.CustomerId)
	assert.Equal(t, "Acme Client Test", state.JSON200.AccountName)
	assert.Equal(t, 1, state.JSON200.EventsCounted)
	assert.InDelta(t, *counted.Engagement, state.JSON200.Scores.Engagement, 1, "the score the event answered, decayed a few seconds")

	missing, err := csm.GetCustomerWithResponse(ctx, "client-nobody")
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, missing.StatusCode())
	require.NotNil(t, missing.JSON404)
	assert.Equal(t, "customer_not_found", missing.JSON404.Error.Code)
}
