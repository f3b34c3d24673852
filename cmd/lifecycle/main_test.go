package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelp(t *testing.T) {
	code, out, _ := runCLI(t, "--help")
	assert.Equal(t, 0, code)
	for _, cmd := range []string{"lifecycle dev", "lifecycle setup", "lifecycle worker", "lifecycle api", "lifecycle deployment promote BUILD",
		"lifecycle playbook validate FILE", "lifecycle simulate", "lifecycle version"} {
		assert.Contains(t, out, cmd)
	}
	for _, cmd := range []string{"dev", "worker", "api", "setup", "deployment"} {
		code, _, errOut := runCLI(t, cmd, "--help")
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, errOut, "Usage: lifecycle "+cmd, cmd)
		assert.Contains(t, errOut, "TEMPORAL_ADDRESS", cmd)
	}
	// Each command lists the settings it reads, and only those.
	_, _, workerHelp := runCLI(t, "worker", "--help")
	assert.Contains(t, workerHelp, "LIFECYCLE_WORKER_HTTP_ADDR")
	assert.Contains(t, workerHelp, "SENDGRID_API_KEY")
	for _, apiOnly := range []string{"LIFECYCLE_API_KEYS", "LIFECYCLE_HTTP_ADDR", "LIFECYCLE_DEAL_WEBHOOK_SECRET", "LIFECYCLE_DAY_LENGTH"} {
		assert.NotContains(t, workerHelp, apiOnly)
	}
	_, _, apiHelp := runCLI(t, "api", "--help")
	assert.Contains(t, apiHelp, "LIFECYCLE_API_KEYS")
	assert.NotContains(t, apiHelp, "SENDGRID_API_KEY")
	assert.NotContains(t, apiHelp, "LIFECYCLE_WORKER_HTTP_ADDR")
	_, _, setupHelp := runCLI(t, "setup", "--help")
	assert.Contains(t, setupHelp, "-create-namespace")
	assert.NotContains(t, setupHelp, "LIFECYCLE_DATA_DIR")
	code, out, _ = runCLI(t, "version")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "embedded Temporal server: included")
	code, out, _ = runCLI(t, "help", "playbook")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "playbook validate FILE")
	code, _, errOut := runCLI(t, "launch")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "launch"`)
}

func TestBadSettingFailsFastWithItsName(t *testing.T) {
	t.Setenv("LIFECYCLE_WORKER_HTTP_ADDR", "9090")
	code, _, errOut := runCLI(t, "worker")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "LIFECYCLE_WORKER_HTTP_ADDR")
	t.Setenv("LIFECYCLE_WORKER_HTTP_ADDR", "")
	t.Setenv("LIFECYCLE_DAY_LENGTH", "a while")
	code, _, errOut = runCLI(t, "api")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "LIFECYCLE_DAY_LENGTH")
	t.Setenv("LIFECYCLE_DAY_LENGTH", "")
	t.Setenv("LIFECYCLE_API_KEYS", "")
	code, _, errOut = runCLI(t, "api")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "LIFECYCLE_API_KEYS")
	code, _, errOut = runCLI(t, "dev", "--log-format", "xml")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "LOG_FORMAT")
}

func TestPlaybookValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, playbooks.DefaultYAML(), 0o644))
	code, out, _ := runCLI(t, "playbook", "validate", good)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "ok (default@v2, 5 milestones, 12 touchpoints)")

	bad := filepath.Join(dir, "bad.yaml")
	src := strings.Replace(string(playbooks.DefaultYAML()), "    due_day: 10", "    due_day: 120", 1)
	require.NoError(t, os.WriteFile(bad, []byte(src), 0o644))
	code, _, errOut := runCLI(t, "playbook", "validate", bad)
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, bad+":line 30: milestones[0].due_day: day 120 is after onboarding ends (day 90)")

	code, _, errOut = runCLI(t, "playbook", "validate", filepath.Join(dir, "missing.yaml"))
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "no such file")

	code, out, _ = runCLI(t, "playbook", "default")
	assert.Equal(t, 0, code)
	assert.Equal(t, string(playbooks.DefaultYAML()), out)
}

func TestEmailPreview(t *testing.T) {
	code, out, _ := runCLI(t, "email", "preview", "happiness_pulse")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "Subject: How is it going, Ada?")
	assert.Contains(t, out, "I'm on track: http://127.0.0.1:8080/a/sample-on-track")
	code, out, _ = runCLI(t, "email", "preview", "--html", "welcome")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "<!doctype html>")
	assert.Contains(t, out, "Unsubscribe")
	code, _, errOut := runCLI(t, "email", "preview", "nope")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, `unknown template "nope"`)
	code, out, _ = runCLI(t, "email", "list")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "renewal_reminder")
}
