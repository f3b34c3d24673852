package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The insights page: what green accounts do that the others do not, from
// the insights job's latest run, for all accounts, a plan or a CSM's book;
// the quadrant population over the runs; and, for admins, the job run now.

// insightsRunWait is how long "Run now" waits for the job before answering
// "still running": a portfolio of 10,000 journeys takes seconds.
const insightsRunWait = 30 * time.Second

type insightsData struct {
	View     apiserver.InsightsView
	Key      string // the segment shown
	Empty    bool   // the job has not run yet
	NotFound string // the run has no such segment
	CanRun   bool
	Message  string
	Claimed  int // differences claimed in the segment
	Quiet    string
	Mix      []mixRow
	// DiffJSON and TrendJSON feed the charts (data-chart attributes).
	DiffJSON, TrendJSON string
}

// mixRow is one engagement kind's average per account, green against the
// others, in each window.
type mixRow struct {
	Event           string
	Green30, Rest30 float64
	Green90, Rest90 float64
}

// validSegmentKey admits the shapes of key the job makes ("all",
// "plan:NAME", "csm:EMAIL") within the API's filter bound; any other key is
// a segment no run has.
func validSegmentKey(key string) bool {
	if key == "all" {
		return true
	}
	kind, name, ok := strings.Cut(key, ":")
	return ok && (kind == "plan" || kind == "csm") && name != "" && len(name) <= workflows.MaxShortLen
}

// insights shows the latest run for ?segment= (all accounts by default).
func (d *Dashboard) insights(c *gin.Context) {
	key := c.DefaultQuery("segment", "all")
	data := insightsData{Key: key, CanRun: isAdmin(c), Message: runMessage(c)}
	if !validSegmentKey(key) {
		data.NotFound = "There is no segment " + strconv.Quote(key) + ": a segment is all accounts, a plan or a CSM's book."
		d.render(c, http.StatusNotFound, "insights", "", d.page(c, "What green accounts do", "insights", data))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	v, err := apiserver.LoadInsights(ctx, d.opts.Insights, key, d.opts.Now())
	switch {
	case errors.Is(err, apiserver.ErrNoInsights):
		data.Empty = true
		d.render(c, http.StatusOK, "insights", "", d.page(c, "What green accounts do", "insights", data))
		return
	case errors.Is(err, apiserver.ErrNoSegment):
		data.NotFound = "The latest run has no accounts for " + segmentWords(key) + "."
		d.render(c, http.StatusNotFound, "insights", "", d.page(c, "What green accounts do", "insights", data))
		return
	case err != nil:
		d.log.Warn("dashboard: reading the insights failed", zap.Error(err), zap.String("segment", key))
		d.fail(c, http.StatusServiceUnavailable, "The insights could not be read from the store. Try again in a moment.")
		return
	}
	data.View = v
	for _, diff := range v.Segment.Differences {
		if diff.Claimed {
			data.Claimed++
		}
	}
	data.Quiet = quietSentence(v.Quadrants[insights.QuadrantQuiet])
	data.Mix = mixRows(v.Segment.Mix)
	data.DiffJSON = diffJSON(v.Segment)
	data.TrendJSON = trendJSON(v.Trend)
	d.render(c, http.StatusOK, "insights", "", d.page(c, "What green accounts do", "insights", data))
}

// runInsights runs the job now (or joins the run going) and goes back to
// the page, which says what the run found or that it is still running.
func (d *Dashboard) runInsights(c *gin.Context) {
	if !isAdmin(c) {
		d.fail(c, http.StatusForbidden, "Only an admin may run the insights job.")
		return
	}
	key := c.DefaultPostForm("segment", "all")
	if !validSegmentKey(key) {
		key = "all"
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), insightsRunWait+10*time.Second)
	defer cancel()
	res, id, done, err := apiserver.RunInsights(ctx, d.opts.Client, insightsRunWait)
	if err != nil {
		d.log.Warn("dashboard: the insights job failed", zap.Error(err), zap.String("workflow_id", id))
		d.fail(c, http.StatusServiceUnavailable, "The insights job did not complete: it failed or the journey engine did not answer. Try again in a moment.")
		return
	}
	q := url.Values{}
	if key != "all" {
		q.Set("segment", key)
	}
	if done {
		q.Set("journeys", strconv.Itoa(res.Journeys))
		q.Set("claimed", strconv.Itoa(res.Claimed))
		d.log.Info("dashboard: insights job run", zap.Int64("run_id", res.RunID), zap.Int("journeys", res.Journeys), zap.Int("claimed", res.Claimed))
	} else {
		q.Set("running", id)
	}
	c.Redirect(http.StatusSeeOther, "/ui/insights?"+q.Encode())
}

// runMessage is what the redirect after "Run now" says; only numbers and
// a fixed sentence come from the query.
func runMessage(c *gin.Context) string {
	if c.Query("running") != "" {
		return "The insights job is still running; reload this page in a minute for its results."
	}
	n, err1 := strconv.Atoi(c.Query("journeys"))
	m, err2 := strconv.Atoi(c.Query("claimed"))
	if err1 != nil || err2 != nil {
		return ""
	}
	return fmt.Sprintf("Computed over %s, %s claimed.", plural(n, "journey", "journeys"), plural(m, "difference", "differences"))
}

func isAdmin(c *gin.Context) bool {
	s := sessionOf(c)
	return s != nil && s.role == config.RoleAdmin
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// segmentWords names a segment key in a sentence: "all accounts", "plan
// pro", "the book of grace@example.com".
func segmentWords(key string) string {
	kind, name, _ := strings.Cut(key, ":")
	switch kind {
	case "plan":
		return "plan " + name
	case "csm":
		return "the book of " + name
	}
	return "all accounts"
}

// quietSentence names the quiet accounts of the latest run: happy, so no
// alarm rings, and not engaged, so they may leave without a word.
func quietSentence(n int) string {
	switch n {
	case 0:
		return "No account is quiet: every happy account also engages."
	case 1:
		return "1 account is quiet: happy, but it does not engage — the risk that hides."
	}
	return fmt.Sprintf("%d accounts are quiet: happy, but they do not engage — the risk that hides.", n)
}

func mixRows(mix []insights.Mix) []mixRow {
	var rows []mixRow
	at := map[string]int{}
	for _, m := range mix {
		i, ok := at[m.Event]
		if !ok {
			i = len(rows)
			at[m.Event] = i
			rows = append(rows, mixRow{Event: m.Event})
		}
		switch m.Window {
		case insights.Windows[0]:
			rows[i].Green30, rows[i].Rest30 = m.Green, m.Rest
		case insights.Windows[1]:
			rows[i].Green90, rows[i].Rest90 = m.Green, m.Rest
		}
	}
	return rows
}

// diffJSON is the bar chart of the differences: green rate against the
// others' for each difference counted in either group, in the run's order
// (claimed first, by lift).
func diffJSON(s insights.Segment) string {
	type bar struct {
		Text    string  `json:"text"`
		Green   float64 `json:"green"`
		Rest    float64 `json:"rest"`
		Claimed bool    `json:"claimed"`
	}
	bars := []bar{}
	for _, d := range s.Differences {
		if d.GreenOf+d.RestOf == 0 {
			continue
		}
		bars = append(bars, bar{Text: d.Text, Green: percent(d.GreenRate), Rest: percent(d.RestRate), Claimed: d.Claimed})
	}
	b, _ := json.Marshal(map[string]any{"bars": bars})
	return string(b)
}

// percent is a rate in percent with one decimal.
func percent(rate float64) float64 { return math.Round(rate*1000) / 10 }

// trendJSON is the quadrant population of each run, oldest first.
func trendJSON(trend []insights.Summary) string {
	dates := make([]string, 0, len(trend))
	series := map[string][]int{}
	for _, s := range trend {
		dates = append(dates, s.ComputedAt.UTC().Format("2006-01-02"))
		for _, q := range insights.Quadrants {
			series[q] = append(series[q], s.Quadrants[q])
		}
	}
	lines := []map[string]any{}
	for _, q := range insights.Quadrants {
		lines = append(lines, map[string]any{"quadrant": q, "counts": append([]int{}, series[q]...)})
	}
	b, _ := json.Marshal(map[string]any{"dates": dates, "series": lines})
	return string(b)
}
