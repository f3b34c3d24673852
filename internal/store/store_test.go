package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A backend gives Open's arguments for a new, empty database, removed at the
// end of the test.
type backend struct {
	name  string
	fresh func(t *testing.T) (databaseURL, dataDir string)
}

// backends is SQLite always, and PostgreSQL when LIFECYCLE_TEST_DATABASE_URL
// is set; CI must set it, so that the PostgreSQL side cannot rot unnoticed.
func backends(t *testing.T) []backend {
	t.Helper()
	list := []backend{{name: driverSQLite, fresh: func(t *testing.T) (string, string) { return "", t.TempDir() }}}
	pgURL := os.Getenv("LIFECYCLE_TEST_DATABASE_URL")
	switch {
	case pgURL != "":
		list = append(list, backend{name: driverPostgres, fresh: func(t *testing.T) (string, string) {
			return freshSchema(t, pgURL), ""
		}})
	case os.Getenv("CI") != "":
		t.Fatal("CI must test PostgreSQL: set LIFECYCLE_TEST_DATABASE_URL")
	default:
		t.Log("LIFECYCLE_TEST_DATABASE_URL is not set: PostgreSQL skipped, SQLite only")
	}
	return list
}

// freshSchema creates a uniquely named schema in the test database and returns
// base with search_path set to it, so each test starts from nothing.
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	require.NoError(t, err)
	name := "store_test_" + strings.ToLower(rand.Text())
	_, err = admin.Exec(`CREATE SCHEMA ` + name)
	require.NoError(t, err, "LIFECYCLE_TEST_DATABASE_URL")
	t.Cleanup(func() {
		_, err := admin.Exec(`DROP SCHEMA ` + name + ` CASCADE`)
		assert.NoError(t, err)
		assert.NoError(t, admin.Close())
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", name) // pgx sends unknown URL parameters as run-time settings
	u.RawQuery = q.Encode()
	return u.String()
}

// eachBackend runs f as a subtest per backend, on a fresh, open store.
func eachBackend(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Helper()
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			databaseURL, dataDir := b.fresh(t)
			f(t, openT(t, databaseURL, dataDir))
		})
	}
}

func openT(t *testing.T, databaseURL, dataDir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), databaseURL, dataDir)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Close()) })
	return s
}

// at is a time with nanoseconds and a zone, as callers may pass.
func at(minute int) time.Time {
	return time.Date(2025, 3, 4, 10, minute, 5, 123456789, time.FixedZone("CET", 3600))
}

// same is how stored times must compare: UTC, microseconds.
func same(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func TestDriverAndSettings(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		assert.Equal(t, t.Name()[strings.LastIndex(t.Name(), "/")+1:], s.Driver())
		if s.Driver() != driverSQLite {
			return
		}
		var mode string
		var busy, fk int
		require.NoError(t, s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
		require.NoError(t, s.db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy))
		require.NoError(t, s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
		assert.Equal(t, "wal", mode)
		assert.Equal(t, 5000, busy)
		assert.Equal(t, 1, fk)
	})
}

func TestLedger(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, ok, err := s.LedgerGet(ctx, "k1")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, s.LedgerMarkFailed(ctx, "k1", "timeout", at(1)))
		e, ok, err := s.LedgerGet(ctx, "k1")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, LedgerEntry{Key: "k1", Status: StatusFailed, Reason: "timeout", At: same(at(1))}, e)

		// A later failure replaces an earlier one.
		require.NoError(t, s.LedgerMarkFailed(ctx, "k1", "503", at(2)))
		e, _, err = s.LedgerGet(ctx, "k1")
		require.NoError(t, err)
		assert.Equal(t, LedgerEntry{Key: "k1", Status: StatusFailed, Reason: "503", At: same(at(2))}, e)

		// Sent overwrites failed, and clears the reason.
		require.NoError(t, s.LedgerMarkSent(ctx, "k1", "msg-1", at(3)))
		e, _, err = s.LedgerGet(ctx, "k1")
		require.NoError(t, err)
		assert.Equal(t, LedgerEntry{Key: "k1", Status: StatusSent, ProviderID: "msg-1", At: same(at(3))}, e)

		// Failed does not overwrite sent.
		require.NoError(t, s.LedgerMarkFailed(ctx, "k1", "late", at(4)))
		e, _, err = s.LedgerGet(ctx, "k1")
		require.NoError(t, err)
		assert.Equal(t, LedgerEntry{Key: "k1", Status: StatusSent, ProviderID: "msg-1", At: same(at(3))}, e)

		// Sent without an earlier entry; keys are independent.
		require.NoError(t, s.LedgerMarkSent(ctx, "k2", "", at(5)))
		e, ok, err = s.LedgerGet(ctx, "k2")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, LedgerEntry{Key: "k2", Status: StatusSent, At: same(at(5))}, e)

		assert.Error(t, s.LedgerMarkSent(ctx, "", "x", at(6)))
		assert.Error(t, s.LedgerMarkFailed(ctx, "", "x", at(6)))
	})
}

func TestSuppression(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, ok, err := s.Suppressed(ctx, "ann@example.com")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, s.Suppress(ctx, "Ann@Example.com", "bounce", at(1)))
		reason, ok, err := s.Suppressed(ctx, "ann@EXAMPLE.COM")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "bounce", reason)

		// Idempotent, and the first reason stays.
		require.NoError(t, s.Suppress(ctx, " ANN@example.com ", "unsubscribe", at(2)))
		reason, ok, err = s.Suppressed(ctx, "Ann@example.com")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "bounce", reason)

		_, ok, err = s.Suppressed(ctx, "bob@example.com")
		require.NoError(t, err)
		assert.False(t, ok)

		require.NoError(t, s.Unsuppress(ctx, "aNN@example.com"))
		_, ok, err = s.Suppressed(ctx, "ann@example.com")
		require.NoError(t, err)
		assert.False(t, ok)
		require.NoError(t, s.Unsuppress(ctx, "ann@example.com"), "unsuppressing twice")

		// After an unsuppress, a new suppression takes its own reason.
		require.NoError(t, s.Suppress(ctx, "ann@example.com", "spamreport", at(3)))
		reason, _, err = s.Suppressed(ctx, "ann@example.com")
		require.NoError(t, err)
		assert.Equal(t, "spamreport", reason)

		assert.Error(t, s.Suppress(ctx, "  ", "bounce", at(4)))
	})
}

func TestTokenClaims(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, used, err := s.TokenResult(ctx, "tok-1")
		require.NoError(t, err)
		assert.False(t, used)

		// The first claim is the caller's to apply; the next sees it pending.
		claimed, _, err := s.ClaimToken(ctx, "tok-1", at(1), time.Hour)
		require.NoError(t, err)
		assert.True(t, claimed)
		claimed, result, err := s.ClaimToken(ctx, "tok-1", at(2), time.Hour)
		require.NoError(t, err)
		assert.False(t, claimed)
		assert.Equal(t, TokenPending, result)

		// Finished: every later claim answers with the result, also after
		// the take-over time.
		require.NoError(t, s.FinishToken(ctx, "tok-1", "recorded: on_track"))
		claimed, result, err = s.ClaimToken(ctx, "tok-1", at(50), time.Minute)
		require.NoError(t, err)
		assert.False(t, claimed)
		assert.Equal(t, "recorded: on_track", result)
		require.NoError(t, s.FinishToken(ctx, "tok-1", "recorded: at_risk"))
		result, used, err = s.TokenResult(ctx, "tok-1")
		require.NoError(t, err)
		assert.True(t, used)
		assert.Equal(t, "recorded: on_track", result, "the first result stays")
		require.NoError(t, s.ReleaseToken(ctx, "tok-1"))
		_, used, err = s.TokenResult(ctx, "tok-1")
		require.NoError(t, err)
		assert.True(t, used, "a finished use is never released")

		// Released after a failure: the next claim applies it.
		claimed, _, err = s.ClaimToken(ctx, "tok-2", at(1), time.Hour)
		require.NoError(t, err)
		require.True(t, claimed)
		require.NoError(t, s.ReleaseToken(ctx, "tok-2"))
		_, used, err = s.TokenResult(ctx, "tok-2")
		require.NoError(t, err)
		assert.False(t, used)
		claimed, _, err = s.ClaimToken(ctx, "tok-2", at(2), time.Hour)
		require.NoError(t, err)
		assert.True(t, claimed)

		// A claim left pending by a caller that died is taken over once
		// it is older than the take-over time, and only by one caller.
		claimed, _, err = s.ClaimToken(ctx, "tok-3", at(1), 10*time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		claimed, _, err = s.ClaimToken(ctx, "tok-3", at(10), 10*time.Minute)
		require.NoError(t, err)
		assert.False(t, claimed, "9 minutes: still the first caller's")
		claimed, _, err = s.ClaimToken(ctx, "tok-3", at(12), 10*time.Minute)
		require.NoError(t, err)
		assert.True(t, claimed, "11 minutes: taken over")
		claimed, result, err = s.ClaimToken(ctx, "tok-3", at(13), 10*time.Minute)
		require.NoError(t, err)
		assert.False(t, claimed, "the take-over is a fresh claim")
		assert.Equal(t, TokenPending, result)

		_, _, err = s.ClaimToken(ctx, "", at(4), time.Hour)
		assert.Error(t, err)
		assert.Error(t, s.FinishToken(ctx, "tok-2", TokenPending))
		assert.Error(t, s.FinishToken(ctx, "tok-2", ""))
	})
}

func TestWebhookEventClaims(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		done, err := s.ClaimWebhookEvent(ctx, "ev-1", at(1))
		require.NoError(t, err)
		assert.False(t, done, "new: apply it")
		done, err = s.ClaimWebhookEvent(ctx, "ev-1", at(2))
		require.NoError(t, err)
		assert.False(t, done, "claimed but not done (failed, crashed or in flight): apply it again")
		require.NoError(t, s.WebhookEventDone(ctx, "ev-1", at(3)))
		done, err = s.ClaimWebhookEvent(ctx, "ev-1", at(4))
		require.NoError(t, err)
		assert.True(t, done, "done: a duplicate")
		done, err = s.ClaimWebhookEvent(ctx, "ev-2", at(4))
		require.NoError(t, err)
		assert.False(t, done, "ids are independent")

		_, err = s.ClaimWebhookEvent(ctx, "", at(4))
		assert.Error(t, err)
		assert.Error(t, s.WebhookEventDone(ctx, "", at(4)))
	})
}

func TestDeals(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, ok, err := s.Deal(ctx, "deal-1")
		require.NoError(t, err)
		assert.False(t, ok)

		first := Deal{DealID: "deal-1", AccountID: "acme", RunID: "run-a", StartedAt: at(1)}
		got, err := s.RecordDeal(ctx, first)
		require.NoError(t, err)
		assert.Equal(t, Deal{DealID: "deal-1", AccountID: "acme", RunID: "run-a", StartedAt: same(at(1))}, got)

		// Used for good: a later record of the same deal changes nothing.
		got, err = s.RecordDeal(ctx, Deal{DealID: "deal-1", AccountID: "globex", RunID: "run-b", StartedAt: at(2)})
		require.NoError(t, err)
		assert.Equal(t, "run-a", got.RunID, "the first record stands")
		got, ok, err = s.Deal(ctx, "deal-1")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, "acme", got.AccountID)

		_, err = s.RecordDeal(ctx, Deal{AccountID: "acme"})
		assert.Error(t, err)
		_, err = s.RecordDeal(ctx, Deal{DealID: "deal-2"})
		assert.Error(t, err)
	})
}

// TestExactlyOneFirst: 50 concurrent callers with one id, one gets true.
func TestExactlyOneFirst(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		calls := map[string]func(i int) (bool, error){
			"ClaimToken": func(i int) (bool, error) {
				claimed, _, err := s.ClaimToken(ctx, "tok", at(i%5), time.Hour)
				return claimed, err
			},
			"ClaimToken take-over": func(i int) (bool, error) {
				// A claim left at minute 0; everyone comes after the take-over time.
				claimed, _, err := s.ClaimToken(ctx, "stale", at(30+i%5), 10*time.Minute)
				return claimed, err
			},
			"OutboxPut": func(i int) (bool, error) {
				return s.OutboxPut(ctx, OutboxMessage{Key: "msg", CustomerID: "c1", Subject: "s", CreatedAt: at(i)})
			},
		}
		claimed, _, err := s.ClaimToken(ctx, "stale", at(0), 10*time.Minute)
		require.NoError(t, err)
		require.True(t, claimed)
		for name, call := range calls {
			const n = 50
			var wg sync.WaitGroup
			start := make(chan struct{})
			firsts := make(chan bool, n)
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					<-start
					first, err := call(i)
					firsts <- first
					errs <- err
				})
			}
			close(start)
			wg.Wait()
			close(firsts)
			close(errs)
			trues := 0
			for first := range firsts {
				if first {
					trues++
				}
			}
			for err := range errs {
				require.NoError(t, err, name)
			}
			assert.Equal(t, 1, trues, name)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, databaseURL := range []string{
		"mysql://user:secret@localhost/db",
		"postgres://user:secret@127.0.0.1:1/db?sslmode=disable", // nothing listens on port 1
		"postgres://user:secret@127.0.0.1:99999/db",
		"postgres://user:secret@host/db%zz",
		"postgres://user:secret@127.0.0.1/db?sslmode=sometimes",
	} {
		_, err := Open(ctx, databaseURL, t.TempDir())
		require.Error(t, err, databaseURL)
		assert.Contains(t, err.Error(), "DATABASE_URL", databaseURL)
		assert.NotContains(t, err.Error(), "secret", "the password leaks")
	}

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, dataDir := range []string{"", file} {
		_, err := Open(ctx, "", dataDir)
		require.Error(t, err, dataDir)
		assert.Contains(t, err.Error(), "LIFECYCLE_DATA_DIR", dataDir)
	}

	// The data directory is created, with parents.
	dataDir := filepath.Join(t.TempDir(), "a", "b")
	openT(t, "", dataDir)
	assert.FileExists(t, filepath.Join(dataDir, "lifecycle.db"))
}
