package store

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPublishedPlaybooks(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, ok, err := s.PublishedPlaybook(ctx, "default", 2)
		require.NoError(t, err)
		assert.False(t, ok)
		list, err := s.PublishedPlaybooks(ctx)
		require.NoError(t, err)
		assert.Empty(t, list)

		v2 := PublishedPlaybook{ID: "default", Version: 2, Name: "Standard, shorter escalation", YAML: "id: default\nversion: 2\n", PublishedBy: "admin", PublishedAt: at(1)}
		got, created, err := s.PublishPlaybook(ctx, v2)
		require.NoError(t, err)
		assert.True(t, created)
		assert.Len(t, got.SHA256, 64)
		assert.Equal(t, same(at(1)), got.PublishedAt)

		// The same text again is the same publish; other text is refused.
		again := v2
		again.PublishedBy, again.PublishedAt = "someone else", at(5)
		got, created, err = s.PublishPlaybook(ctx, again)
		require.NoError(t, err)
		assert.False(t, created)
		assert.Equal(t, "admin", got.PublishedBy, "the first publish stands")
		other := v2
		other.YAML += "# changed\n"
		_, _, err = s.PublishPlaybook(ctx, other)
		assert.True(t, errors.Is(err, ErrVersionTaken), "%v", err)
		stored, ok, err := s.PublishedPlaybook(ctx, "default", 2)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, v2.YAML, stored.YAML, "a published version never changes")

		_, _, err = s.PublishPlaybook(ctx, PublishedPlaybook{ID: "default", Version: 0, YAML: "x"})
		assert.Error(t, err)
		_, _, err = s.PublishPlaybook(ctx, PublishedPlaybook{Version: 1, YAML: "x"})
		assert.Error(t, err)

		// Concurrent publishes of one new version: one is created.
		var wg sync.WaitGroup
		var mu sync.Mutex
		creates := 0
		for range 8 {
			wg.Go(func() {
				_, c, err := s.PublishPlaybook(ctx, PublishedPlaybook{ID: "renewals", Version: 1, Name: "r", YAML: "id: renewals\n", PublishedBy: "admin", PublishedAt: at(2)})
				assert.NoError(t, err)
				if c {
					mu.Lock()
					creates++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Equal(t, 1, creates)
		list, err = s.PublishedPlaybooks(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, "default", list[0].ID)
		assert.Equal(t, "renewals", list[1].ID)
		assert.Empty(t, list[0].YAML, "the list leaves the text out")

		_, ok, err = s.PlanPlaybookFor(ctx, "enterprise")
		require.NoError(t, err)
		assert.False(t, ok)
		require.NoError(t, s.SetPlanPlaybook(ctx, PlanPlaybook{Plan: "enterprise", PlaybookID: "default", Version: 2, SetBy: "admin", SetAt: at(3)}))
		require.NoError(t, s.SetPlanPlaybook(ctx, PlanPlaybook{Plan: "enterprise", PlaybookID: "renewals", Version: 1, SetBy: "admin", SetAt: at(4)}))
		pp, ok, err := s.PlanPlaybookFor(ctx, "enterprise")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, PlanPlaybook{Plan: "enterprise", PlaybookID: "renewals", Version: 1, SetBy: "admin", SetAt: same(at(4))}, pp)
		plans, err := s.PlanPlaybooks(ctx)
		require.NoError(t, err)
		assert.Len(t, plans, 1)
		assert.Error(t, s.SetPlanPlaybook(ctx, PlanPlaybook{PlaybookID: "default", Version: 1}))
	})
}
