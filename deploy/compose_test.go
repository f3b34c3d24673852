// Package deploy_test checks docker-compose.yml against the code in make
// test: the Temporal images are the server version go.mod embeds and tests,
// lifecycle's containers get only settings their command reads, secrets
// have no defaults, and ports stay on this machine unless told otherwise.
// (.ci/run's compose stage checks the file is valid Compose and refuses to
// start without its secrets; deploy/k8s checks the Kubernetes manifests.)
package deploy_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
		Ports       []string          `json:"ports"`
	} `json:"services"`
}

func readCompose(t *testing.T) (composeFile, string) {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	// YAML anchors and merge keys (<<) are resolved while decoding.
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("docker-compose.yml: no services")
	}
	return f, string(raw)
}

// serverVersion is go.temporal.io/server's version in go.mod, without the v.
func serverVersion(t *testing.T) string {
	t.Helper()
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*go\.temporal\.io/server v(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod: no go.temporal.io/server requirement")
	}
	return string(m[1])
}

// TestComposeTemporalMatchesGoMod: the server and its schema tool are the
// release the code embeds (lifecycle dev) and tests against.
func TestComposeTemporalMatchesGoMod(t *testing.T) {
	f, _ := readCompose(t)
	want := serverVersion(t)
	seen := map[string]bool{}
	for name, s := range f.Services {
		repo, tag, _ := strings.Cut(s.Image, ":")
		switch repo {
		case "temporalio/server", "temporalio/admin-tools":
			seen[repo] = true
			if tag != want {
				t.Errorf("service %s: image %s, want tag %s (go.mod's go.temporal.io/server)", name, s.Image, want)
			}
		case "temporalio/auto-setup":
			t.Errorf("service %s: temporalio/auto-setup is deprecated upstream after 1.29; use temporalio/server and the schema job", name)
		}
	}
	for _, repo := range []string{"temporalio/server", "temporalio/admin-tools"} {
		if !seen[repo] {
			t.Errorf("no service runs %s", repo)
		}
	}
}

// TestComposeLifecycleSettings: every variable a lifecycle container gets is
// a setting its command reads; so the SendGrid key reaches the worker only,
// the API keys the API only.
func TestComposeLifecycleSettings(t *testing.T) {
	f, _ := readCompose(t)
	commands := map[string]bool{}
	for name, s := range f.Services {
		if !strings.HasPrefix(s.Image, "lifecycle:") {
			continue
		}
		if len(s.Command) == 0 {
			t.Errorf("service %s: no command", name)
			continue
		}
		cmd := s.Command[0]
		commands[cmd] = true
		for env := range s.Environment {
			i := slices.IndexFunc(config.Settings, func(st config.Setting) bool { return st.Env == env })
			switch {
			case i < 0:
				t.Errorf("service %s: %s is not a setting of the binary (internal/config.Settings)", name, env)
			case !config.Settings[i].UsedBy(cmd):
				t.Errorf("service %s: lifecycle %s does not read %s", name, cmd, env)
			}
		}
		if cmd == config.CmdWorker && s.Environment["LIFECYCLE_BUILD_ID"] == "" {
			t.Errorf("service %s: no LIFECYCLE_BUILD_ID", name)
		}
	}
	for _, want := range []string{config.CmdSetup, config.CmdWorker, config.CmdAPI} {
		if !commands[want] {
			t.Errorf("no lifecycle service runs %s", want)
		}
	}
}

// TestComposeSecretsRequired: passwords, API keys and the link secret have
// no default: ${VAR:?message} makes docker-compose refuse and say which.
func TestComposeSecretsRequired(t *testing.T) {
	_, raw := readCompose(t)
	for _, v := range []string{"POSTGRES_PASSWORD", "TEMPORAL_DB_PASSWORD", "LIFECYCLE_DB_PASSWORD", "LIFECYCLE_API_KEYS", "LIFECYCLE_LINK_SECRET", "LIFECYCLE_BUILD_ID"} {
		uses := regexp.MustCompile(`\$\{`+v+`(:?[-?+])?`).FindAllStringSubmatch(raw, -1)
		if len(uses) == 0 {
			t.Errorf("docker-compose.yml does not use %s", v)
		}
		for _, u := range uses {
			if u[1] != ":?" {
				t.Errorf("docker-compose.yml: %s (want ${%s:?message}: required, no default)", u[0], v)
			}
		}
	}
}

// TestComposePortsLocal: a published port is bound to 127.0.0.1 (or to a
// variable whose default is).
func TestComposePortsLocal(t *testing.T) {
	f, _ := readCompose(t)
	local := regexp.MustCompile(`^(127\.0\.0\.1:|\$\{[A-Z_]+:-127\.0\.0\.1:)`)
	for name, s := range f.Services {
		for _, p := range s.Ports {
			if !local.MatchString(p) {
				t.Errorf("service %s: port %q is published on every interface; bind it to 127.0.0.1", name, p)
			}
		}
	}
}
