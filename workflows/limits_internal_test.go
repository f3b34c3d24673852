package workflows

import (
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// TestDurationsSaturate: day arithmetic past time.Duration's range gives the
// range's end on every CPU, never a wrapped (and CPU-dependent) value: a
// renewal date 8,000 years out used to make the term step always due.
func TestDurationsSaturate(t *testing.T) {
	assert.Equal(t, time.Duration(math.MaxInt64), durationOf(3e6, 24*time.Hour), "8,000 years of days")
	assert.Equal(t, time.Duration(math.MinInt64), durationOf(-3e6, 24*time.Hour))
	assert.Equal(t, time.Duration(math.MaxInt64), durationOf(math.Inf(1), time.Hour))
	assert.Equal(t, time.Duration(0), durationOf(math.NaN(), time.Hour))
	assert.Equal(t, 36*time.Hour, durationOf(1.5, 24*time.Hour), "in range: exact")
	assert.Equal(t, 3650*24*time.Hour, durationOf(3650, 24*time.Hour), "ten years")
}

func testJourney(t *testing.T) *journey {
	pb := playbooks.Default()
	return &journey{
		in: JourneyInput{Playbook: pb, DayLength: time.Hour}, pb: pb,
		c:   &Carry{Start: time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)},
		log: log.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	}
}

// TestCarryOverTheLimitIsCompactedOrRefused: the state handed to the next
// run is measured; over the limit the oldest entries go, and a state that is
// still too large fails with a clear error instead of wedging the next run.
func TestCarryOverTheLimitIsCompactedOrRefused(t *testing.T) {
	j := testJourney(t)
	now := j.c.Start.Add(time.Hour)
	for i := range MaxTimeline {
		// Bypass entry()'s clipping, as a state from before the limits could be.
		j.c.Timeline.add(Entry{At: now, Kind: EntrySystem, Step: "old", Cause: strings.Repeat("x", 4000) + string(rune('a'+i%26))})
	}
	next := JourneyInput{Playbook: j.pb, DayLength: time.Hour, Carry: j.c}
	require.NoError(t, j.fitCarry(now, &next))
	assert.LessOrEqual(t, len(j.c.Timeline.Entries), 51, "compacted")
	assert.Equal(t, MaxTimeline-50, j.c.Timeline.Older.Count, "folded into counts")

	j = testJourney(t)
	j.c.PauseReason = strings.Repeat("r", 2*MaxCarryBytes) // nothing compaction can fold
	next = JourneyInput{Playbook: j.pb, DayLength: time.Hour, Carry: j.c}
	err := j.fitCarry(now, &next)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, StateTooLargeType, appErr.Type())
	assert.Contains(t, appErr.Message(), "over the 1048576-byte limit")
}
