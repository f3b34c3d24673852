package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// labV2 is the default playbook as version 2 with the handoff escalation a
// day sooner.
func labV2() string {
	src := strings.Replace(string(playbooks.DefaultYAML()), "version: 2", "version: 3", 1)
	return strings.Replace(src, "escalate_after_days: 5", "escalate_after_days: 4", 1)
}

// The lab over HTTP: a CSM simulates but may not publish; errors and
// problems are shown on the page; an admin publishes.
func TestPlaybookLabOverHTTP(t *testing.T) {
	e := startEnv(t, false)
	post := func(hc *http.Client, form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", e.URL+"/ui/playbooks", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode, readBody(resp)
	}
	csm, csrf := browserless(t, e)
	resp, err := csm.Get(e.URL + "/ui/playbooks")
	require.NoError(t, err)
	page := readBody(resp)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, `data-ref="default@v2"`)
	assert.NotContains(t, page, `id="lab-publish"`, "a CSM sees no publish button")

	code, body := post(csm, url.Values{"csrf": {csrf}, "yaml": {labV2()}, "b": {"default@v2"}, "scenario": {"silent"}, "do": {"simulate"}})
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `data-scenario="silent"`)
	assert.Contains(t, body, `class="moved" data-step="handoff:escalation"`)
	assert.Contains(t, body, "day 5 → day 4")
	code, body = post(csm, url.Values{"csrf": {csrf}, "yaml": {labV2()}, "do": {"publish"}})
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "Only an admin may publish")

	code, body = post(csm, url.Values{"csrf": {csrf}, "yaml": {strings.Replace(labV2(), "    due_day: 10", "    due_day: 120", 1)}, "scenario": {"silent"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="lab-problems"`)
	assert.Contains(t, body, "milestones[0].due_day")
	code, body = post(csm, url.Values{"csrf": {csrf}, "a": {"default@v9"}, "scenario": {"silent"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, "no published playbook default@v9")
	code, body = post(csm, url.Values{"csrf": {csrf}, "a": {"default@v2"}})
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, "Pick at least one scenario")
	code, _ = post(csm, url.Values{"a": {"default@v2"}, "scenario": {"silent"}})
	assert.Equal(t, http.StatusForbidden, code, "no CSRF token, no simulation")

	admin, adminCSRF := browserlessAs(t, e, adminKey)
	noRedirect := *admin
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	code, _ = post(&noRedirect, url.Values{"csrf": {adminCSRF}, "yaml": {labV2()}, "do": {"publish"}})
	assert.Equal(t, http.StatusSeeOther, code)
	code, body = post(admin, url.Values{"csrf": {adminCSRF}, "yaml": {labV2()}, "do": {"publish"}})
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "was published before with this text")
	code, body = post(admin, url.Values{"csrf": {adminCSRF}, "yaml": {labV2() + "# other\n"}, "do": {"publish"}})
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, body, "never changes")
	p, ok, err := e.Store.PublishedPlaybook(t.Context(), "default", 3)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, labV2(), p.YAML)
	assert.Equal(t, "dashboard:admin", p.PublishedBy)
}

// TestBrowserPlaybookLab: an admin pastes a playbook in headless Chromium,
// sees its problems inline, fixes it, compares it with v1 on a scenario
// (the moved escalation, the curves drawn), and publishes it.
func TestBrowserPlaybookLab(t *testing.T) {
	ctx := browser(t)
	e := startEnv(t, false)
	bad := strings.Replace(labV2(), "    due_day: 10", "    due_day: 120", 1)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(e.URL+"/ui/playbooks"),
		chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SendKeys(chromedp.ID("key"), adminKey),
		chromedp.Submit(chromedp.ID("key")),
		chromedp.WaitVisible(chromedp.ID("lab")),
		chromedp.SetValue(chromedp.ID("lab-yaml"), bad),
		chromedp.Click(chromedp.ID("lab-publish")),
		chromedp.WaitVisible(chromedp.ID("lab-problems")),
	))
	assert.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("lab-problems"))), "milestones[0].due_day")
	assert.Contains(t, run(t, ctx, chromedp.Value(chromedp.ID("lab-yaml"))), "due_day: 120", "the editor keeps what was pasted")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("lab-yaml"), labV2()),
		chromedp.SetValue(chromedp.ID("lab-b"), "default@v2"),
		chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('input[name="scenario"]').forEach(b => { b.checked = b.value === "silent" || b.value === "engaged"; })`),
		chromedp.Click(chromedp.ID("lab-simulate")),
		chromedp.WaitVisible(css(`section[data-scenario="silent"] li.moved[data-step="handoff:escalation"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('section[data-scenario="silent"] canvas.lab-chart').dataset.drawn === "true"`, chromedp.WithPollingTimeout(10*time.Second)),
	))
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`section[data-scenario="engaged"] p.same`))), "The same steps")
	assert.Contains(t, run(t, ctx, chromedp.Text(css(`section[data-scenario="silent"] li.moved`))), "day 5 → day 4")
	screenshot(t, ctx, "playbook-lab.png")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("lab-publish")),
		chromedp.WaitVisible(chromedp.ID("lab-message")),
		chromedp.WaitVisible(css(`#versions tr[data-ref="default@v3"]`)),
	))
	assert.Contains(t, run(t, ctx, chromedp.Text(chromedp.ID("lab-message"))), "Published default@v3")
}
