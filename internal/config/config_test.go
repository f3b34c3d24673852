package config_test

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

func load(t *testing.T, cmd string, args ...string) (*config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	vals := config.Register(fs, cmd)
	require.NoError(t, fs.Parse(args))
	return config.Load(vals, cmd)
}

func TestDefaults(t *testing.T) {
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
	}
	c, err := load(t, config.CmdAPI)
	require.NoError(t, err)
	assert.Equal(t, "./.lifecycle", c.DataDir)
	assert.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	assert.Equal(t, 24*time.Hour, c.DayLength)
	assert.Equal(t, "http://127.0.0.1:8080", c.PublicURL)
	assert.Equal(t, "127.0.0.1:7233", c.Temporal.Address)
	assert.Equal(t, "default", c.Temporal.Namespace)
	assert.Empty(t, c.APIKeys)
	assert.ErrorContains(t, c.RequireAPI(), "LIFECYCLE_API_KEYS")
}

func TestFlagBeatsEnvironment(t *testing.T) {
	t.Setenv("LIFECYCLE_DAY_LENGTH", "5s")
	c, err := load(t, config.CmdAPI)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, c.DayLength)
	c, err = load(t, config.CmdAPI, "-day-length", "2s")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, c.DayLength)
}

func TestBadValuesNameTheSetting(t *testing.T) {
	for env, value := range map[string]string{
		"LIFECYCLE_DAY_LENGTH":  "soon",
		"LIFECYCLE_HTTP_ADDR":   "8080",
		"LIFECYCLE_API_KEYS":    "boss:123456789012345678901234",
		"LIFECYCLE_PUBLIC_URL":  "ftp://x",
		"LIFECYCLE_LINK_SECRET": "short",
		"TEMPORAL_ADDRESS":      "nowhere",
		"TEMPORAL_TLS_CERT":     "/no/such/cert.pem",
		"LOG_LEVEL":             "loud",
		"LOG_FORMAT":            "xml",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, value)
			_, err := load(t, config.CmdAPI)
			require.Error(t, err)
			assert.Contains(t, err.Error(), env)
		})
	}
}

func TestAPIKeys(t *testing.T) {
	s24, a24 := strings.Repeat("s", 24), strings.Repeat("a", 24)
	keys, err := config.ParseAPIKeys("sales:" + s24 + ", admin:" + a24)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{s24: "sales", a24: "admin"}, keys)
	_, err = config.ParseAPIKeys("sales:" + strings.Repeat("s", 23))
	assert.ErrorContains(t, err, "shorter than 24")
	_, err = config.ParseAPIKeys("sales:" + strings.Repeat("s", 201))
	assert.ErrorContains(t, err, "longer than 200")
	_, err = config.ParseAPIKeys("sales:" + s24 + ",csm:" + s24)
	assert.ErrorContains(t, err, "twice")
	_, err = config.ParseAPIKeys("nocolon")
	assert.ErrorContains(t, err, "not role:key")
}

func TestDevGeneratesKeysAndSecret(t *testing.T) {
	t.Setenv("LIFECYCLE_API_KEYS", "")
	t.Setenv("LIFECYCLE_LINK_SECRET", "")
	c, err := load(t, config.CmdDev)
	require.NoError(t, err)
	assert.True(t, c.GeneratedKeys)
	assert.Len(t, c.APIKeys, len(config.Roles))
	assert.Len(t, c.LinkSecret, 64)
	roles := map[string]bool{}
	for _, rk := range c.KeysByRole() {
		roles[rk[0]] = true
	}
	assert.Len(t, roles, 4)
}

func TestEachCommandTakesOnlyItsSettings(t *testing.T) {
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
	}
	flags := func(cmd string) []string {
		fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
		config.Register(fs, cmd)
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		return names
	}
	worker, api, setup := flags(config.CmdWorker), flags(config.CmdAPI), flags(config.CmdSetup)
	assert.Contains(t, worker, "worker-http-addr")
	assert.Contains(t, worker, "sendgrid-api-key")
	for _, apiOnly := range []string{"api-keys", "http-addr", "deal-webhook-secret", "day-length", "sendgrid-webhook-public-key"} {
		assert.NotContains(t, worker, apiOnly, "the worker does not read %s", apiOnly)
		assert.Contains(t, api, apiOnly)
	}
	assert.NotContains(t, api, "sendgrid-api-key", "the API sends no email")
	assert.NotContains(t, api, "worker-http-addr")
	assert.ElementsMatch(t, []string{"temporal-address", "temporal-namespace", "temporal-tls-cert", "temporal-tls-key",
		"temporal-tls-ca", "temporal-tls-server-name", "temporal-api-key", "log-level", "log-format", "insights-cron"}, setup)
	for _, s := range config.Settings {
		assert.NotEmpty(t, s.Commands, "%s is read by no command", s.Env)
	}

	// A bad value of a setting the command does not read does not stop it.
	t.Setenv("LIFECYCLE_DAY_LENGTH", "a while")
	_, err := load(t, config.CmdWorker)
	require.NoError(t, err)
	_, err = load(t, config.CmdAPI)
	require.ErrorContains(t, err, "LIFECYCLE_DAY_LENGTH")
}

func TestWorkerSettings(t *testing.T) {
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
	}
	c, err := load(t, config.CmdWorker)
	require.NoError(t, err)
	assert.Equal(t, config.Worker{HTTPAddr: "127.0.0.1:9090", Versioning: true, DeploymentName: "lifecycle"}, c.Worker)
	c, err = load(t, config.CmdWorker, "-worker-http-addr", "off", "-worker-versioning", "off", "-build-id", "2026.12.02-a1")
	require.NoError(t, err)
	assert.Equal(t, config.Worker{DeploymentName: "lifecycle", BuildID: "2026.12.02-a1"}, c.Worker)
	for flagName, value := range map[string]string{
		"worker-http-addr":  "9090",
		"worker-versioning": "maybe",
		"deployment-name":   "life.cycle",
		"build-id":          "a b",
	} {
		_, err := load(t, config.CmdWorker, "-"+flagName, value)
		assert.Error(t, err, flagName)
	}
	_, err = load(t, config.CmdWorker, "-build-id", strings.Repeat("b", 101))
	assert.ErrorContains(t, err, "LIFECYCLE_BUILD_ID")
}

func TestSlackSettings(t *testing.T) {
	cfg, err := load(t, config.CmdWorker, "--slack-webhook-url", " https://hooks.slack.com/services/T0/B0/team ",
		"--slack-webhooks", " Grace@Example.com=https://hooks.slack.com/services/T0/B1/grace , manager=http://127.0.0.1:9999/hook,,"+
			"Sponsor=http://localhost:9999/vp,csm=http://[::1]:9999/csm")
	require.NoError(t, err)
	assert.Equal(t, "https://hooks.slack.com/services/T0/B0/team", cfg.Slack.Team)
	assert.Equal(t, map[string]string{"grace@example.com": "https://hooks.slack.com/services/T0/B1/grace"}, cfg.Slack.People,
		"emails lower-cased, as the routing looks them up")
	assert.Equal(t, map[string]string{
		"manager": "http://127.0.0.1:9999/hook", "sponsor": "http://localhost:9999/vp", "csm": "http://[::1]:9999/csm",
	}, cfg.Slack.Roles, "http to this machine is for a local receiver")

	cfg, err = load(t, config.CmdDev, "--slack-webhooks", "manager=https://hooks.slack.com/services/T0/B3/m")
	require.NoError(t, err, "dev runs a worker too")
	assert.Equal(t, "https://hooks.slack.com/services/T0/B3/m", cfg.Slack.Roles["manager"])

	cfg, err = load(t, config.CmdWorker)
	require.NoError(t, err)
	assert.Empty(t, cfg.Slack.Team, "off by default")
	assert.Empty(t, cfg.Slack.People)
	assert.Empty(t, cfg.Slack.Roles)

	for _, bad := range []struct{ flag, value, want string }{
		{"--slack-webhook-url", "http://hooks.slack.com/services/T0/B0/secret", "LIFECYCLE_SLACK_WEBHOOK_URL: must be an https URL"},
		{"--slack-webhook-url", "http://10.0.0.5/services/secret", "LIFECYCLE_SLACK_WEBHOOK_URL: must be an https URL"},
		{"--slack-webhook-url", "hooks.slack.com/services/secret", "LIFECYCLE_SLACK_WEBHOOK_URL: not a URL"},
		{"--slack-webhook-url", "ftp://hooks.slack.com/services/secret", "LIFECYCLE_SLACK_WEBHOOK_URL: must be an https URL"},
		{"--slack-webhooks", "grace@example.com", "LIFECYCLE_SLACK_WEBHOOKS: entry 1: want email=URL or role=URL"},
		{"--slack-webhooks", "=https://hooks.slack.com/services/secret", "LIFECYCLE_SLACK_WEBHOOKS: entry 1: want email=URL"},
		{"--slack-webhooks", "https://hooks.slack.com/services/T0/B0/secret?x=1", "entry 1: starts with a URL"},
		{"--slack-webhooks", "ceo=https://hooks.slack.com/services/secret", "entry 1 (ceo): not an email, nor a role (csm, manager, sponsor)"},
		{"--slack-webhooks", "Grace <g@example.com>=https://hooks.slack.com/services/secret", "not an email"},
		{"--slack-webhooks", "csm=https://a.example/x,sponsor=http://hooks.slack.com/services/secret", "entry 2 (sponsor): must be an https URL"},
		{"--slack-webhooks", "g@example.com=https://a.example/x,G@Example.com=https://a.example/secret", "entry 2 (g@example.com): listed twice"},
		{"--slack-webhooks", "manager=not-a-url-secret", "entry 1 (manager): not a URL"},
	} {
		_, err := load(t, config.CmdWorker, bad.flag, bad.value)
		require.Error(t, err, bad.value)
		assert.Contains(t, err.Error(), bad.want)
		assert.NotContains(t, err.Error(), "secret", "a webhook URL is a secret: never in an error")
	}

	// The API does not read them: a bad value there is not its concern.
	_, err = load(t, config.CmdAPI)
	require.NoError(t, err)
	t.Setenv("LIFECYCLE_SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/secret")
	_, err = load(t, config.CmdAPI)
	assert.NoError(t, err)
	_, err = load(t, config.CmdWorker)
	assert.ErrorContains(t, err, "LIFECYCLE_SLACK_WEBHOOK_URL", "the environment is read like the flag")
}

// The HubSpot webhook is off without a client secret; with one, the token
// and the manager are required and every mapping setting is checked.
func TestHubSpotSettings(t *testing.T) {
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
	}
	c, err := load(t, config.CmdAPI)
	require.NoError(t, err)
	assert.Empty(t, c.HubSpot.ClientSecret)
	assert.Equal(t, []string{"closedwon"}, c.HubSpot.ClosedWonStages)

	t.Setenv("HUBSPOT_CLIENT_SECRET", "secret")
	t.Setenv("HUBSPOT_PLAN_PROPERTY", "contact.plan")
	t.Setenv("HUBSPOT_TERM_MONTHS", "0")
	t.Setenv("HUBSPOT_DEFAULT_CSM", "grace@vendor.example")
	_, err = load(t, config.CmdAPI)
	for _, env := range []string{"HUBSPOT_ACCESS_TOKEN", "HUBSPOT_MANAGER_EMAIL", "HUBSPOT_PLAN_PROPERTY", "HUBSPOT_TERM_MONTHS", "HUBSPOT_DEFAULT_CSM"} {
		assert.ErrorContains(t, err, env+":")
	}
	_, err = load(t, config.CmdWorker)
	assert.NoError(t, err, "the worker does not read the HubSpot settings")

	t.Setenv("HUBSPOT_ACCESS_TOKEN", "pat-na1-x")
	t.Setenv("HUBSPOT_MANAGER_EMAIL", "manager@vendor.example")
	t.Setenv("HUBSPOT_PLAN_PROPERTY", "company.plan_tier")
	t.Setenv("HUBSPOT_RENEWAL_PROPERTY", "contract_end")
	t.Setenv("HUBSPOT_TERM_MONTHS", "24")
	t.Setenv("HUBSPOT_DEFAULT_CSM", "Grace Hopper <grace@vendor.example>")
	t.Setenv("HUBSPOT_CLOSED_WON_STAGES", "closedwon, 987654 ,")
	c, err = load(t, config.CmdDev)
	require.NoError(t, err)
	assert.Equal(t, config.HubSpot{
		ClientSecret: "secret", AccessToken: "pat-na1-x", APIURL: "https://api.hubapi.com",
		ClosedWonStages: []string{"closedwon", "987654"}, PlanProperty: "company.plan_tier", RenewalProperty: "contract_end",
		TermMonths: 24, DefaultCSMName: "Grace Hopper", DefaultCSMEmail: "grace@vendor.example", ManagerEmail: "manager@vendor.example",
	}, c.HubSpot)
}
