package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browserless signs in as a CSM over plain HTTP with a cookie jar.
func browserless(t *testing.T, e *env) (*http.Client, string) {
	t.Helper()
	return browserlessAs(t, e, csmKey)
}

// browserlessAs signs in with key and returns the session's CSRF token.
func browserlessAs(t *testing.T, e *env, key string) (*http.Client, string) {
	t.Helper()
	hc := signedInAs(t, e, key)
	resp, err := hc.Get(e.URL + "/ui")
	require.NoError(t, err)
	body := readBody(resp)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	return hc, hiddenCSRF.FindStringSubmatch(body)[1]
}

// TestDashboardOverHTTP runs the pages against the real server without a
// browser: the portfolio from visibility in "needs you today" order, the
// customer page, an outcome through a form, the validator's message, and a
// form without its CSRF token refused.
func TestDashboardOverHTTP(t *testing.T) {
	e := startEnv(t, true)
	e.seed(t)
	hc, csrf := browserless(t, e)
	get := func(path string) (int, string) {
		resp, err := hc.Get(e.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode, readBody(resp)
	}
	code, body := get("/ui")
	require.Equal(t, http.StatusOK, code)
	ia, ib, ig := strings.Index(body, `data-customer="acme"`), strings.Index(body, `data-customer="beta"`), strings.Index(body, `data-customer="gamma"`)
	require.True(t, ia > 0 && ib > 0 && ig > 0, body)
	assert.True(t, ia < ib && ib < ig, "red, then yellow, then green")
	for _, w := range []string{"> red</span>", "> yellow</span>", "> green</span>"} {
		assert.Contains(t, body, w)
	}
	code, body = get("/ui?health=green")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `data-customer="gamma"`)
	assert.NotContains(t, body, `data-customer="acme"`)
	code, _ = get("/ui?health=purple")
	assert.Equal(t, http.StatusBadRequest, code)
	code, _ = get("/ui?csm=x'%20OR%20'1'='1")
	assert.Equal(t, http.StatusBadRequest, code, "a value that could change the query is refused")

	code, body = get("/ui/rows/acme")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Acme Corp")
	assert.Contains(t, body, "high risk", "the reasons are the health's title")

	code, body = get("/ui/quadrant.json")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"id":"gamma"`)

	code, body = get("/ui/customers/acme")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Acme Corp")
	assert.Contains(t, body, "Data export broken")

	post := func(path string, form url.Values, hx bool) (int, string) {
		req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if hx {
			req.Header.Set("HX-Request", "true")
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode, readBody(resp)
	}
	// Without the token: refused, and the journey has no handoff.
	code, _ = post("/ui/customers/acme/outcome", url.Values{"kind": {"handoff_held"}, "form": {"handoff"}}, true)
	assert.Equal(t, http.StatusForbidden, code)
	var state struct {
		Handoff struct {
			HeldAt string `json:"held_at"`
		} `json:"handoff"`
	}
	e.api(t, csmKey, "GET", "/v1/customers/acme", nil, &state)
	assert.Empty(t, state.Handoff.HeldAt)

	code, body = post("/ui/customers/acme/outcome", url.Values{"csrf": {csrf}, "kind": {"handoff_held"}, "form": {"handoff"}}, true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `data-step="outcome:handoff_held`)
	e.api(t, csmKey, "GET", "/v1/customers/acme", nil, &state)
	assert.NotEmpty(t, state.Handoff.HeldAt)

	// The validator's message, for htmx (a fragment) and without JS (the page).
	code, body = post("/ui/customers/acme/outcome", url.Values{"csrf": {csrf}, "kind": {"milestone_blocked"}, "milestone_id": {"kickoff"}, "form": {"milestone"}}, true)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, "note")
	code, body = post("/ui/customers/acme/outcome", url.Values{"csrf": {csrf}, "kind": {"milestone_completed"}, "milestone_id": {"nope"}, "form": {"milestone"}}, false)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `unknown milestone &#34;nope&#34;`)

	code, body = get("/ui/outbox")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, e.URL+"/a/", "action links on the public URL")
	// The welcome email's key names the journey as well as the step; the
	// outbox knows it.
	msgs, err := e.Store.OutboxList(context.Background(), "acme", 200)
	require.NoError(t, err)
	welcome := ""
	for _, m := range msgs {
		if m.Step == "handoff:welcome" {
			welcome = m.Key
		}
	}
	require.NotEmpty(t, welcome, "the welcome email is in the outbox")
	code, body = get("/ui/outbox/email?key=" + url.QueryEscape(welcome))
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `<iframe class="email"`)
	resp, err := hc.Get(e.URL + "/ui/outbox/raw?key=" + url.QueryEscape(welcome))
	require.NoError(t, err)
	raw := readBody(resp)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'", "no script runs in an email")
	assert.Contains(t, raw, "/a/")
	code, _ = get("/ui/outbox/email?key=nope")
	assert.Equal(t, http.StatusNotFound, code)
}
