package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, ok, err := s.OutboxGet(ctx, "none")
		require.NoError(t, err)
		assert.False(t, ok)

		m1 := OutboxMessage{
			Key: "c1/welcome/customer", CustomerID: "c1", Step: "welcome", Kind: "customer",
			Template: "welcome", ToName: "Ann Lee", ToEmail: "ann@example.com", Subject: "Welcome",
			Text: "Hello Ann", HTML: "<p>Hello Ann</p>", ActionsJSON: `[{"label":"On track"}]`,
			ScheduledFor: at(1), CreatedAt: at(2),
		}
		m2 := OutboxMessage{Key: "c2/welcome/customer", CustomerID: "c2", Subject: "Welcome"} // zero times
		m3 := OutboxMessage{Key: "c1/checkin/csm", CustomerID: "c1", Kind: "csm", Subject: "Check in",
			ScheduledFor: at(3), CreatedAt: at(3)}
		for _, m := range []OutboxMessage{m1, m2, m3} {
			inserted, err := s.OutboxPut(ctx, m)
			require.NoError(t, err)
			assert.True(t, inserted, m.Key)
		}

		// A repeated key changes nothing.
		dup := m1
		dup.Subject, dup.CustomerID = "Changed", "c9"
		inserted, err := s.OutboxPut(ctx, dup)
		require.NoError(t, err)
		assert.False(t, inserted)

		got, ok, err := s.OutboxGet(ctx, m1.Key)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Positive(t, got.Seq)
		want := m1
		want.Seq, want.ScheduledFor, want.CreatedAt = got.Seq, same(m1.ScheduledFor), same(m1.CreatedAt)
		assert.Equal(t, want, got)

		got2, _, err := s.OutboxGet(ctx, m2.Key)
		require.NoError(t, err)
		assert.True(t, got2.ScheduledFor.IsZero(), "zero ScheduledFor stays zero")
		assert.WithinDuration(t, time.Now(), got2.CreatedAt, time.Minute, "zero CreatedAt becomes now")
		assert.Greater(t, got2.Seq, got.Seq)

		all, err := s.OutboxList(ctx, "", 0)
		require.NoError(t, err)
		assert.Equal(t, []string{m3.Key, m2.Key, m1.Key}, keys(all), "newest first")
		assert.Equal(t, got, all[2])

		c1, err := s.OutboxList(ctx, "c1", 0)
		require.NoError(t, err)
		assert.Equal(t, []string{m3.Key, m1.Key}, keys(c1))

		two, err := s.OutboxList(ctx, "", 2)
		require.NoError(t, err)
		assert.Equal(t, []string{m3.Key, m2.Key}, keys(two))

		one, err := s.OutboxList(ctx, "c1", 1)
		require.NoError(t, err)
		assert.Equal(t, []string{m3.Key}, keys(one))

		none, err := s.OutboxList(ctx, "nobody", 0)
		require.NoError(t, err)
		assert.NotNil(t, none)
		assert.Empty(t, none)

		_, err = s.OutboxPut(ctx, OutboxMessage{CustomerID: "c1"})
		assert.Error(t, err, "empty key")
	})
}

func TestOutboxListDefaultLimit(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := range defaultOutboxLimit + 5 {
			_, err := s.OutboxPut(ctx, OutboxMessage{Key: fmt.Sprint("m", i), CustomerID: "c"})
			require.NoError(t, err)
		}
		for _, limit := range []int{0, -1} {
			list, err := s.OutboxList(ctx, "", limit)
			require.NoError(t, err)
			require.Len(t, list, defaultOutboxLimit)
			assert.Equal(t, fmt.Sprint("m", defaultOutboxLimit+4), list[0].Key)
		}
		list, err := s.OutboxList(ctx, "c", 1000)
		require.NoError(t, err)
		assert.Len(t, list, defaultOutboxLimit+5)
	})
}

func keys(ms []OutboxMessage) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Key
	}
	return out
}
