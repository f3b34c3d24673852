package apiserver_test

import (
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
