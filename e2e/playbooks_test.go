package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestPublishedPlaybooksOnARealServer: an admin publishes v2 (the handoff
// escalation a day sooner); one customer starts on it, one on v1; each
// journey runs its own, also after v3 is published and made the plan's.
func TestPublishedPlaybooksOnARealServer(t *testing.T) {
	e := newTrustEnv(t, playbooks.Default(), time.Second, nil)
	version := func(v int, escalate int) string {
		src := strings.Replace(string(playbooks.DefaultYAML()), "version: 2", "version: "+string(rune('0'+v)), 1)
		return strings.Replace(src, "escalate_after_days: 5", "escalate_after_days: "+string(rune('0'+escalate)), 1)
	}
	status, err := e.admin.do(http.MethodPost, "/v1/playbooks", map[string]any{"yaml": version(3, 4)}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)

	// A sales key may name a published version, never bring its own.
	withPlaybook := func(id, ref string) map[string]any {
		d := deal(id, "deal-"+id)
		if ref != "" {
			d["playbook"] = ref
		}
		return d
	}
	raw := withPlaybook("raw-co", "")
	raw["playbook_yaml"] = version(3, 4)
	status, err = e.sales.do(http.MethodPost, "/v1/customers", raw, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, status)
	var refused struct {
		Problems []playbooks.Problem `json:"problems"`
	}
	status, err = e.admin.do(http.MethodPost, "/v1/playbooks", map[string]any{"yaml": strings.Replace(version(4, 4), "    due_day: 10", "    due_day: 120", 1)}, &refused)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	require.Len(t, refused.Problems, 1)
	assert.Equal(t, "milestones[0].due_day", refused.Problems[0].Field)
	assert.Positive(t, refused.Problems[0].Line)

	for id, ref := range map[string]string{"on-v2": "default@v3", "on-v1": "default@v2"} {
		status, err = e.sales.do(http.MethodPost, "/v1/customers", withPlaybook(id, ref), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, status, id)
	}
	// v3 published and made the plan's: new customers of the plan start on
	// it, the running ones keep theirs.
	status, err = e.admin.do(http.MethodPost, "/v1/playbooks", map[string]any{"yaml": version(4, 6)}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
	status, err = e.admin.do(http.MethodPut, "/v1/plans/pro/playbook", map[string]any{"playbook": "default@v4"}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	status, err = e.sales.do(http.MethodPost, "/v1/customers", withPlaybook("on-plan", ""), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)

	escalatedOn := func(id string) float64 {
		var tl workflows.Timeline
		status, err := e.csm.do(http.MethodGet, "/v1/customers/"+id+"/timeline", nil, &tl)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		for _, en := range tl.Entries {
			if en.Step == "handoff:escalation" {
				return en.Day
			}
		}
		return -1
	}
	waitFor(t, "every handoff escalation", 30*time.Second, func() bool {
		return escalatedOn("on-v1") >= 0 && escalatedOn("on-v2") >= 0 && escalatedOn("on-plan") >= 0
	})
	for id, want := range map[string]struct {
		ref string
		day int
	}{"on-v1": {"default@v2", 5}, "on-v2": {"default@v3", 4}, "on-plan": {"default@v4", 6}} {
		assert.Equal(t, want.ref, e.state(t, id).Playbook, id)
		assert.Equal(t, want.day, int(escalatedOn(id)), "%s escalates on its own playbook's day", id)
	}
}

// TestRecordedCustomerUnderAChangedPlaybook: a customer's journey on a real
// server, read back through the API and replayed under a playbook whose
// handoff escalation comes a day sooner: the replay shows that escalation
// moved, and nothing else.
func TestRecordedCustomerUnderAChangedPlaybook(t *testing.T) {
	e := newTrustEnv(t, playbooks.Default(), 2*time.Second, nil)
	e.start(t, "replay-co", "deal-replay")
	time.Sleep(2500 * time.Millisecond) // day 1
	status, err := e.admin.do(http.MethodPost, "/v1/customers/replay-co/events", map[string]any{"id": "login-1", "type": "login"}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	var tl workflows.Timeline
	waitFor(t, "the handoff escalation", 30*time.Second, func() bool {
		_, err := e.csm.do(http.MethodGet, "/v1/customers/replay-co/timeline", nil, &tl)
		require.NoError(t, err)
		for _, en := range tl.Entries {
			if en.Step == "handoff:escalation" {
				return true
			}
		}
		return false
	})
	st := e.state(t, "replay-co")
	rec, err := simulate.FromJourney(st, tl)
	require.NoError(t, err)
	require.Len(t, rec.Scenario.Happens, 1)
	assert.Equal(t, "login", rec.Scenario.Happens[0].Event)

	v2 := playbooks.Default().Clone()
	v2.Version, v2.Handoff.EscalateAfterDays = 2, 4
	rec.Fit(v2)
	r, err := simulate.Simulate(context.Background(), v2, rec.Scenario, simulate.Options{})
	require.NoError(t, err)
	d := simulate.CompareWithin(r, rec.Actual, 0.75)
	assert.Empty(t, d.Added, "%+v", d)
	assert.Empty(t, d.Removed, "%+v", d)
	require.Len(t, d.Moved, 1, "%+v", d)
	assert.Equal(t, "handoff:escalation", d.Moved[0].Step)
	assert.Equal(t, 4.0, d.Moved[0].Day)
	assert.GreaterOrEqual(t, d.Moved[0].OldDay, 5.0)

	// Under its own playbook the replay does what the server did.
	same, err := simulate.Simulate(context.Background(), playbooks.Default(), rec.Scenario, simulate.Options{})
	require.NoError(t, err)
	d = simulate.CompareWithin(same, rec.Actual, 0.75)
	assert.Empty(t, d.Moved, "%+v", d)
	assert.Empty(t, d.Added)
	assert.Empty(t, d.Removed)
}
