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

func insightRun(minute int) InsightRun {
	return InsightRun{ComputedAt: at(minute), Journeys: minute,
		Summary: []byte(fmt.Sprintf(`{"journeys":%d}`, minute)), Report: []byte(fmt.Sprintf(`{"journeys":%d,"segments":[]}`, minute))}
}

func TestInsightRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, ok, err := s.LatestInsights(ctx)
		require.NoError(t, err)
		assert.False(t, ok, "no run yet")
		n, err := s.PruneInsights(ctx, at(100))
		require.NoError(t, err)
		assert.Zero(t, n)

		var ids []int64
		for _, m := range []int{3, 1, 2} {
			id, err := s.SaveInsights(ctx, insightRun(m))
			require.NoError(t, err)
			ids = append(ids, id)
		}
		assert.Less(t, ids[0], ids[1])
		latest, ok, err := s.LatestInsights(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, ids[0], latest.ID, "the latest by date, not the last stored")
		assert.Equal(t, same(at(3)), latest.ComputedAt)
		assert.Equal(t, 3, latest.Journeys)
		assert.JSONEq(t, `{"journeys":3,"segments":[]}`, string(latest.Report))

		// Two runs at the same time: the one stored last wins.
		tie, err := s.SaveInsights(ctx, insightRun(3))
		require.NoError(t, err)
		latest, _, err = s.LatestInsights(ctx)
		require.NoError(t, err)
		assert.Equal(t, tie, latest.ID)

		hist, err := s.InsightHistory(ctx, at(2), 0)
		require.NoError(t, err)
		require.Len(t, hist, 3)
		assert.Equal(t, []int{2, 3, 3}, []int{hist[0].Journeys, hist[1].Journeys, hist[2].Journeys}, "oldest first, from since on")
		for _, h := range hist {
			assert.Nil(t, h.Report, "history carries no reports")
			assert.NotEmpty(t, h.Summary)
		}
		hist, err = s.InsightHistory(ctx, at(0), 2)
		require.NoError(t, err)
		require.Len(t, hist, 2, "the newest limit")
		assert.Equal(t, same(at(3)), hist[0].ComputedAt)
		hist, err = s.InsightHistory(ctx, at(10), 0)
		require.NoError(t, err)
		assert.Empty(t, hist)
		assert.NotNil(t, hist, "an empty list, not null")

		// Pruning keeps the latest, even when everything is old.
		n, err = s.PruneInsights(ctx, at(3))
		require.NoError(t, err)
		assert.EqualValues(t, 2, n)
		n, err = s.PruneInsights(ctx, at(1000))
		require.NoError(t, err)
		assert.EqualValues(t, 1, n)
		latest, ok, err = s.LatestInsights(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, tie, latest.ID)
	})
}

func TestInsightRunLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		bad := insightRun(1)
		bad.ComputedAt = time.Time{}
		_, err := s.SaveInsights(ctx, bad)
		assert.ErrorContains(t, err, "without a date")
		bad = insightRun(1)
		bad.Summary = []byte("{")
		_, err = s.SaveInsights(ctx, bad)
		assert.ErrorContains(t, err, "summary is not JSON")
		bad = insightRun(1)
		bad.Report = nil
		_, err = s.SaveInsights(ctx, bad)
		assert.ErrorContains(t, err, "report is not JSON")

		// A report at the bound is kept whole; one byte past it is refused.
		big := insightRun(1)
		pad := MaxInsightReport - len(`{"p":""}`)
		big.Report = []byte(`{"p":"` + strings.Repeat("x", pad) + `"}`)
		require.Len(t, big.Report, MaxInsightReport)
		_, err = s.SaveInsights(ctx, big)
		require.NoError(t, err)
		got, _, err := s.LatestInsights(ctx)
		require.NoError(t, err)
		assert.Len(t, got.Report, MaxInsightReport)
		big.Report = []byte(`{"p":"` + strings.Repeat("x", pad+1) + `"}`)
		_, err = s.SaveInsights(ctx, big)
		assert.ErrorContains(t, err, "more than the")

		// Concurrent runs each get their own id.
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[int64]bool{}
		for i := range 8 {
			wg.Go(func() {
				id, err := s.SaveInsights(ctx, insightRun(10+i))
				assert.NoError(t, err)
				mu.Lock()
				seen[id] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		assert.Len(t, seen, 8)
	})
}
