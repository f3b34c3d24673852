package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
)

// insightsEnv is an embedded server with a worker that runs the insights job
// (reading Temporal visibility, storing in a SQLite store) and fills emails
// from its results, and the API in front of it.
type insightsEnv struct {
	*trustEnv
	ns string
}

func newInsightsEnv(t *testing.T, pb *playbooks.Playbook, day time.Duration) *insightsEnv {
	t.Helper()
	e := &insightsEnv{}
	e.trustEnv = newTrustEnvWith(t, pb, day, func(st *store.Store, acts *activities.Activities, opts *apiserver.Options) {
		acts.Insights, acts.Results = &activities.StoreInsights{Store: st}, st
		acts.Portfolio = worker.Portfolio{Client: opts.Client, Namespace: opts.Namespace, PageSize: 7} // several pages
		opts.Insights = st
		e.ns = opts.Namespace
	})
	return e
}

// outboxStep waits for the outbox message of a customer's step.
func outboxStep(t *testing.T, st *store.Store, customer, step string, within time.Duration) store.OutboxMessage {
	t.Helper()
	var found store.OutboxMessage
	waitFor(t, customer+"'s "+step, within, func() bool {
		msgs, err := st.OutboxList(context.Background(), customer, 0)
		require.NoError(t, err)
		for _, m := range msgs {
			if m.Step == step {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// insightsPlaybook is a short playbook whose days can pass in seconds: no
// decay or silence within the test, so green stays green; a best-practices
// email on day 1 and a review on day 2.
func insightsPlaybook() *playbooks.Playbook {
	pb := playbooks.Default()
	pb.ID, pb.Version = "insights-test", 1
	pb.Milestones = []playbooks.Milestone{{ID: "adoption", Name: "Adoption goals met", DueDay: 85, Owner: "joint", FirstValue: true}}
	pb.Touchpoints = []playbooks.Touchpoint{
		{ID: "practices", Day: 1, Kind: playbooks.KindBestPractices, Template: "best_practices"},
		{ID: "review", Day: 2, Kind: playbooks.KindReview, Template: "review"},
	}
	pb.Silence = playbooks.Silence{ReengageAfterDays: 80, ManagerAfterDays: 85}
	pb.Scoring.HalfLifeDays = 365
	return pb
}

func (e *insightsEnv) startAs(t *testing.T, id, csm string) {
	t.Helper()
	d := deal(id, "deal-"+id)
	d["csm"] = map[string]any{"name": "CSM " + csm, "email": csm}
	status, err := e.sales.do(http.MethodPost, "/v1/customers", d, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status, id)
}

func (e *insightsEnv) event(t *testing.T, id, eventID, typ string) {
	t.Helper()
	status, err := e.admin.do(http.MethodPost, "/v1/customers/"+id+"/events", map[string]any{"id": eventID, "type": typ}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status, id)
}

func (e *insightsEnv) outcome(t *testing.T, id string, o map[string]any) int {
	t.Helper()
	status, err := e.csm.do(http.MethodPost, "/v1/customers/"+id+"/outcomes", o, nil)
	require.NoError(t, err)
	return status
}

func findDifference(seg insights.Segment, id string) (insights.Difference, bool) {
	for _, d := range seg.Differences {
		if d.ID == id {
			return d, true
		}
	}
	return insights.Difference{}, false
}

// TestInsightsFromAPortfolioOnARealServer: twelve accounts that complete a
// training and hold the handoff at once, twelve that do neither, all
// started and driven through the API. The job, run on demand, finds both
// differences with the right counts, claims nothing for a CSM with too few
// accounts, and the best-practices email of a customer who is behind names
// the training; the one of an account that got it before the first run
// says nothing it cannot back.
func TestInsightsFromAPortfolioOnARealServer(t *testing.T) {
	const day = 200 * time.Millisecond
	e := newInsightsEnv(t, insightsPlaybook(), day)
	const small = "alan@vendor.example" // two green accounts, one other: too few
	for i := range 12 {
		csm := "grace@vendor.example"
		if i < 2 {
			csm = small
		}
		id := fmt.Sprintf("green-%02d", i)
		e.startAs(t, id, csm)
		require.Equal(t, http.StatusOK, e.outcome(t, id, map[string]any{"kind": "handoff_held"}))
		e.event(t, id, "training-1", "training_completed")
		e.event(t, id, "webinar-1", "webinar_attended")
	}
	for i := range 12 {
		csm := "grace@vendor.example"
		if i == 0 {
			csm = small
		}
		e.startAs(t, fmt.Sprintf("other-%02d", i), csm)
	}
	// Before the first run: nothing to show, and the customer's insights say why.
	status, err := e.csm.do(http.MethodGet, "/v1/insights", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, status)
	var early apiserver.CustomerInsightsView
	status, err = e.csm.do(http.MethodGet, "/v1/customers/other-05/insights", nil, &early)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Nil(t, early.ComputedAt)
	assert.Empty(t, early.Gaps)
	assert.Contains(t, early.Why, "has not run yet")
	// The customer-only key may not run the job.
	status, err = e.csm.do(http.MethodPost, "/v1/insights/run", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, status)

	// Every account past day 30, so "in their first 30 days" is settled for
	// all of them; then the job, until visibility shows every journey green
	// or not as its state does and every journey's first 30 days have passed
	// by its own clock (a journey's day 0 is its first workflow task, which
	// a loaded machine runs late).
	time.Sleep(31 * day)
	var view apiserver.InsightsView
	waitFor(t, "the job to see twelve green accounts and twelve others", 60*time.Second, func() bool {
		var res activities.InsightsResult
		status, err := e.admin.do(http.MethodPost, "/v1/insights/run", nil, &res)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		status, err = e.csm.do(http.MethodGet, "/v1/insights", nil, &view)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		settled, ok := findDifference(view.Segment, "event:training_completed:30")
		return view.Segment.Green == 12 && view.Segment.Rest == 12 && view.WithoutFacts == 0 &&
			ok && settled.GreenOf == 12 && settled.RestOf == 12
	})
	assert.Equal(t, 24, view.Journeys)
	assert.Equal(t, insights.DefaultMinSample, view.MinSample)
	assert.True(t, view.Segment.Enough)
	training, ok := findDifference(view.Segment, "event:training_completed:30")
	require.True(t, ok)
	assert.Equal(t, [4]int{12, 12, 0, 12}, [4]int{training.Green, training.GreenOf, training.Rest, training.RestOf})
	assert.True(t, training.Claimed, training.Why)
	handoff, ok := findDifference(view.Segment, "handoff:1")
	require.True(t, ok)
	assert.Equal(t, [4]int{12, 12, 0, 12}, [4]int{handoff.Green, handoff.GreenOf, handoff.Rest, handoff.RestOf})
	assert.True(t, handoff.Claimed)
	tickets, ok := findDifference(view.Segment, "event:ticket_opened:30")
	require.True(t, ok)
	assert.False(t, tickets.Claimed, "nobody opened a ticket: no difference to claim")
	assert.Equal(t, 12, view.Quadrants[insights.QuadrantChampion])
	assert.Equal(t, 12, view.Quadrants[insights.QuadrantQuiet]+view.Quadrants[insights.QuadrantAtRisk])
	require.NotEmpty(t, view.Trend)

	// Two green accounts and one other under one CSM: nothing is claimed.
	var alan apiserver.InsightsView
	status, err = e.csm.do(http.MethodGet, "/v1/insights?csm="+url.QueryEscape(small), nil, &alan)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, 2, alan.Segment.Green)
	assert.Equal(t, 1, alan.Segment.Rest)
	assert.False(t, alan.Segment.Enough)
	assert.Contains(t, alan.Segment.Why, "only 2 green accounts")
	for _, d := range alan.Segment.Differences {
		assert.False(t, d.Claimed, d.ID)
	}
	status, err = e.csm.do(http.MethodGet, "/v1/insights?plan=nope", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNotFound, status)
	status, err = e.csm.do(http.MethodGet, "/v1/insights?plan=pro&csm=x", nil, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity, status)

	// A customer who is behind: its gaps, and its best-practices email name
	// the training.
	var gaps apiserver.CustomerInsightsView
	status, err = e.csm.do(http.MethodGet, "/v1/customers/other-05/insights", nil, &gaps)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.NotNil(t, gaps.ComputedAt)
	var texts []string
	for _, g := range gaps.Gaps {
		texts = append(texts, g.Text)
	}
	assert.Contains(t, strings.Join(texts, "\n"), "12 of 12 green accounts completed a training in their first 30 days")

	e.startAs(t, "lagging", "grace@vendor.example")
	practices := outboxStep(t, e.st, "lagging", "touchpoint:practices", 30*time.Second)
	assert.Contains(t, practices.Text, "12 of 12 of our most successful customers completed a training in their first 30 days.")
	assert.Contains(t, practices.Text, "held the handoff call by day 1")
	// An account that got its email before the first run: the playbook's text.
	msgs, err := e.st.OutboxList(context.Background(), "other-05", 0)
	require.NoError(t, err)
	var before int
	for _, m := range msgs {
		if m.Step == "touchpoint:practices" {
			before++
			assert.Contains(t, m.Text, "Teams get the most out of")
			assert.NotContains(t, m.Text, "most successful customers")
		}
	}
	assert.Equal(t, 1, before)
}

// page posts (or gets) an email action page and answers its status and body.
func page(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, err = io.Copy(&b, resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b.String()
}

// TestDesiredOutcomeOneClickOnARealServer: the welcome email's outcome
// question works from the outbox: the confirmation page names the choice
// in the playbook's words, one click records it, a second choice from the
// same email is refused as already answered; the outcome is in the state
// and the next review email names it. "Something else" asks for words and
// refuses an empty or too long answer without spending the link.
func TestDesiredOutcomeOneClickOnARealServer(t *testing.T) {
	e := newInsightsEnv(t, insightsPlaybook(), time.Second)
	e.start(t, "outcome-co", "deal-o1")
	e.start(t, "words-co", "deal-o2")
	welcome := func(id string) store.OutboxMessage {
		return outboxStep(t, e.st, id, "handoff:welcome", 15*time.Second)
	}
	w := welcome("outcome-co")
	assert.Contains(t, w.Text, "which outcome matters most to you?")
	chosen := e.base + "/a/" + actionToken(t, w.Text, "Replace spreadsheets")
	sibling := e.base + "/a/" + actionToken(t, w.Text, "Cut reporting time")

	status, body := page(t, http.MethodGet, chosen, nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "Is “Replace spreadsheets” the outcome that matters most to you?")
	// The same click four times at once (the others answer "already
	// recorded", or "being recorded" while the first is), and a sibling
	// choice: one answer.
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded, already := 0, 0
	for range 4 {
		wg.Go(func() {
			status, body := page(t, http.MethodPost, chosen, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case status == http.StatusOK && strings.Contains(body, "Your CSM will plan around it."):
				recorded++
			case status == http.StatusOK && strings.Contains(body, "Already recorded"),
				status == http.StatusAccepted && strings.Contains(body, "from another click"):
				already++
			default:
				t.Errorf("click answered %d: %s", status, body)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, [2]int{1, 3}, [2]int{recorded, already}, "concurrent clicks of one link record it once")
	status, body = page(t, http.MethodPost, sibling, nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "Already recorded", "one answer per email")
	// The booking is another question of the same email: still open.
	status, _ = page(t, http.MethodPost, e.base+"/a/"+actionToken(t, w.Text, "Book your handoff call"), nil)
	assert.Equal(t, http.StatusOK, status)

	st := e.state(t, "outcome-co")
	require.Len(t, st.DesiredOutcomes, 1)
	assert.Equal(t, "replace-spreadsheets", st.DesiredOutcomes[0].ID)
	assert.Equal(t, "email", st.DesiredOutcomes[0].Source)
	review := outboxStep(t, e.st, "outcome-co", "touchpoint:review", 20*time.Second)
	assert.Contains(t, review.Text, `You told us that "Replace spreadsheets" matters most`)

	// Something else: words required, bounded, then recorded once.
	other := e.base + "/a/" + actionToken(t, welcome("words-co").Text, "Something else")
	status, body = page(t, http.MethodGet, other, nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `maxlength="200"`)
	status, body = page(t, http.MethodPost, other, url.Values{"text": {"  "}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body, "Nothing was recorded yet")
	status, _ = page(t, http.MethodPost, other, url.Values{"text": {strings.Repeat("x", 201)}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	status, body = page(t, http.MethodPost, other, url.Values{"text": {"Close the books in two days"}})
	require.Equal(t, http.StatusOK, status, body)
	status, body = page(t, http.MethodPost, other, url.Values{"text": {"Something different"}})
	assert.Contains(t, body, "Already recorded")
	got := e.state(t, "words-co").DesiredOutcomes
	require.Len(t, got, 1)
	assert.Equal(t, "Close the books in two days", got[0].Text)

	// The CSM changes it through the API: the most important first.
	require.Equal(t, http.StatusOK, e.outcome(t, "words-co", map[string]any{"kind": "desired_outcome", "desired_outcome": "cut-reporting-time"}))
	require.Equal(t, http.StatusUnprocessableEntity, e.outcome(t, "words-co", map[string]any{"kind": "desired_outcome", "desired_outcome": "nope"}))
	got = e.state(t, "words-co").DesiredOutcomes
	require.Len(t, got, 2)
	assert.Equal(t, "cut-reporting-time", got[0].ID)
}
