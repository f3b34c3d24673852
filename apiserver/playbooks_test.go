package apiserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/mocks"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// v2YAML is the default playbook as version 2, with a shorter handoff escalation.
func v2YAML() string {
	src := strings.Replace(string(playbooks.DefaultYAML()), "version: 2", "version: 3", 1)
	return strings.Replace(src, "escalate_after_days: 5", "escalate_after_days: 4", 1)
}

func TestPublishedPlaybooks(t *testing.T) {
	e := newMockEnv(t, nil)

	// Publishing is the admin's.
	for _, key := range []string{salesKey, csmKey, integKey} {
		status, _ := e.do("POST", "/v1/playbooks", key, map[string]any{"yaml": v2YAML()})
		assert.Equal(t, http.StatusForbidden, status)
	}
	status, body := e.do("POST", "/v1/playbooks", adminKey, map[string]any{"yaml": v2YAML()})
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, "default@v3", body["ref"])
	assert.Equal(t, "admin", body["published_by"])
	status, body = e.do("POST", "/v1/playbooks", adminKey, map[string]any{"yaml": v2YAML()})
	assert.Equal(t, http.StatusOK, status, "the same text again is the same publish: %v", body)
	status, body = e.do("POST", "/v1/playbooks", adminKey, map[string]any{"yaml": v2YAML() + "# changed\n"})
	assert.Equal(t, http.StatusConflict, status)
	assert.Equal(t, "version_taken", errCode(body))
	status, body = e.do("POST", "/v1/playbooks", adminKey, map[string]any{"yaml": string(playbooks.DefaultYAML()) + "# mine\n"})
	assert.Equal(t, http.StatusConflict, status, "default@v2 is built in")
	assert.Contains(t, body["error"].(map[string]any)["message"], "built-in")

	// An invalid playbook: every problem with its line.
	bad := strings.Replace(v2YAML(), "version: 3", "version: 4", 1)
	bad = strings.Replace(bad, "    due_day: 10", "    due_day: 120", 1)
	bad = strings.Replace(bad, "template: training_invite}", "template: training_invitation}", 1)
	status, body = e.do("POST", "/v1/playbooks", adminKey, map[string]any{"yaml": bad})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	problems := body["problems"].([]any)
	require.Len(t, problems, 2)
	for _, p := range problems {
		assert.Positive(t, p.(map[string]any)["line"])
	}
	assert.Contains(t, body["error"].(map[string]any)["message"], "milestones[0].due_day")
	status, _ = e.do("GET", "/v1/playbooks/default@v4", csmKey, nil)
	assert.Equal(t, http.StatusNotFound, status, "a refused playbook is not published")

	// Reading.
	status, body = e.do("GET", "/v1/playbooks", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	list := body["playbooks"].([]any)
	require.Len(t, list, 2)
	assert.Equal(t, map[string]any{"ref": "default@v2", "id": "default", "version": float64(2), "name": "Standard onboarding", "built_in": true, "plans": []any{}}, list[0])
	assert.Equal(t, "default@v3", list[1].(map[string]any)["ref"])
	status, body = e.do("GET", "/v1/playbooks/default@v3", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, v2YAML(), body["yaml"])
	status, body = e.do("GET", "/v1/playbooks/default@v2", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, string(playbooks.DefaultYAML()), body["yaml"])
	for _, ref := range []string{"default@2", "nope@v1", "Default@v1"} {
		status, _ = e.do("GET", "/v1/playbooks/"+ref, csmKey, nil)
		assert.Equal(t, http.StatusNotFound, status, ref)
	}

	// Plans.
	status, _ = e.do("PUT", "/v1/plans/enterprise/playbook", csmKey, map[string]any{"playbook": "default@v3"})
	assert.Equal(t, http.StatusForbidden, status)
	status, body = e.do("PUT", "/v1/plans/enterprise/playbook", adminKey, map[string]any{"playbook": "default@v9"})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "playbook", errField(body))
	status, body = e.do("PUT", "/v1/plans/enterprise/playbook", adminKey, map[string]any{"playbook": "default@v3"})
	require.Equal(t, http.StatusOK, status, body)
	_, body = e.do("GET", "/v1/playbooks", csmKey, nil)
	assert.Equal(t, map[string]any{"enterprise": "default@v3"}, body["plans"])
	assert.Equal(t, []any{"enterprise"}, body["playbooks"].([]any)[1].(map[string]any)["plans"])

	// Starts: a sales key names a published version; the plan decides
	// otherwise; raw YAML stays the admin's.
	var got []workflows.JourneyInput
	run := mocks.NewWorkflowRun(t)
	run.On("GetRunID").Return("run-1").Maybe()
	e.c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.WorkflowName, mock.MatchedBy(func(in workflows.JourneyInput) bool {
		got = append(got, in)
		return true
	})).Return(run, nil)
	start := func(id, plan, playbook string) (int, map[string]any) {
		b := startBody(id)
		b["account"].(map[string]any)["renewal_date"] = mockNow.AddDate(1, 0, 0).Format("2006-01-02")
		b["account"].(map[string]any)["plan"] = plan
		b["deal_id"] = "deal-" + id
		if playbook != "" {
			b["playbook"] = playbook
		}
		return e.do("POST", "/v1/customers", salesKey, b)
	}
	status, body = start("named-v2", "growth", "default@v3")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = start("named-v1", "enterprise", "default@v2")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = start("by-plan", "enterprise", "")
	require.Equal(t, http.StatusCreated, status, body)
	status, body = start("no-plan-set", "growth", "")
	require.Equal(t, http.StatusCreated, status, body)
	require.Len(t, got, 4)
	assert.Equal(t, []string{"default@v3", "default@v2", "default@v3", "default@v2"},
		[]string{got[0].Playbook.Ref(), got[1].Playbook.Ref(), got[2].Playbook.Ref(), got[3].Playbook.Ref()})
	assert.Equal(t, 4, got[0].Playbook.Handoff.EscalateAfterDays)

	status, body = start("unknown", "growth", "default@v7")
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "playbook", errField(body))
	assert.Contains(t, body["error"].(map[string]any)["message"], "no published playbook default@v7")
	b := startBody("both")
	b["playbook"], b["playbook_yaml"] = "default@v3", v2YAML()
	status, body = e.do("POST", "/v1/customers", adminKey, b)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], "not both")
	assert.Len(t, got, 4, "nothing refused reached Temporal")
}

// playbookStoreDown fails every playbook read: a start that would need one
// answers 503 instead of starting on another playbook.
type playbookStoreDown struct{ *store.Store }

func (playbookStoreDown) PlanPlaybookFor(context.Context, string) (store.PlanPlaybook, bool, error) {
	return store.PlanPlaybook{}, false, errors.New("connection refused")
}

func (playbookStoreDown) PublishedPlaybook(context.Context, string, int) (store.PublishedPlaybook, bool, error) {
	return store.PublishedPlaybook{}, false, errors.New("connection refused")
}

func TestPlaybookLookupStoreDown(t *testing.T) {
	e := newMockEnv(t, func(st *store.Store) apiserver.Store { return playbookStoreDown{st} })
	b := startBody("acme")
	b["account"].(map[string]any)["renewal_date"] = mockNow.AddDate(1, 0, 0).Format("2006-01-02")
	status, body := e.do("POST", "/v1/customers", salesKey, b)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "store_unavailable", errCode(body))
	b["playbook"] = "default@v3"
	status, _ = e.do("POST", "/v1/customers", salesKey, b)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	b["playbook"] = "default@v2"
	run := mocks.NewWorkflowRun(t)
	run.On("GetRunID").Return("run-1").Maybe()
	e.c.On("ExecuteWorkflow", mock.Anything, mock.Anything, workflows.WorkflowName, mock.Anything).Return(run, nil).Once()
	status, body = e.do("POST", "/v1/customers", salesKey, b)
	assert.Equal(t, http.StatusCreated, status, "the built-in playbook needs no store: %v", body)
}

func TestSimulateRoute(t *testing.T) {
	e := newMockEnv(t, nil)
	for _, key := range []string{salesKey, integKey} {
		status, _ := e.do("POST", "/v1/playbooks/simulate", key, map[string]any{"scenarios": []string{"silent"}})
		assert.Equal(t, http.StatusForbidden, status)
	}
	var res struct {
		Playbook string `json:"playbook"`
		Results  []struct {
			Scenario string  `json:"scenario"`
			Until    float64 `json:"until"`
			Steps    []struct {
				Step, Role, Cause string
				Day               float64
			} `json:"steps"`
		} `json:"results"`
	}
	status, _ := doInto(t, e, "POST", "/v1/playbooks/simulate", csmKey, map[string]any{"scenarios": []string{"silent"}, "until": 30}, &res)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "default@v2", res.Playbook)
	require.Len(t, res.Results, 1)
	assert.Equal(t, 30.0, res.Results[0].Until)
	found := false
	for _, s := range res.Results[0].Steps {
		if s.Step == "handoff:escalation" {
			found = true
			assert.Equal(t, 5.0, s.Day)
			assert.Equal(t, "manager", s.Role)
			assert.Equal(t, "handoff call not held by day 5", s.Cause)
		}
	}
	assert.True(t, found)

	// Compare an unpublished playbook with the built-in one, on a scenario of one's own.
	var diff struct {
		Playbook, Old string
		Scenarios     []struct {
			Scenario string `json:"scenario"`
			Moved    []struct {
				Step   string
				Day    float64
				OldDay float64 `json:"old_day"`
			} `json:"moved"`
			Added   []any `json:"added"`
			Removed []any `json:"removed"`
		} `json:"scenarios"`
	}
	status, _ = doInto(t, e, "POST", "/v1/playbooks/simulate", csmKey, map[string]any{
		"playbook_yaml": v2YAML(), "compare": "default@v2", "scenarios": []string{"silent", "engaged"},
		"scenario_yaml": []string{"name: mine\nuntil: 20\nhappens:\n  - {day: 2, event: login}\n"},
	}, &diff)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "default@v3", diff.Playbook)
	assert.Equal(t, "default@v2", diff.Old)
	require.Len(t, diff.Scenarios, 3)
	require.Len(t, diff.Scenarios[0].Moved, 1)
	assert.Equal(t, "handoff:escalation", diff.Scenarios[0].Moved[0].Step)
	assert.Equal(t, 4.0, diff.Scenarios[0].Moved[0].Day)
	assert.Empty(t, diff.Scenarios[1].Moved, "engaged holds the handoff")
	assert.Equal(t, "mine", diff.Scenarios[2].Scenario)
	require.Len(t, diff.Scenarios[2].Moved, 1, "the customer who only logs in is escalated a day sooner")

	// Mistakes and bounds.
	status, body := e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"scenario_yaml": []string{"name: x\nhappens:\n  - {day: 1, evnt: login}\n"}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "invalid_scenario", errCode(body))
	assert.Equal(t, "scenario_yaml[0]", errField(body))
	assert.Equal(t, float64(3), body["problems"].([]any)[0].(map[string]any)["line"])
	status, body = e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"scenario_yaml": []string{"name: x\nhappens:\n  - {day: 1, event: logn}\n"}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], `line 3: happens[0].event: the playbook default@v2 has no event type "logn"`)
	status, body = e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"playbook_yaml": strings.Replace(v2YAML(), "    due_day: 10", "    due_day: 120", 1)})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "playbook_yaml", errField(body))
	assert.NotEmpty(t, body["problems"])
	status, body = e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"scenarios": []string{"nope"}})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], `no built-in scenario "nope"`)
	status, body = e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"scenarios": []string{"silent"}, "until": 1159})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "until", errField(body))
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "silent"
	}
	status, body = e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"scenarios": eleven})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["message"], "at most 10")
	status, _ = e.do("POST", "/v1/playbooks/simulate", csmKey, map[string]any{"playbook": "default@v9"})
	assert.Equal(t, http.StatusUnprocessableEntity, status)
}

// doInto sends a JSON request and decodes the answer into out.
func doInto(t *testing.T, e *mockEnv, method, path, key string, body, out any) (int, []byte) {
	t.Helper()
	data, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(data))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.Unmarshal(raw, out), string(raw))
	}
	return resp.StatusCode, raw
}
