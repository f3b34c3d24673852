package apiserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The summary of a running journey: each sentence names a timeline entry
// by the number GET .../timeline gives it (older.count + position), with
// that entry's step and time, and tells what the journey did.
func TestSummaryCitesTheTimeline(t *testing.T) {
	e := newEnv(t)
	const id = "acme-story"
	status, body := e.do("POST", "/v1/customers", salesKey, startBody(id))
	require.Equal(t, http.StatusCreated, status, body)
	status, body = e.do("POST", "/v1/customers/"+id+"/events", integKey, map[string]any{"id": "web-1", "type": "webinar_attended"})
	require.Equal(t, http.StatusAccepted, status, body)
	status, body = e.do("POST", "/v1/customers/"+id+"/complaints", csmKey, map[string]any{"severity": "high", "summary": "Exports fail\nevery night"})
	require.Equal(t, http.StatusCreated, status, body)
	status, body = e.do("POST", "/v1/customers/"+id+"/outcomes", csmKey, map[string]any{"kind": "handoff_held"})
	require.Equal(t, http.StatusOK, status, body)

	status, sum := e.do("GET", "/v1/customers/"+id+"/summary", csmKey, nil)
	require.Equal(t, http.StatusOK, status, sum)
	assert.Equal(t, id, sum["customer_id"])
	assert.NotEmpty(t, sum["as_of"])
	status, tl := e.do("GET", "/v1/customers/"+id+"/timeline", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	entries := tl["entries"].([]any)
	older := int(tl["older"].(map[string]any)["count"].(float64))

	var text []string
	for _, raw := range sum["sentences"].([]any) {
		s := raw.(map[string]any)
		n := int(s["entry"].(float64)) - older
		require.True(t, n >= 0 && n < len(entries), "sentence %v names an entry the timeline has", s)
		en := entries[n].(map[string]any)
		assert.Equal(t, en["step"], s["step"], s["text"])
		assert.Equal(t, en["at"], s["at"], s["text"])
		text = append(text, s["text"].(string))
	}
	all := strings.Join(text, "\n")
	assert.Contains(t, all, "“Acme "+id+"” started its journey on ")
	assert.Contains(t, all, "1 engagement event in the last 30 days, the latest “Webinar attended”")
	assert.Contains(t, all, "Complaint c1 (high) is open since ")
	assert.Contains(t, all, "“Exports fail”", "the complaint's first line")
	assert.Contains(t, all, "On ", "the handoff call held is told")
	assert.Contains(t, all, "Handoff call held")
	assert.Contains(t, all, "To do: Complaint from ")
	assert.NotContains(t, all, "The handoff call has not been held")

	status, body = e.do("GET", "/v1/customers/nobody-here/summary", csmKey, nil)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "customer_not_found", errCode(body))
	status, _ = e.do("GET", "/v1/customers/"+id+"/summary", salesKey, nil)
	assert.Equal(t, http.StatusForbidden, status)
}
