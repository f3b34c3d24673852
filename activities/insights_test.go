package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

var now0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// account is a journey at day d of a 24h-day journey.
func account(id, health string, d int, trained bool) insights.Account {
	a := insights.Account{CustomerID: id, Health: health, Quadrant: insights.QuadrantQuiet, CSM: "grace@vendor.example", Facts: insights.Facts{
		V: insights.FactsVersion, Plan: "pro", Start: now0.AddDate(0, 0, -d), DayLength: 24 * time.Hour, HandoffDay: 0,
	}}
	if trained {
		a.Facts.Events[insights.Trainings] = [2]int{1, 1}
	}
	return a
}

// portfolio: green accounts that trained and held the handoff on day 0,
// others that did neither.
func portfolio(green, rest int) []insights.Account {
	var as []insights.Account
	for i := range green {
		as = append(as, account(fmt.Sprintf("g%d", i), insights.Green, 40, true))
	}
	for i := range rest {
		a := account(fmt.Sprintf("r%d", i), "red", 40, false)
		a.Facts.HandoffDay = -1
		as = append(as, a)
	}
	return as
}

type fixedPortfolio struct {
	accounts []insights.Account
	err      error
}

func (p fixedPortfolio) Accounts(_ context.Context, progress func(int)) ([]insights.Account, error) {
	if p.err != nil {
		return nil, p.err
	}
	progress(len(p.accounts))
	return p.accounts, nil
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// The job's activity stores what it computed with its date, and prunes
// runs older than a year but never the latest.
func TestComputeInsightsStoresTheReport(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	old := now0.Add(-activities.InsightsKeep - time.Hour)
	_, err := st.SaveInsights(ctx, store.InsightRun{ComputedAt: old, Summary: []byte(`{}`), Report: []byte(`{}`)})
	require.NoError(t, err)
	acts := &activities.Activities{Portfolio: fixedPortfolio{accounts: portfolio(12, 12)}, Results: st, Now: func() time.Time { return now0 }}
	res, err := acts.ComputeInsights(ctx, activities.InsightsRequest{})
	require.NoError(t, err)
	assert.Equal(t, 24, res.Journeys)
	assert.Equal(t, now0, res.ComputedAt)
	assert.Positive(t, res.Claimed)

	run, ok, err := st.LatestInsights(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, res.RunID, run.ID)
	var r insights.Report
	require.NoError(t, json.Unmarshal(run.Report, &r))
	all, _ := r.Segment("all")
	assert.Equal(t, 12, all.Green)
	var s insights.Summary
	require.NoError(t, json.Unmarshal(run.Summary, &s))
	assert.Equal(t, res.Claimed, s.Claimed)
	hist, err := st.InsightHistory(ctx, old.Add(-time.Hour), 0)
	require.NoError(t, err)
	assert.Len(t, hist, 1, "the run of more than a year ago is pruned")

	// A smaller minimum sample is honoured.
	acts.Portfolio = fixedPortfolio{accounts: portfolio(3, 3)}
	res, err = acts.ComputeInsights(ctx, activities.InsightsRequest{MinSample: 3})
	require.NoError(t, err)
	assert.Positive(t, res.Claimed)
}

// A listing or store that fails fails the run (Temporal retries it); a
// worker without them says so.
func TestComputeInsightsFailures(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	acts := &activities.Activities{Portfolio: fixedPortfolio{err: errors.New("visibility unavailable")}, Results: st}
	_, err := acts.ComputeInsights(ctx, activities.InsightsRequest{})
	assert.ErrorContains(t, err, "listing journeys: visibility unavailable")
	_, ok, err := st.LatestInsights(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "nothing stored")

	closed := openStore(t)
	require.NoError(t, closed.Close())
	acts = &activities.Activities{Portfolio: fixedPortfolio{accounts: portfolio(2, 2)}, Results: closed}
	_, err = acts.ComputeInsights(ctx, activities.InsightsRequest{})
	assert.ErrorContains(t, err, "storing the report")

	_, err = (&activities.Activities{}).ComputeInsights(ctx, activities.InsightsRequest{})
	assert.ErrorContains(t, err, "no portfolio reader or store")
}

func saveReport(t *testing.T, st *store.Store, r insights.Report) int64 {
	t.Helper()
	rb, err := json.Marshal(r)
	require.NoError(t, err)
	sb, err := json.Marshal(r.Summary())
	require.NoError(t, err)
	id, err := st.SaveInsights(context.Background(), store.InsightRun{ComputedAt: r.ComputedAt, Journeys: r.Journeys, Summary: sb, Report: rb})
	require.NoError(t, err)
	return id
}

// StoreInsights decodes each run once and notices a newer one after
// CheckEvery.
func TestStoreInsightsReadsTheLatestRunOnce(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	clock := now0
	si := &activities.StoreInsights{Store: st, CheckEvery: time.Minute, Now: func() time.Time { return clock }}
	r, err := si.Latest(ctx)
	require.NoError(t, err)
	assert.Nil(t, r, "no run yet")

	saveReport(t, st, insights.Compute(portfolio(12, 12), now0, 0))
	first, err := si.Latest(ctx)
	require.NoError(t, err)
	require.NotNil(t, first)
	assert.Equal(t, 24, first.Journeys)

	saveReport(t, st, insights.Compute(portfolio(20, 20), now0.Add(time.Hour), 0))
	again, err := si.Latest(ctx)
	require.NoError(t, err)
	assert.Same(t, first, again, "within CheckEvery the decoded run is kept")
	clock = clock.Add(2 * time.Minute)
	newer, err := si.Latest(ctx)
	require.NoError(t, err)
	assert.Equal(t, 40, newer.Journeys)

	// A report that does not decode is an error, not a crash.
	_, err = st.SaveInsights(ctx, store.InsightRun{ComputedAt: now0.Add(2 * time.Hour), Summary: []byte(`{}`), Report: []byte(`{"segments": 5}`)})
	require.NoError(t, err)
	clock = clock.Add(2 * time.Minute)
	_, err = si.Latest(ctx)
	assert.ErrorContains(t, err, "insights run")
}

type captureMailer struct{ msgs []activities.Message }

func (m *captureMailer) Send(_ context.Context, msg activities.Message) (activities.Sent, error) {
	m.msgs = append(m.msgs, msg)
	return activities.Sent{Key: msg.Key, MessageID: fmt.Sprint(len(m.msgs))}, nil
}

type failingInsights struct{}

func (failingInsights) Latest(context.Context) (*insights.Report, error) {
	return nil, errors.New("store down")
}

func practicesEmail(t *testing.T, acts *activities.Activities, about *insights.Subject) activities.Message {
	t.Helper()
	m := acts.Mailer.(*captureMailer)
	m.msgs = nil
	_, err := acts.SendCustomerEmail(context.Background(), activities.CustomerEmail{
		Key: "customer:lag/touchpoint:practices", CustomerID: "lag", Step: "touchpoint:practices", Template: "best_practices",
		To:      activities.Recipient{Name: "Ada Lovelace", Email: "ada@lag.example"},
		Data:    map[string]string{"AccountName": "Lagging Co", "CSMName": "Grace Hopper", "CSMEmail": "grace@vendor.example", "Title": "Best practices"},
		Actions: []activities.Action{{ID: "show_me_how", Label: "Show me how"}},
		About:   about,
	})
	require.NoError(t, err)
	require.Len(t, m.msgs, 1)
	return m.msgs[0]
}

// The best-practices email names what green accounts did that this
// customer has not; with too few accounts, no run, or a store that cannot
// be read, it goes out with the playbook's own text and claims nothing.
func TestBestPracticesEmailFromTheLatestRun(t *testing.T) {
	st := openStore(t)
	lag := account("lag", "red", 5, false)
	lag.Facts.HandoffDay = -1
	about := &insights.Subject{Account: "Lagging Co", Plan: "pro", Facts: lag.Facts}
	acts := &activities.Activities{Templates: templates(t), Mailer: &captureMailer{}, Insights: &activities.StoreInsights{Store: st}, Now: func() time.Time { return now0 }}

	m := practicesEmail(t, acts, about)
	assert.Contains(t, m.Text, "Teams get the most out of Lifecycle", "no run yet")
	assert.NotContains(t, m.Text, "most successful")

	saveReport(t, st, insights.Compute(portfolio(12, 12), now0, 0))
	acts.Insights = &activities.StoreInsights{Store: st}
	m = practicesEmail(t, acts, about)
	assert.Contains(t, m.Text, "- 12 of 12 of our most successful customers completed a training in their first 30 days.")
	assert.NotContains(t, m.Text, "Teams get the most out of")
	assert.Equal(t, "Best practices for Lagging Co", m.Subject)

	// A customer with no gaps hears the playbook's text.
	done := lag
	done.Facts.Events[insights.Trainings] = [2]int{1, 1}
	done.Facts.HandoffDay = 0
	m = practicesEmail(t, acts, &insights.Subject{Account: "Lagging Co", Plan: "pro", Facts: done.Facts})
	assert.Contains(t, m.Text, "Teams get the most out of")

	// Too few accounts: nothing claimed, nothing said.
	saveReport(t, st, insights.Compute(portfolio(4, 12), now0.Add(time.Hour), 0))
	acts.Insights = &activities.StoreInsights{Store: st}
	m = practicesEmail(t, acts, about)
	assert.NotContains(t, m.Text, "most successful")

	acts.Insights = failingInsights{}
	m = practicesEmail(t, acts, about)
	assert.Contains(t, m.Text, "Teams get the most out of", "the email is not held up by the store")
}

// The CSM's briefing carries the customer's top gaps; without insights it
// is the body as the journey wrote it.
func TestBriefingCarriesTheTopGaps(t *testing.T) {
	st := openStore(t)
	saveReport(t, st, insights.Compute(portfolio(12, 12), now0, 0))
	mailer := &captureMailer{}
	acts := &activities.Activities{Mailer: mailer, Insights: &activities.StoreInsights{Store: st}, Now: func() time.Time { return now0 }}
	lag := account("lag", "red", 5, false)
	lag.Facts.HandoffDay = -1
	notice := activities.TeamNotice{Key: "csm:lag/handoff:csm-task", CustomerID: "lag", Step: "handoff:csm-task", Role: "csm",
		To: activities.Recipient{Email: "grace@vendor.example"}, Subject: "Hold the handoff call", Body: "Book it.",
		About: &insights.Subject{Account: "Lagging Co", Plan: "pro", Facts: lag.Facts}}
	_, err := acts.NotifyTeam(context.Background(), notice)
	require.NoError(t, err)
	require.Len(t, mailer.msgs, 1)
	text := mailer.msgs[0].Text
	assert.Contains(t, text, "Book it.\n\nWhere Lagging Co stands against green accounts:\n- 12 of 12 green accounts completed a training in their first 30 days")
	assert.Contains(t, text, "- 12 of 12 green accounts held the handoff call by day 1; Lagging Co: not held yet (day 5).")

	acts.Insights = nil
	_, err = acts.NotifyTeam(context.Background(), notice)
	require.NoError(t, err)
	assert.Equal(t, "Book it.", mailer.msgs[1].Text)
}
