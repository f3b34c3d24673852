package apiserver_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An admin sees and lifts a suppression; with the customer named, the
// journey resumes customer email for its champion.
func TestSuppressionRoutes(t *testing.T) {
	e := newEnv(t)
	const id, champion = "acme-supp", "ada@acme-supp.example"
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody(id))
	require.Equal(t, http.StatusCreated, status)
	at := time.Now().Unix() + 1
	bounce, _ := json.Marshal([]map[string]any{{"email": champion, "event": "bounce", "sg_event_id": "supp-b-1", "timestamp": at, "customer_id": id, "kind": "customer"}})
	status, body := e.sendgridPost(e.sgKey, time.Now().Unix(), bounce)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, "bounce", e.state(id)["email_blocked"])

	for _, key := range []string{csmKey, salesKey, integKey} {
		status, _ = e.do("GET", "/v1/suppressions?email="+champion, key, nil)
		assert.Equal(t, http.StatusForbidden, status, "admin only")
		status, _ = e.do("DELETE", "/v1/suppressions/"+champion+"?customer_id="+id, key, nil)
		assert.Equal(t, http.StatusForbidden, status, "admin only")
	}
	status, body = e.do("GET", "/v1/suppressions?email="+champion, adminKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"email": champion, "suppressed": true, "reason": "bounce"}, body)

	status, body = e.do("DELETE", "/v1/suppressions/"+champion+"?customer_id="+id, adminKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"email": champion, "was_suppressed": true, "customer_id": id, "journey": "updated"}, body)
	assert.Nil(t, e.state(id)["email_blocked"], "customer email resumes")
	_, suppressed, err := e.store.Suppressed(context.Background(), champion)
	require.NoError(t, err)
	assert.False(t, suppressed)
	status, body = e.do("GET", "/v1/suppressions?email="+champion, adminKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, false, body["suppressed"])

	// Again: nothing to lift, emails were not stopped; still 200.
	status, body = e.do("DELETE", "/v1/suppressions/"+champion+"?customer_id="+id, adminKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, false, body["was_suppressed"])
	assert.Contains(t, body["journey"], "not stopped")

	// Without a customer only the list changes.
	require.NoError(t, e.store.Suppress(context.Background(), "someone@else.example", "spamreport", time.Now()))
	status, body = e.do("DELETE", "/v1/suppressions/someone@else.example", adminKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"email": "someone@else.example", "was_suppressed": true}, body)

	status, body = e.do("DELETE", "/v1/suppressions/not-an-address", adminKey, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "email", errField(body))
	status, body = e.do("GET", "/v1/suppressions", adminKey, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "email", errField(body))
	status, body = e.do("DELETE", "/v1/suppressions/"+champion+"?customer_id=bad%20id", adminKey, nil)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "customer_id", errField(body))
	status, body = e.do("DELETE", "/v1/suppressions/"+champion+"?customer_id=nobody-supp", adminKey, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "customer_not_found", errCode(body))
}

// A CSM replaces the champion; the journey answers its new state.
func TestChampionChange(t *testing.T) {
	e := newEnv(t)
	const id = "acme-champ"
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody(id))
	require.Equal(t, http.StatusCreated, status)
	change := map[string]any{"champion": map[string]any{"name": "Katherine Johnson", "email": "katherine@acme-champ.example", "time_zone": "America/New_York"}, "reason": "Ada moved on"}
	status, body := e.do("PUT", "/v1/customers/"+id+"/champion", csmKey, change)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, "katherine@acme-champ.example", body["champion"].(map[string]any)["email"])
	assert.Equal(t, "katherine@acme-champ.example", e.state(id)["champion"].(map[string]any)["email"])

	status, body = e.do("PUT", "/v1/customers/"+id+"/champion", csmKey, change)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "the journey refuses the same champion again")
	assert.Equal(t, "champion", errField(body))
	status, _ = e.do("PUT", "/v1/customers/nobody-champ/champion", csmKey, change)
	assert.Equal(t, http.StatusNotFound, status)
}
