// Package storetest gives other packages' tests a fresh, real store on each
// backend: SQLite always, PostgreSQL too when LIFECYCLE_TEST_DATABASE_URL
// is set (CI must set it, so that the PostgreSQL side cannot rot
// unnoticed). It is the store package's own test set-up, for tests outside
// it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers driver "pgx"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// Backend gives store.Open's arguments for a new, empty database.
type Backend struct {
	Name string // "sqlite" or "postgres"
	// Fresh makes a new empty database, removed at the end of the test.
	// Open it as many times as there are processes to play.
	Fresh func(t testing.TB) (databaseURL, dataDir string)
}

// Backends lists the backends this machine tests.
func Backends(t testing.TB) []Backend {
	t.Helper()
	list := []Backend{{Name: "sqlite", Fresh: func(t testing.TB) (string, string) { return "", t.TempDir() }}}
	pgURL := os.Getenv("LIFECYCLE_TEST_DATABASE_URL")
	switch {
	case pgURL != "":
		list = append(list, Backend{Name: "postgres", Fresh: func(t testing.TB) (string, string) {
			return freshSchema(t, pgURL), ""
		}})
	case os.Getenv("CI") != "":
		t.Fatal("CI must test PostgreSQL: set LIFECYCLE_TEST_DATABASE_URL")
	default:
		t.Log("LIFECYCLE_TEST_DATABASE_URL is not set: PostgreSQL skipped, SQLite only")
	}
	return list
}

// Each runs f as a subtest per backend.
func Each(t *testing.T, f func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) { f(t, b) })
	}
}

// Open opens the store at databaseURL or dataDir and closes it at the end
// of the test.
func Open(t testing.TB, databaseURL, dataDir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), databaseURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() }) // a test may have closed it already
	return s
}

// freshSchema creates a uniquely named schema in the test database and
// returns base with search_path set to it, so each test starts from nothing.
func freshSchema(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	name := "storetest_" + strings.ToLower(rand.Text())
	if _, err := admin.Exec(`CREATE SCHEMA ` + name); err != nil {
		_ = admin.Close()
		t.Fatalf("LIFECYCLE_TEST_DATABASE_URL: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec(`DROP SCHEMA ` + name + ` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name) // pgx sends unknown URL parameters as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}
