package store

import (
	"context"
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
			assert.Equal(t, []int{1}, appliedVersions(t, s))

			// A later migration is applied once, on top.
			next := append(migrations[:len(migrations):len(migrations)], migration{
				version: 2, name: "test", sqlite: []string{`CREATE TABLE extra (x INTEGER)`},
				postgres: []string{`CREATE TABLE extra (x INTEGER)`},
			})
			require.NoError(t, s.migrate(ctx, next))
			require.NoError(t, s.migrate(ctx, next))
			assert.Equal(t, []int{1, 2}, appliedVersions(t, s))

			// A failing migration leaves nothing behind, not even its first statement.
			bad := append(next[:len(next):len(next)], migration{
				version: 3, name: "broken", sqlite: []string{`CREATE TABLE partial (x INTEGER)`, `NOT SQL`},
				postgres: []string{`CREATE TABLE partial (x INTEGER)`, `NOT SQL`},
			})
			err = s.migrate(ctx, bad)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "migration 3 (broken)")
			assert.Equal(t, []int{1, 2}, appliedVersions(t, s))
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
				assert.Equal(t, []int{1}, appliedVersions(t, s))
			}

			// Separate processes writing the same id at once: one first, no
			// "database is locked" (busy_timeout).
			firsts := make(chan bool, n*10)
			errs = make(chan error, n*10)
			for _, s := range opened {
				for range 10 {
					wg.Go(func() {
						first, err := s.UseToken(context.Background(), "tok", "r", time.Now())
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
