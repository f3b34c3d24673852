package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDashboardSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const id = "the-random-session-id-from-the-cookie"
		_, ok, err := s.DashboardSession(ctx, id)
		require.NoError(t, err)
		assert.False(t, ok)

		ses := DashboardSession{Role: "csm", CSRF: "csrf-token", KeyFingerprint: "fp-1", CreatedAt: at(1), ExpiresAt: at(1).Add(12 * time.Hour)}
		require.NoError(t, s.CreateDashboardSession(ctx, id, ses))
		got, ok, err := s.DashboardSession(ctx, id)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, DashboardSession{Role: "csm", CSRF: "csrf-token", KeyFingerprint: "fp-1", CreatedAt: same(at(1)), ExpiresAt: same(at(1).Add(12 * time.Hour))}, got)

		// The table holds the id's SHA-256, never the id.
		var idHash string
		require.NoError(t, s.db.QueryRowContext(ctx, `SELECT id_hash FROM dashboard_sessions`).Scan(&idHash))
		sum := sha256.Sum256([]byte(id))
		assert.Equal(t, hex.EncodeToString(sum[:]), idHash)
		var n int
		require.NoError(t, s.db.QueryRowContext(ctx, s.q(`SELECT count(*) FROM dashboard_sessions WHERE id_hash = ? OR csrf = ? OR key_fingerprint = ?`), id, id, id).Scan(&n))
		assert.Zero(t, n, "the id is stored in clear")

		// A second session does not collide; deleting one leaves the other.
		require.NoError(t, s.CreateDashboardSession(ctx, id+"-2", ses))
		require.NoError(t, s.DeleteDashboardSession(ctx, id))
		_, ok, err = s.DashboardSession(ctx, id)
		require.NoError(t, err)
		assert.False(t, ok, "deleted")
		_, ok, err = s.DashboardSession(ctx, id+"-2")
		require.NoError(t, err)
		assert.True(t, ok)
		require.NoError(t, s.DeleteDashboardSession(ctx, id), "deleting twice")

		// A repeated id is refused rather than overwritten.
		assert.Error(t, s.CreateDashboardSession(ctx, id+"-2", ses))

		for name, bad := range map[string]func(*DashboardSession){
			"role": func(d *DashboardSession) { d.Role = "" }, "csrf": func(d *DashboardSession) { d.CSRF = "" },
			"fingerprint": func(d *DashboardSession) { d.KeyFingerprint = "" },
			"expiry":      func(d *DashboardSession) { d.ExpiresAt = d.CreatedAt },
		} {
			d := ses
			bad(&d)
			assert.Error(t, s.CreateDashboardSession(ctx, "bad-"+name, d), name)
		}
		assert.Error(t, s.CreateDashboardSession(ctx, "", ses))
	})
}

// TestPurgeDashboardSessions: only expired sessions go, at most limit a
// call, so that sign-ins keep the table bounded without a long delete.
func TestPurgeDashboardSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := range 5 { // expired at minutes 1..5
			require.NoError(t, s.CreateDashboardSession(ctx, fmt.Sprint("old-", i), DashboardSession{
				Role: "csm", CSRF: "c", KeyFingerprint: "f", CreatedAt: at(0), ExpiresAt: at(i + 1)}))
		}
		for i := range 2 { // live until minute 30
			require.NoError(t, s.CreateDashboardSession(ctx, fmt.Sprint("live-", i), DashboardSession{
				Role: "admin", CSRF: "c", KeyFingerprint: "f", CreatedAt: at(0), ExpiresAt: at(30)}))
		}
		now := at(10)
		n, err := s.PurgeDashboardSessions(ctx, now, 3)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		n, err = s.PurgeDashboardSessions(ctx, now, 3)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		n, err = s.PurgeDashboardSessions(ctx, now, 3)
		require.NoError(t, err)
		assert.Zero(t, n)
		n, err = s.PurgeDashboardSessions(ctx, now, 0)
		require.NoError(t, err)
		assert.Zero(t, n)
		for i := range 5 {
			_, ok, err := s.DashboardSession(ctx, fmt.Sprint("old-", i))
			require.NoError(t, err)
			assert.False(t, ok)
		}
		for i := range 2 {
			_, ok, err := s.DashboardSession(ctx, fmt.Sprint("live-", i))
			require.NoError(t, err)
			assert.True(t, ok, "a live session is never purged")
		}
		// Expiring exactly now counts as expired.
		n, err = s.PurgeDashboardSessions(ctx, at(30), 10)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
	})
}

// TestDashboardSessionsConcurrently: sign-ins, reads and purges at once, as
// on several API replicas, neither fail nor lose a session.
func TestDashboardSessionsConcurrently(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, 3*n)
		for i := range n {
			wg.Go(func() {
				id := fmt.Sprint("ses-", i)
				if err := s.CreateDashboardSession(ctx, id, DashboardSession{Role: "csm", CSRF: id, KeyFingerprint: "f", CreatedAt: at(0), ExpiresAt: at(30)}); err != nil {
					errs <- err
					return
				}
				got, ok, err := s.DashboardSession(ctx, id)
				switch {
				case err != nil:
					errs <- err
				case !ok || got.CSRF != id:
					errs <- fmt.Errorf("%s: read back %v %+v", id, ok, got)
				}
			})
			wg.Go(func() {
				if _, err := s.PurgeDashboardSessions(ctx, at(10), 5); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		var msgs []string
		for err := range errs {
			msgs = append(msgs, err.Error())
		}
		assert.Empty(t, msgs, strings.Join(msgs, "\n"))
		var count int
		require.NoError(t, s.db.QueryRowContext(ctx, `SELECT count(*) FROM dashboard_sessions`).Scan(&count))
		assert.Equal(t, n, count)
	})
}
