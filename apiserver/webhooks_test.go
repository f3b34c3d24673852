package apiserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWebhooksOutThroughTheAPI: an admin subscribes a loopback receiver; a
// complaint's events reach it once each with signatures the Standard
// Webhooks library verifies; a second subscriber that is down shows its
// failures in its delivery log while the journey answers as usual.
func TestWebhooksOutThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	got := map[string]int{}
	var bad []string
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		var ev struct {
			Type string `json:"type"`
			Data struct {
				CustomerID string `json:"customer_id"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		if err != nil || ev.Data.CustomerID != "acme-wh" {
			bad = append(bad, string(body))
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got[ev.Type+" "+r.Header.Get("webhook-id")]++
	}))
	defer srv.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }))
	defer down.Close()

	status, sub := e.do("POST", "/v1/webhooks/subscriptions", adminKey, map[string]any{"url": srv.URL, "events": []string{"complaint.opened", "task.opened"}, "description": "CRM"})
	require.Equal(t, http.StatusCreated, status, sub)
	mu.Lock()
	secret = sub["secret"].(string)
	mu.Unlock()
	assert.True(t, strings.HasPrefix(secret, "whsec_"))
	id := sub["id"].(string)
	status, downSub := e.do("POST", "/v1/webhooks/subscriptions", adminKey, map[string]any{"url": down.URL, "events": []string{"*"}})
	require.Equal(t, http.StatusCreated, status, downSub)
	t.Cleanup(func() {
		e.do("DELETE", "/v1/webhooks/subscriptions/"+id, adminKey, nil)
		e.do("DELETE", "/v1/webhooks/subscriptions/"+downSub["id"].(string), adminKey, nil)
	})

	status, _ = e.do("POST", "/v1/customers", salesKey, startBody("acme-wh"))
	require.Equal(t, http.StatusCreated, status)
	t0 := time.Now()
	status, body := e.do("POST", "/v1/customers/acme-wh/complaints", csmKey, map[string]any{"severity": "high", "summary": "Exports fail"})
	require.Equal(t, http.StatusCreated, status, body)
	assert.Less(t, time.Since(t0), 5*time.Second, "a receiver that is down holds up no answer")

	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		opened, tasks := 0, 0
		for k := range got {
			opened += b2i(strings.HasPrefix(k, "complaint.opened "))
			tasks += b2i(strings.HasPrefix(k, "task.opened "))
		}
		return opened == 1 && tasks >= 1
	}, 20*time.Second, 50*time.Millisecond)
	mu.Lock()
	for k, n := range got {
		assert.Equal(t, 1, n, "%s delivered once", k)
	}
	assert.Empty(t, bad)
	mu.Unlock()

	// The log is written after the receiver answers.
	var log map[string]any
	require.Eventually(t, func() bool {
		status, log = e.do("GET", "/v1/webhooks/subscriptions/"+id+"/deliveries", adminKey, nil)
		return status == http.StatusOK && log["delivered"].(float64) >= 2
	}, 10*time.Second, 50*time.Millisecond, "%v", log)
	assert.Equal(t, 0.0, log["failed"])
	require.Eventually(t, func() bool {
		_, log := e.do("GET", "/v1/webhooks/subscriptions/"+downSub["id"].(string)+"/deliveries", adminKey, nil)
		ds, _ := log["deliveries"].([]any)
		return len(ds) > 0 && ds[0].(map[string]any)["status"] == "failed" && ds[0].(map[string]any)["http_status"] == 503.0
	}, 20*time.Second, 50*time.Millisecond, "the down receiver's failures are in its log")

	// The secret is shown once.
	status, one := e.do("GET", "/v1/webhooks/subscriptions/"+id, adminKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Nil(t, one["secret"])
	assert.Equal(t, srv.URL, one["url"])
	status, list := e.do("GET", "/v1/webhooks/subscriptions", adminKey, nil)
	require.Equal(t, http.StatusOK, status)
	data, _ := json.Marshal(list)
	assert.NotContains(t, string(data), "whsec_")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestSubscriptionRequestsAreChecked(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"events": []string{"*"}}, "url"},
		{map[string]any{"url": "ftp://example.com", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "https://user:pw@example.com/hook", "events": []string{"*"}}, "url"},
		{map[string]any{"url": "https://example.com/" + strings.Repeat("x", 2000), "events": []string{"*"}}, "url"},
		{map[string]any{"url": "https://example.com/hook"}, "events"},
		{map[string]any{"url": "https://example.com/hook", "events": []string{"customer.teleported"}}, "events[0]"},
		{map[string]any{"url": "https://example.com/hook", "events": []string{"task.opened", "task.opened"}}, "events[1]"},
		{map[string]any{"url": "https://example.com/hook", "events": []string{"*"}, "description": strings.Repeat("d", 201)}, "description"},
	} {
		status, body := e.do("POST", "/v1/webhooks/subscriptions", adminKey, tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, status, "%v: %v", tc.body, body)
		assert.Equal(t, tc.field, errField(body), "%v", body)
	}
	status, _ := e.do("POST", "/v1/webhooks/subscriptions", csmKey, map[string]any{"url": "https://example.com/hook", "events": []string{"*"}})
	assert.Equal(t, http.StatusForbidden, status)
	for _, path := range []string{"/v1/webhooks/subscriptions/sub_nope", "/v1/webhooks/subscriptions/sub_nope/deliveries"} {
		status, body := e.do("GET", path, adminKey, nil)
		assert.Equal(t, http.StatusNotFound, status, path)
		assert.Equal(t, "subscription_not_found", errCode(body))
	}
	status, _ = e.do("DELETE", "/v1/webhooks/subscriptions/sub_nope", adminKey, nil)
	assert.Equal(t, http.StatusNotFound, status)
}
