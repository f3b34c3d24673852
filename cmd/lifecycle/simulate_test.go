package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func TestSimulateCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "simulate", "--scenario", "silent")
	require.Equal(t, 0, code, errOut)
	for _, want := range []string{
		"Scenario silent:", "Day 3 (Thu 2026-01-08)", "[handoff:reminder]", "why: handoff call not booked by day 3",
		"Day 5 (Sat 2026-01-10)", "[handoff:escalation]", "why: handoff call not held by day 5",
		"[milestone:kickoff:late-3]", "why: no engagement for 14 days", "[silence:0:manager]", "why: no engagement for 21 days",
	} {
		assert.Contains(t, out, want)
	}

	code, out, errOut = runCLI(t, "simulate", "--scenario", "booked-no-show", "--json", "--until", "30")
	require.Equal(t, 0, code, errOut)
	var r struct {
		Scenario string  `json:"scenario"`
		Until    float64 `json:"until"`
		Steps    []struct {
			Step string  `json:"step"`
			Day  float64 `json:"day"`
		} `json:"steps"`
		Skipped []struct {
			Step, Reason string
		} `json:"skipped"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Equal(t, "booked-no-show", r.Scenario)
	assert.Equal(t, 30.0, r.Until)
	require.NotEmpty(t, r.Skipped)
	assert.Equal(t, "handoff:reminder", r.Skipped[0].Step)
	assert.Contains(t, r.Skipped[0].Reason, "handoff_booked on day 1")

	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	require.NoError(t, os.WriteFile(typo, []byte("name: typo\nhappens:\n  - {day: 1, outcome: handoff_held}\n  - {day: 2, evnt: login}\n"), 0o644))
	code, _, errOut = runCLI(t, "simulate", "--scenario", typo)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, typo+":line 4:")
	assert.Contains(t, errOut, "evnt")
	unknown := filepath.Join(dir, "unknown.yaml")
	require.NoError(t, os.WriteFile(unknown, []byte("name: unknown\nhappens:\n  - {day: 2, event: logn}\n"), 0o644))
	code, _, errOut = runCLI(t, "simulate", "--scenario", unknown)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `scenario unknown:line 3: happens[0].event: the playbook default@v2 has no event type "logn"`)

	shorter := filepath.Join(dir, "shorter.yaml")
	src := strings.Replace(string(playbooks.DefaultYAML()), "escalate_after_days: 5", "escalate_after_days: 4", 1)
	src = strings.Replace(src, "version: 2", "version: 3", 1)
	require.NoError(t, os.WriteFile(shorter, []byte(src), 0o644))
	code, out, errOut = runCLI(t, "simulate", "--playbook", shorter, "--compare", "default")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Comparing "+shorter+" (default@v3) (new) with the embedded playbook default@v2 (old)")
	assert.Contains(t, out, "moved    handoff:escalation")
	assert.Contains(t, out, "day 5 -> day 4 (1 day earlier)")
	assert.Equal(t, 5, strings.Count(out, "the same steps on the same days"), "every scenario where the handoff was held")

	code, out, _ = runCLI(t, "simulate", "--list")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "quiet-and-happy")
	code, out, _ = runCLI(t, "simulate", "--show", "silent")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "name: silent")
	code, _, errOut = runCLI(t, "simulate")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "say which --scenario")
	code, _, errOut = runCLI(t, "simulate", "--scenario", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `no built-in scenario "nope"`)
	code, _, errOut = runCLI(t, "simulate", "--scenario", "silent", "--until", "5000")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "--until")
}

// simulate --customer against a loopback API that answers the state and
// timeline of a recorded journey (a simulation's), checking the key.
func TestSimulateCustomer(t *testing.T) {
	sc, err := simulate.Builtin("booked-no-show")
	require.NoError(t, err)
	ran, err := simulate.Simulate(context.Background(), playbooks.Default(), sc, simulate.Options{Until: 30})
	require.NoError(t, err)
	st := ran.Final
	st.AsOf = ran.Start.Add(30 * 24 * time.Hour)
	tl := workflows.Timeline{CustomerID: st.CustomerID}
	for _, s := range ran.Steps {
		tl.Entries = append(tl.Entries, workflows.Entry{At: s.At, Day: s.JourneyDay, Kind: s.Kind, Step: s.Step, Summary: s.Summary, Cause: s.Cause, To: s.To})
	}
	const key = "csm-key-for-the-replay-test-0123"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error": {"code": "unauthorized", "message": "unknown API key"}}`))
			return
		}
		switch r.URL.Path {
		case "/v1/customers/" + st.CustomerID:
			_ = json.NewEncoder(w).Encode(st)
		case "/v1/customers/" + st.CustomerID + "/timeline":
			_ = json.NewEncoder(w).Encode(tl)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error": {"code": "not_found", "message": "no customer"}}`))
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	shorter := filepath.Join(dir, "shorter.yaml")
	src := strings.Replace(string(playbooks.DefaultYAML()), "escalate_after_days: 5", "escalate_after_days: 4", 1)
	require.NoError(t, os.WriteFile(shorter, []byte(strings.Replace(src, "version: 2", "version: 3", 1)), 0o644))

	code, out, errOut := runCLI(t, "simulate", "--customer", st.CustomerID, "--playbook", shorter, "--api-url", srv.URL, "--api-key", key)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Hooli: 6 recorded happenings over 30 days")
	assert.Contains(t, out, "with what happened (default@v2) (old)")
	assert.Contains(t, out, "moved    handoff:booked-escalation")
	assert.Contains(t, out, "day 5 -> day 4")

	code, out, errOut = runCLI(t, "simulate", "--customer", st.CustomerID, "--api-url", srv.URL, "--api-key", key, "--json")
	require.Equal(t, 0, code, errOut)
	var got struct {
		Diff struct {
			Moved []any `json:"moved"`
		} `json:"diff"`
		ActualPlaybook string `json:"actual_playbook"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Empty(t, got.Diff.Moved, "under its own playbook the replay does what happened")
	assert.Equal(t, "default@v2", got.ActualPlaybook)

	code, _, errOut = runCLI(t, "simulate", "--customer", st.CustomerID, "--api-url", srv.URL, "--api-key", "wrong-key-0123456789abcdef")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "401 Unauthorized: unknown API key")
	code, _, errOut = runCLI(t, "simulate", "--customer", "nobody", "--api-url", srv.URL, "--api-key", key)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no customer")
	t.Setenv("LIFECYCLE_API_KEY", "")
	code, _, errOut = runCLI(t, "simulate", "--customer", st.CustomerID, "--api-url", srv.URL)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "set LIFECYCLE_API_KEY")
	code, _, errOut = runCLI(t, "simulate", "--customer", st.CustomerID, "--api-url", "ftp://x", "--api-key", key)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "not an http(s) URL")
	code, _, errOut = runCLI(t, "simulate", "--customer", st.CustomerID, "--scenario", "silent", "--api-key", key)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "leave out --scenario")
}
