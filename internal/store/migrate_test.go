package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMigrationsIdempotent(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			databaseURL, dataDir := b.fresh(t)
			s, err := Open(ctx, databaseURL, dataDir)
			require.NoError(t, err)
			require.NoError(t, s.LedgerMarkSent(ctx, "k", "p", at(1)))
			_, err = s.OutboxPut(ctx, OutboxMessage{Key: "m", CustomerID: "c"})
			require.NoError(t, err)
			require.NoError(t, s.Close())

			s = openT(t, databaseURL, dataDir)
			e, ok, err := s.LedgerGet(ctx, "k")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, "p", e.ProviderID)
			_, ok, err = s.OutboxGet(ctx, "m")
			require.NoError(t, err)
			assert.True(t, ok)
			assert.Equal(t, allVersions(), appliedVersions(t, s))

			// A later migration is applied once, on top.
			last := migrations[len(migrations)-1].version
			next := append(migrations[:len(migrations):len(migrations)], migration{
				version: last + 1, name: "test", sqlite: []string{`CREATE TABLE extra (x INTEGER)`},
				postgres: []string{`CREATE TABLE extra (x INTEGER)`},
			})
			require.NoError(t, s.migrate(ctx, next))
			require.NoError(t, s.migrate(ctx, next))
			assert.Equal(t, append(allVersions(), last+1), appliedVersions(t, s))

			// A failing migration leaves nothing behind, not even its first statement.
			bad := append(next[:len(next):len(next)], migration{
				version: last + 2, name: "broken", sqlite: []string{`CREATE TABLE partial (x INTEGER)`, `NOT SQL`},
				postgres: []string{`CREATE TABLE partial (x INTEGER)`, `NOT SQL`},
			})
			err = s.migrate(ctx, bad)
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("migration %d (broken)", last+2))
			assert.Equal(t, append(allVersions(), last+1), appliedVersions(t, s))
			_, err = s.db.ExecContext(ctx, `INSERT INTO partial (x) VALUES (1)`)
			assert.Error(t, err, "table partial exists")
		})
	}
}

// TestConcurrentOpen: processes starting together migrate once, without errors,
// and then write together.
func TestConcurrentOpen(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			databaseURL, dataDir := b.fresh(t)
			const n = 4
			stores := make(chan *Store, n)
			errs := make(chan error, n)
			var wg sync.WaitGroup
			for range n {
				wg.Go(func() {
					s, err := Open(context.Background(), databaseURL, dataDir)
					errs <- err
					if err == nil {
						stores <- s
					}
				})
			}
			wg.Wait()
			close(errs)
			close(stores)
			for err := range errs {
				require.NoError(t, err)
			}
			var opened []*Store
			for s := range stores {
				opened = append(opened, s)
				assert.Equal(t, allVersions(), appliedVersions(t, s))
			}

			// Separate processes writing the same id at once: one first, no
			// "database is locked" (busy_timeout).
			firsts := make(chan bool, n*10)
			errs = make(chan error, n*10)
			for _, s := range opened {
				for range 10 {
					wg.Go(func() {
						first, _, err := s.ClaimToken(context.Background(), "tok", time.Now(), time.Hour)
						firsts <- first
						errs <- err
					})
				}
			}
			wg.Wait()
			close(firsts)
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			trues := 0
			for first := range firsts {
				if first {
					trues++
				}
			}
			assert.Equal(t, 1, trues)
			for _, s := range opened {
				assert.NoError(t, s.Close())
			}
		})
	}
}

// TestMigration2KeepsSeenEvents: event ids recorded before version 2 were
// recorded after their effects, so they stay duplicates; deals start empty.
func TestMigration2KeepsSeenEvents(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			databaseURL, dataDir := b.fresh(t)
			s, err := Open(ctx, databaseURL, dataDir)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			// Rebuild the database as version 1 left it.
			s = openT(t, databaseURL, dataDir)
			for _, stmt := range []string{`DROP TABLE webhook_delivered`, `DROP TABLE webhook_deliveries`, `DROP TABLE webhook_subscriptions`, `DROP TABLE task_syncs`, `DROP TABLE tasks`, `DROP TABLE users`, `DROP TABLE insight_runs`, `DROP TABLE plan_playbooks`, `DROP TABLE playbooks`, `DROP TABLE dashboard_sessions`, `DROP TABLE deals`, `DROP TABLE webhook_events`, `DELETE FROM schema_migrations WHERE version > 1`} {
				_, err := s.db.ExecContext(ctx, stmt)
				require.NoError(t, err)
			}
			v1 := migrations[0].sqlite
			if s.Driver() == driverPostgres {
				v1 = migrations[0].postgres
			}
			for _, stmt := range v1 {
				if strings.Contains(stmt, "webhook_events") {
					_, err := s.db.ExecContext(ctx, stmt)
					require.NoError(t, err)
				}
			}
			_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO webhook_events (event_id, seen_at) VALUES (?, ?)`), "old-ev", s.timeArg(at(1)))
			require.NoError(t, err)
			assert.Equal(t, []int{1}, appliedVersions(t, s))

			require.NoError(t, s.migrate(ctx, migrations))
			assert.Equal(t, allVersions(), appliedVersions(t, s))
			done, err := s.ClaimWebhookEvent(ctx, "old-ev", at(2))
			require.NoError(t, err)
			assert.True(t, done, "an event seen before the upgrade is a duplicate")
			done, err = s.ClaimWebhookEvent(ctx, "new-ev", at(2))
			require.NoError(t, err)
			assert.False(t, done)
			_, ok, err := s.Deal(ctx, "deal-1")
			require.NoError(t, err)
			assert.False(t, ok)
		})
	}
}

// TestMigration3AddsSessionsOnTop: a database at version 2 gets the
// sessions table and keeps what it had.
func TestMigration3AddsSessionsOnTop(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, stmt := range []string{`DROP TABLE webhook_delivered`, `DROP TABLE webhook_deliveries`, `DROP TABLE webhook_subscriptions`, `DROP TABLE task_syncs`, `DROP TABLE tasks`, `DROP TABLE users`, `DROP TABLE insight_runs`, `DROP TABLE plan_playbooks`, `DROP TABLE playbooks`, `DROP TABLE dashboard_sessions`, `DELETE FROM schema_migrations WHERE version > 2`} {
			_, err := s.db.ExecContext(ctx, stmt)
			require.NoError(t, err)
		}
		_, err := s.RecordDeal(ctx, Deal{DealID: "deal-1", AccountID: "acme", RunID: "r1", StartedAt: at(1)})
		require.NoError(t, err)
		assert.Equal(t, []int{1, 2}, appliedVersions(t, s))

		require.NoError(t, s.migrate(ctx, migrations))
		assert.Equal(t, allVersions(), appliedVersions(t, s))
		_, ok, err := s.Deal(ctx, "deal-1")
		require.NoError(t, err)
		assert.True(t, ok, "the deal is still there")
		require.NoError(t, s.CreateDashboardSession(ctx, "id", DashboardSession{Role: "csm", CSRF: "c", KeyFingerprint: "f", CreatedAt: at(1), ExpiresAt: at(2)}))
	})
}

func allVersions() []int {
	var vs []int
	for _, m := range migrations {
		vs = append(vs, m.version)
	}
	return vs
}

func appliedVersions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.db.Query(`SELECT version FROM schema_migrations ORDER BY version`)
	require.NoError(t, err)
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		vs = append(vs, v)
	}
	require.NoError(t, rows.Err())
	return vs
}

// TestMigration4AddsPlaybooksOnTop: a database at version 3 gets the
// playbook tables and keeps its sessions.
func TestMigration4AddsPlaybooksOnTop(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, stmt := range []string{`DROP TABLE webhook_delivered`, `DROP TABLE webhook_deliveries`, `DROP TABLE webhook_subscriptions`, `DROP TABLE task_syncs`, `DROP TABLE tasks`, `DROP TABLE users`, `DROP TABLE insight_runs`, `DROP TABLE plan_playbooks`, `DROP TABLE playbooks`, `DELETE FROM schema_migrations WHERE version > 3`} {
			_, err := s.db.ExecContext(ctx, stmt)
			require.NoError(t, err)
		}
		require.NoError(t, s.CreateDashboardSession(ctx, "id", DashboardSession{Role: "csm", CSRF: "c", KeyFingerprint: "f", CreatedAt: at(1), ExpiresAt: at(2)}))
		assert.Equal(t, []int{1, 2, 3}, appliedVersions(t, s))

		require.NoError(t, s.migrate(ctx, migrations))
		assert.Equal(t, allVersions(), appliedVersions(t, s))
		_, ok, err := s.DashboardSession(ctx, "id")
		require.NoError(t, err)
		assert.True(t, ok, "the session is still there")
		_, created, err := s.PublishPlaybook(ctx, PublishedPlaybook{ID: "default", Version: 2, Name: "n", YAML: "y", PublishedBy: "admin", PublishedAt: at(1)})
		require.NoError(t, err)
		assert.True(t, created)
	})
}
