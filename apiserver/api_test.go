package apiserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/metrics"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

const (
	salesKey   = "sales-key-0001-0123456789ab"
	csmKey     = "csm-key-00001-0123456789ab"
	integKey   = "integration-key-1-01234567"
	adminKey   = "admin-key-0001-0123456789ab"
	dealToken  = "deal-webhook-secret-1"
	linkSecret = "link-secret-for-tests"
)

type env struct {
	t      *testing.T
	url    string
	client client.Client
	ns     string
	store  *store.Store
	links  *links.Signer
	sgKey  *ecdsa.PrivateKey
}

var (
	shared     *env
	sharedOnce sync.Once
)

// newEnv starts one embedded Temporal server, worker and API for the
// package's tests; each test uses its own account ids.
func newEnv(t *testing.T) *env {
	t.Helper()
	sharedOnce.Do(func() { shared = startEnv(t) })
	if shared == nil {
		t.Fatal("test environment failed to start")
	}
	e := *shared
	e.t = t
	setCheckedTest(t)
	return &e
}

func startEnv(t *testing.T) *env {
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	reg := prometheus.NewRegistry()
	ts := temporaltest.NewServer(temporaltest.WithBaseClientOptions(client.Options{Logger: quiet, MetricsHandler: metrics.NewTemporalHandler(reg)}))
	c := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: ts.GetDefaultNamespace(), SearchAttributes: workflows.SearchAttributeTypes,
	})
	require.NoError(t, err)
	dir, err := os.MkdirTemp("", "lifecycle-api-test-")
	require.NoError(t, err)
	st, err := store.Open(ctx, "", dir)
	require.NoError(t, err)
	acts, err := worker.Activities(&config.Config{LinkSecret: linkSecret, PublicURL: "http://lifecycle.test"}, st)
	require.NoError(t, err)
	ts.NewWorker(workflows.TaskQueue, func(r sdkworker.Registry) { worker.Register(r, acts) })
	signer, err := links.NewSigner(linkSecret, "http://lifecycle.test", time.Hour, nil)
	require.NoError(t, err)
	sgKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	api := apiserver.New(apiserver.Options{
		Client: c, Namespace: ts.GetDefaultNamespace(),
		APIKeys:   map[string]string{salesKey: "sales", csmKey: "csm", integKey: "integration", adminKey: "admin"},
		DayLength: time.Hour, DealSecret: dealToken, Logger: zap.NewNop(), Registry: reg,
		Links: signer, Store: st, Outbox: st, SendGridKey: &sgKey.PublicKey,
	})
	srv := httptest.NewServer(openAPICheck(t, api.Handler(), reportShared))
	return &env{url: srv.URL, client: c, ns: ts.GetDefaultNamespace(), store: st, links: signer, sgKey: sgKey}
}

func (e *env) do(method, path, key string, body any) (int, map[string]any) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	require.NoError(e.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	data, _ := io.ReadAll(resp.Body)
	if len(data) > 0 && data[0] == '{' {
		require.NoError(e.t, json.Unmarshal(data, &out), string(data))
	} else {
		out["raw"] = string(data)
	}
	return resp.StatusCode, out
}

func startBody(id string) map[string]any {
	return map[string]any{
		"account":       map[string]any{"id": id, "name": "Acme " + id, "plan": "enterprise", "renewal_date": time.Now().AddDate(1, 0, 0).Format("2006-01-02")},
		"champion":      map[string]any{"name": "Ada Lovelace", "email": "ada@" + id + ".example", "time_zone": "Europe/London"},
		"csm":           map[string]any{"name": "Grace Hopper", "email": "grace@vendor.example"},
		"manager_email": "manager@vendor.example",
		"deal_id":       "deal-" + id,
	}
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func errField(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	f, _ := e["field"].(string)
	return f
}

func TestStartTwiceAndFiftyConcurrentDuplicatesGiveOneJourney(t *testing.T) {
	e := newEnv(t)
	status, first := e.do("POST", "/v1/customers", salesKey, startBody("acme-1"))
	require.Equal(t, http.StatusCreated, status, first)
	status, again := e.do("POST", "/v1/customers", salesKey, startBody("acme-1"))
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, first, again, "the same body on a repeat")
	assert.Equal(t, "customer:acme-1", first["workflow_id"])

	var wg sync.WaitGroup
	statuses := make([]int, 50)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = e.do("POST", "/v1/customers", salesKey, startBody("acme-50"))
		}()
	}
	wg.Wait()
	slices.Sort(statuses)
	assert.Equal(t, http.StatusOK, statuses[0])
	assert.Equal(t, 49, slices.Index(statuses, http.StatusCreated), "49 times 200 ...")
	assert.Equal(t, http.StatusCreated, statuses[49], "... and one 201")

	resp, err := e.client.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: e.ns, Query: "WorkflowId = 'customer:acme-50'",
	})
	require.NoError(t, err)
	assert.Len(t, resp.GetExecutions(), 1, "one workflow")
}

func TestEventsComplaintsAndState(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-ev"))
	require.Equal(t, http.StatusCreated, status)

	status, body := e.do("POST", "/v1/customers/acme-ev/events", integKey, map[string]any{"id": "web-1", "type": "webinar_attended"})
	require.Equal(t, http.StatusAccepted, status, body)
	assert.EqualValues(t, 20, body["engagement"])
	status, body = e.do("POST", "/v1/customers/acme-ev/events", integKey, map[string]any{"id": "web-1", "type": "webinar_attended"})
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, true, body["duplicate"])
	status, body = e.do("POST", "/v1/customers/acme-ev/events", integKey, map[string]any{"id": "x", "type": "teleported"})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], `unknown event type "teleported"`)
	assert.Equal(t, "type", errField(body))

	status, body = e.do("POST", "/v1/customers/acme-ev/complaints", csmKey, map[string]any{"severity": "high", "summary": "Exports fail"})
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, "c1", body["complaint_id"])

	status, state := e.do("GET", "/v1/customers/acme-ev", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	scores := state["scores"].(map[string]any)
	assert.EqualValues(t, 30, scores["engagement"], "webinar 20 + complaint 10")
	assert.Len(t, state["open_complaints"], 1)
	assert.EqualValues(t, 50, scores["happiness"], "70 less the open high complaint")
	assert.Equal(t, "at-risk", scores["quadrant"], "engagement 30 is below 50")

	status, tl := e.do("GET", "/v1/customers/acme-ev/timeline", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	var steps []string
	for _, en := range tl["entries"].([]any) {
		steps = append(steps, en.(map[string]any)["step"].(string))
	}
	assert.Contains(t, steps, "event:web-1")
	assert.Contains(t, steps, "complaint:c1")
}

func TestInvalidOutcomeIs422AndLeavesNoHistory(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-bad"))
	require.Equal(t, http.StatusCreated, status)
	status, body := e.do("POST", "/v1/customers/acme-bad/outcomes", csmKey, map[string]any{"kind": "milestone_completed", "milestone_id": "no-such-milestone"})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "invalid_field", errCode(body))
	assert.Equal(t, "milestone_id", errField(body))
	assert.Contains(t, body["error"].(map[string]any)["message"], `unknown milestone "no-such-milestone"`)

	status, body = e.do("POST", "/v1/customers/acme-bad/outcomes", csmKey, map[string]any{"kind": "handoff_held"})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "onboarding", body["phase"])

	status, body = e.do("POST", "/v1/customers/acme-bad/outcomes", csmKey, map[string]any{"kind": "churned", "note": "budget"})
	require.Equal(t, http.StatusOK, status, body)
	status, body = e.do("POST", "/v1/customers/acme-bad/outcomes", csmKey, map[string]any{"kind": "meeting_held"})
	assert.Equal(t, http.StatusConflict, status, "an outcome after churn")
	assert.Equal(t, "journey_ended", errCode(body))
	status, body = e.do("GET", "/v1/customers/acme-bad", csmKey, nil)
	assert.Equal(t, http.StatusOK, status, "an ended journey can still be read")
	assert.Equal(t, "ended", body["phase"])

	iter := e.client.GetWorkflowHistory(context.Background(), "customer:acme-bad", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		ev, err := iter.Next()
		require.NoError(t, err)
		assert.NotContains(t, ev.String(), "no-such-milestone", "event %d", ev.GetEventId())
	}
}

func TestAuthRoles(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("GET", "/v1/customers", "", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "unauthorized", errCode(body))
	status, _ = e.do("GET", "/v1/customers", "not-a-key", nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	for _, tc := range []struct {
		method, path, key string
	}{
		{"GET", "/v1/customers", salesKey},
		{"GET", "/v1/customers/x", integKey},
		{"POST", "/v1/customers", csmKey},
		{"POST", "/v1/customers/x/events", csmKey},
		{"POST", "/v1/customers/x/outcomes", integKey},
		{"POST", "/v1/customers/x/pause", salesKey},
		{"POST", "/v1/customers/x/complaints", salesKey},
		{"PUT", "/v1/customers/x/champion", integKey},
		{"GET", "/v1/suppressions?email=a@b.example", csmKey},
		{"DELETE", "/v1/suppressions/a@b.example", csmKey},
	} {
		status, body := e.do(tc.method, tc.path, tc.key, map[string]any{})
		assert.Equal(t, http.StatusForbidden, status, "%s %s", tc.method, tc.path)
		assert.Equal(t, "forbidden", errCode(body))
	}
	status, _ = e.do("GET", "/v1/customers", adminKey, nil)
	assert.Equal(t, http.StatusOK, status, "admin may do everything")
}

func TestUnknownCustomerIs404(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path, key string
		body              any
	}{
		{"GET", "/v1/customers/nobody", csmKey, nil},
		{"GET", "/v1/customers/nobody/timeline", csmKey, nil},
		{"POST", "/v1/customers/nobody/events", integKey, map[string]any{"id": "e", "type": "login"}},
		{"POST", "/v1/customers/nobody/outcomes", csmKey, map[string]any{"kind": "handoff_held"}},
		{"POST", "/v1/customers/bad%20id/events", integKey, map[string]any{"id": "e", "type": "login"}},
	} {
		status, body := e.do(tc.method, tc.path, tc.key, tc.body)
		assert.Equal(t, http.StatusNotFound, status, tc.path)
		assert.Equal(t, "customer_not_found", errCode(body), tc.path)
	}
}

func TestBadBodies(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("POST", "/v1/customers", salesKey, `{"account": `)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_json", errCode(body))

	status, body = e.do("POST", "/v1/customers", salesKey, `{"acount": {}}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "unknown_field", errCode(body))
	assert.Equal(t, "acount", errField(body))

	status, body = e.do("POST", "/v1/customers", salesKey, `{"account": {"id": 7}}`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "account.id", errField(body))

	status, body = e.do("POST", "/v1/customers/acme-1/events", integKey, `{"id": "e1", "type": "login"}}`)
	assert.Equal(t, http.StatusBadRequest, status, "a stray brace after the object")
	assert.Equal(t, "invalid_json", errCode(body))

	status, body = e.do("POST", "/v1/customers/acme-1/events", integKey, `{"id": "e1", "type": "login"}`+strings.Repeat(" ", 2<<20))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status, "over the limit, even in whitespace")

	status, body = e.do("POST", "/v1/customers/acme-1/events", integKey, `[]`)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "the body must be a JSON object", body["error"].(map[string]any)["message"])

	huge := `{"deal_id": "` + strings.Repeat("x", 2<<20) + `"}`
	status, body = e.do("POST", "/v1/customers", salesKey, huge)
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Equal(t, "body_too_large", errCode(body))

	b := startBody("acme-date")
	b["account"].(map[string]any)["renewal_date"] = "31/01/2027"
	status, body = e.do("POST", "/v1/customers", salesKey, b)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], "not a date")

	b = startBody("acme-email")
	b["champion"].(map[string]any)["email"] = "not-an-email"
	status, body = e.do("POST", "/v1/customers", salesKey, b)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "champion.email", errField(body))

	b = startBody("acme-tz")
	b["champion"].(map[string]any)["time_zone"] = "Mars/Olympus"
	status, body = e.do("POST", "/v1/customers", salesKey, b)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "champion.time_zone", errField(body))
}

func TestDealWebhook(t *testing.T) {
	e := newEnv(t)
	payload, err := json.Marshal(map[string]any{"event": "deal.closed_won", "deal": startBody("acme-deal")})
	require.NoError(t, err)
	post := func(ts int64, sig string, body []byte) (int, map[string]any) {
		req, _ := http.NewRequest("POST", e.url+"/v1/webhooks/deals", bytes.NewReader(body))
		req.Header.Set(apiserver.DealTimestampHeader, fmt.Sprint(ts))
		req.Header.Set(apiserver.DealSignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	now := time.Now().Unix()
	status, body := post(now, apiserver.SignDeal(dealToken, now, payload), payload)
	require.Equal(t, http.StatusCreated, status, body)
	status, _ = post(now, apiserver.SignDeal(dealToken, now, payload), payload)
	assert.Equal(t, http.StatusOK, status, "a CRM replay joins the journey")

	status, body = post(now, apiserver.SignDeal("wrong-secret", now, payload), payload)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "bad_signature", errCode(body))
	tampered := bytes.Replace(payload, []byte("acme-deal"), []byte("evil-deal"), 1)
	status, _ = post(now, apiserver.SignDeal(dealToken, now, payload), tampered)
	assert.Equal(t, http.StatusUnauthorized, status)
	old := now - 600
	status, body = post(old, apiserver.SignDeal(dealToken, old, payload), payload)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "stale_timestamp", errCode(body))
	status, _ = post(now, "", payload)
	assert.Equal(t, http.StatusUnauthorized, status)
}

func TestListFiltersAreValidated(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-list"))
	require.Equal(t, http.StatusCreated, status)
	for _, q := range []string{"health=purple", "phase=x", "csm=a'%20OR%20'1'='1@x.example", "page_size=0", "page_token=!!!", "status=maybe"} {
		status, body := e.do("GET", "/v1/customers?"+q, csmKey, nil)
		assert.Equal(t, http.StatusBadRequest, status, q)
		assert.Equal(t, "invalid_parameter", errCode(body), q)
	}
	require.Eventually(t, func() bool {
		status, body := e.do("GET", "/v1/customers?phase=handoff&csm=grace@vendor.example&page_size=500", csmKey, nil)
		if status != http.StatusOK {
			return false
		}
		for _, c := range body["customers"].([]any) {
			if c.(map[string]any)["customer_id"] == "acme-list" {
				return true
			}
		}
		return false
	}, 15*time.Second, 200*time.Millisecond, "the new customer is listed by phase and CSM")
	status, body := e.do("GET", "/v1/customers?page_size=1", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Len(t, body["customers"], 1)
	assert.NotEmpty(t, body["next_page_token"], "pages on")
}

func TestHealthReadyMetrics(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("GET", "/healthz", "", nil)
	assert.Equal(t, http.StatusOK, status)
	status, _ = e.do("GET", "/readyz", "", nil)
	assert.Equal(t, http.StatusOK, status)
	e.do("GET", "/v1/customers/nobody", csmKey, nil)
	status, body := e.do("GET", "/metrics", "", nil)
	require.Equal(t, http.StatusOK, status)
	text := body["raw"].(string)
	assert.Contains(t, text, `lifecycle_http_request_duration_seconds_count{method="GET",route="/v1/customers/:id",status="4xx"}`)
	assert.Contains(t, text, "temporal_request_total", "the Temporal client's metrics")
}

// The OpenAPI document lists exactly the router's routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("GET", "/v1/openapi.yaml", "", nil)
	require.Equal(t, http.StatusOK, status)
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(body["raw"].(string)), &doc))
	assert.Equal(t, "3.0.3", doc.OpenAPI)
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" {
				continue // shared path parameters, not an operation
			}
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	api := apiserver.New(apiserver.Options{Logger: zap.NewNop()})
	var routes []string
	for _, r := range api.Routes() {
		if !slices.Contains(notYetDocumented, r) {
			routes = append(routes, r)
		}
	}
	slices.Sort(documented)
	slices.Sort(routes)
	assert.Equal(t, routes, documented)
}
