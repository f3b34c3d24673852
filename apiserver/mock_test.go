package apiserver_test

// Tests of what the API itself decides (validation, single use, dedupe,
// labels, roles), over real HTTP and a real store, against the SDK's mock
// Temporal client: every call the API makes to Temporal must be expected,
// so "nothing reached the journey" and "exactly one update" are checked,
// not hoped for. The mock never deduplicates by update id, as a journey
// that continued-as-new does not.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/mocks"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

type mockEnv struct {
	t     *testing.T
	url   string
	c     *mocks.Client
	store *store.Store
	links *links.Signer
	reg   *prometheus.Registry
	sgKey *ecdsa.PrivateKey
	// calls counts the updates the API sent, by update name.
	mu    sync.Mutex
	calls map[string]int
}

var mockNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// newMockEnv serves the API over HTTP with a mock Temporal client and a
// fresh SQLite store; wrap, when set, stands between the API and the store.
func newMockEnv(t *testing.T, wrap func(*store.Store) apiserver.Store) *mockEnv {
	t.Helper()
	return newMockEnvWith(t, wrap, nil)
}

// newMockEnvWith is newMockEnv whose API options adjust may change.
func newMockEnvWith(t *testing.T, wrap func(*store.Store) apiserver.Store, adjust func(st *store.Store, o *apiserver.Options)) *mockEnv {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	signer, err := links.NewSigner(linkSecret, "http://lifecycle.test", time.Hour, func() time.Time { return mockNow })
	require.NoError(t, err)
	sgKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	e := &mockEnv{t: t, c: mocks.NewClient(t), store: st, links: signer, reg: prometheus.NewRegistry(), sgKey: sgKey, calls: map[string]int{}}
	var apiStore apiserver.Store = st
	if wrap != nil {
		apiStore = wrap(st)
	}
	opts := apiserver.Options{
		Client: e.c, Namespace: "default",
		APIKeys:   map[string]string{salesKey: "sales", csmKey: "csm", integKey: "integration", adminKey: "admin"},
		DayLength: time.Hour, DealSecret: dealToken, Logger: zap.NewNop(), Registry: e.reg,
		Now: func() time.Time { return mockNow }, Links: signer, Store: apiStore, SendGridKey: &sgKey.PublicKey,
	}
	if adjust != nil {
		adjust(st, &opts)
	}
	srv := httptest.NewServer(openAPICheck(t, apiserver.New(opts).Handler(), t.Errorf))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// mockState is a journey's state as the mock's journey answers it: the
// fields a real journey always sets, set.
func mockState() workflows.State {
	return workflows.State{
		CustomerID: "acme", AccountName: "Acme", Playbook: "default@v1", Phase: workflows.PhaseOnboarding, Day: 3,
		RenewalDate: mockNow.AddDate(1, 0, 0), AsOf: mockNow, Started: mockNow.AddDate(0, 0, -3), DayLength: time.Hour,
		Scores: workflows.Scores{Engagement: 40, Happiness: 70, Health: workflows.HealthGreen, Quadrant: workflows.QuadrantChampion, Reasons: []string{}},
	}
}

// expectUpdates lets the API send updates named name; each answers
// result(arg) (nil: success) after delay. It returns nothing: the calls are
// counted in e.calls.
func (e *mockEnv) expectUpdates(name string, delay time.Duration, result func(arg any) error) {
	handle := mocks.NewWorkflowUpdateHandle(e.t)
	handle.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		if st, ok := args.Get(1).(*workflows.State); ok {
			*st = mockState()
		}
	}).Return(nil).Maybe()
	e.c.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool { return o.UpdateName == name })).
		Return(func(_ context.Context, o client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
			e.mu.Lock()
			e.calls[name]++
			e.mu.Unlock()
			time.Sleep(delay)
			if result != nil {
				if err := result(o.Args[0]); err != nil {
					return nil, err
				}
			}
			return handle, nil
		}).Maybe()
}

func (e *mockEnv) updates(name string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[name]
}

func (e *mockEnv) do(method, path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	env := &env{t: e.t, url: e.url}
	return env.do(method, path, key, body)
}

func (e *mockEnv) page(method, path string) (int, string) {
	e.t.Helper()
	env := &env{t: e.t, url: e.url}
	return env.page(method, path)
}

func (e *mockEnv) sendgridPost(body []byte) (int, map[string]any) {
	e.t.Helper()
	env := &env{t: e.t, url: e.url}
	return env.sendgridPost(e.sgKey, mockNow.Unix(), body)
}

// Bounded input: a field over its limit is refused 422 naming it before
// anything reaches Temporal (the mock expects no call at all), and a body
// over 1 MiB is refused before it is read whole.
func TestBoundedInputsNeverReachTemporal(t *testing.T) {
	e := newMockEnv(t, nil)
	long := func(n int) string { return strings.Repeat("x", n) }
	csmEmail := long(3000-len("@vendor.example")) + "@vendor.example"
	require.Len(t, csmEmail, 3000)
	start := startBody("acme")
	start["account"].(map[string]any)["name"] = long(workflows.MaxNameLen + 1)
	renewal := startBody("acme")
	renewal["account"].(map[string]any)["renewal_date"] = mockNow.AddDate(workflows.MaxRenewalYears+1, 0, 0).Format("2006-01-02")
	for _, tc := range []struct {
		method, path, key string
		body              any
		field             string
	}{
		{"POST", "/v1/customers/acme/reassign", csmKey, map[string]any{"csm": map[string]any{"name": "Katherine", "email": csmEmail}}, "csm.email"},
		{"POST", "/v1/customers/acme/pause", csmKey, map[string]any{"reason": long(workflows.MaxTextLen + 1)}, "reason"},
		{"POST", "/v1/customers/acme/pause", csmKey, map[string]any{"reason": ""}, "reason"},
		{"POST", "/v1/customers/acme/resume", csmKey, map[string]any{"by": long(workflows.MaxShortLen + 1)}, "by"},
		{"POST", "/v1/customers/acme/outcomes", csmKey, map[string]any{"kind": "meeting_held", "note": long(workflows.MaxTextLen + 1)}, "note"},
		{"POST", "/v1/customers/acme/outcomes", csmKey, map[string]any{"kind": "renewed", "renewal_date": mockNow.AddDate(workflows.MaxRenewalYears+1, 0, 0)}, "renewal_date"},
		{"POST", "/v1/customers/acme/complaints", csmKey, map[string]any{"severity": "high", "summary": long(workflows.MaxTextLen + 1)}, "summary"},
		{"POST", "/v1/customers/acme/complaints", csmKey, map[string]any{"severity": "apocalyptic", "summary": "down"}, "severity"},
		{"PUT", "/v1/customers/acme/champion", csmKey, map[string]any{"champion": map[string]any{"name": "Katherine", "email": csmEmail}}, "champion.email"},
		{"POST", "/v1/customers/acme/events", integKey, map[string]any{"id": long(201), "type": "login"}, "id"},
		{"POST", "/v1/customers", salesKey, start, "account.name"},
		{"POST", "/v1/customers", salesKey, renewal, "account.renewal_date"},
	} {
		status, body := e.do(tc.method, tc.path, tc.key, tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%s %s %v", tc.method, tc.path, body)
		assert.Equal(t, "invalid_field", errCode(body), tc.path)
		assert.Equal(t, tc.field, errField(body), "%s %s: %v", tc.method, tc.path, body)
	}

	// A megabyte of reason: over the body limit (413) or the field's (422),
	// never sent on.
	status, body := e.do("POST", "/v1/customers/acme/pause", csmKey, map[string]any{"reason": long(1 << 20)})
	assert.Contains(t, []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}, status, body)
	status, body = e.do("POST", "/v1/customers/acme/pause", csmKey, map[string]any{"reason": long(1<<20 - 100)})
	assert.Equal(t, http.StatusUnprocessableEntity, status, "just under the body limit")
	assert.Equal(t, "reason", errField(body))
	// mocks.NewClient asserts at the end that no call reached Temporal.
}

// The same requests against a real journey change nothing: the CSM stays,
// the journey is not paused.
func TestBoundedInputsChangeNothing(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-bounds"))
	require.Equal(t, http.StatusCreated, status)
	before := e.state("acme-bounds")
	csmEmail := strings.Repeat("k", 3000-len("@vendor.example")) + "@vendor.example"
	status, body := e.do("POST", "/v1/customers/acme-bounds/reassign", csmKey, map[string]any{"csm": map[string]any{"name": "Katherine", "email": csmEmail}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "csm.email", errField(body))
	status, body = e.do("POST", "/v1/customers/acme-bounds/pause", csmKey, map[string]any{"reason": strings.Repeat("r", workflows.MaxTextLen+1)})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "reason", errField(body))
	status, _ = e.do("POST", "/v1/customers/acme-bounds/pause", csmKey, map[string]any{"reason": strings.Repeat("r", 1<<20)})
	assert.Contains(t, []int{http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity}, status)
	after := e.state("acme-bounds")
	assert.Equal(t, before["csm"], after["csm"])
	assert.Equal(t, false, after["paused"])
	assert.Equal(t, before["phase"], after["phase"])
}

// The champion route sends the champion update with the request's change
// and answers the journey's new state.
func TestChampionRouteSendsTheUpdate(t *testing.T) {
	e := newMockEnv(t, nil)
	var got workflows.ChampionChange
	handle := mocks.NewWorkflowUpdateHandle(t)
	handle.On("Get", mock.Anything, mock.Anything).Run(func(args mock.Arguments) {
		st := args.Get(1).(*workflows.State)
		*st = mockState()
		st.Champion = got.Champion
	}).Return(nil).Once()
	e.c.On("UpdateWorkflow", mock.Anything, mock.MatchedBy(func(o client.UpdateWorkflowOptions) bool {
		if o.UpdateName != workflows.UpdateChampion || o.WorkflowID != "customer:acme" {
			return false
		}
		got = *o.Args[0].(*workflows.ChampionChange)
		return true
	})).Return(handle, nil).Once()

	change := map[string]any{"champion": map[string]any{"name": "Katherine Johnson", "email": "katherine@acme.example", "time_zone": "America/New_York"}, "reason": "Ada moved on"}
	status, _ := e.do("PUT", "/v1/customers/acme/champion", integKey, change)
	assert.Equal(t, http.StatusForbidden, status, "csm or admin only")
	status, _ = e.do("PUT", "/v1/customers/acme/champion", salesKey, change)
	assert.Equal(t, http.StatusForbidden, status)
	status, body := e.do("PUT", "/v1/customers/acme/champion", csmKey, change)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, workflows.ChampionChange{Champion: workflows.Person{Name: "Katherine Johnson", Email: "katherine@acme.example", TimeZone: "America/New_York"}, Reason: "Ada moved on"}, got)
	assert.Equal(t, "katherine@acme.example", body["champion"].(map[string]any)["email"], "the new state")
}

// Metric labels come from closed sets: invented methods and paths add no
// label values.
func TestMetricsLabelsAreClosedSets(t *testing.T) {
	e := newMockEnv(t, nil)
	labelSets := func() map[string]bool {
		families, err := e.reg.Gather()
		require.NoError(t, err)
		sets := map[string]bool{}
		for _, f := range families {
			if f.GetName() != "lifecycle_http_request_duration_seconds" {
				continue
			}
			for _, m := range f.GetMetric() {
				var parts []string
				for _, l := range m.GetLabel() {
					parts = append(parts, l.GetName()+"="+l.GetValue())
				}
				sets[strings.Join(parts, ",")] = true
			}
		}
		return sets
	}
	send := func(method, path string) {
		req, err := http.NewRequest(method, e.url+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	send("FOO", "/healthz")
	send("BAR", "/nowhere")
	send("GET", "/nowhere")
	send("GET", "/healthz")
	send("GET", "/v1/customers/acme")
	before := labelSets()
	for i := range 200 {
		send(fmt.Sprintf("INVENTED%d", i), "/healthz")
		send(fmt.Sprintf("M%d", i), fmt.Sprintf("/random/%d", i))
		send("GET", fmt.Sprintf("/random/%d", i))
	}
	assert.Equal(t, before, labelSets(), "200 invented methods and paths: no new label values")
	assert.True(t, before["method=other,route=unmatched,status=4xx"], "%v", before)
	assert.True(t, before["method=GET,route=unmatched,status=4xx"], "%v", before)
	assert.True(t, before["method=GET,route=/v1/customers/:id,status=4xx"], "%v", before)
	assert.True(t, before["method=GET,route=/healthz,status=2xx"], "%v", before)
}

// Only an admin may choose a playbook for a journey.
func TestCustomPlaybookOnlyFromAdmin(t *testing.T) {
	e := newMockEnv(t, nil)
	withPlaybook := func(id string) map[string]any {
		b := startBody(id)
		b["account"].(map[string]any)["renewal_date"] = mockNow.AddDate(1, 0, 0).Format("2006-01-02")
		b["playbook_yaml"] = strings.Replace(string(playbooks.DefaultYAML()), "id: default", "id: custom", 1)
		return b
	}
	status, body := e.do("POST", "/v1/customers", salesKey, withPlaybook("acme"))
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "forbidden", errCode(body))
	assert.Equal(t, "playbook_yaml", errField(body))
	assert.Contains(t, body["error"].(map[string]any)["message"], "only an admin may pass playbook_yaml")

	payload, err := json.Marshal(map[string]any{"event": "deal.closed_won", "deal": withPlaybook("acme")})
	require.NoError(t, err)
	status, body = e.dealPost(payload)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], "the deal webhook cannot choose a playbook")

	// The admin's start reaches Temporal with the custom playbook.
	run := mocks.NewWorkflowRun(t)
	run.On("GetRunID").Return("run-1")
	var got workflows.JourneyInput
	e.c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.WorkflowName, mock.MatchedBy(func(in workflows.JourneyInput) bool {
		got = in
		return true
	})).Return(run, nil).Once()
	status, body = e.do("POST", "/v1/customers", adminKey, withPlaybook("acme"))
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, "custom", got.Playbook.ID)
}

func (e *mockEnv) dealPost(payload []byte) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+"/v1/webhooks/deals", bytes.NewReader(payload))
	ts := mockNow.Unix()
	req.Header.Set(apiserver.DealTimestampHeader, fmt.Sprint(ts))
	req.Header.Set(apiserver.DealSignatureHeader, apiserver.SignDeal(dealToken, ts, payload))
	return doJSON(e.t, req)
}

// The state is read as of the API's clock, not the journey's last wake-up.
func TestStateIsReadAsOfNow(t *testing.T) {
	e := newMockEnv(t, nil)
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.Anything).Run(func(args mock.Arguments) {
		st := args.Get(0).(*workflows.State)
		*st = mockState()
		st.AsOf = mockNow
	}).Return(nil).Once()
	e.c.On("QueryWorkflow", mock.Anything, "customer:acme", "", workflows.QueryState, workflows.StateQuery{At: mockNow}).Return(v, nil).Once()
	status, body := e.do("GET", "/v1/customers/acme", csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, mockNow.Format(time.RFC3339), body["as_of"])
}

// A new deal that arrives while the account's ended journey is still
// sending its last messages (its workflow still open) does not join it: it
// is told to retry and is not recorded, so it starts the next journey once
// the old one closes.
func TestNewDealWaitsForTheEndedJourneyToClose(t *testing.T) {
	e := newMockEnv(t, nil)
	phase, err := converter.GetDefaultDataConverter().ToPayload(workflows.PhaseEnded)
	require.NoError(t, err)
	e.c.On("DescribeWorkflowExecution", mock.Anything, "customer:acme", "").Return(&workflowservice.DescribeWorkflowExecutionResponse{
		WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
			Status: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, FirstRunId: "run-1",
			SearchAttributes: &commonpb.SearchAttributes{IndexedFields: map[string]*commonpb.Payload{workflows.SAPhase.GetName(): phase}},
		}}, nil).Once()
	e.c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.WorkflowName, mock.Anything).
		Return(nil, serviceerror.NewWorkflowExecutionAlreadyStarted("running", "", "run-1")).Once()
	run := mocks.NewWorkflowRun(t)
	run.On("GetRunID").Return("run-2")
	e.c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.WorkflowName, mock.Anything).Return(run, nil).Once()

	deal := startBody("acme")
	deal["deal_id"] = "deal-2"
	status, body := e.do("POST", "/v1/customers", salesKey, deal)
	assert.Equal(t, http.StatusServiceUnavailable, status, body)
	assert.Equal(t, "journey_finishing", errCode(body))
	_, used, err := e.store.Deal(context.Background(), "deal-2")
	require.NoError(t, err)
	assert.False(t, used, "not recorded as the ended journey's")

	// The old journey has closed: the retry starts the next one.
	status, body = e.do("POST", "/v1/customers", salesKey, deal)
	require.Equal(t, http.StatusCreated, status, body)
	d, used, err := e.store.Deal(context.Background(), "deal-2")
	require.NoError(t, err)
	assert.True(t, used)
	assert.Equal(t, "run-2", d.RunID)
}

// doJSON sends req and decodes the JSON object it answers (empty when the
// body is not one).
func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}
