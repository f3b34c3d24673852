package apiserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/mocks"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// accounts: green ones that trained, others that did not, all at day 40,
// on plan pro with one CSM.
func accounts(green, rest int) []insights.Account {
	var as []insights.Account
	for i := range green + rest {
		a := insights.Account{CustomerID: fmt.Sprint(i), Health: "red", Quadrant: insights.QuadrantQuiet, CSM: "grace@vendor.example", Facts: insights.Facts{
			V: insights.FactsVersion, Plan: "pro", Start: mockNow.AddDate(0, 0, -40), DayLength: 24 * time.Hour, HandoffDay: -1,
		}}
		if i < green {
			a.Health, a.Quadrant = insights.Green, insights.QuadrantChampion
			a.Facts.Events[insights.Trainings] = [2]int{1, 1}
		}
		as = append(as, a)
	}
	return as
}

func saveRun(t *testing.T, st *store.Store, r insights.Report) {
	t.Helper()
	rb, err := json.Marshal(r)
	require.NoError(t, err)
	sb, err := json.Marshal(r.Summary())
	require.NoError(t, err)
	_, err = st.SaveInsights(context.Background(), store.InsightRun{ComputedAt: r.ComputedAt, Journeys: r.Journeys, Summary: sb, Report: rb})
	require.NoError(t, err)
}

func insightsEnv(t *testing.T, wrap func(*store.Store) apiserver.InsightsStore) *mockEnv {
	return newMockEnvWith(t, nil, func(st *store.Store, o *apiserver.Options) {
		o.Insights = st
		if wrap != nil {
			o.Insights = wrap(st)
		}
	})
}

// GET /v1/insights: nothing before the first run, then the latest run's
// segment with the trend of the past year, filtered by plan or CSM; bad
// filters and unknown segments are told apart.
func TestInsightsRoute(t *testing.T) {
	e := insightsEnv(t, nil)
	status, body := e.do("GET", "/v1/insights", csmKey, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "no_insights", errCode(body))

	saveRun(t, e.store, insights.Compute(accounts(3, 3), mockNow.AddDate(-2, 0, 0), 0)) // out of the trend
	saveRun(t, e.store, insights.Compute(accounts(10, 10), mockNow.AddDate(0, 0, -1), 0))
	saveRun(t, e.store, insights.Compute(accounts(12, 12), mockNow, 0))
	var view apiserver.InsightsView
	status, raw := getJSON(t, e.url+"/v1/insights", csmKey, &view)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, 24, view.Journeys)
	assert.Equal(t, "all", view.Segment.Key)
	assert.True(t, view.Segment.Enough)
	require.NotEmpty(t, view.Segment.Differences)
	assert.Equal(t, "event:training_completed:30", view.Segment.Differences[0].ID)
	assert.True(t, view.Segment.Differences[0].Claimed)
	require.Len(t, view.Trend, 2, "the runs of the past year, oldest first")
	assert.Equal(t, 20, view.Trend[0].Journeys)
	assert.Equal(t, 12, view.Trend[1].Quadrants[insights.QuadrantChampion])
	var keys []string
	for _, s := range view.Segments {
		keys = append(keys, s.Key)
	}
	assert.Equal(t, []string{"all", "plan:pro", "csm:grace@vendor.example"}, keys)

	status, raw = getJSON(t, e.url+"/v1/insights?csm="+url.QueryEscape("grace@vendor.example"), csmKey, &view)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "csm:grace@vendor.example", view.Segment.Key)
	status, _ = getJSON(t, e.url+"/v1/insights?plan=pro", adminKey, &view)
	assert.Equal(t, http.StatusOK, status, "admins read it too")
	assert.Equal(t, "plan:pro", view.Segment.Key)

	for _, tc := range []struct {
		query  string
		status int
		code   string
	}{
		{"?plan=enterprise", http.StatusNotFound, "segment_not_found"},
		{"?plan=pro&csm=x", http.StatusUnprocessableEntity, "invalid_filter"},
		{"?plan=" + strings.Repeat("p", workflows.MaxShortLen+1), http.StatusUnprocessableEntity, "invalid_filter"},
	} {
		status, body := e.do("GET", "/v1/insights"+tc.query, csmKey, nil)
		assert.Equal(t, tc.status, status, tc.query)
		assert.Equal(t, tc.code, errCode(body), tc.query)
	}
	status, _ = e.do("GET", "/v1/insights?plan="+strings.Repeat("p", workflows.MaxShortLen), csmKey, nil)
	assert.Equal(t, http.StatusNotFound, status, "a filter at its limit is read")
	status, _ = e.do("GET", "/v1/insights", salesKey, nil)
	assert.Equal(t, http.StatusForbidden, status)
	status, _ = e.do("POST", "/v1/insights/run", csmKey, nil)
	assert.Equal(t, http.StatusForbidden, status, "only an admin runs the job")
}

type brokenInsights struct{ *store.Store }

func (brokenInsights) LatestInsights(context.Context) (store.InsightRun, bool, error) {
	return store.InsightRun{}, false, errors.New("database is locked")
}

// A store that fails is a 503 to retry; a server without a store says
// insights are off; neither reaches Temporal.
func TestInsightsRouteWhenTheStoreFails(t *testing.T) {
	e := insightsEnv(t, func(st *store.Store) apiserver.InsightsStore { return brokenInsights{st} })
	status, body := e.do("GET", "/v1/insights", csmKey, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "store_unavailable", errCode(body))

	off := newMockEnv(t, nil)
	for _, r := range []struct{ method, path, key string }{
		{"GET", "/v1/insights", csmKey}, {"POST", "/v1/insights/run", adminKey}, {"GET", "/v1/customers/acme/insights", csmKey},
	} {
		status, body := off.do(r.method, r.path, r.key, nil)
		assert.Equal(t, http.StatusNotFound, status, r.path)
		assert.Equal(t, "insights_off", errCode(body), r.path)
	}
}

// GET /v1/customers/{id}/insights judges the journey's state, read as of
// now, against the latest run; a journey that is not there is a 404.
func TestCustomerInsightsRoute(t *testing.T) {
	e := insightsEnv(t, nil)
	saveRun(t, e.store, insights.Compute(accounts(12, 12), mockNow, 0))
	v := mocks.NewEncodedValue(t)
	v.On("Get", mock.Anything).Run(func(args mock.Arguments) {
		st := args.Get(0).(*workflows.State)
		st.CustomerID, st.AccountName, st.Day = "acme", "Acme", 5
		st.Facts = insights.Facts{V: insights.FactsVersion, Plan: "pro", Start: mockNow.AddDate(0, 0, -5), DayLength: 24 * time.Hour, HandoffDay: 0}
		st.DesiredOutcomes = []workflows.DesiredOutcome{{ID: "cut-reporting-time", Label: "Cut reporting time"}}
	}).Return(nil).Once()
	e.c.On("QueryWorkflow", mock.Anything, "customer:acme", "", workflows.QueryState, workflows.StateQuery{At: mockNow, Brief: true}).Return(v, nil).Once()
	var view apiserver.CustomerInsightsView
	status, raw := getJSON(t, e.url+"/v1/customers/acme/insights", csmKey, &view)
	require.Equal(t, http.StatusOK, status, raw)
	assert.Equal(t, "plan:pro", view.Segment)
	assert.True(t, view.Enough)
	require.Len(t, view.Gaps, 1)
	assert.Equal(t, "12 of 12 green accounts completed a training in their first 30 days (1 training as a median); Acme: none so far (day 5).", view.Gaps[0].Text)
	assert.False(t, view.Gaps[0].Missed)
	require.Len(t, view.DesiredOutcomes, 1)

	e.c.On("QueryWorkflow", mock.Anything, "customer:ghost", "", workflows.QueryState, mock.Anything).
		Return(nil, serviceerror.NewNotFound("workflow not found")).Once()
	status, _ = e.do("GET", "/v1/customers/ghost/insights", csmKey, nil)
	assert.Equal(t, http.StatusNotFound, status)
}

func getJSON(t *testing.T, u, key string, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(b, out))
	}
	return resp.StatusCode, string(b)
}
