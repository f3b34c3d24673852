package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// InsightsStore is the part of the store the insights routes read.
type InsightsStore interface {
	LatestInsights(ctx context.Context) (store.InsightRun, bool, error)
	InsightHistory(ctx context.Context, since time.Time, limit int) ([]store.InsightRun, error)
}

var _ InsightsStore = (*store.Store)(nil)

// ErrNoInsights: the insights job has not stored a run yet.
var ErrNoInsights = errors.New("the insights job has not run yet: it runs nightly (LIFECYCLE_INSIGHTS_CRON), or now with POST /v1/insights/run")

// ErrNoSegment: the filter names no plan or CSM the job saw.
var ErrNoSegment = errors.New("no such segment")

// TrendDays is how far back the quadrant trend reaches.
const TrendDays = 365

// InsightsView is the answer of GET /v1/insights: one segment of the
// latest run, the segments there are, and the trend of the portfolio.
type InsightsView struct {
	ComputedAt   time.Time          `json:"computed_at"`
	MinSample    int                `json:"min_sample"`
	Journeys     int                `json:"journeys"`
	WithoutFacts int                `json:"without_facts"`
	Took         time.Duration      `json:"took"`
	Quadrants    map[string]int     `json:"quadrants"`
	Health       map[string]int     `json:"health"`
	Segment      insights.Segment   `json:"segment"`
	Segments     []SegmentSummary   `json:"segments"`
	Trend        []insights.Summary `json:"trend"`
}

// SegmentSummary names a segment a filter can choose.
type SegmentSummary struct {
	Key    string `json:"key"`
	Label  string `json:"label"`
	Green  int    `json:"green"`
	Rest   int    `json:"rest"`
	Enough bool   `json:"enough"`
}

// latestReport reads and decodes the latest run.
func latestReport(ctx context.Context, st InsightsStore) (*insights.Report, error) {
	run, ok, err := st.LatestInsights(ctx)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoInsights
	}
	var r insights.Report
	if err := json.Unmarshal(run.Report, &r); err != nil {
		return nil, fmt.Errorf("insights run %d: %w", run.ID, err)
	}
	return &r, nil
}

// LoadInsights builds the insights view for a segment key ("all",
// "plan:NAME", "csm:EMAIL"): ErrNoInsights before the first run,
// ErrNoSegment for a key the latest run has not.
func LoadInsights(ctx context.Context, st InsightsStore, key string, now time.Time) (InsightsView, error) {
	r, err := latestReport(ctx, st)
	if err != nil {
		return InsightsView{}, err
	}
	seg, ok := r.Segment(key)
	if !ok {
		return InsightsView{}, fmt.Errorf("%w %q", ErrNoSegment, key)
	}
	v := InsightsView{
		ComputedAt: r.ComputedAt, MinSample: r.MinSample, Journeys: r.Journeys, WithoutFacts: r.WithoutFacts,
		Took: r.Took, Quadrants: r.Quadrants, Health: r.Health, Segment: seg, Segments: []SegmentSummary{}, Trend: []insights.Summary{},
	}
	for _, s := range r.Segments {
		v.Segments = append(v.Segments, SegmentSummary{Key: s.Key, Label: s.Label, Green: s.Green, Rest: s.Rest, Enough: s.Enough})
	}
	runs, err := st.InsightHistory(ctx, now.AddDate(0, 0, -TrendDays), 0)
	if err != nil {
		return InsightsView{}, err
	}
	for _, run := range runs {
		var s insights.Summary
		if json.Unmarshal(run.Summary, &s) == nil {
			v.Trend = append(v.Trend, s)
		}
	}
	sort.SliceStable(v.Trend, func(i, j int) bool { return v.Trend[i].ComputedAt.Before(v.Trend[j].ComputedAt) })
	return v, nil
}

// CustomerInsightsView is the answer of GET /v1/customers/{id}/insights:
// the customer's gaps against green accounts at its journey day.
type CustomerInsightsView struct {
	CustomerID      string                     `json:"customer_id"`
	Day             int                        `json:"day"`
	ComputedAt      *time.Time                 `json:"computed_at"` // null before the first run
	Segment         string                     `json:"segment,omitempty"`
	Enough          bool                       `json:"enough"`
	Why             string                     `json:"why,omitempty"`
	Gaps            []insights.Gap             `json:"gaps"`
	DesiredOutcomes []workflows.DesiredOutcome `json:"desired_outcomes"`
}

// CustomerInsights judges one journey's state against the latest run.
func CustomerInsights(ctx context.Context, st InsightsStore, state workflows.State, plan string, now time.Time) (CustomerInsightsView, error) {
	v := CustomerInsightsView{CustomerID: state.CustomerID, Day: state.Day, Gaps: []insights.Gap{}, DesiredOutcomes: state.DesiredOutcomes}
	if v.DesiredOutcomes == nil {
		v.DesiredOutcomes = []workflows.DesiredOutcome{}
	}
	r, err := latestReport(ctx, st)
	if errors.Is(err, ErrNoInsights) {
		v.Why = ErrNoInsights.Error()
		return v, nil
	}
	if err != nil {
		return v, err
	}
	at := r.ComputedAt
	v.ComputedAt = &at
	seg := r.SegmentFor(plan, "")
	v.Segment, v.Enough, v.Why = seg.Key, seg.Enough, seg.Why
	if gaps := insights.GapsFor(state.Facts, now, state.AccountName, seg, 0); len(gaps) > 0 {
		v.Gaps = gaps
	}
	return v, nil
}

func (s *Server) insightsStore(c *gin.Context) (InsightsStore, bool) {
	if s.opts.Insights == nil {
		fail(c, http.StatusNotFound, "insights_off", "insights are not set up on this server (no store)", "")
		return nil, false
	}
	return s.opts.Insights, true
}

// getInsights answers GET /v1/insights?plan=|csm=.
func (s *Server) getInsights(c *gin.Context) {
	st, ok := s.insightsStore(c)
	if !ok {
		return
	}
	plan, csm := c.Query("plan"), c.Query("csm")
	key := "all"
	switch {
	case plan != "" && csm != "":
		fail(c, http.StatusUnprocessableEntity, "invalid_filter", "filter by plan or by csm, not both", "plan")
		return
	case len(plan) > workflows.MaxShortLen || len(csm) > workflows.MaxShortLen:
		fail(c, http.StatusUnprocessableEntity, "invalid_filter", fmt.Sprintf("a filter is at most %d characters", workflows.MaxShortLen), "plan")
		return
	case plan != "":
		key = "plan:" + plan
	case csm != "":
		key = "csm:" + csm
	}
	v, err := LoadInsights(c.Request.Context(), st, key, s.opts.Now())
	switch {
	case errors.Is(err, ErrNoInsights):
		fail(c, http.StatusNotFound, "no_insights", err.Error(), "")
	case errors.Is(err, ErrNoSegment):
		fail(c, http.StatusNotFound, "segment_not_found", fmt.Sprintf("the latest insights have no accounts for %s", key), "")
	case err != nil:
		s.storeError(c, err, "insights", "")
	default:
		c.JSON(http.StatusOK, v)
	}
}

// getCustomerInsights answers GET /v1/customers/{id}/insights.
func (s *Server) getCustomerInsights(c *gin.Context) {
	st, ok := s.insightsStore(c)
	if !ok {
		return
	}
	id, ok := customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	now := s.opts.Now()
	var state workflows.State
	if err := s.queryInto(ctx, id, workflows.QueryState, &state, workflows.StateQuery{At: now, Brief: true}); err != nil {
		s.temporalError(c, err, id)
		return
	}
	view, err := CustomerInsights(ctx, st, state, state.Facts.Plan, now)
	if err != nil {
		s.storeError(c, err, "insights", "")
		return
	}
	c.JSON(http.StatusOK, view)
}

// RunInsights starts the insights job now (or joins the run already going)
// and waits up to wait for its result; ok is false when it is still running.
func RunInsights(ctx context.Context, c client.Client, wait time.Duration) (res activities.InsightsResult, runID string, ok bool, err error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: InsightsOnDemandID, TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowRunTimeout:       time.Hour,
	}, workflows.InsightsWorkflowName, activities.InsightsRequest{})
	if err != nil {
		return res, "", false, err
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	err = run.Get(wctx, &res)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(wctx.Err(), context.DeadlineExceeded) {
		return res, run.GetID(), false, nil
	}
	return res, run.GetID(), err == nil, err
}

// InsightsOnDemandID is the workflow id of a run asked for through the API.
const InsightsOnDemandID = "lifecycle-insights-now"

// InsightsRunning answers a run still going after the wait.
type InsightsRunning struct {
	WorkflowID string `json:"workflow_id"`
	Status     string `json:"status"` // "running"
}

// runInsights answers POST /v1/insights/run: 200 with the run's result
// within a minute, else 202 with the workflow id to follow.
func (s *Server) runInsights(c *gin.Context) {
	if _, ok := s.insightsStore(c); !ok {
		return
	}
	res, id, done, err := RunInsights(c.Request.Context(), s.opts.Client, time.Minute)
	switch {
	case err != nil:
		s.temporalError(c, err, "")
	case !done:
		c.JSON(http.StatusAccepted, InsightsRunning{WorkflowID: id, Status: "running"})
	default:
		c.JSON(http.StatusOK, res)
	}
}
