package dashboard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// chromium finds a Chromium; in CI (CI set) a missing one is a failure, so
// the browser tests cannot silently stop running there.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("CI is set but no Chromium is installed (apt-get install chromium); the browser tests must run in CI")
	}
	t.Skip("no Chromium installed: skipping the browser tests (apt-get install chromium to run them; with CI set they fail instead)")
	return ""
}

// browser starts headless Chromium with a fresh profile and no network
// chatter of its own (the machine may have no outside network).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path), chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1440, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	// The first call starts the browser and must not carry a timeout (it
	// would stop the browser); the test's steps get one after.
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	tctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return tctx
}

// screenshots go to a temp dir, and also to LIFECYCLE_SCREENSHOTS (e.g.
// "docs": the repository's docs/) when set, so a normal test run never
// rewrites committed files.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(t.TempDir(), name), png, 0o644))
	if dir := os.Getenv("LIFECYCLE_SCREENSHOTS"); dir != "" {
		if !filepath.IsAbs(dir) {
			dir = filepath.Join("..", dir) // relative to the repository root
		}
		require.NoError(t, os.MkdirAll(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
		t.Logf("wrote %s (%d bytes)", filepath.Join(dir, name), len(png))
	}
}

// rawStep is a step id as machines read it ("touchpoint:training-basics",
// "checkin:d120"): people read labels, so no page shows one.
var rawStep = regexp.MustCompile(`\b(handoff|touchpoint|milestone|complaint|silence|renewal|reassign|phase|term|task|email|contacts):[A-Za-z0-9]\S*|\b(checkin|qbr):d[0-9]+`)

// assertNoStepIDs checks the rendered text of the page (what a person
// reads, not the attributes) for step ids.
func assertNoStepIDs(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	text := run(t, ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NotEmpty(t, text)
	assert.Empty(t, rawStep.FindAllString(text, -1), "step ids visible on the %s", page)
}

// nextLabel is the label of a customer's next step, from the API.
func (e *env) nextLabel(t *testing.T, id string) (step, label string) {
	t.Helper()
	var st workflows.State
	e.api(t, csmKey, "GET", "/v1/customers/"+id, nil, &st)
	require.NotEmpty(t, st.Next, id)
	return st.Next[0].Step, st.Next[0].Label
}

// seedMore adds customers so the portfolio and the chart look like a
// portfolio (and the screenshots show something).
func (e *env) seedMore(t *testing.T) {
	t.Helper()
	more := []struct {
		id, name, csm string
		events        []string
		complaint     string
	}{
		{"delta", "Delta Freight", "alan@vendor.example", []string{"meeting_held", "webinar_attended", "reply", "login"}, "high"},
		{"echo", "Echo Health", "grace@vendor.example", []string{"login", "feature_used"}, ""},
		{"foxtrot", "Foxtrot Bank", "alan@vendor.example", []string{"meeting_held", "training_completed", "webinar_attended", "email_click"}, ""},
		{"golf", "Golf Media", "grace@vendor.example", nil, "medium"},
	}
	for _, c := range more {
		e.startCustomer(t, c.id, c.name, c.csm)
		for _, ev := range c.events {
			e.api(t, integKey, "POST", "/v1/customers/"+c.id+"/events", map[string]any{"id": c.id + "-" + ev, "type": ev}, nil)
		}
		if c.complaint != "" {
			e.api(t, csmKey, "POST", "/v1/customers/"+c.id+"/complaints", map[string]any{"severity": c.complaint, "summary": "Reports are slow"}, nil)
		}
	}
	waitUntil(t, "visibility to list every customer with a health", 30*time.Second, func() bool {
		var list struct {
			Customers []map[string]any `json:"customers"`
		}
		e.api(t, csmKey, "GET", "/v1/customers?page_size=100", nil, &list)
		scored := 0
		for _, c := range list.Customers {
			if h, _ := c["health"].(string); h != "" {
				scored++
			}
		}
		return scored == 7
	})
}

// TestBrowser drives the dashboard in headless Chromium against the real
// server (embedded Temporal, worker, API): sign in, the portfolio's health
// words, a customer, "handoff held" on the timeline, the validator's message
// inline, a live refresh, and an email action through to its confirmation.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	started := time.Now()
	e := startEnv(t, true)
	e.seed(t)
	e.seedMore(t)
	t.Logf("server and 7 customers ready in %s", time.Since(started).Round(time.Millisecond))

	// Any page sends an anonymous browser to sign-in, and back after it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/ui/customers/beta"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), csmKey),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.ID("live")),
	))
	assert.Equal(t, e.URL+"/ui/customers/beta", run(t, ctx, chromedp.Location()))

	// The portfolio: health words from visibility, then the live rows
	// (lazy, as they scroll into view) with the reasons as a title.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/ui"),
		chromedp.WaitVisible(css(`tr[data-customer="acme"][data-health="red"]`)),
		chromedp.WaitVisible(css(`tr[data-customer="gamma"][data-health="green"]`)),
		chromedp.WaitVisible(css(`tr[data-customer="beta"][data-health="yellow"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("quadrant-status").textContent.includes("customers")`), // the chart's data arrived
	))
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`tr[data-customer="acme"] .health`))), "red")
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`tr[data-customer="beta"] .health`))), "yellow")
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`tr[data-customer="gamma"] .health`))), "green")
	assert.Contains(t, run(t, ctx, chromedp.AttributeValue(css(`tr[data-customer="acme"] .health`), "title")).Value, "high risk")
	order := run(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#portfolio tbody tr")].map(r => r.dataset.health).join(",")`))
	assert.True(t, strings.HasPrefix(order, "red,"), "needs you today first: %s", order)
	assert.True(t, strings.HasSuffix(order, ",green"), "green last: %s", order)
	// Next touchpoints read in words; the ids stay for machines.
	step, label := e.nextLabel(t, "gamma")
	require.NotEqual(t, step, label)
	require.NoError(t, chromedp.Do(ctx, chromedp.WaitVisible(css(`#portfolio tbody tr[data-health]:last-child`))))
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`tr[data-customer="gamma"] [data-step]`))), label)
	assertNoStepIDs(t, ctx, "portfolio")
	screenshot(t, ctx, "portfolio.png")

	// Through to the customer; record the handoff call.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(`tr[data-customer="acme"] th a`)),
		chromedp.WaitVisible(css(`#handoff button`)),
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
		chromedp.Click(css(`#handoff button`)),
		chromedp.WaitVisible(css(`#live tr[data-step^="outcome:handoff_held"]`)),
		chromedp.WaitNotPresent(css(`#handoff`)), // the forms were refreshed too
	))

	// An invalid outcome: a blocked milestone needs a note. The validator's
	// message appears next to the form; nothing reaches the journey.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(`#milestone input[value="milestone_blocked"]`)),
		chromedp.Click(css(`#milestone button`)),
		chromedp.WaitVisible(chromedp.ID("err-milestone")),
	))
	assert.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("err-milestone"))), "note")

	// Live: a complaint arriving through the API shows up without a reload.
	e.api(t, integKey, "POST", "/v1/customers/acme/complaints", map[string]any{"severity": "low", "summary": "Invoices show the wrong VAT"}, nil)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Poll[chromedp.Void](`document.getElementById("live").textContent.includes("Invoices show the wrong VAT")`, chromedp.WithPollingTimeout(20*time.Second)),
	))
	assert.True(t, run(t, ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)), "the page refreshed its state in place")
	_, label = e.nextLabel(t, "acme")
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`ul.upcoming`))), label)
	assertNoStepIDs(t, ctx, "customer page")
	screenshot(t, ctx, "customer.png")

	// The outbox: the welcome email's "book" action opens its confirmation
	// page; confirming records it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(`nav a[href="/ui/outbox"]`)),
		chromedp.WaitVisible(css(`a.action[data-action="book_handoff"]`)),
		chromedp.Navigate(e.URL+"/ui/outbox?customer=beta"),
		chromedp.Click(css(`a.action[data-action="book_handoff"]`)),
		chromedp.WaitVisible(css(`form button`)),
	))
	assert.Contains(t, run(t, ctx, chromedp.Location()), e.URL+"/a/")
	assert.NotEmpty(t, run(t, ctx, chromedp.Text(css(`h1`))))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(css(`form button`))))
	// The click navigates (a form POST): poll from Go, as a page-side poll
	// dies with the page it ran in.
	waitUntil(t, "the action's confirmation", 20*time.Second, func() bool {
		h1, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("h1") ? document.querySelector("h1").textContent : ""`))
		return err == nil && strings.Contains(h1, "Recorded")
	})
	t.Logf("browser test done in %s", time.Since(started).Round(time.Millisecond))
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// run runs one action that answers a value, failing the test on an error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	require.NoError(t, err)
	return v
}

// TestBrowserInsights opens "What green accounts do" in headless Chromium
// with eight weekly runs stored (about 40 green accounts against 40 others
// on three plans and three CSMs' books): the differences chart and the
// trend are drawn, a claimed difference's row has its numbers, and the
// segment select switches to a plan's accounts. The screenshot is 1280
// wide.
func TestBrowserInsights(t *testing.T) {
	ctx := browser(t)
	e := startEnv(t, false)
	now := time.Now().UTC()
	var latest insights.Report
	for run := range 8 {
		at := now.AddDate(0, 0, -7*(7-run))
		latest = insights.Compute(insightsPortfolio(40, 40, at, run), at, 0)
		saveInsightRun(t, e.Store, latest)
	}
	all, _ := latest.Segment("all")
	tr := differenceOf(t, all, "event:training_completed:30")
	require.True(t, tr.Claimed)
	row := css(`#differences tr.claimed[data-diff="event:training_completed:30"]`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(e.URL+"/ui/insights"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), adminKey),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.ID("diff-chart")),
		chromedp.WaitVisible(row),
		chromedp.Poll[chromedp.Void](`document.getElementById("diff-chart").dataset.drawn === "true" && document.getElementById("trend-chart").dataset.drawn === "true"`,
			chromedp.WithPollingTimeout(10*time.Second)),
	))
	assert.Contains(t, run(t, ctx, chromedp.Text(row)), fmt.Sprintf("Green %d of %d", tr.Green, tr.GreenOf))
	assert.Contains(t, run(t, ctx, chromedp.Text(row)), "claimed")
	assert.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("quiet"))), fmt.Sprintf("%d accounts are quiet", latest.Quadrants[insights.QuadrantQuiet]))
	assert.Equal(t, 1280, run(t, ctx, chromedp.Evaluate[int](`document.documentElement.clientWidth`)))
	screenshot(t, ctx, "insights.png")

	// The select sends its form when it changes.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("segment"); s.value = "plan:pro"; s.dispatchEvent(new Event("change")); })()`),
		chromedp.WaitVisible(css(`section[data-segment="plan:pro"]`)),
	))
	assert.Equal(t, e.URL+"/ui/insights?segment=plan%3Apro", run(t, ctx, chromedp.Location()))
	assert.Equal(t, "plan:pro", run(t, ctx, chromedp.Value(chromedp.ID("segment"))))
	assert.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("seg-title"))), "Plan pro")
}

// TestBrowserWork opens "My work" in headless Chromium for a CSM with the
// seeded customers' tasks (handoff calls, complaints), overdue ones first;
// one marked done leaves the list, and the journey keeps it done.
func TestBrowserWork(t *testing.T) {
	ctx := browser(t)
	e := startEnv(t, true)
	e.seed(t)
	e.seedMore(t)
	const grace = "grace@vendor.example"
	// The journeys' own count of her active tasks, and the index's.
	journeys := func() int {
		var list struct {
			Customers []struct {
				CustomerID string `json:"customer_id"`
			} `json:"customers"`
		}
		e.api(t, csmKey, "GET", "/v1/customers?page_size=100", nil, &list)
		n := 0
		for _, c := range list.Customers {
			var ct struct {
				Tasks []workflows.TaskView `json:"tasks"`
			}
			e.api(t, csmKey, "GET", "/v1/customers/"+c.CustomerID+"/tasks", nil, &ct)
			for _, tk := range ct.Tasks {
				if tk.Active() && tk.OwnerEmail == grace {
					n++
				}
			}
		}
		return n
	}
	var want int
	waitUntil(t, "the store's index to have grace's tasks", 30*time.Second, func() bool {
		rows, err := e.Store.Tasks(context.Background(), store.TaskFilter{Owner: grace})
		require.NoError(t, err)
		want = len(rows)
		return want >= 3 && want == journeys()
	})
	require.NoError(t, chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(e.URL+"/ui/work?owner="+grace),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), csmKey),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.ID("work-count")),
	))
	items := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("li.work-task")].map(li => li.dataset.task)`))
	require.Len(t, items, want, "every task of hers, once")
	assert.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("work-count"))), fmt.Sprintf("%d tasks", want))
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`li.work-task`))), "Why:", "each task says why it exists")
	assertNoStepIDs(t, ctx, "work list")
	screenshot(t, ctx, "work.png")

	first := items[0]
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(css(`li.work-task[data-task="`+first+`"] input[name="note"]`), "called the champion"),
		chromedp.Click(css(`li.work-task[data-task="`+first+`"] .work-done button`)),
	))
	waitUntil(t, "the list without the done task", 20*time.Second, func() bool {
		msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("work-message") ? document.getElementById("work-message").textContent : ""`))
		return err == nil && strings.Contains(msg, "marked done")
	})
	left := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("li.work-task")].map(li => li.dataset.task)`))
	assert.NotContains(t, left, first, "the done task left the list")
	assert.Len(t, left, want-1)

	customer, task, _ := strings.Cut(first, "/")
	var ct struct {
		Tasks []workflows.TaskView `json:"tasks"`
	}
	e.api(t, csmKey, "GET", "/v1/customers/"+customer+"/tasks", nil, &ct)
	found := false
	for _, tk := range ct.Tasks {
		if tk.ID == task {
			found = true
			assert.Equal(t, workflows.TaskDone, tk.Status)
			assert.Equal(t, "marked done: called the champion", tk.Note)
		}
	}
	require.True(t, found, "task %s in %s's tasks", task, customer)

	// The customer page lists its open tasks; one done there leaves it and
	// the page comes back to the customer.
	other, otherTask, _ := strings.Cut(left[0], "/")
	row := css(`#tasks li[data-task="` + otherTask + `"]`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/ui/customers/"+other),
		chromedp.WaitVisible(row),
		chromedp.Click(css(`#tasks li[data-task="`+otherTask+`"] button`)),
	))
	waitUntil(t, "the customer page without the done task", 20*time.Second, func() bool {
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#tasks li[data-task="`+otherTask+`"]').length`))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		return err == nil && n == 0 && loc == e.URL+"/ui/customers/"+other
	})
}
