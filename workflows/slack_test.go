package workflows_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// slackReceiver is an incoming webhook on loopback: it answers status and
// keeps the fallback text of each message it took.
type slackReceiver struct {
	mu     sync.Mutex
	status int
	texts  []string
	tries  int
}

func (r *slackReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tries++
	var msg struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	body, _ := io.ReadAll(req.Body)
	if req.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil || msg.Text == "" || len(msg.Blocks) == 0 {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if r.status != http.StatusOK {
		http.Error(w, "rollup_error", r.status)
		return
	}
	r.texts = append(r.texts, msg.Text)
	_, _ = io.WriteString(w, "ok")
}

func slackHarness(t *testing.T, status int) (*harness, *slackReceiver) {
	t.Helper()
	rcv := &slackReceiver{status: status}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	h := newHarness(t, testInput(playbooks.Default()))
	h.slack = &activities.Slack{Team: srv.URL, PublicURL: "https://cs.example", Client: srv.Client(), Ledger: activities.StoreLedger{Store: h.store}}
	return h, rcv
}

// neglected: nobody holds the handoff call or completes the kickoff, but
// the customer logs in, so only the handoff and milestone ladders run.
func neglected(h *harness) {
	for d := 1; d <= 19; d += 4 {
		h.at(float64(d), func(c *call) { c.event("login-"+string(rune('a'+d)), "login") })
	}
}

func TestSlackGetsOneNoticePerTaskEvent(t *testing.T) {
	h, rcv := slackHarness(t, http.StatusOK)
	neglected(h)
	h.run(19)
	var opened, climbed int
	for _, e := range h.timeline.Entries {
		switch {
		case strings.HasPrefix(e.Step, "task:") && strings.HasSuffix(e.Step, ":opened"):
			opened++
		case strings.HasPrefix(e.Step, "task:") && strings.Contains(e.Step, ":climbed:"):
			climbed++
		}
	}
	require.GreaterOrEqual(t, opened, 2, "the handoff and the kickoff tasks")
	require.GreaterOrEqual(t, climbed, 2, "both climbed to the manager")
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	assert.Len(t, rcv.texts, opened+climbed, "one Slack notice per task opened or climbed: %q", rcv.texts)
	seen := map[string]bool{}
	for _, text := range rcv.texts {
		assert.False(t, seen[text], "posted twice: %s", text)
		seen[text] = true
	}
	assert.Contains(t, rcv.texts, "New task: New customer Acme Corp: hold the handoff call (Acme Corp)")
	assert.Contains(t, rcv.texts, `Escalation: Acme Corp: milestone "Kickoff and success plan agreed" is late (Acme Corp)`)
}

// Slack down for the whole journey delays nothing: every email and notice
// goes out at the same journey time as with no Slack at all, and the Slack
// notices are given up at their delivery deadline, on the timeline only.
func TestSlackOutageDelaysNothing(t *testing.T) {
	without := newHarness(t, testInput(playbooks.Default()))
	neglected(without)
	without.run(19)

	h, rcv := slackHarness(t, http.StatusInternalServerError)
	neglected(h)
	h.run(19)

	kinds := []string{workflows.EntryTouchpoint, workflows.EntryTask, workflows.EntryEscalation}
	assert.Equal(t, without.sent(kinds...), h.sent(kinds...), "the same messages at the same times")
	rcv.mu.Lock()
	assert.Greater(t, rcv.tries, 2, "Slack was tried, and retried")
	assert.Empty(t, rcv.texts)
	rcv.mu.Unlock()
	gaveUp := 0
	for _, e := range h.timeline.Entries {
		if strings.HasSuffix(e.Step, ":slack:failed") {
			gaveUp++
			assert.Equal(t, "Slack notice given up", e.Summary)
		}
	}
	assert.Positive(t, gaveUp, "given up at the deadline")
	assert.Equal(t, without.final.Failures, h.final.Failures, "not counted as failed email")
	for _, tk := range h.final.Tasks {
		assert.NotEqual(t, workflows.TaskDelivery, tk.Kind, "nobody is tasked with a Slack outage")
	}
}
