package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
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
	assert.Contains(t, errOut, `scenario unknown:line 3: happens[0].event: the playbook default@v1 has no event type "logn"`)

	shorter := filepath.Join(dir, "shorter.yaml")
	src := strings.Replace(string(playbooks.DefaultYAML()), "escalate_after_days: 5", "escalate_after_days: 4", 1)
	src = strings.Replace(src, "version: 1", "version: 2", 1)
	require.NoError(t, os.WriteFile(shorter, []byte(src), 0o644))
	code, out, errOut = runCLI(t, "simulate", "--playbook", shorter, "--compare", "default")
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Comparing "+shorter+" (default@v2) (new) with the embedded playbook default@v1 (old)")
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
