package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadsDoNotQueueBehindWrites: a lookup (a start's deal check, the
// worker's suppression check, a dashboard session) answers while a write
// transaction holds the writer, from what is committed. With one SQLite
// connection for both it waited for the writer.
func TestReadsDoNotQueueBehindWrites(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.RecordDeal(ctx, Deal{DealID: "committed", AccountID: "acme", RunID: "r1", StartedAt: at(1)})
		require.NoError(t, err)
		tx, err := s.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback() }()
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO deals (deal_id, account_id, run_id, started_at) VALUES (?, ?, ?, ?)`),
			"pending", "acme", "r2", s.timeArg(at(2)))
		require.NoError(t, err)

		// The bound only turns a wait into a failure; it times nothing.
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		d, ok, err := s.Deal(rctx, "committed")
		require.NoError(t, err, "the read did not wait for the writer")
		assert.True(t, ok)
		assert.Equal(t, "r1", d.RunID)
		_, ok, err = s.Deal(rctx, "pending")
		require.NoError(t, err)
		assert.False(t, ok, "an uncommitted write is not seen")
		_, _, err = s.Suppressed(rctx, "ada@acme.example")
		require.NoError(t, err)
		_, _, err = s.DashboardSession(rctx, "a-session-id")
		require.NoError(t, err, "a dashboard request's session check did not wait for the writer")
	})
}
