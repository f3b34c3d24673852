package activities_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// slackFake is an incoming webhook that checks what Slack checks: a JSON
// POST with a text, and blocks of known types with their text objects.
type slackFake struct {
	t      *testing.T
	mu     sync.Mutex
	posts  map[string][]map[string]any // by path: which webhook
	status int
	reply  string
	header map[string]string
}

func newSlackFake(t *testing.T) (*slackFake, *httptest.Server) {
	f := &slackFake{t: t, posts: map[string][]map[string]any{}, status: http.StatusOK, reply: "ok"}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *slackFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if text, _ := msg["text"].(string); text == "" {
		http.Error(w, "no_text", http.StatusBadRequest)
		return
	}
	blocks, _ := msg["blocks"].([]any)
	if len(blocks) == 0 || len(blocks) > 50 {
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	for _, b := range blocks {
		m := b.(map[string]any)
		switch m["type"] {
		case "section":
			txt := m["text"].(map[string]any)
			if txt["type"] != "mrkdwn" && txt["type"] != "plain_text" || len([]rune(txt["text"].(string))) > 3000 {
				http.Error(w, "invalid_blocks", http.StatusBadRequest)
				return
			}
		case "actions":
			for _, e := range m["elements"].([]any) {
				el := e.(map[string]any)
				bt := el["text"].(map[string]any)
				if el["type"] != "button" || bt["type"] != "plain_text" || len([]rune(bt["text"].(string))) > 75 || !strings.HasPrefix(el["url"].(string), "http") {
					http.Error(w, "invalid_blocks", http.StatusBadRequest)
					return
				}
			}
		default:
			http.Error(w, "invalid_blocks", http.StatusBadRequest)
			return
		}
	}
	if f.status != http.StatusOK {
		for k, v := range f.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.reply)
		return
	}
	f.posts[r.URL.Path] = append(f.posts[r.URL.Path], msg)
	_, _ = io.WriteString(w, "ok")
}

func (f *slackFake) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.posts[path])
}

func slackActs(t *testing.T, srv *httptest.Server) (*activities.Activities, *testsuite.TestActivityEnvironment) {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	a := &activities.Activities{Slack: &activities.Slack{
		Team:      srv.URL + "/team",
		Routes:    map[string]string{"grace@vendor.example": srv.URL + "/grace", "manager": srv.URL + "/managers"},
		PublicURL: "https://cs.example", Client: srv.Client(), Ledger: activities.StoreLedger{Store: st},
	}}
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return a, env
}

func notice(key, role, owner string) activities.SlackNotice {
	return activities.SlackNotice{Key: key, CustomerID: "acme corp", Account: "Acme <Corp> & Sons", Event: activities.SlackTaskCreated,
		Role: role, Owner: owner, Title: "Milestone \"Kickoff\" is late", Text: "Due day 10. <script>",
		Due: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)}
}

func TestSlackNoticeIsInSlacksFormatAndRouted(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env := slackActs(t, srv)
	for _, n := range []activities.SlackNotice{
		notice("k1", "csm", "Grace@vendor.example"), // her own webhook
		notice("k2", "csm", "linus@vendor.example"), // the team's
		notice("k3", "manager", "manager@vendor.example"),
	} {
		_, err := env.ExecuteActivity(a.PostSlack, n)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, fake.count("/grace"), "a person's own webhook wins")
	assert.Equal(t, 1, fake.count("/team"), "else the team's")
	assert.Equal(t, 1, fake.count("/managers"), "the role's before the team's")

	msg := fake.posts["/grace"][0]
	assert.Equal(t, `New task: Milestone "Kickoff" is late (Acme <Corp> & Sons)`, msg["text"], "the fallback text is plain")
	blocks := msg["blocks"].([]any)
	section := blocks[0].(map[string]any)["text"].(map[string]any)["text"].(string)
	assert.Contains(t, section, "*New task: Milestone \"Kickoff\" is late*")
	assert.Contains(t, section, "Acme &lt;Corp&gt; &amp; Sons · due 2026-12-04 09:00 UTC")
	assert.Contains(t, section, "Due day 10. &lt;script&gt;", "mrkdwn is escaped")
	button := blocks[1].(map[string]any)["elements"].([]any)[0].(map[string]any)
	assert.Equal(t, "https://cs.example/ui/customers/acme%20corp", button["url"])

	// Nobody to post to: nothing posted, no error.
	a.Slack.Team = ""
	sent, err := env.ExecuteActivity(a.PostSlack, notice("k4", "sponsor", "vp@vendor.example"))
	require.NoError(t, err)
	var s activities.Sent
	require.NoError(t, sent.Get(&s))
	assert.Empty(t, s.MessageID)
}

func TestSlackNoticeIsPostedOncePerKey(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env := slackActs(t, srv)
	n := notice("customer:acme/j1/milestone:kickoff:late-2:slack", "csm", "grace@vendor.example")
	for range 3 {
		_, err := env.ExecuteActivity(a.PostSlack, n)
		require.NoError(t, err)
	}
	assert.Equal(t, 1, fake.count("/grace"))
}

func TestSlackLimitsAreKept(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env := slackActs(t, srv)
	n := notice("long", "csm", "grace@vendor.example")
	n.Text, n.Account = strings.Repeat("é", 5000), strings.Repeat("A", 300)
	_, err := env.ExecuteActivity(a.PostSlack, n)
	require.NoError(t, err, "clipped to Slack's limits, not refused")
	assert.Equal(t, 1, fake.count("/grace"))
}

func TestSlackFailures(t *testing.T) {
	for _, tc := range []struct {
		status    int
		reply     string
		retryable bool
	}{
		{http.StatusNotFound, "channel_not_found", false},
		{http.StatusGone, "channel_is_archived", false},
		{http.StatusForbidden, "action_prohibited", false},
		{http.StatusInternalServerError, "rollup_error", true},
		{http.StatusTooManyRequests, "rate_limited", true},
	} {
		t.Run(tc.reply, func(t *testing.T) {
			fake, srv := newSlackFake(t)
			fake.status, fake.reply, fake.header = tc.status, tc.reply, map[string]string{"Retry-After": "7"}
			a, env := slackActs(t, srv)
			_, err := env.ExecuteActivity(a.PostSlack, notice("k", "csm", "grace@vendor.example"))
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, tc.retryable, !appErr.NonRetryable(), err.Error())
			assert.NotContains(t, err.Error(), srv.URL, "the webhook URL is a secret")
			if !tc.retryable {
				assert.Contains(t, err.Error(), tc.reply, "Slack's reason is kept")
			}
			if tc.status == http.StatusTooManyRequests {
				assert.Equal(t, 7*time.Second, appErr.NextRetryDelay(), "Retry-After is honoured")
			}
		})
	}
	// Slack unreachable: retried, and the URL is not in the error.
	_, srv := newSlackFake(t)
	a, env := slackActs(t, srv)
	srv.Close()
	_, err := env.ExecuteActivity(a.PostSlack, notice("k", "csm", "grace@vendor.example"))
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		assert.False(t, appErr.NonRetryable())
	}
	assert.NotContains(t, err.Error(), srv.URL)
}
