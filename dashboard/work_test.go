package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// seedWork writes tasks to the store's index as journeys would: for
// grace, one overdue, one due later today or tomorrow, one next week and
// one snoozed; and one of linus's.
func seedWork(t *testing.T, st *store.Store, now time.Time) {
	t.Helper()
	task := func(id, owner, status string, due time.Time) store.Task {
		tk := store.Task{ID: id, Kind: "milestone", Title: "Milestone " + id + " is late", Cause: "due day 10", Step: "milestone:m:late-2",
			OwnerRole: "csm", OwnerEmail: owner, Status: status, Due: due, OpenedAt: now.Add(-time.Hour)}
		if status == "snoozed" {
			tk.SnoozedUntil = now.Add(48 * time.Hour)
		}
		return tk
	}
	for _, s := range []store.TaskSync{
		{CustomerID: "acme", AccountName: "Acme Corp", Tasks: []store.Task{task("t1", "grace@vendor.example", "open", now.Add(-2*time.Hour)), task("t2", "grace@vendor.example", "snoozed", now.Add(-time.Hour))}},
		{CustomerID: "beta", AccountName: "Beta Ltd", Tasks: []store.Task{task("t1", "grace@vendor.example", "open", now.Add(7*24*time.Hour))}},
		{CustomerID: "gamma", AccountName: "Gamma Inc", Tasks: []store.Task{task("t3", "linus@vendor.example", "open", now.Add(time.Minute))}},
	} {
		s.Journey, s.Started, s.Version = "j1", now.AddDate(0, -1, 0), 1
		_, err := st.SyncTasks(context.Background(), s)
		require.NoError(t, err)
	}
}

func TestWorkPageOverHTTP(t *testing.T) {
	e := startEnv(t, false)
	seedWork(t, e.Store, time.Now().UTC())
	hc, csrf := browserless(t, e)

	page := pageOf(t, hc, e.URL+"/ui/work?owner=grace@vendor.example")
	assert.Contains(t, page, `<a href="/ui/work" aria-current="page">My work</a>`)
	assert.Contains(t, page, "Work of grace@vendor.example")
	assert.Contains(t, page, "3 tasks")
	over := strings.Index(page, `id="work-overdue"`)
	snoozed := strings.Index(page, `id="work-snoozed"`)
	later := strings.Index(page, `id="work-later"`)
	require.True(t, over > 0 && later > over && snoozed > later, "overdue first, then later, then snoozed")
	assert.Contains(t, page, `data-task="acme/t1"`)
	assert.Contains(t, page, `data-task="acme/t2"`)
	assert.Contains(t, page, `data-task="beta/t1"`)
	assert.NotContains(t, page, `data-task="gamma/t3"`, "another owner's task")
	assert.Contains(t, page, `<li class="work-task overdue" data-task="acme/t1">`)
	assert.Contains(t, page, "snoozed until")

	everyone := pageOf(t, hc, e.URL+"/ui/work?owner=")
	assert.Contains(t, everyone, "<h1>Everyone's work</h1>")
	assert.Contains(t, everyone, "4 tasks")

	resp, err := hc.Get(e.URL + "/ui/work?owner=" + url.QueryEscape("not an email"))
	require.NoError(t, err)
	body := readBody(resp)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, "The owner must be an email address.")

	post := func(path string, form url.Values) (int, string) {
		req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		return resp.StatusCode, readBody(resp)
	}
	soon := time.Now().UTC().Add(2 * time.Hour).Format("2006-01-02T15:04")
	for _, tc := range []struct {
		path   string
		form   url.Values
		status int
		says   string
	}{
		{"/ui/work/done", url.Values{"customer": {"acme"}, "task": {"t1"}}, http.StatusForbidden, ""}, // no CSRF token
		{"/ui/work/done", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"kickoff"}}, http.StatusNotFound, "No such task."},
		{"/ui/work/close", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"t1"}}, http.StatusNotFound, "No such action."},
		{"/ui/work/snooze", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"t1"}, "until": {"next week"}, "reason": {"r"}}, http.StatusUnprocessableEntity, "until: a date and time"},
		{"/ui/work/snooze", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"t1"}, "until": {"2020-01-01T09:00"}, "reason": {"r"}}, http.StatusUnprocessableEntity, "must be in the future"},
		{"/ui/work/snooze", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"t1"}, "until": {soon}}, http.StatusUnprocessableEntity, "reason: is required"},
		{"/ui/work/done", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"t1"}, "note": {strings.Repeat("x", 2001)}}, http.StatusUnprocessableEntity, "at most 2000 characters"},
		// Checked, sent, and the journey is not there (no worker, no workflow).
		{"/ui/work/done", url.Values{"csrf": {csrf}, "customer": {"acme"}, "task": {"t1"}}, http.StatusNotFound, "No journey for acme."},
	} {
		status, body := post(tc.path, tc.form)
		assert.Equal(t, tc.status, status, "%s %v: %s", tc.path, tc.form, body)
		if tc.says != "" {
			assert.Contains(t, body, tc.says, fmt.Sprint(tc.form))
		}
	}
}
