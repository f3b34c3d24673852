package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

var (
	insightPlans = []string{"starter", "pro", "enterprise"}
	insightCSMs  = []string{"grace@vendor.example", "alan@vendor.example", "katherine@vendor.example"}
)

// insightsPortfolio is green and other accounts on three plans and three
// CSMs' books, every one past day 100 (all answers settled), and three
// journeys without facts. Green accounts train, attend webinars, hold the
// handoff call on day 1 and the kickoff by its due day more often than the
// others; run shifts a few accounts between quadrants, so that a series of
// runs makes a trend.
func insightsPortfolio(green, rest int, now time.Time, run int) []insights.Account {
	const day = 24 * time.Hour
	acct := func(id string, i int, health, quadrant string) insights.Account {
		d := 100 + i%50
		return insights.Account{CustomerID: id, Health: health, Quadrant: quadrant, Phase: "adoption", CSM: insightCSMs[(i/2)%3],
			Facts: insights.Facts{V: insights.FactsVersion, Plan: insightPlans[i%3], Playbook: "default@v2",
				Start: now.Add(-time.Duration(d) * day), DayLength: day, HandoffDay: -1, FirstValue: "first_value",
				Milestones: []insights.Milestone{
					{ID: "kickoff", Name: "Kickoff and success plan agreed", Due: 10, Done: -1},
					{ID: "technical_setup", Name: "Technical setup complete", Due: 21, Done: -1},
					{ID: "first_value", Name: "First workflow live", Due: 45, Done: -1},
					{ID: "team_trained", Name: "Team trained", Due: 60, Done: -1},
				}}}
	}
	outcomes := []insights.Outcome{{ID: "cut-reporting-time", Label: "Cut reporting time"},
		{ID: "replace-spreadsheets", Label: "Replace spreadsheets"}, {ID: "onboard-whole-team", Label: "Onboard the whole team"}}
	var as []insights.Account
	for i := range green {
		q := insights.QuadrantChampion
		if i%10 < 1+run/3 {
			q = insights.QuadrantQuiet
		}
		a := acct(fmt.Sprintf("green-%02d", i), i, insights.Green, q)
		f := &a.Facts
		if i%5 != 0 {
			f.Events[insights.Trainings] = [2]int{2, 3}
		}
		if i%3 != 0 {
			f.Events[insights.Webinars] = [2]int{1, 2}
		}
		if i%4 != 3 {
			f.Events[insights.Meetings] = [2]int{2, 4}
		}
		if i%3 == 0 {
			f.Events[insights.Tickets] = [2]int{1, 1}
		}
		f.HandoffDay = 0.5
		if i%6 == 0 {
			f.HandoffDay = 4
		}
		f.Milestones[0].Done, f.Milestones[1].Done = 7, 18
		if i%5 == 4 {
			f.Milestones[0].Done = 14
		}
		if i%4 != 0 {
			f.Milestones[2].Done, f.Milestones[3].Done = 30, 55
		}
		f.Outcomes = outcomes[i%3 : i%3+1]
		as = append(as, a)
	}
	for i := range rest {
		q := insights.QuadrantAtRisk
		switch {
		case i%10 < 2+run%3:
			q = insights.QuadrantQuiet
		case i%10 >= 7:
			q = insights.QuadrantVocal
		}
		health := "yellow"
		if i%2 == 1 {
			health = "red"
		}
		a := acct(fmt.Sprintf("other-%02d", i), i, health, q)
		f := &a.Facts
		if i%4 == 0 {
			f.Events[insights.Trainings] = [2]int{1, 1}
		}
		if i%3 == 0 {
			f.Events[insights.Webinars] = [2]int{1, 1}
		}
		if i%2 == 0 {
			f.Events[insights.Meetings] = [2]int{1, 2}
			f.Events[insights.Tickets] = [2]int{2, 3}
		}
		if i%3 == 0 {
			f.Events[insights.Complaints] = [2]int{1, 1}
			f.Resolved, f.ResolveDays = 1, 6
		}
		f.HandoffDay = 5
		if i%3 == 0 {
			f.HandoffDay = 0.8
		}
		f.Milestones[0].Done, f.Milestones[1].Done = 16, 30
		if i%2 == 0 {
			f.Milestones[0].Done = 9
		}
		if i%3 == 0 {
			f.Milestones[1].Done, f.Milestones[2].Done = 18, 50
		}
		if i%5 == 0 {
			f.Milestones[2].Done = 40
		}
		if i%4 == 1 {
			f.Milestones[3].Done = 58
		}
		if i%4 == 0 {
			f.Outcomes = outcomes[1:2]
		}
		as = append(as, a)
	}
	for i := range 3 {
		as = append(as, insights.Account{CustomerID: fmt.Sprintf("old-%d", i), Health: "yellow"})
	}
	return as
}

// saveInsightRun stores a report as the job does: its date, its summary
// and itself.
func saveInsightRun(tb testing.TB, st *store.Store, r insights.Report) {
	tb.Helper()
	rb, err := json.Marshal(r)
	require.NoError(tb, err)
	sb, err := json.Marshal(r.Summary())
	require.NoError(tb, err)
	_, err = st.SaveInsights(context.Background(), store.InsightRun{ComputedAt: r.ComputedAt, Journeys: r.Journeys, Summary: sb, Report: rb})
	require.NoError(tb, err)
}

func differenceOf(t *testing.T, s insights.Segment, id string) insights.Difference {
	t.Helper()
	for _, d := range s.Differences {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("no difference %s in segment %s", id, s.Key)
	return insights.Difference{}
}

// The insights page over HTTP: the empty state before the first run (the
// run button for admins only), then a stored run with the numbers behind a
// claimed difference, a segment without enough accounts saying why, an
// unknown segment answering 404 with the way back, and the run refused to
// a CSM and to a form without its CSRF token.
func TestInsightsPageOverHTTP(t *testing.T) {
	e := startEnv(t, false)
	csm, csrf := browserless(t, e)
	admin, _ := browserlessAs(t, e, adminKey)

	page := pageOf(t, csm, e.URL+"/ui/insights")
	assert.Contains(t, page, `<a href="/ui/insights" aria-current="page">Insights</a>`)
	assert.Contains(t, page, `id="insights-empty"`)
	assert.Contains(t, page, "The insights job has not run yet")
	assert.NotContains(t, page, `id="insights-run"`, "a CSM cannot run the job")
	page = pageOf(t, admin, e.URL+"/ui/insights")
	assert.Contains(t, page, `id="insights-run"`)

	now := time.Now().UTC()
	saveInsightRun(t, e.Store, insights.Compute(insightsPortfolio(12, 12, now.AddDate(0, 0, -7), 0), now.AddDate(0, 0, -7), 0))
	r := insights.Compute(insightsPortfolio(12, 12, now, 3), now, 0)
	saveInsightRun(t, e.Store, r)
	all, _ := r.Segment("all")
	require.True(t, all.Enough)
	tr := differenceOf(t, all, "event:training_completed:30")
	require.True(t, tr.Claimed, "the portfolio makes trainings a claimed difference")

	page = pageOf(t, csm, e.URL+"/ui/insights")
	assert.Contains(t, page, "<h1>What green accounts do</h1>")
	assert.NotContains(t, page, `id="insights-empty"`)
	assert.Contains(t, page, "<dt>Journeys read</dt><dd>27</dd>")
	assert.Contains(t, page, "<dt>Without facts</dt><dd>3 ")
	assert.Contains(t, page, "<dt>Minimum sample</dt><dd>10 accounts")
	assert.Contains(t, page, `<tr data-diff="event:training_completed:30" class="claimed">`)
	assert.Contains(t, page, fmt.Sprintf("Green %d of %d (%.0f%%)", tr.Green, tr.GreenOf, tr.GreenRate*100))
	assert.Contains(t, page, fmt.Sprintf("Others %d of %d (%.0f%%)", tr.Rest, tr.RestOf, tr.RestRate*100))
	assert.Contains(t, page, fmt.Sprintf("%.2f×", tr.Lift))
	assert.Contains(t, page, "✔ claimed")
	tk := differenceOf(t, all, "event:ticket_opened:30")
	assert.False(t, tk.Claimed)
	assert.Contains(t, page, tk.Why, "an unclaimed difference says why")
	assert.Contains(t, page, `class="diff-chart"`)
	assert.Contains(t, page, `class="trend-chart"`)
	assert.Contains(t, page, "completed a training in their first 30 days", "the chart's data and the table name the difference")
	assert.Contains(t, page, fmt.Sprintf("%d accounts are quiet: happy, but they do not engage", r.Quadrants[insights.QuadrantQuiet]))
	assert.Contains(t, page, `data-median="handoff_day"`)
	assert.Contains(t, page, `data-outcome="replace-spreadsheets"`)
	assert.Contains(t, page, `data-event="training_completed"`)
	assert.NotContains(t, page, `id="segment-why"`, "all accounts are enough")
	for _, s := range r.Segments {
		assert.Contains(t, page, `<option value="`+s.Key+`"`)
	}
	assert.NotContains(t, page, `id="insights-run"`)

	// A plan's segment: four green accounts and four others, too few.
	page = pageOf(t, csm, e.URL+"/ui/insights?segment=plan:pro")
	assert.Contains(t, page, `<option value="plan:pro" selected>`)
	assert.Contains(t, page, `data-segment="plan:pro"`)
	assert.Contains(t, page, `id="segment-why"`)
	assert.Contains(t, page, "only 4 green accounts (at least 10 are needed)")
	assert.NotContains(t, page, `class="claimed"`)
	page = pageOf(t, csm, e.URL+"/ui/insights?segment="+url.QueryEscape("csm:grace@vendor.example"))
	assert.Contains(t, page, `data-segment="csm:grace@vendor.example"`)

	for _, key := range []string{"plan:platinum", "csm:nobody@vendor.example", "everything", "plan:", strings.Repeat("x", 300)} {
		resp, err := csm.Get(e.URL + "/ui/insights?segment=" + url.QueryEscape(key))
		require.NoError(t, err)
		body := readBody(resp)
		resp.Body.Close()
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, key)
		assert.Contains(t, body, `id="insights-notfound"`, key)
		assert.Contains(t, body, `<a href="/ui/insights">← All accounts</a>`, key)
	}
	assert.Contains(t, readGet(t, csm, e.URL+"/ui/insights?segment=plan:platinum"), "The latest run has no accounts for plan platinum.")

	// Running the job: admins only, with the form's token.
	noRedirect := func(hc *http.Client) *http.Client {
		c := *hc
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return &c
	}
	code, _, body := formPost(t, noRedirect(csm), e.URL+"/ui/insights/run", url.Values{"csrf": {csrf}}, false)
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "Only an admin may run the insights job")
	code, _, _ = formPost(t, noRedirect(admin), e.URL+"/ui/insights/run", url.Values{"segment": {"all"}}, false)
	assert.Equal(t, http.StatusForbidden, code, "no CSRF token, no run")
	code, _, _ = formPost(t, noRedirect(admin), e.URL+"/ui/insights/run", url.Values{"csrf": {csrf}}, false)
	assert.Equal(t, http.StatusForbidden, code, "another session's token")
	latest, ok, err := e.Store.LatestInsights(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, r.ComputedAt.Unix(), latest.ComputedAt.Unix(), "nothing ran")
}

func readGet(t *testing.T, hc *http.Client, u string) string {
	t.Helper()
	resp, err := hc.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	return readBody(resp)
}

// An admin runs the insights job from the page on the embedded server: the
// worker lists the journeys from visibility, stores the run, and the page
// says what it found.
func TestInsightsRunNow(t *testing.T) {
	e := startEnv(t, true)
	e.startCustomer(t, "acme", "Acme Corp", "grace@vendor.example")
	e.startCustomer(t, "beta", "Beta Ltd", "alan@vendor.example")
	waitUntil(t, "visibility to list both journeys", 30*time.Second, func() bool {
		var list struct {
			Customers []map[string]any `json:"customers"`
		}
		e.api(t, csmKey, "GET", "/v1/customers", nil, &list)
		return len(list.Customers) == 2
	})
	admin, csrf := browserlessAs(t, e, adminKey)
	direct := *admin
	direct.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	code, hdr, body := formPost(t, &direct, e.URL+"/ui/insights/run", url.Values{"csrf": {csrf}, "segment": {"plan:pro"}}, false)
	require.Equal(t, http.StatusSeeOther, code, body)
	loc := hdr.Get("Location")
	assert.Equal(t, "/ui/insights?claimed=0&journeys=2&segment=plan%3Apro", loc)

	latest, ok, err := e.Store.LatestInsights(context.Background())
	require.NoError(t, err)
	require.True(t, ok, "the run is stored")
	assert.Equal(t, 2, latest.Journeys)

	page := pageOf(t, admin, e.URL+loc)
	assert.Contains(t, page, `id="insights-message"`)
	assert.Contains(t, page, "Computed over 2 journeys, 0 differences claimed.")
	assert.Contains(t, page, `data-segment="plan:pro"`)
	assert.Contains(t, page, "<dt>Journeys read</dt><dd>2</dd>")
	assert.Contains(t, page, "only 0 green accounts", "two new journeys are not enough to claim anything")
	assert.Contains(t, pageOf(t, admin, e.URL+"/ui/insights?running=x"), "still running")
}

// The customer page: the desired outcomes next to the milestones, a CSM
// recording one (a choice, then "something else" in the customer's words)
// and removing one through the forms, each in the journey's state; the
// validator's messages; and the gaps against green accounts, before and
// after a run.
func TestCustomerDesiredOutcomesAndGaps(t *testing.T) {
	e := startEnv(t, true)
	e.startCustomer(t, "delta", "Delta plc", "grace@vendor.example")
	hc, csrf := browserless(t, e)
	page := pageOf(t, hc, e.URL+"/ui/customers/delta")
	assert.Contains(t, page, `id="desired-outcomes"`)
	assert.Contains(t, page, "None yet: the welcome email asks the champion")
	assert.Contains(t, page, `<form id="desired"`)
	assert.Contains(t, page, `<option value="cut-reporting-time">Cut reporting time</option>`)
	assert.Contains(t, page, `<option value="other">Something else</option>`)
	assert.Contains(t, page, `<input name="desired_text" maxlength="200">`)
	assert.Contains(t, page, `id="gaps"`)
	assert.Contains(t, page, "The insights job has not run yet")

	path := e.URL + "/ui/customers/delta/outcome"
	desired := func(choice, text string, remove bool) url.Values {
		v := url.Values{"csrf": {csrf}, "form": {"desired"}, "kind": {"desired_outcome"}, "desired_outcome": {choice}, "desired_text": {text}}
		if remove {
			v.Set("remove", "true")
		}
		return v
	}
	code, _, body := formPost(t, hc, path, desired("cut-reporting-time", "", false), true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `<li data-outcome="cut-reporting-time">`)
	assert.Contains(t, body, "recorded by dashboard:csm")
	st := stateOf(t, e, "delta")
	require.Len(t, st.DesiredOutcomes, 1)
	assert.Equal(t, "cut-reporting-time", st.DesiredOutcomes[0].ID)
	assert.Equal(t, "dashboard:csm", st.DesiredOutcomes[0].By)
	assert.Empty(t, st.DesiredOutcomes[0].Text)

	code, hdr, body := formPost(t, hc, path, desired("other", "  ", false), true)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Equal(t, "#err-desired", hdr.Get("HX-Retarget"))
	assert.Contains(t, body, "desired_text")
	code, _, body = formPost(t, hc, path, desired("other", strings.Repeat("w", 201), false), false)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `<p class="error" id="err-desired" role="alert">desired_text`)
	code, _, body = formPost(t, hc, path, desired("be-famous", "", false), true)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, "unknown outcome")

	// Without JavaScript: the page again, with the customer's own words.
	code, _, body = formPost(t, hc, path, desired("other", "Close the books in two days", false), false)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "<q>Close the books in two days</q>")
	st = stateOf(t, e, "delta")
	require.Len(t, st.DesiredOutcomes, 2)
	assert.Equal(t, "other", st.DesiredOutcomes[0].ID, "the latest is the most important")
	assert.Equal(t, "Close the books in two days", st.DesiredOutcomes[0].Text)

	page = pageOf(t, hc, e.URL+"/ui/customers/delta")
	assert.Contains(t, page, `<input type="hidden" name="desired_outcome" value="cut-reporting-time"><input type="hidden" name="remove" value="true">`)
	code, _, body = formPost(t, hc, path, desired("cut-reporting-time", "", true), true)
	require.Equal(t, http.StatusOK, code, body)
	assert.NotContains(t, body, `<li data-outcome="cut-reporting-time">`)
	st = stateOf(t, e, "delta")
	require.Len(t, st.DesiredOutcomes, 1)
	assert.Equal(t, "other", st.DesiredOutcomes[0].ID)

	// After a run: the customer (day 0, nothing done yet) is behind on what
	// green accounts do, with time left.
	now := time.Now().UTC()
	r := insights.Compute(insightsPortfolio(12, 12, now, 0), now, 0)
	saveInsightRun(t, e.Store, r)
	page = pageOf(t, hc, e.URL+"/ui/customers/delta")
	assert.Contains(t, page, `id="gap-list"`)
	assert.Contains(t, page, `<li class="open" data-gap="event:training_completed:30"><span class="tag">still time</span>`)
	assert.Contains(t, page, "green accounts completed a training in their first 30 days")
	assert.Contains(t, page, "Judged against all accounts", "plan pro has too few accounts: all of them are the yardstick")
	assert.Contains(t, page, `href="/ui/insights?segment=all"`)
	assert.NotContains(t, page, `class="missed"`)
}

// Without an insights store the page, its route and the customer's gaps
// are not there.
func TestInsightsHiddenWithoutStore(t *testing.T) {
	e := startEnv(t, false)
	d, err := New(Options{Client: e.Client, Namespace: "default", APIKeys: testKeys, Sessions: e.Store, Logger: zap.NewNop()})
	require.NoError(t, err)
	r := gin.New()
	d.Register(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	bare := &env{URL: srv.URL, Client: e.Client, Store: e.Store}
	hc, _ := browserless(t, bare)
	page := pageOf(t, hc, srv.URL+"/ui")
	assert.NotContains(t, page, `href="/ui/insights"`)
	resp, err := hc.Get(srv.URL + "/ui/insights")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Nil(t, d.gaps(context.Background(), workflows.State{CustomerID: "acme"}), "no store, no gaps")
}
