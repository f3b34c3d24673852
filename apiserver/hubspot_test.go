package apiserver_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

const (
	hubspotSecret = "hubspot-client-secret-0123"
	hubspotToken  = "pat-na1-hubspot-test"
	// hubspotPublic is where HubSpot posts: a proxy in front of the API.
	hubspotPublic = "https://lifecycle.example"
)

// fakeHubSpot is HubSpot's CRM API for the records put in it; it refuses a
// request that is not shaped as HubSpot's API wants.
type fakeHubSpot struct {
	t     *testing.T
	mu    sync.Mutex
	recs  map[string]string // path -> JSON answer
	down  atomic.Bool
	calls atomic.Int32
}

func newFakeHubSpot(t *testing.T) (*fakeHubSpot, *httptest.Server) {
	f := &fakeHubSpot{t: t, recs: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeHubSpot) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+hubspotToken {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
		return
	}
	if f.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"error","message":"Service Unavailable","category":"INTERNAL_ERROR"}`)
		return
	}
	key := r.Method + " " + r.URL.Path
	switch {
	case strings.HasPrefix(key, "GET /crm/v3/objects/deals/"):
		assert.Equal(f.t, "companies,contacts", r.URL.Query().Get("associations"))
		assert.Contains(f.t, r.URL.Query().Get("properties"), "hubspot_owner_id")
	case key == "POST /crm/v3/objects/contacts/batch/read":
		var req struct {
			Inputs []struct{ ID string } `json:"inputs"`
		}
		require.NoError(f.t, json.NewDecoder(r.Body).Decode(&req))
		f.mu.Lock()
		var out []string
		for _, in := range req.Inputs {
			if c, ok := f.recs["contact "+in.ID]; ok {
				out = append(out, c)
			}
		}
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{"status":"COMPLETE","results":[`+strings.Join(out, ",")+`]}`)
		return
	}
	f.mu.Lock()
	body, ok := f.recs[key]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"status":"error","message":"resource not found","category":"OBJECT_NOT_FOUND"}`)
		return
	}
	_, _ = io.WriteString(w, body)
}

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// deal puts a deal with its company, contacts (id -> email) and owner into
// the fake HubSpot.
func (f *fakeHubSpot) deal(deal, company, companyName string, contacts [][2]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var assoc []string
	for _, c := range contacts {
		assoc = append(assoc, fmt.Sprintf(`{"id":%q,"type":"deal_to_contact"}`, c[0]))
		f.recs["contact "+c[0]] = fmt.Sprintf(`{"id":%q,"properties":{"email":%s,"firstname":"Contact","lastname":%q,"hs_timezone":"europe_slash_london"}}`, c[0], jsonStr(c[1]), c[0])
	}
	f.recs["GET /crm/v3/objects/deals/"+deal] = fmt.Sprintf(`{"id":%q,"properties":{"dealname":"New business","dealstage":"closedwon","closedate":%q,"hubspot_owner_id":"77"},
		"associations":{"companies":{"results":[{"id":%q,"type":"deal_to_company"},{"id":%q,"type":"deal_to_company_unlabeled"}]},"contacts":{"results":[%s]}}}`,
		deal, time.Now().UTC().Format(time.RFC3339), company, company, strings.Join(assoc, ","))
	f.recs["GET /crm/v3/objects/companies/"+company] = fmt.Sprintf(`{"id":%q,"properties":{"name":%s,"domain":"acme.example"}}`, company, jsonStr(companyName))
	f.recs["GET /crm/v3/owners/77"] = `{"id":"77","email":"grace@vendor.example","firstName":"Grace","lastName":"Hopper"}`
}

// hubspotAPI serves the API with the HubSpot webhook on, reading the fake
// HubSpot, on the package's Temporal server and store.
func (e *env) hubspotAPI(crm string) string {
	api := apiserver.New(apiserver.Options{
		Client: e.client, Namespace: e.ns, DayLength: time.Hour, Logger: zap.NewNop(), Store: e.store,
		HubSpot: &apiserver.HubSpot{
			ClientSecret: hubspotSecret, PublicURL: hubspotPublic,
			CRM: &hubspot.Client{BaseURL: crm, Token: hubspotToken},
			Mapping: hubspot.Mapping{
				ClosedWonStages: []string{"closedwon", "987654"}, ManagerEmail: "manager@vendor.example",
				Plan: hubspot.PropertyRef{Object: hubspot.ObjectDeal, Name: "plan_tier"},
			},
		},
	})
	srv := httptest.NewServer(api.Handler())
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// hubspotEvent is a deal stage change as HubSpot sends it.
func hubspotEvent(eventID, deal int64, stage string, attempt int) map[string]any {
	return map[string]any{
		"eventId": eventID, "subscriptionId": 2468, "portalId": 62515, "appId": 54321, "occurredAt": time.Now().UnixMilli(),
		"subscriptionType": "deal.propertyChange", "attemptNumber": attempt, "objectId": deal,
		"propertyName": "dealstage", "propertyValue": stage, "changeSource": "CRM_UI",
	}
}

// hubspotPost signs a delivery as HubSpot does (for the URL HubSpot posts
// to: the public one) and posts it; mutate may tamper with the request
// after signing.
func hubspotPost(t *testing.T, base, path string, events any, at time.Time, mutate func(*http.Request, *[]byte)) (int, apiserver.HubSpotResponse, map[string]any) {
	t.Helper()
	body, err := json.Marshal(events)
	require.NoError(t, err)
	ts := fmt.Sprint(at.UnixMilli())
	sig := hubspotSign(hubspotSecret, "POST", hubspotPublic+path, body, ts)
	if mutate != nil {
		req, _ := http.NewRequest("POST", base+path, nil)
		mutate(req, &body)
		path = req.URL.RequestURI()
	}
	req, err := http.NewRequest("POST", base+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-HubSpot-Signature-v3", sig)
	req.Header.Set("X-HubSpot-Request-Timestamp", ts)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out apiserver.HubSpotResponse
	raw := map[string]any{}
	_ = json.Unmarshal(data, &out)
	_ = json.Unmarshal(data, &raw)
	return resp.StatusCode, out, raw
}

// hubspotSign is HubSpot's documented v3 recipe, written out here
// independently of the server's: the method, the URL with HubSpot's
// listed escapes decoded, the body, the timestamp; HMAC-SHA256 with the
// client secret; base64.
func hubspotSign(secret, method, uri string, body []byte, ts string) string {
	for _, p := range [][2]string{{"%3A", ":"}, {"%2F", "/"}, {"%3F", "?"}, {"%40", "@"}, {"%21", "!"}, {"%24", "$"}, {"%27", "'"}, {"%28", "("}, {"%29", ")"}, {"%2A", "*"}, {"%2C", ","}, {"%3B", ";"}} {
		uri = strings.ReplaceAll(uri, p[0], p[1])
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + uri + string(body) + ts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (e *env) noJourney(id string) {
	e.t.Helper()
	_, err := e.client.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID(id), "")
	var nf *serviceerror.NotFound
	assert.ErrorAs(e.t, err, &nf, "no journey for %s", id)
}

// A deal moved to closed-won starts one journey with its company and
// contacts; the same delivery again, HubSpot's retry, the same deal twice
// in one delivery and a second closed-won stage start nothing more.
func TestHubSpotClosedWonStartsOneJourney(t *testing.T) {
	e := newEnv(t)
	crm, crmSrv := newFakeHubSpot(t)
	base := e.hubspotAPI(crmSrv.URL)
	crm.deal("9101", "8101", "Acme HubSpot", [][2]string{{"501", "ada@hs-acme.example"}, {"502", "bob@hs-acme.example"}})
	const id = "hubspot-8101"
	const path = "/v1/webhooks/hubspot"

	objectEvent := hubspotEvent(2, 9101, "closedwon", 0)
	objectEvent["subscriptionType"], objectEvent["objectTypeId"] = "object.propertyChange", "0-3"
	delivery := []map[string]any{
		hubspotEvent(1, 9101, "closedwon", 0),
		objectEvent,                                      // the same change through the generic subscription
		hubspotEvent(3, 9102, "appointmentscheduled", 0), // another stage
		{"eventId": 4, "subscriptionType": "contact.creation", "objectId": 501, "attemptNumber": 0},
	}
	began := time.Now()
	status, resp, raw := hubspotPost(t, base, path, delivery, time.Now(), nil)
	t.Logf("first delivery (4 HubSpot reads, one start) answered in %s", time.Since(began).Round(time.Millisecond))
	require.Equal(t, http.StatusOK, status, raw)
	require.Len(t, resp.Results, 4)
	assert.Equal(t, apiserver.HubSpotResult{EventID: 1, DealID: "9101", Outcome: "started", CustomerID: id}, resp.Results[0])
	assert.Equal(t, "started", resp.Results[1].Outcome, "one deal, one start, both events answered")
	assert.Equal(t, "ignored", resp.Results[2].Outcome)
	assert.Contains(t, resp.Results[2].Reason, `stage "appointmentscheduled" is not a closed-won stage`)
	assert.Equal(t, "ignored", resp.Results[3].Outcome)
	firstRun, _ := e.journey(id)

	status, body := e.do("GET", "/v1/customers/"+id, csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "Acme HubSpot", body["account_name"])
	assert.Equal(t, "grace@vendor.example", body["csm"].(map[string]any)["email"], "the deal's owner is the CSM")
	status, body = e.do("GET", "/v1/customers/"+id+"/contacts", csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	cts := body["contacts"].([]any)
	require.Len(t, cts, 2)
	assert.Equal(t, "ada@hs-acme.example", cts[0].(map[string]any)["email"])
	assert.Equal(t, "champion", cts[0].(map[string]any)["role"])
	assert.Equal(t, "Europe/London", cts[0].(map[string]any)["time_zone"])
	assert.Equal(t, "user", cts[1].(map[string]any)["role"])

	// HubSpot sends the same delivery again (attemptNumber 1), then once more
	// as it was: the deal is known, so nothing is read and nothing starts.
	calls := crm.calls.Load()
	retry := []map[string]any{hubspotEvent(1, 9101, "closedwon", 1)}
	for _, d := range [][]map[string]any{retry, delivery} {
		began = time.Now()
		status, resp, raw = hubspotPost(t, base, path, d, time.Now(), nil)
		t.Logf("a delivery of a known deal answered in %s", time.Since(began).Round(time.Millisecond))
		require.Equal(t, http.StatusOK, status, raw)
		assert.Equal(t, "duplicate", resp.Results[0].Outcome)
		assert.Equal(t, id, resp.Results[0].CustomerID)
	}
	assert.Equal(t, calls, crm.calls.Load(), "a known deal costs no HubSpot call")

	// Another closed-won deal of the same company joins the running journey.
	crm.deal("9103", "8101", "Acme HubSpot", [][2]string{{"501", "ada@hs-acme.example"}})
	status, resp, raw = hubspotPost(t, base, path, []map[string]any{hubspotEvent(5, 9103, "987654", 0)}, time.Now(), nil)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "joined", resp.Results[0].Outcome)
	run, _ := e.journey(id)
	assert.Equal(t, firstRun, run, "still the first journey")
	assert.Len(t, e.welcomeBookLinks(id), 1, "one welcome email")
}

// The signature covers the method, the whole URL (query included, with
// HubSpot's escapes decoded), the body and the timestamp; a stale or
// future timestamp is refused even when signed.
func TestHubSpotSignatureAndTimestamp(t *testing.T) {
	e := newEnv(t)
	crm, crmSrv := newFakeHubSpot(t)
	base := e.hubspotAPI(crmSrv.URL)
	crm.deal("9201", "8201", "Tamper Corp", [][2]string{{"601", "ada@tamper.example"}})
	events := []map[string]any{hubspotEvent(10, 9201, "closedwon", 0)}

	cases := []struct {
		name   string
		path   string
		at     time.Time
		mutate func(*http.Request, *[]byte)
		code   string
	}{
		{name: "tampered body", path: "/v1/webhooks/hubspot", at: time.Now(), code: "bad_signature",
			mutate: func(_ *http.Request, b *[]byte) { *b = bytes.Replace(*b, []byte("9201"), []byte("9202"), 1) }},
		{name: "tampered query", path: "/v1/webhooks/hubspot?portal=1", at: time.Now(), code: "bad_signature",
			mutate: func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "portal=2" }},
		{name: "a query added", path: "/v1/webhooks/hubspot", at: time.Now(), code: "bad_signature",
			mutate: func(r *http.Request, _ *[]byte) { r.URL.RawQuery = "portal=1" }},
		{name: "signature of another method", path: "/v1/webhooks/hubspot", at: time.Now(), code: "bad_signature"},
		{name: "six minutes old", path: "/v1/webhooks/hubspot", at: time.Now().Add(-6 * time.Minute), code: "stale_timestamp"},
		{name: "six minutes ahead", path: "/v1/webhooks/hubspot", at: time.Now().Add(6 * time.Minute), code: "stale_timestamp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mutate := tc.mutate
			if tc.name == "signature of another method" {
				// Signed as a PUT, posted as a POST.
				body, _ := json.Marshal(events)
				ts := fmt.Sprint(time.Now().UnixMilli())
				req, _ := http.NewRequest("POST", base+tc.path, bytes.NewReader(body))
				req.Header.Set("X-HubSpot-Signature-v3", hubspotSign(hubspotSecret, "PUT", hubspotPublic+tc.path, body, ts))
				req.Header.Set("X-HubSpot-Request-Timestamp", ts)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
				return
			}
			status, _, raw := hubspotPost(t, base, tc.path, events, tc.at, mutate)
			assert.Equal(t, http.StatusUnauthorized, status, raw)
			assert.Equal(t, tc.code, errCode(raw))
		})
	}
	e.noJourney("hubspot-8201")
	assert.Zero(t, crm.calls.Load(), "nothing unsigned reaches HubSpot's API")

	// Missing headers.
	req, _ := http.NewRequest("POST", base+"/v1/webhooks/hubspot", strings.NewReader("[]"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// A query with escaped characters, signed as HubSpot signs it (decoded),
	// is accepted: four minutes old is inside the window.
	status, res, raw := hubspotPost(t, base, "/v1/webhooks/hubspot?app=lifecycle%3Aprod&who=a%40b%2Cc", events, time.Now().Add(-4*time.Minute), nil)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "started", res.Results[0].Outcome)

	// Without the HubSpot settings the route is off.
	status, body := e.do("POST", "/v1/webhooks/hubspot", "", "[]")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "not_configured", errCode(body))
}

// HubSpot's API down: 503, so that HubSpot sends the delivery again, and
// nothing started; its retry, once the API is back, starts the journey.
func TestHubSpotAPIDownAnswersRetry(t *testing.T) {
	e := newEnv(t)
	crm, crmSrv := newFakeHubSpot(t)
	base := e.hubspotAPI(crmSrv.URL)
	crm.deal("9301", "8301", "Outage Corp", [][2]string{{"701", "ada@outage.example"}})
	const id = "hubspot-8301"

	crm.down.Store(true)
	status, _, raw := hubspotPost(t, base, "/v1/webhooks/hubspot", []map[string]any{hubspotEvent(20, 9301, "closedwon", 0)}, time.Now(), nil)
	require.Equal(t, http.StatusServiceUnavailable, status, raw)
	assert.Equal(t, "retry", errCode(raw))
	assert.Contains(t, raw["error"].(map[string]any)["message"], "deal 9301: HubSpot /crm/v3/objects/deals/9301 answered 503")
	e.noJourney(id)

	// A token HubSpot refuses is an operator's to fix: retried too.
	crm.down.Store(false)
	status, _, raw = hubspotPost(t, e.hubspotAPIWithToken(crmSrv.URL, "pat-revoked"), "/v1/webhooks/hubspot", []map[string]any{hubspotEvent(20, 9301, "closedwon", 1)}, time.Now(), nil)
	require.Equal(t, http.StatusServiceUnavailable, status, raw)
	e.noJourney(id)

	status, resp, raw := hubspotPost(t, base, "/v1/webhooks/hubspot", []map[string]any{hubspotEvent(20, 9301, "closedwon", 2)}, time.Now(), nil)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "started", resp.Results[0].Outcome)

	// A deal HubSpot no longer has is acknowledged and ignored.
	status, resp, raw = hubspotPost(t, base, "/v1/webhooks/hubspot", []map[string]any{hubspotEvent(21, 9399, "closedwon", 0)}, time.Now(), nil)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "ignored", resp.Results[0].Outcome)
}

func (e *env) hubspotAPIWithToken(crm, token string) string {
	api := apiserver.New(apiserver.Options{
		Client: e.client, Namespace: e.ns, DayLength: time.Hour, Logger: zap.NewNop(), Store: e.store,
		HubSpot: &apiserver.HubSpot{
			ClientSecret: hubspotSecret, PublicURL: hubspotPublic,
			CRM:     &hubspot.Client{BaseURL: crm, Token: token},
			Mapping: hubspot.Mapping{ClosedWonStages: []string{"closedwon"}, ManagerEmail: "manager@vendor.example"},
		},
	})
	srv := httptest.NewServer(api.Handler())
	e.t.Cleanup(srv.Close)
	return srv.URL
}

// Records at their limits start a journey whole; past them, names are
// clipped the way the start route bounds them, unusable contacts left out,
// and a plan too long to be one refuses the deal: 200 (HubSpot's retry
// would not fix it), "refused" with the reason, and no journey.
func TestHubSpotRecordsAtAndPastTheirLimits(t *testing.T) {
	e := newEnv(t)
	crm, crmSrv := newFakeHubSpot(t)
	base := e.hubspotAPI(crmSrv.URL)
	post := func(eventID, deal int64) apiserver.HubSpotResult {
		t.Helper()
		status, resp, raw := hubspotPost(t, base, "/v1/webhooks/hubspot", []map[string]any{hubspotEvent(eventID, deal, "closedwon", 0)}, time.Now(), nil)
		require.Equal(t, http.StatusOK, status, raw)
		return resp.Results[0]
	}

	atLimit := strings.Repeat("N", workflows.MaxNameLen)
	contacts := [][2]string{{"801", "ada@limits.example"}, {"802", strings.Repeat("x", 250) + "@limits.example"}}
	for i := range 30 {
		contacts = append(contacts, [2]string{fmt.Sprint(810 + i), fmt.Sprintf("user%d@limits.example", i)})
	}
	crm.deal("9401", "8401", atLimit, contacts)
	require.Equal(t, "started", post(30, 9401).Outcome)
	status, body := e.do("GET", "/v1/customers/hubspot-8401", csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, atLimit, body["account_name"])
	assert.Len(t, body["contacts"], workflows.MaxContacts, "the first 25 usable contacts")

	crm.deal("9402", "8402", atLimit+"+ one more character", [][2]string{{"901", "ada@past.example"}})
	require.Equal(t, "started", post(31, 9402).Outcome)
	status, body = e.do("GET", "/v1/customers/hubspot-8402", csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	name := body["account_name"].(string)
	assert.Equal(t, workflows.MaxNameLen, len([]rune(name)))
	assert.True(t, strings.HasSuffix(name, "…"))

	crm.deal("9403", "8403", "Long Plan Corp", [][2]string{{"902", "ada@plan.example"}})
	crm.mu.Lock()
	crm.recs["GET /crm/v3/objects/deals/9403"] = strings.Replace(crm.recs["GET /crm/v3/objects/deals/9403"], `"dealstage"`, `"plan_tier":"`+strings.Repeat("p", 201)+`","dealstage"`, 1)
	crm.mu.Unlock()
	r := post(32, 9403)
	assert.Equal(t, "refused", r.Outcome)
	assert.Equal(t, "deal.plan_tier of deal 9403 is 201 characters; a plan is at most 200", r.Reason)
	e.noJourney("hubspot-8403")

	crm.deal("9404", "8404", "Nobody Corp", [][2]string{{"903", "not-an-address"}})
	r = post(33, 9404)
	assert.Equal(t, "refused", r.Outcome)
	assert.Contains(t, r.Reason, "no associated contact with an email address")
	e.noJourney("hubspot-8404")
}
