package apiserver_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TestStoreDownStartsNothingAndActsOnNothing: with the store gone, a start
// (its deal check) and an email action (its claim) answer 503 and reach no
// journey: the mock client fails the test on any call.
func TestStoreDownStartsNothingAndActsOnNothing(t *testing.T) {
	e := newMockEnv(t, nil)
	require.NoError(t, e.store.Close())
	status, body := e.do(http.MethodPost, "/v1/customers", salesKey, startBody("down-co"))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "store_unavailable", body["error"].(map[string]any)["code"])
	status, html := e.page(http.MethodPost, "/a/"+e.links.Token(links.Link{CustomerID: "down-co", Journey: "j1", Step: "handoff:welcome", Action: "need_help"}))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, html, "Please try again")
	assert.Zero(t, e.updates(workflows.UpdateComplaint))
}

// TestBatchWithTheStoreDownTriesNoMore: the first rows find the store gone
// (503, store_unavailable); the rest of the batch is answered not_tried at
// once, safe to send again, and no journey is started (the mock client
// fails the test on any call).
func TestBatchWithTheStoreDownTriesNoMore(t *testing.T) {
	e := newMockEnv(t, nil)
	require.NoError(t, e.store.Close())
	rows := make([]map[string]any, 40)
	for i := range rows {
		rows[i] = importRow(fmt.Sprintf("down-%d", i), i+2, nil)
	}
	status, body := e.do(http.MethodPost, "/v1/customers:batch", salesKey, map[string]any{"customers": rows})
	require.Equal(t, http.StatusOK, status, body)
	assert.EqualValues(t, 40, body["failed"])
	codes := map[string]int{}
	for _, r := range body["results"].([]any) {
		r := r.(map[string]any)
		assert.EqualValues(t, http.StatusServiceUnavailable, r["status"])
		codes[r["error"].(map[string]any)["code"].(string)]++
	}
	assert.LessOrEqual(t, codes["store_unavailable"], 8, "only the rows already on their way tried: %v", codes)
	assert.GreaterOrEqual(t, codes["not_tried"], 32, "%v", codes)
}
