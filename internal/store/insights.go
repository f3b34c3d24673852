package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// InsightRun is one run of the insights job: when it computed, over how
// many journeys, its summary (what a trend reads) and its whole report,
// both JSON.
type InsightRun struct {
	ID         int64
	ComputedAt time.Time
	Journeys   int
	Summary    []byte
	Report     []byte // nil in InsightHistory
}

// MaxInsightReport bounds a stored report. At 10,000 journeys with a few
// hundred plans and CSMs a report is well under a megabyte; a report past
// this is a bug upstream, refused here rather than stored and read nightly.
const MaxInsightReport = 8 << 20

// MaxInsightHistory is the most runs InsightHistory answers: nightly runs
// over more than two years.
const MaxInsightHistory = 1000

// SaveInsights keeps a run and returns its id.
func (s *Store) SaveInsights(ctx context.Context, run InsightRun) (int64, error) {
	switch {
	case run.ComputedAt.IsZero():
		return 0, errors.New("store: insight run without a date")
	case len(run.Report) > MaxInsightReport:
		return 0, fmt.Errorf("store: insight report of %d bytes, more than the %d kept", len(run.Report), MaxInsightReport)
	case !json.Valid(run.Summary):
		return 0, errors.New("store: insight summary is not JSON")
	case !json.Valid(run.Report):
		return 0, errors.New("store: insight report is not JSON")
	}
	var id int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO insight_runs (computed_at, journeys, summary, report)
		VALUES (?, ?, ?, ?) RETURNING id`),
		s.timeArg(run.ComputedAt), run.Journeys, string(run.Summary), string(run.Report)).Scan(&id)
	return id, err
}

// LatestInsights returns the latest run (by date; of two at the same time,
// the one stored last), and false when none is stored.
func (s *Store) LatestInsights(ctx context.Context) (InsightRun, bool, error) {
	var run InsightRun
	var summary, report string
	err := s.rdb.QueryRowContext(ctx, `SELECT id, computed_at, journeys, summary, report FROM insight_runs
		ORDER BY computed_at DESC, id DESC LIMIT 1`).
		Scan(&run.ID, timeCol{&run.ComputedAt}, &run.Journeys, &summary, &report)
	if errors.Is(err, sql.ErrNoRows) {
		return InsightRun{}, false, nil
	}
	if err != nil {
		return InsightRun{}, false, err
	}
	run.Summary, run.Report = []byte(summary), []byte(report)
	return run, true, nil
}

// InsightHistory lists the runs computed at or after since, oldest first,
// without their reports. When there are more than limit (at most, and for
// limit <= 0, MaxInsightHistory), the newest limit are answered.
func (s *Store) InsightHistory(ctx context.Context, since time.Time, limit int) ([]InsightRun, error) {
	if limit <= 0 || limit > MaxInsightHistory {
		limit = MaxInsightHistory
	}
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT id, computed_at, journeys, summary FROM insight_runs
		WHERE computed_at >= ? ORDER BY computed_at DESC, id DESC LIMIT ?`), s.timeArg(since), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []InsightRun{}
	for rows.Next() {
		var run InsightRun
		var summary string
		if err := rows.Scan(&run.ID, timeCol{&run.ComputedAt}, &run.Journeys, &summary); err != nil {
			return nil, err
		}
		run.Summary = []byte(summary)
		out = append(out, run)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// PruneInsights deletes the runs computed before before, except the latest
// run, which stays whatever its age: the pages and emails read it.
func (s *Store) PruneInsights(ctx context.Context, before time.Time) (int64, error) {
	latest, ok, err := s.LatestInsights(ctx)
	if err != nil || !ok {
		return 0, err
	}
	return s.exec(ctx, `DELETE FROM insight_runs WHERE computed_at < ? AND id <> ?`, s.timeArg(before), latest.ID)
}
