package config_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

// settingsTable is README's table of settings, as config.Settings says.
func settingsTable() string {
	var b strings.Builder
	b.WriteString("| variable | flag | default | read by | meaning |\n|---|---|---|---|---|\n")
	for _, s := range config.Settings {
		def := ""
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `--%s` | %s | %s | %s |\n", s.Env, s.Flag, def, strings.Join(s.Commands, ", "), s.Help)
	}
	return b.String()
}

// TestREADMEListsEverySetting: the README's table is the one operators
// read; it must list every setting with its flag, default and commands.
func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	want := settingsTable()
	require.True(t, strings.Contains(string(readme), want),
		"README.md's settings table differs from config.Settings; replace it with:\n\n%s", want)
}
