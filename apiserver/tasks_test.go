package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func seedTasks(t *testing.T, st *store.Store) {
	t.Helper()
	for i := range 7 {
		owner := "grace@vendor.example"
		if i%2 == 1 {
			owner = "linus@vendor.example"
		}
		status := workflows.TaskOpen
		if i == 4 {
			status = workflows.TaskSnoozed
		}
		_, err := st.SyncTasks(context.Background(), store.TaskSync{
			CustomerID: fmt.Sprintf("c%d", i), Journey: "j1", Started: mockNow.AddDate(0, 0, -30), AccountName: fmt.Sprintf("Co %d", i), Version: 1,
			Tasks: []store.Task{{ID: "t1", Kind: workflows.TaskMilestone, Title: "late", Cause: "due day 10", Step: "milestone:kickoff:late-2",
				OwnerRole: "csm", OwnerEmail: owner, Status: status, Due: mockNow.Add(time.Duration(i-3) * time.Hour), OpenedAt: mockNow.AddDate(0, 0, -1)}},
		})
		require.NoError(t, err)
	}
}

func taskIDs(body map[string]any) []string {
	var out []string
	list, _ := body["tasks"].([]any)
	for _, v := range list {
		m := v.(map[string]any)
		out = append(out, m["customer_id"].(string))
	}
	return out
}

func TestTaskListRoute(t *testing.T) {
	e := newMockEnv(t, nil)
	seedTasks(t, e.store)

	status, body := e.do("GET", "/v1/tasks?owner=grace@vendor.example", csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, []string{"c0", "c2", "c4", "c6"}, taskIDs(body), "earliest due first")
	first := body["tasks"].([]any)[0].(map[string]any)
	assert.Equal(t, true, first["overdue"], "due before now and open")
	assert.Equal(t, "Co 0", first["account_name"])
	snoozed := body["tasks"].([]any)[2].(map[string]any)
	assert.Equal(t, false, snoozed["overdue"], "a snoozed task is not overdue")

	status, body = e.do("GET", "/v1/tasks?status=open&due_before=now", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"c0", "c1", "c2"}, taskIDs(body), "open and due before now: the overdue ones")

	status, body = e.do("GET", "/v1/tasks?status=snoozed", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, []string{"c4"}, taskIDs(body))

	// Pages: three, then three, then one, with no repeat.
	var seen []string
	path := "/v1/tasks?page_size=3"
	for range 4 {
		status, body = e.do("GET", path, csmKey, nil)
		require.Equal(t, http.StatusOK, status)
		seen = append(seen, taskIDs(body)...)
		next, _ := body["next_page_token"].(string)
		if next == "" {
			break
		}
		path = "/v1/tasks?page_size=3&page_token=" + url.QueryEscape(next)
	}
	assert.Equal(t, []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6"}, seen)
}

func TestTaskListRouteRefusesBadParameters(t *testing.T) {
	e := newMockEnv(t, nil)
	for _, q := range []struct{ query, field string }{
		{"owner=not-an-email", "owner"},
		{"owner=" + url.QueryEscape("a'b@x.example"), "owner"},
		{"owner=" + strings.Repeat("a", 250) + "@x.example", "owner"},
		{"owner=me", "owner"}, // a role key is nobody in particular
		{"role=boss", "role"},
		{"customer=" + url.QueryEscape("a b"), "customer"},
		{"status=done", "status"},
		{"due_before=yesterday", "due_before"},
		{"due_before=" + strings.Repeat("9", 41), "due_before"},
		{"page_size=0", "page_size"},
		{fmt.Sprintf("page_size=%d", store.MaxTaskPage+1), "page_size"},
		{"page_token=not-base64!", "page_token"},
		{"page_token=" + strings.Repeat("A", 401), "page_token"},
	} {
		status, body := e.do("GET", "/v1/tasks?"+q.query, csmKey, nil)
		assert.Equal(t, http.StatusBadRequest, status, q.query)
		assert.Equal(t, q.field, errField(body), q.query)
	}
	for _, ok := range []string{"page_size=500", "due_before=2026-06-02", "due_before=tomorrow", "due_before=2026-06-01T12:00:00Z", "role=manager"} {
		status, _ := e.do("GET", "/v1/tasks?"+ok, csmKey, nil)
		assert.Equal(t, http.StatusOK, status, ok)
	}
	status, _ := e.do("GET", "/v1/tasks", salesKey, nil)
	assert.Equal(t, http.StatusForbidden, status, "the sales role has no work list")
}

type brokenTasks struct{ *store.Store }

func (brokenTasks) Tasks(context.Context, store.TaskFilter) ([]store.ListedTask, error) {
	return nil, errors.New("database is locked")
}

func TestTaskListRouteWhenTheStoreFails(t *testing.T) {
	e := newMockEnv(t, func(st *store.Store) apiserver.Store { return brokenTasks{st} })
	status, body := e.do("GET", "/v1/tasks", csmKey, nil)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "store_unavailable", errCode(body))
}

// Task actions are checked before they reach the journey: an id that
// cannot be a task is not found, a snooze without its time or reason, or
// past the longest snooze, is refused naming the field, and a body past
// its limit too. None sends an update.
func TestTaskActionsAreCheckedBeforeTemporal(t *testing.T) {
	e := newMockEnv(t, nil)
	e.expectUpdates(workflows.UpdateTask, 0, nil)
	until := mockNow.Add(time.Hour).Format(time.RFC3339)
	for _, r := range []struct {
		path   string
		body   any
		status int
		field  string
	}{
		{"/v1/customers/acme/tasks/kickoff/done", nil, http.StatusNotFound, "task"},
		{"/v1/customers/acme/tasks/t0/done", nil, http.StatusNotFound, "task"},
		{"/v1/customers/acme/tasks/t1/snooze", map[string]any{"reason": "later"}, http.StatusUnprocessableEntity, "until"},
		{"/v1/customers/acme/tasks/t1/snooze", map[string]any{"until": until}, http.StatusUnprocessableEntity, "reason"},
		{"/v1/customers/acme/tasks/t1/snooze", map[string]any{"until": mockNow.Add(-time.Minute).Format(time.RFC3339), "reason": "r"}, http.StatusUnprocessableEntity, "until"},
		{"/v1/customers/acme/tasks/t1/snooze", map[string]any{"until": mockNow.Add(workflows.MaxSnooze + time.Hour).Format(time.RFC3339), "reason": "r"}, http.StatusUnprocessableEntity, "until"},
		{"/v1/customers/acme/tasks/t1/snooze", map[string]any{"until": until, "reason": strings.Repeat("x", workflows.MaxTextLen+1)}, http.StatusUnprocessableEntity, "reason"},
		{"/v1/customers/acme/tasks/t1/done", map[string]any{"note": strings.Repeat("x", workflows.MaxTextLen+1)}, http.StatusUnprocessableEntity, "reason"},
		{"/v1/customers/acme/tasks/t1/done", map[string]any{"until": until}, http.StatusBadRequest, ""},
	} {
		status, body := e.do("POST", r.path, csmKey, r.body)
		assert.Equal(t, r.status, status, "%s %v: %v", r.path, r.body, body)
		if r.field != "" {
			assert.Equal(t, r.field, errField(body), r.path)
		}
	}
	assert.Equal(t, 0, e.updates(workflows.UpdateTask), "nothing reached Temporal")

	status, _ := e.do("POST", "/v1/customers/acme/tasks/t1/snooze", csmKey, map[string]any{"until": until, "reason": strings.Repeat("x", workflows.MaxTextLen)})
	assert.Equal(t, http.StatusOK, status, "at the limits")
	status, _ = e.do("POST", "/v1/customers/acme/tasks/t1/done", csmKey, nil)
	assert.Equal(t, http.StatusOK, status, "done needs no body")
	assert.Equal(t, 2, e.updates(workflows.UpdateTask))
}
