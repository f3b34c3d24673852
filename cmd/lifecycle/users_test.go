package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// usersEnv runs the users commands on a store of their own: the test's
// SQLite directory, whatever the environment says.
func usersEnv(t *testing.T) (dir string, users func(args ...string) (int, string, string)) {
	t.Helper()
	t.Setenv("DATABASE_URL", "")
	dir = t.TempDir()
	t.Setenv("LIFECYCLE_DATA_DIR", dir)
	return dir, func(args ...string) (int, string, string) {
		t.Helper()
		return runCLI(t, append([]string{"users"}, args...)...)
	}
}

// lookUp opens the store as the API would and finds the person key is of.
func lookUp(t *testing.T, dir, key string) (store.User, bool) {
	t.Helper()
	st, err := store.Open(context.Background(), "", dir)
	require.NoError(t, err)
	defer st.Close()
	u, ok, err := st.UserByKeyHash(context.Background(), store.HashUserKey(key))
	require.NoError(t, err)
	return u, ok
}

func TestUsersAddListRotateRemove(t *testing.T) {
	dir, users := usersEnv(t)

	code, out, errOut := users("add", "--email", "Grace@Example.com", "--name", "Grace Hopper", "--role", "csm")
	require.Equal(t, 0, code, errOut)
	key := strings.TrimSpace(out)
	assert.True(t, store.IsUserKey(key), "stdout is the key alone: %q", out)
	assert.Contains(t, errOut, "Added Grace Hopper <grace@example.com> as csm")
	assert.Contains(t, errOut, "shown only this once")
	assert.Contains(t, errOut, "store: SQLite "+filepath.Join(dir, "lifecycle.db"))
	u, ok := lookUp(t, dir, key)
	require.True(t, ok, "the printed key is the one the store knows")
	assert.Equal(t, store.User{Email: "grace@example.com", Name: "Grace Hopper", Role: "csm", KeyHint: key[:8], CreatedAt: u.CreatedAt}, u)

	// The key itself is nowhere in the store's file: only its hash.
	db, err := os.ReadFile(filepath.Join(dir, "lifecycle.db"))
	require.NoError(t, err)
	wal, _ := os.ReadFile(filepath.Join(dir, "lifecycle.db-wal"))
	assert.NotContains(t, string(db)+string(wal), key)

	code, out, _ = users("add", "--email", "alan@example.com", "--name", "Alan Turing", "--role", "admin", "--data-dir", dir)
	require.Equal(t, 0, code)
	alanKey := strings.TrimSpace(out)

	code, out, _ = users("list")
	require.Equal(t, 0, code)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Equal(t, []string{"EMAIL", "NAME", "ROLE", "KEY", "ADDED"}, strings.Fields(lines[0]))
	assert.True(t, strings.HasPrefix(lines[1], "alan@example.com"), "by email: %s", out)
	assert.Contains(t, lines[2], "Grace Hopper")
	assert.Contains(t, lines[2], " csm ")
	assert.Contains(t, lines[2], key[:8]+"…")
	assert.Contains(t, lines[2], u.CreatedAt.Format("2006-01-02"))
	assert.NotContains(t, out, key, "list never shows a key")
	assert.NotContains(t, out, alanKey)

	// Rotate: a new key, printed once; the old one is no one's.
	code, out, errOut = users("rotate", "grace@example.com")
	require.Equal(t, 0, code, errOut)
	newKey := strings.TrimSpace(out)
	assert.True(t, store.IsUserKey(newKey))
	assert.NotEqual(t, key, newKey)
	assert.Contains(t, errOut, "the old one no longer works")
	_, ok = lookUp(t, dir, key)
	assert.False(t, ok, "the key before the rotation")
	u, ok = lookUp(t, dir, newKey)
	require.True(t, ok)
	assert.Equal(t, "Grace Hopper", u.Name)

	// Remove, flags after the argument too.
	code, out, errOut = users("remove", "GRACE@example.com", "--data-dir", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Removed grace@example.com")
	_, ok = lookUp(t, dir, newKey)
	assert.False(t, ok, "a removed person's key")
	code, out, _ = users("list")
	require.Equal(t, 0, code)
	assert.NotContains(t, out, "grace@example.com")
	assert.Contains(t, out, "alan@example.com")
}

func TestUsersErrors(t *testing.T) {
	dir, users := usersEnv(t)
	code, _, _ := users("add", "--email", "grace@example.com", "--name", "Grace Hopper", "--role", "csm")
	require.Equal(t, 0, code)

	for _, tc := range []struct {
		args []string
		code int
		says []string
	}{
		{[]string{"add", "--email", "GRACE@example.com", "--name", "Grace Again", "--role", "admin"}, 1,
			[]string{"grace@example.com is a user already", "lifecycle users rotate grace@example.com"}},
		{[]string{"add", "--email", "not-an-address", "--name", "X", "--role", "root"}, 1,
			[]string{"invalid user:", `email: "not-an-address" is not an address`, `role: "root" is not a role (use sales, csm, integration, admin)`}},
		{[]string{"add", "--email", "a@example.com", "--name", strings.Repeat("n", 101), "--role", "csm"}, 1, []string{"name: at most 100 characters"}},
		{[]string{"add", "--name", "Nobody"}, 2, []string{"--email, --role required", "Usage: lifecycle users add"}},
		{[]string{"add", "extra"}, 2, []string{`unexpected argument "extra"`}},
		{[]string{"add", "--bogus"}, 2, []string{"flag provided but not defined: -bogus"}},
		{[]string{"remove", "nobody@example.com"}, 1, []string{"no user nobody@example.com", "lifecycle users list"}},
		{[]string{"rotate", "nobody@example.com"}, 1, []string{"no user nobody@example.com"}},
		{[]string{"remove"}, 2, []string{"want 1 argument(s), got 0", "Usage: lifecycle users remove EMAIL"}},
		{[]string{"rotate", "a@example.com", "b@example.com"}, 2, []string{"want 1 argument(s), got 2"}},
		{[]string{"list", "--data-dir", filepath.Join(dir, "elsewhere")}, 1, []string{"no store at " + filepath.Join(dir, "elsewhere", "lifecycle.db"), "--data-dir"}},
		{[]string{"remove", "grace@example.com", "--database-url", "mysql://x"}, 1, []string{"DATABASE_URL", "postgres://"}},
		{[]string{"launch"}, 2, []string{`unknown command "launch"`}},
	} {
		code, _, errOut := users(tc.args...)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		for _, s := range tc.says {
			assert.Contains(t, errOut, s, "%v", tc.args)
		}
	}
	// Nothing above changed who there is.
	code, out, _ := users("list")
	require.Equal(t, 0, code)
	assert.Equal(t, 2, len(strings.Split(strings.TrimSpace(out), "\n")), out)
	assert.Contains(t, out, "Grace Hopper")
	_, err := os.Stat(filepath.Join(dir, "elsewhere"))
	assert.True(t, os.IsNotExist(err), "a list elsewhere makes no new store")
}

func TestUsersHelp(t *testing.T) {
	_, users := usersEnv(t)
	code, out, _ := users("--help")
	assert.Equal(t, 0, code)
	for _, s := range []string{"lifecycle users add --email EMAIL --name NAME --role ROLE", "lifecycle users list", "lifecycle users remove EMAIL", "lifecycle users rotate EMAIL", "KEY=$(lifecycle users add"} {
		assert.Contains(t, out, s)
	}
	code, out, _ = runCLI(t, "help", "users")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "lifecycle users rotate EMAIL")
	code, _, errOut := users("add", "--help")
	assert.Equal(t, 0, code)
	for _, s := range []string{"Usage: lifecycle users add", "-email", "-name", "-role", "sales, csm, integration, admin", "-data-dir", "LIFECYCLE_DATA_DIR", "DATABASE_URL"} {
		assert.Contains(t, errOut, s)
	}
	code, _, _ = users()
	assert.Equal(t, 2, code, "no subcommand")
	code, out, _ = runCLI(t, "--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "lifecycle users add|list|remove|rotate")
	code, _, _ = users("list", "--help")
	assert.Equal(t, 0, code)
}

// TestUsersEmptyList: an empty store says how to add someone.
func TestUsersEmptyList(t *testing.T) {
	dir, users := usersEnv(t)
	st, err := store.Open(context.Background(), "", dir)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	code, out, errOut := users("list")
	assert.Equal(t, 0, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "No users yet: lifecycle users add")
}
