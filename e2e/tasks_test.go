package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// taskKey names a task across the portfolio, with what the lists show.
func taskKey(customer, id, status, owner string, due time.Time) string {
	return fmt.Sprintf("%s/%s %s %s %s", customer, id, status, strings.ToLower(owner), due.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)) // the store keeps microseconds
}

// TestTaskListsMatchEveryJourneyOnARealServer: fifty customers, started and
// driven through the API into varied states (handoff held, a complaint
// open, one resolved, reassigned to another CSM, a task snoozed), give
// GET /v1/tasks?owner= lists that match each journey's own tasks; one
// marked done through the API leaves its owner's list.
func TestTaskListsMatchEveryJourneyOnARealServer(t *testing.T) {
	// Hour-long days: only what the test does happens while it runs.
	e := newTrustEnvWith(t, playbooks.Default(), time.Hour, func(st *store.Store, acts *activities.Activities, _ *apiserver.Options) {
		acts.Tasks = st
	})
	const n = 50
	csms := []string{"grace@vendor.example", "linus@vendor.example", "barbara@vendor.example"}
	ids := make([]string, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range n {
		ids[i] = fmt.Sprintf("task-co-%02d", i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			d := deal(ids[i], "deal-"+ids[i])
			d["csm"] = map[string]any{"name": "CSM " + csms[i%3], "email": csms[i%3]}
			status, err := e.sales.do(http.MethodPost, "/v1/customers", d, nil)
			assert.NoError(t, err)
			assert.Equal(t, http.StatusCreated, status, ids[i])
		})
	}
	wg.Wait()
	// Every journey has its handoff task before the test acts on it.
	for _, id := range ids {
		waitFor(t, id+"'s handoff task", 20*time.Second, func() bool { return len(e.state(t, id).Tasks) > 0 })
	}
	post := func(path string, body any) int {
		status, err := e.csm.do(http.MethodPost, path, body, nil)
		require.NoError(t, err)
		return status
	}
	for i, id := range ids {
		base := "/v1/customers/" + id
		switch i % 5 {
		case 0:
			require.Equal(t, http.StatusOK, post(base+"/outcomes", map[string]any{"kind": "handoff_held"}), id)
		case 1:
			require.Equal(t, http.StatusCreated, post(base+"/complaints", map[string]any{"severity": "high", "summary": "Exports fail"}), id)
		case 2:
			require.Equal(t, http.StatusCreated, post(base+"/complaints", map[string]any{"severity": "low", "summary": "Typo"}), id)
			waitFor(t, id+"'s complaint task", 10*time.Second, func() bool { return len(e.state(t, id).Tasks) >= 2 })
			require.Equal(t, http.StatusOK, post(base+"/outcomes", map[string]any{"kind": "complaint_resolved", "complaint_id": "c1", "note": "fixed"}), id)
		case 3:
			require.Equal(t, http.StatusOK, post(base+"/reassign", map[string]any{"csm": map[string]any{"name": "Katherine Johnson", "email": "katherine@vendor.example"}}), id)
		case 4:
			tk := e.state(t, id).Tasks[0]
			status := post(base+"/tasks/"+tk.ID+"/snooze", map[string]any{"until": time.Now().Add(48 * time.Hour).Format(time.RFC3339), "reason": "champion on holiday"})
			require.Equal(t, http.StatusOK, status, id)
		}
	}

	// What each journey says, by owner; then the lists must say the same.
	want := func() map[string][]string {
		out := map[string][]string{}
		for _, id := range ids {
			for _, tk := range e.state(t, id).Tasks {
				if tk.Active() {
					out[tk.OwnerEmail] = append(out[tk.OwnerEmail], taskKey(id, tk.ID, tk.Status, tk.OwnerEmail, tk.Due))
				}
			}
		}
		for _, l := range out {
			slices.Sort(l)
		}
		return out
	}
	list := func(owner string) (apiserver.TaskList, []string) {
		var l apiserver.TaskList
		status, err := e.csm.do(http.MethodGet, "/v1/tasks?page_size=500&owner="+owner, nil, &l)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		var keys []string
		for _, tk := range l.Tasks {
			keys = append(keys, taskKey(tk.CustomerID, tk.ID, tk.Status, tk.OwnerEmail, tk.Due))
		}
		slices.Sort(keys)
		return l, keys
	}
	expected := want()
	owners := append(slices.Clone(csms), "katherine@vendor.example")
	for _, owner := range owners {
		require.NotEmpty(t, expected[owner], owner)
		var got []string
		deadline := time.Now().Add(20 * time.Second)
		for _, got = list(owner); !slices.Equal(got, expected[owner]) && time.Now().Before(deadline); _, got = list(owner) {
			time.Sleep(50 * time.Millisecond)
		}
		require.Equal(t, expected[owner], got, owner+"'s list matches the journeys")
	}
	total := 0
	for _, l := range expected {
		total += len(l)
	}
	// handoff tasks: 40 (10 held); complaints: 10 open; handovers: 10.
	assert.Equal(t, 40+10+10, total)

	// The list is in due order, snoozed tasks included and marked.
	l, _ := list("grace@vendor.example")
	require.True(t, slices.IsSortedFunc(l.Tasks, func(a, b apiserver.TaskItem) int { return a.Due.Compare(b.Due) }))
	snoozed := slices.IndexFunc(l.Tasks, func(tk apiserver.TaskItem) bool { return tk.Status == workflows.TaskSnoozed })
	require.GreaterOrEqual(t, snoozed, 0)

	// Marked done, a task leaves its owner's list.
	first := l.Tasks[0]
	require.Equal(t, http.StatusOK, post("/v1/customers/"+first.CustomerID+"/tasks/"+first.ID+"/done", map[string]any{"note": "called them"}))
	waitFor(t, "the done task to leave the list", 10*time.Second, func() bool {
		l, _ := list("grace@vendor.example")
		return !slices.ContainsFunc(l.Tasks, func(tk apiserver.TaskItem) bool { return tk.CustomerID == first.CustomerID && tk.ID == first.ID })
	})
	var ct apiserver.CustomerTasks
	status, err := e.csm.do(http.MethodGet, "/v1/customers/"+first.CustomerID+"/tasks", nil, &ct)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	i := slices.IndexFunc(ct.Tasks, func(tk workflows.TaskView) bool { return tk.ID == first.ID })
	require.GreaterOrEqual(t, i, 0)
	assert.Equal(t, workflows.TaskDone, ct.Tasks[i].Status, "the journey keeps it, done")
	assert.Equal(t, "marked done: called them", ct.Tasks[i].Note)
	assert.Equal(t, "csm", ct.Tasks[i].ClosedBy, "a role key's action is the role's")

	// Done twice: refused, and an unknown task is not found.
	assert.Equal(t, http.StatusUnprocessableEntity, post("/v1/customers/"+first.CustomerID+"/tasks/"+first.ID+"/done", nil))
	assert.Equal(t, http.StatusNotFound, post("/v1/customers/"+first.CustomerID+"/tasks/t999/done", nil))
}
