package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func task(id, owner string, dueMinute int) Task {
	return Task{ID: id, Kind: "milestone", Title: "Acme: milestone late", Cause: "due day 10", Step: "milestone:kickoff:late-2",
		OwnerRole: "csm", OwnerEmail: owner, Status: "open", Due: at(dueMinute), OpenedAt: at(0)}
}

func ids(list []ListedTask) []string {
	out := []string{}
	for _, t := range list {
		out = append(out, t.CustomerID+"/"+t.ID)
	}
	return out
}

func TestSyncTasksKeepsTheNewestWrite(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		v2 := TaskSync{CustomerID: "acme", Journey: "j1", Started: at(0), AccountName: "Acme", Version: 2,
			Tasks: []Task{task("t1", "Grace@Vendor.example", 5), task("t2", "grace@vendor.example", 3)}}
		applied, err := s.SyncTasks(ctx, v2)
		require.NoError(t, err)
		assert.True(t, applied)

		got, err := s.Tasks(ctx, TaskFilter{Owner: "GRACE@vendor.example"})
		require.NoError(t, err)
		assert.Equal(t, []string{"acme/t2", "acme/t1"}, ids(got), "earliest due first, owner matched in any case")
		assert.Equal(t, same(at(3)), got[0].Due)
		assert.Equal(t, "grace@vendor.example", got[1].OwnerEmail)
		assert.Equal(t, "Acme", got[0].AccountName)

		// A retried older write changes nothing; the same version neither.
		for _, v := range []int{1, 2} {
			old := TaskSync{CustomerID: "acme", Journey: "j1", Started: at(0), Version: v, Tasks: []Task{}}
			applied, err = s.SyncTasks(ctx, old)
			require.NoError(t, err)
			assert.False(t, applied, "version %d", v)
		}
		got, err = s.Tasks(ctx, TaskFilter{})
		require.NoError(t, err)
		assert.Len(t, got, 2)

		// A later version replaces the list: t2 closed.
		applied, err = s.SyncTasks(ctx, TaskSync{CustomerID: "acme", Journey: "j1", Started: at(0), Version: 3, Tasks: []Task{task("t1", "grace@vendor.example", 5)}})
		require.NoError(t, err)
		assert.True(t, applied)
		got, err = s.Tasks(ctx, TaskFilter{})
		require.NoError(t, err)
		assert.Equal(t, []string{"acme/t1"}, ids(got))

		// The customer came back after churn: its new journey wins at
		// version 1, and the old journey's late write then loses.
		applied, err = s.SyncTasks(ctx, TaskSync{CustomerID: "acme", Journey: "j2", Started: at(30), Version: 1, Tasks: []Task{task("t1", "linus@vendor.example", 40)}})
		require.NoError(t, err)
		assert.True(t, applied, "a later journey wins whatever its version")
		applied, err = s.SyncTasks(ctx, TaskSync{CustomerID: "acme", Journey: "j1", Started: at(0), Version: 9, Tasks: []Task{}})
		require.NoError(t, err)
		assert.False(t, applied, "the earlier journey's write loses")
		got, err = s.Tasks(ctx, TaskFilter{})
		require.NoError(t, err)
		require.Len(t, got, 1)
		assert.Equal(t, "j2", got[0].Journey)
		assert.Equal(t, "linus@vendor.example", got[0].OwnerEmail)
	})
}

func TestTasksFiltersAndPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for i := range 5 {
			owner := "grace@vendor.example"
			if i%2 == 1 {
				owner = "linus@vendor.example"
			}
			a := task("t1", owner, 10) // the same due time: ordered by customer
			b := task("t2", owner, 20+i)
			b.Status, b.SnoozedUntil = "snoozed", at(50)
			_, err := s.SyncTasks(ctx, TaskSync{CustomerID: fmt.Sprintf("c%d", i), Journey: "j", Started: at(0), Version: 1, Tasks: []Task{a, b}})
			require.NoError(t, err)
		}
		got, err := s.Tasks(ctx, TaskFilter{Owner: "grace@vendor.example", Statuses: []string{"open"}})
		require.NoError(t, err)
		assert.Equal(t, []string{"c0/t1", "c2/t1", "c4/t1"}, ids(got))

		got, err = s.Tasks(ctx, TaskFilter{DueBefore: at(22)})
		require.NoError(t, err)
		assert.Equal(t, []string{"c0/t1", "c1/t1", "c2/t1", "c3/t1", "c4/t1", "c0/t2", "c1/t2"}, ids(got), "due strictly before")

		got, err = s.Tasks(ctx, TaskFilter{Statuses: []string{"snoozed"}, CustomerID: "c3"})
		require.NoError(t, err)
		require.Equal(t, []string{"c3/t2"}, ids(got))
		assert.Equal(t, same(at(50)), got[0].SnoozedUntil)

		// Pages of three follow each other with no gap and no repeat.
		var all []string
		var after *TaskCursor
		for range 5 {
			page, err := s.Tasks(ctx, TaskFilter{Limit: 3, After: after})
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			all = append(all, ids(page)...)
			last := page[len(page)-1]
			after = &TaskCursor{Due: last.Due, CustomerID: last.CustomerID, ID: last.ID}
		}
		assert.Len(t, all, 10)
		assert.Equal(t, "c0/t1", all[0])
		assert.Equal(t, "c4/t2", all[9])
	})
}

func TestSyncTasksLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.SyncTasks(ctx, TaskSync{Journey: "j", Version: 1})
		assert.ErrorContains(t, err, "empty customer id")
		many := make([]Task, MaxTasksPerSync+1)
		for i := range many {
			many[i] = task(fmt.Sprintf("t%d", i+1), "grace@vendor.example", 1)
		}
		_, err = s.SyncTasks(ctx, TaskSync{CustomerID: "acme", Version: 1, Tasks: many})
		assert.ErrorContains(t, err, "more than 500")
		applied, err := s.SyncTasks(ctx, TaskSync{CustomerID: "acme", Version: 1, Tasks: many[:MaxTasksPerSync]})
		require.NoError(t, err)
		assert.True(t, applied, "at the limit")
		got, err := s.Tasks(ctx, TaskFilter{Limit: MaxTaskPage + 1})
		require.NoError(t, err)
		assert.Len(t, got, MaxTaskPage, "a page is at most MaxTaskPage")
		long := task("t1", "grace@vendor.example", 1)
		long.Title = strings.Repeat("é", 300)
		_, err = s.SyncTasks(ctx, TaskSync{CustomerID: "other", Version: 1, Tasks: []Task{long}})
		require.NoError(t, err)
	})
}
