//go:build !nodev

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a bytes.Buffer safe to write from the dev goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// devProcess runs `lifecycle dev` in this process until stop is called.
type devProcess struct {
	stop   func() int
	stdout *syncBuffer
}

func startDev(t *testing.T, args ...string) *devProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"dev"}, args...), out, errOut) }()
	p := &devProcess{stdout: out, stop: func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("dev did not stop within 30s")
			return -1
		}
	}}
	t.Cleanup(func() { cancel() })
	return p
}

type apiClient struct {
	t    *testing.T
	base string
	key  string
}

func (a apiClient) call(method, path string, body any, out any) int {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Authorization", "Bearer "+a.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type timeline struct {
	Entries []struct {
		Step string  `json:"step"`
		Kind string  `json:"kind"`
		Day  float64 `json:"day"`
	} `json:"entries"`
}

func (tl timeline) day(step string) (float64, bool) {
	for _, e := range tl.Entries {
		if e.Step == step {
			return e.Day, true
		}
	}
	return 0, false
}

// TestDevRunsJourneysAcrossARestart is the one-command local start for real:
// an embedded Temporal server on a data directory, a customer created over
// HTTP with two-second days, its handoff reminder and escalation on their
// playbook days, and a restart that keeps the journey and its schedule.
func TestDevRunsJourneysAcrossARestart(t *testing.T) {
	dataDir := t.TempDir()
	httpAddr := freePort(t)
	args := []string{
		"--data-dir", dataDir, "--http-addr", httpAddr, "--temporal-address", freePort(t), "--ui-port", "-1",
		"--api-keys", "admin:dev-admin-key-of-24-chars", "--day-length", "2s", "--log-level", "warn",
	}
	api := apiClient{t: t, base: "http://" + httpAddr, key: "dev-admin-key-of-24-chars"}
	ready := func() bool { return api.call("GET", "/readyz", nil, nil) == http.StatusOK }

	started := time.Now()
	dev := startDev(t, args...)
	waitUntil(t, "/readyz", 60*time.Second, ready)
	t.Logf("dev ready in %s", time.Since(started))
	assert.Contains(t, dev.stdout.String(), "admin        dev-admin-key-of-24-chars")

	start := map[string]any{
		"account":       map[string]any{"id": "restart-co", "name": "Restart Co", "plan": "pro", "renewal_date": time.Now().AddDate(1, 0, 0).Format("2006-01-02")},
		"champion":      map[string]any{"name": "Ada Lovelace", "email": "ada@restart.example", "time_zone": "America/Los_Angeles"},
		"csm":           map[string]any{"name": "Grace Hopper", "email": "grace@vendor.example"},
		"manager_email": "manager@vendor.example",
		"deal_id":       "deal-9",
	}
	require.Equal(t, http.StatusCreated, api.call("POST", "/v1/customers", start, nil))

	// A second customer books the handoff from the welcome email's link.
	booked := map[string]any{}
	for k, v := range start {
		booked[k] = v
	}
	booked["account"] = map[string]any{"id": "booked-co", "name": "Booked Co", "plan": "pro", "renewal_date": time.Now().AddDate(1, 0, 0).Format("2006-01-02")}
	booked["deal_id"] = "deal-10" // a deal starts one journey
	require.Equal(t, http.StatusCreated, api.call("POST", "/v1/customers", booked, nil))
	bookURL := welcomeAction(t, dataDir, "booked-co", "book_handoff")
	require.True(t, strings.HasPrefix(bookURL, "http://"+httpAddr+"/a/"), bookURL)
	resp, err := http.Post(bookURL, "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(page))
	require.Contains(t, string(page), "Recorded")

	// Day 3 (6 s): the handoff reminder, as nobody booked the call.
	var tl timeline
	waitUntil(t, "the handoff reminder", 20*time.Second, func() bool {
		api.call("GET", "/v1/customers/restart-co/timeline", nil, &tl)
		_, ok := tl.day("handoff:reminder")
		return ok
	})
	day, _ := tl.day("handoff:reminder")
	assert.InDelta(t, 3, day, 0.8, "reminder on day 3 (a real server's timers fire up to a second late)")

	assert.Equal(t, 0, dev.stop(), "Ctrl-C stops cleanly")
	assert.False(t, ready(), "the API is down")

	dev = startDev(t, args...)
	waitUntil(t, "/readyz after the restart", 60*time.Second, ready)
	var state struct {
		Playbook string `json:"playbook"`
		Handoff  struct {
			ReminderSent bool `json:"reminder_sent"`
		} `json:"handoff"`
	}
	// Right after a restart the first query may wait for the worker to
	// replay the journey; a 503 asks the caller to retry.
	waitUntil(t, "the journey's state after the restart", 20*time.Second, func() bool {
		var problem map[string]any
		status := api.call("GET", "/v1/customers/restart-co", nil, &problem)
		if status != http.StatusOK {
			t.Logf("state after restart: %d %v", status, problem)
			return false
		}
		return api.call("GET", "/v1/customers/restart-co", nil, &state) == http.StatusOK
	})
	assert.Equal(t, "default@v2", state.Playbook)
	assert.True(t, state.Handoff.ReminderSent, "state survived the restart")

	// Day 5 (10 s): the escalation to the manager; day 7 (14 s): the next touchpoint.
	waitUntil(t, "the escalation and the day-7 webinar invite", 30*time.Second, func() bool {
		api.call("GET", "/v1/customers/restart-co/timeline", nil, &tl)
		_, esc := tl.day("handoff:escalation")
		_, web := tl.day("touchpoint:webinar-welcome")
		var other timeline
		api.call("GET", "/v1/customers/booked-co/timeline", nil, &other)
		_, otherWeb := other.day("touchpoint:webinar-welcome")
		// A step's messages go out beside the schedule: the journeys have
		// none in flight before the process stops.
		var a, b struct {
			Sending int `json:"sending"`
		}
		inFlight := api.call("GET", "/v1/customers/restart-co", nil, &a) != http.StatusOK || a.Sending > 0 ||
			api.call("GET", "/v1/customers/booked-co", nil, &b) != http.StatusOK || b.Sending > 0
		return esc && web && otherWeb && !inFlight
	})
	day, _ = tl.day("handoff:escalation")
	assert.GreaterOrEqual(t, day, 5.0)
	assert.Equal(t, 0, dev.stop())

	st, err := store.Open(context.Background(), "", dataDir)
	require.NoError(t, err)
	defer st.Close()
	msgs, err := activities.NewOutbox(st).List(context.Background())
	require.NoError(t, err)
	var steps []string
	for _, m := range msgs {
		if m.CustomerID == "restart-co" {
			steps = append(steps, m.Step)
		}
	}
	joined := strings.Join(steps, " ")
	for _, step := range []string{"handoff:welcome", "handoff:csm-task", "handoff:reminder", "handoff:escalation", "touchpoint:training-basics", "touchpoint:webinar-welcome"} {
		assert.Equal(t, 1, strings.Count(" "+joined+" ", " "+step+" "), fmt.Sprintf("%s sent exactly once", step))
	}

	// booked-co booked on day 0: past day 7, neither reminder nor escalation.
	var bookedSteps []string
	for _, m := range msgs {
		if m.CustomerID == "booked-co" {
			bookedSteps = append(bookedSteps, m.Step)
		}
	}
	assert.Contains(t, bookedSteps, "touchpoint:webinar-welcome", "its journey ran on")
	assert.NotContains(t, bookedSteps, "handoff:reminder")
	assert.NotContains(t, bookedSteps, "handoff:escalation")
}

// welcomeAction reads the customer's welcome email from the outbox (the
// store in the data directory) and returns the URL of one of its actions.
func welcomeAction(t *testing.T, dataDir, customer, action string) string {
	t.Helper()
	st, err := store.Open(context.Background(), "", dataDir)
	require.NoError(t, err)
	defer st.Close()
	var url string
	waitUntil(t, "the welcome email", 10*time.Second, func() bool {
		msgs, err := st.OutboxList(context.Background(), customer, 100)
		require.NoError(t, err)
		i := slices.IndexFunc(msgs, func(m store.OutboxMessage) bool { return m.Step == "handoff:welcome" })
		if i < 0 {
			return false
		}
		m := msgs[i]
		var actions []struct{ ID, URL string }
		require.NoError(t, json.Unmarshal([]byte(m.ActionsJSON), &actions))
		for _, a := range actions {
			if a.ID == action {
				url = a.URL
			}
		}
		return true
	})
	return url
}
