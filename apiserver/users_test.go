package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// addUser adds a person to st and returns their key.
func addUser(t *testing.T, st *store.Store, email, name, role string) string {
	t.Helper()
	_, key, err := st.CreateUser(context.Background(), store.User{Email: email, Name: name, Role: role})
	require.NoError(t, err)
	return key
}

// TestUserKeysAreAdmittedWithTheirRole: a person's own key is admitted with
// the role they were given, refused outside it, and refused altogether
// once they are removed or their key rotated.
func TestUserKeysAreAdmittedWithTheirRole(t *testing.T) {
	e := newMockEnv(t, nil)
	grace := addUser(t, e.store, "grace@example.com", "Grace Hopper", "csm")
	alan := addUser(t, e.store, "alan@example.com", "Alan Turing", "admin")
	sally := addUser(t, e.store, "sally@example.com", "Sally Sales", "sales")

	status, body := e.do("GET", "/v1/playbooks", grace, nil)
	assert.Equal(t, http.StatusOK, status, "a csm route with a csm person's key: %v", body)
	for _, tc := range []struct{ method, path, key string }{
		{"GET", "/v1/suppressions?email=a@b.example", grace},
		{"POST", "/v1/customers", grace},
		{"POST", "/v1/playbooks", grace},
		{"GET", "/v1/playbooks", sally},
		{"POST", "/v1/customers/x/outcomes", sally},
	} {
		status, body := e.do(tc.method, tc.path, tc.key, map[string]any{})
		assert.Equal(t, http.StatusForbidden, status, "%s %s", tc.method, tc.path)
		assert.Equal(t, "forbidden", errCode(body))
	}
	_, body = e.do("GET", "/v1/suppressions?email=a@b.example", grace, nil)
	assert.Contains(t, body["error"].(map[string]any)["message"], "the csm role cannot do this")
	status, body = e.do("GET", "/v1/suppressions?email=a@b.example", alan, nil)
	assert.Equal(t, http.StatusOK, status, "an admin person may do everything: %v", body)

	// A key of the right shape that is no one's.
	status, body = e.do("GET", "/v1/playbooks", "lck_"+strings.Repeat("a", 32), nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "unauthorized", errCode(body))

	// Rotated: the old key is refused at its next request, the new one is in.
	_, newKey, err := e.store.RotateUserKey(context.Background(), "grace@example.com")
	require.NoError(t, err)
	status, _ = e.do("GET", "/v1/playbooks", grace, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "the key before a rotation")
	status, _ = e.do("GET", "/v1/playbooks", newKey, nil)
	assert.Equal(t, http.StatusOK, status)

	// Removed: refused at the very next request (no cache keeps them in).
	require.NoError(t, e.store.DeleteUser(context.Background(), "grace@example.com"))
	status, body = e.do("GET", "/v1/playbooks", newKey, nil)
	assert.Equal(t, http.StatusUnauthorized, status, "a removed person's key")
	assert.Equal(t, "unauthorized", errCode(body))

	// The role keys are as they were.
	status, _ = e.do("GET", "/v1/playbooks", csmKey, nil)
	assert.Equal(t, http.StatusOK, status)
}

// TestUserKeysWithoutUsers: a server given no users table admits only its
// role keys, and a store that fails answers a person's key 503 (retry),
// never 401, while role keys go on working.
func TestUserKeysWithoutUsers(t *testing.T) {
	e := newMockEnvWith(t, func(st *store.Store) apiserver.Store { return struct{ apiserver.Store }{st} }, nil)
	key := addUser(t, e.store, "grace@example.com", "Grace Hopper", "csm")
	status, _ := e.do("POST", "/v1/customers/x/pause", key, map[string]any{})
	assert.Equal(t, http.StatusUnauthorized, status, "a Store without users admits no person")

	e = newMockEnv(t, nil)
	key = addUser(t, e.store, "grace@example.com", "Grace Hopper", "csm")
	require.NoError(t, e.store.Close())
	status, body := e.do("POST", "/v1/customers/x/pause", key, map[string]any{})
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "store_unavailable", errCode(body))
	// A pause without a reason: 422 shows the key was admitted.
	status, body = e.do("POST", "/v1/customers/x/pause", csmKey, map[string]any{})
	assert.Equal(t, http.StatusUnprocessableEntity, status, "a role key needs no store to be admitted: %v", body)
}

// TestUserRequestsAreSignedByThePerson: what a person sends is recorded
// under their name, whatever the body's "by" says; a role key's "by" is
// kept, as before people had keys. Every write route is checked, by the
// update it sends.
func TestUserRequestsAreSignedByThePerson(t *testing.T) {
	e := newMockEnv(t, nil)
	grace := addUser(t, e.store, "grace@example.com", "Grace Hopper", "csm")
	const who = "Grace Hopper <grace@example.com>"
	var mu sync.Mutex
	sent := map[string]string{} // update name -> the "by" it carried
	for _, name := range []string{workflows.UpdateOutcome, workflows.UpdatePause, workflows.UpdateResume, workflows.UpdateReassign, workflows.UpdateChampion} {
		e.expectUpdates(name, 0, func(arg any) error {
			data, err := json.Marshal(arg)
			require.NoError(t, err)
			var fields struct{ By string }
			require.NoError(t, json.Unmarshal(data, &fields))
			mu.Lock()
			sent[name] = fields.By
			mu.Unlock()
			return nil
		})
	}
	by := func(name string) string {
		mu.Lock()
		defer mu.Unlock()
		v := sent[name]
		delete(sent, name)
		return v
	}
	forged := "Alan Turing <alan@example.com>"
	for _, tc := range []struct {
		path, update string
		body         any
	}{
		{"/v1/customers/acme/outcomes", workflows.UpdateOutcome, map[string]any{"kind": "handoff_held", "by": forged}},
		{"/v1/customers/acme/pause", workflows.UpdatePause, map[string]any{"reason": "holiday", "by": forged}},
		{"/v1/customers/acme/resume", workflows.UpdateResume, nil},
		{"/v1/customers/acme/reassign", workflows.UpdateReassign, map[string]any{"csm": map[string]any{"name": "Alan Turing", "email": "alan@vendor.example"}, "by": forged}},
		{"/v1/customers/acme/champion", workflows.UpdateChampion, map[string]any{"champion": map[string]any{"name": "Ada", "email": "ada@new.example"}, "by": forged}},
	} {
		method := "POST"
		if tc.update == workflows.UpdateChampion {
			method = "PUT"
		}
		status, body := e.do(method, tc.path, grace, tc.body)
		require.Equal(t, http.StatusOK, status, "%s: %v", tc.path, body)
		assert.Equal(t, who, by(tc.update), "%s with a person's key", tc.path)

		if b, ok := tc.body.(map[string]any); ok {
			b["by"] = "crm-sync"
			status, body = e.do(method, tc.path, csmKey, b)
			require.Equal(t, http.StatusOK, status, "%s: %v", tc.path, body)
			assert.Equal(t, "crm-sync", by(tc.update), "%s with a role key keeps its by", tc.path)
		}
	}

	// A "by" too long for a journey is no matter: the person's replaces it.
	status, body := e.do("POST", "/v1/customers/acme/outcomes", grace, map[string]any{"kind": "handoff_held", "by": strings.Repeat("x", workflows.MaxShortLen+1)})
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, who, by(workflows.UpdateOutcome))
	assert.Equal(t, workflows.MaxShortLen, store.MaxWhoLen, "Who stays within what a journey accepts as by")
}

// TestUserAdminRecordsAreThePerson: what an admin person publishes, sets or
// lifts names them.
func TestUserAdminRecordsAreThePerson(t *testing.T) {
	e := newMockEnv(t, nil)
	alan := addUser(t, e.store, "alan@example.com", "Alan Turing", "admin")
	const who = "Alan Turing <alan@example.com>"
	status, body := e.do("POST", "/v1/playbooks", alan, map[string]any{"yaml": v2YAML()})
	require.Equal(t, http.StatusCreated, status, body)
	assert.Equal(t, who, body["published_by"])

	status, body = e.do("PUT", "/v1/plans/enterprise/playbook", alan, map[string]any{"playbook": "default@v3"})
	require.Equal(t, http.StatusOK, status, body)
	pp, ok, err := e.store.PlanPlaybookFor(context.Background(), "enterprise")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, who, pp.SetBy)

	var lifted workflows.EmailStatus
	e.expectUpdates(workflows.UpdateEmail, 0, func(arg any) error {
		lifted = arg.(workflows.EmailStatus)
		return nil
	})
	require.NoError(t, e.store.Suppress(context.Background(), "ada@acme.example", "bounce", mockNow))
	status, body = e.do("DELETE", "/v1/suppressions/ada@acme.example?customer_id=acme", alan, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, who, lifted.By)
}

// TestOutcomeByAPersonNamesThemOnTheTimeline: on a real journey, an
// outcome recorded with a person's key carries their name in the
// timeline, and a desired outcome in the state's by.
func TestOutcomeByAPersonNamesThemOnTheTimeline(t *testing.T) {
	e := newEnv(t)
	grace := addUser(t, e.store, "grace@users-timeline.example", "Grace Hopper", "csm")
	const who = "Grace Hopper <grace@users-timeline.example>"
	status, body := e.do("POST", "/v1/customers", salesKey, startBody("acme-users"))
	require.Equal(t, http.StatusCreated, status, body)

	status, body = e.do("POST", "/v1/customers/acme-users/outcomes", grace, map[string]any{"kind": "handoff_held", "by": "someone else"})
	require.Equal(t, http.StatusOK, status, body)
	status, tl := e.do("GET", "/v1/customers/acme-users/timeline", grace, nil)
	require.Equal(t, http.StatusOK, status, tl)
	var causes []string
	for _, en := range tl["entries"].([]any) {
		if en.(map[string]any)["kind"] == workflows.EntryOutcome {
			causes = append(causes, en.(map[string]any)["cause"].(string))
		}
	}
	assert.Contains(t, causes, "recorded by "+who)
	assert.NotContains(t, strings.Join(causes, "\n"), "someone else")

	status, state := e.do("GET", "/v1/customers/acme-users", grace, nil)
	require.Equal(t, http.StatusOK, status)
	choices := state["outcome_choices"].([]any)
	require.NotEmpty(t, choices)
	choice := choices[0].(map[string]any)["id"].(string)
	status, state = e.do("POST", "/v1/customers/acme-users/outcomes", grace, map[string]any{"kind": workflows.OutcomeDesired, "desired_outcome": choice, "desired_text": "faster exports"})
	require.Equal(t, http.StatusOK, status, state)
	desired := state["desired_outcomes"].([]any)
	require.Len(t, desired, 1)
	assert.Equal(t, who, desired[0].(map[string]any)["by"])
}
