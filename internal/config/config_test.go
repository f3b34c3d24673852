package config_test

import (
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

func load(t *testing.T, dev bool, args ...string) (*config.Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	vals := config.Register(fs)
	require.NoError(t, fs.Parse(args))
	return config.Load(vals, dev)
}

func TestDefaults(t *testing.T) {
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
	}
	c, err := load(t, false)
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
	c, err := load(t, false)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, c.DayLength)
	c, err = load(t, false, "-day-length", "2s")
	require.NoError(t, err)
	assert.Equal(t, 2*time.Second, c.DayLength)
}

func TestBadValuesNameTheSetting(t *testing.T) {
	for env, value := range map[string]string{
		"LIFECYCLE_DAY_LENGTH":  "soon",
		"LIFECYCLE_HTTP_ADDR":   "8080",
		"LIFECYCLE_API_KEYS":    "boss:12345678",
		"LIFECYCLE_PUBLIC_URL":  "ftp://x",
		"LIFECYCLE_LINK_SECRET": "short",
		"TEMPORAL_ADDRESS":      "nowhere",
		"TEMPORAL_TLS_CERT":     "/no/such/cert.pem",
		"LOG_LEVEL":             "loud",
		"LOG_FORMAT":            "xml",
	} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, value)
			_, err := load(t, false)
			require.Error(t, err)
			assert.Contains(t, err.Error(), env)
		})
	}
}

func TestAPIKeys(t *testing.T) {
	keys, err := config.ParseAPIKeys("sales:s-1234567, admin:a-1234567")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"s-1234567": "sales", "a-1234567": "admin"}, keys)
	_, err = config.ParseAPIKeys("sales:short")
	assert.ErrorContains(t, err, "shorter than 8")
	_, err = config.ParseAPIKeys("sales:same-key-1,csm:same-key-1")
	assert.ErrorContains(t, err, "twice")
	_, err = config.ParseAPIKeys("nocolon")
	assert.ErrorContains(t, err, "not role:key")
}

func TestDevGeneratesKeysAndSecret(t *testing.T) {
	t.Setenv("LIFECYCLE_API_KEYS", "")
	t.Setenv("LIFECYCLE_LINK_SECRET", "")
	c, err := load(t, true)
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
