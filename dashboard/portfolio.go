package dashboard

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// pageSize is the portfolio's rows per page: a screenful or two, each row
// loading its live columns when it scrolls into view.
const pageSize = 50

// bands order the portfolio "needs you today" first. Temporal's SQL
// visibility (SQLite, PostgreSQL) has no ORDER BY, so the order comes from
// one query per health band, red first; journeys not scored yet come last.
var bands = []string{workflows.HealthRed, workflows.HealthYellow, workflows.HealthGreen, ""}

// anyHealth is the band of the quadrant chart, which needs no order: one
// query over every health.
const anyHealth = "*"

var (
	healths   = []string{workflows.HealthRed, workflows.HealthYellow, workflows.HealthGreen}
	phases    = []string{workflows.PhaseHandoff, workflows.PhaseOnboarding, workflows.PhaseAdoption, workflows.PhasePaused, workflows.PhaseEnded}
	quadrants = []string{workflows.QuadrantChampion, workflows.QuadrantVocal, workflows.QuadrantQuiet, workflows.QuadrantAtRisk}
	sorts     = []string{"priority", "happiness", "engagement", "customer", "renewal"}
)

// filters are the portfolio's validated query parameters.
type filters struct {
	Health, Phase, Quadrant, CSM, Sort string
}

// parseFilters checks every value against a closed set or a strict
// pattern, because they end up inside a visibility query.
func parseFilters(c *gin.Context) (filters, error) {
	f := filters{Health: c.Query("health"), Phase: c.Query("phase"), Quadrant: c.Query("quadrant"),
		CSM: strings.TrimSpace(c.Query("csm")), Sort: c.DefaultQuery("sort", "priority")}
	check := func(name, v string, allowed []string) error {
		if v != "" && !slices.Contains(allowed, v) {
			return fmt.Errorf("%s must be one of %s", name, strings.Join(allowed, ", "))
		}
		return nil
	}
	for _, err := range []error{check("health", f.Health, healths), check("phase", f.Phase, phases),
		check("quadrant", f.Quadrant, quadrants), check("sort", f.Sort, sorts)} {
		if err != nil {
			return f, err
		}
	}
	if f.CSM != "" && !workflows.QuotableEmail(f.CSM) {
		return f, fmt.Errorf("csm must be an email address")
	}
	return f, nil
}

// query is the visibility query for one health band ("" = not scored yet);
// only values parseFilters admitted reach it.
func (f filters) query(band string) string {
	parts := []string{fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)}
	if f.Phase != workflows.PhaseEnded { // ended journeys have completed
		parts = append(parts, "ExecutionStatus = 'Running'")
	}
	switch {
	case f.Health != "":
		parts = append(parts, fmt.Sprintf("%s = '%s'", workflows.SAHealth.GetName(), f.Health))
	case band == anyHealth:
	case band != "":
		parts = append(parts, fmt.Sprintf("%s = '%s'", workflows.SAHealth.GetName(), band))
	default:
		parts = append(parts, workflows.SAHealth.GetName()+" IS NULL")
	}
	if f.Phase != "" {
		parts = append(parts, fmt.Sprintf("%s = '%s'", workflows.SAPhase.GetName(), f.Phase))
	}
	if f.Quadrant != "" {
		parts = append(parts, fmt.Sprintf("%s = '%s'", workflows.SAQuadrant.GetName(), f.Quadrant))
	}
	if f.CSM != "" {
		parts = append(parts, fmt.Sprintf("%s = '%s'", workflows.SACSMEmail.GetName(), f.CSM))
	}
	return strings.Join(parts, " AND ")
}

// bandsFor is the bands to walk: one when the health filter picks it.
func (f filters) bandsFor() []string {
	if f.Health != "" {
		return []string{f.Health}
	}
	return bands
}

// summary is one portfolio row as visibility knows it.
type summary = workflows.Listing

// pageToken is "<band index>.<visibility token>": where the next page
// starts across the banded queries.
func encodeToken(band int, token []byte) string {
	return strconv.Itoa(band) + "." + base64.RawURLEncoding.EncodeToString(token)
}

func decodeToken(s string) (int, []byte, error) {
	if s == "" {
		return 0, nil, nil
	}
	b, t, ok := strings.Cut(s, ".")
	n, err := strconv.Atoi(b)
	if !ok || err != nil || n < 0 || n >= len(bands) {
		return 0, nil, fmt.Errorf("page is not a page of this list")
	}
	token, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return 0, nil, fmt.Errorf("page is not a page of this list")
	}
	return n, token, nil
}

// list reads up to size rows starting at token, walking the bands in order:
// a few visibility calls per page, whatever the portfolio's size.
func (d *Dashboard) list(ctx context.Context, f filters, token string, size int) ([]summary, string, error) {
	band, vtoken, err := decodeToken(token)
	if err != nil {
		return nil, "", err
	}
	walk := f.bandsFor()
	var rows []summary
	for band < len(walk) && len(rows) < size {
		resp, err := d.opts.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: d.opts.Namespace, PageSize: int32(size - len(rows)), NextPageToken: vtoken, Query: f.query(walk[band]),
		})
		if err != nil {
			return nil, "", err
		}
		for _, ex := range resp.GetExecutions() {
			rows = append(rows, workflows.ListingOf(ex))
		}
		vtoken = resp.GetNextPageToken()
		if len(vtoken) == 0 {
			band++
		}
	}
	if band >= len(walk) {
		return rows, "", nil
	}
	return rows, encodeToken(band, vtoken), nil
}

// sortPage orders the rows of one page. "priority" keeps the bands' order
// (red, yellow, green) and puts the unhappiest, least engaged first within a
// band; the other sorts order this page only, as visibility cannot sort.
func sortPage(rows []summary, by string) {
	rank := func(h string) int {
		if i := slices.Index(healths, h); i >= 0 {
			return i
		}
		return len(healths)
	}
	slices.SortStableFunc(rows, func(a, b summary) int {
		switch by {
		case "happiness":
			return cmpInt(a.Happiness, b.Happiness)
		case "engagement":
			return cmpInt(a.Engagement, b.Engagement)
		case "customer":
			return strings.Compare(a.CustomerID, b.CustomerID)
		case "renewal":
			return a.RenewalDate.Compare(b.RenewalDate)
		}
		if r := rank(a.Health) - rank(b.Health); r != 0 {
			return r
		}
		if r := cmpInt(a.Happiness, b.Happiness); r != 0 {
			return r
		}
		return cmpInt(a.Engagement, b.Engagement)
	})
}

func cmpInt(a, b int64) int { return int(a - b) }

type portfolioData struct {
	Filters   filters
	Rows      []summary
	Next      string
	NextQuery string
	Healths   []string
	Phases    []string
	Quadrants []string
	Sorts     []string
	Error     string
	ChartURL  string
}

// portfolio is the list page; the live columns of each row arrive with
// htmx when the row scrolls into view (GET /ui/rows/:id).
func (d *Dashboard) portfolio(c *gin.Context) {
	data := portfolioData{Healths: healths, Phases: phases, Quadrants: quadrants, Sorts: sorts}
	f, err := parseFilters(c)
	data.Filters = f
	if err != nil {
		data.Error = err.Error()
		d.render(c, http.StatusBadRequest, "portfolio", "", d.page(c, "Portfolio", "portfolio", data))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	rows, next, err := d.list(ctx, f, c.Query("page"), pageSize)
	if err != nil {
		d.temporalFail(c, err)
		return
	}
	sortPage(rows, f.Sort)
	data.Rows, data.Next = rows, next
	q := c.Request.URL.Query()
	q.Del("page")
	data.ChartURL = "/ui/quadrant.json?" + q.Encode()
	if next != "" {
		q.Set("page", next)
		data.NextQuery = q.Encode()
	}
	d.render(c, http.StatusOK, "portfolio", "", d.page(c, "Portfolio", "portfolio", data))
}

// maxChartPoints bounds the quadrant chart: every customer of a large
// portfolio, read from visibility in pages of 1,000.
const maxChartPoints = 10000

type point struct {
	ID     string `json:"id"`
	E      int64  `json:"e"`
	H      int64  `json:"h"`
	Health string `json:"health"`
}

// quadrantData feeds the quadrant chart; the page fetches it after it has
// rendered, so a big portfolio does not slow the list down.
func (d *Dashboard) quadrantData(c *gin.Context) {
	f, err := parseFilters(c)
	if err != nil {
		c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
		return
	}
	if cached, ok := d.chartCache.get(f.query(anyHealth), d.opts.Now()); ok {
		c.JSON(http.StatusOK, cached)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 30*time.Second)
	defer cancel()
	points := []point{}
	var token []byte
	for len(points) < maxChartPoints {
		resp, err := d.opts.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: d.opts.Namespace, PageSize: int32(min(1000, maxChartPoints-len(points))), NextPageToken: token, Query: f.query(anyHealth),
		})
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, gin.H{"error": "the journey engine did not answer"})
			return
		}
		for _, ex := range resp.GetExecutions() {
			l := workflows.ListingOf(ex)
			points = append(points, point{ID: l.CustomerID, Health: l.Health, E: l.Engagement, H: l.Happiness})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	body := gin.H{"points": points, "truncated": len(points) >= maxChartPoints}
	d.chartCache.put(f.query(anyHealth), body, d.opts.Now())
	c.JSON(http.StatusOK, body)
}

// chartCache keeps the chart's points for a short while. Visibility costs
// about half a millisecond per row on the embedded server (10,000 points
// take seconds), and every portfolio view (each filter, each page) asks for
// the chart again.
type chartCache struct {
	mu sync.Mutex
	m  map[string]cachedChart
}

type cachedChart struct {
	body gin.H
	at   time.Time
}

const chartTTL = 30 * time.Second

func (cc *chartCache) get(key string, now time.Time) (gin.H, bool) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.m[key]
	return e.body, ok && now.Sub(e.at) < chartTTL
}

func (cc *chartCache) put(key string, body gin.H, now time.Time) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.m == nil || len(cc.m) > 64 { // a handful of filters at a time; start over past that
		cc.m = map[string]cachedChart{}
	}
	cc.m[key] = cachedChart{body: body, at: now}
}
