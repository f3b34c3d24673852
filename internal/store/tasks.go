package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Task is one task as the work lists read it.
type Task struct {
	ID           string    `json:"id"`
	Kind         string    `json:"kind"`
	Title        string    `json:"title"`
	Cause        string    `json:"cause"`
	Step         string    `json:"step"`
	OwnerRole    string    `json:"owner_role"`
	OwnerEmail   string    `json:"owner_email"`
	Status       string    `json:"status"`
	Due          time.Time `json:"due"`
	SnoozedUntil time.Time `json:"snoozed_until,omitzero"`
	OpenedAt     time.Time `json:"opened_at"`
}

// TaskSync is a journey's whole list of active tasks at one version. It
// replaces what the store holds for the customer only when it is newer: a
// later journey (by its day 0), or a later version of the same journey.
type TaskSync struct {
	CustomerID  string    `json:"customer_id"`
	Journey     string    `json:"journey"`
	Started     time.Time `json:"started"` // the journey's day 0: orders journeys
	AccountName string    `json:"account_name"`
	Version     int       `json:"version"`
	Tasks       []Task    `json:"tasks"` // open and snoozed ones only
}

// ListedTask is a task with its customer, as GET /v1/tasks answers it.
type ListedTask struct {
	Task
	CustomerID  string `json:"customer_id"`
	AccountName string `json:"account_name"`
	Journey     string `json:"journey,omitempty"`
}

// MaxTasksPerSync bounds one journey's write (the journey keeps at most
// 100 active tasks).
const MaxTasksPerSync = 500

// SyncTasks applies a journey's task list, and says whether it was newer
// than what the store had (an older or repeated write changes nothing).
func (s *Store) SyncTasks(ctx context.Context, ts TaskSync) (applied bool, err error) {
	if err := required("customer id", ts.CustomerID); err != nil {
		return false, err
	}
	if len(ts.Tasks) > MaxTasksPerSync {
		return false, fmt.Errorf("store: %d tasks in one write, more than %d", len(ts.Tasks), MaxTasksPerSync)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback() }()
	var journey string
	var started time.Time
	var version int
	err = tx.QueryRowContext(ctx, s.q(`SELECT journey, started_at, version FROM task_syncs WHERE customer_id = ?`+s.forUpdate()), ts.CustomerID).
		Scan(&journey, timeCol{&started}, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO task_syncs (customer_id, journey, started_at, version) VALUES (?, ?, ?, ?)`),
			ts.CustomerID, ts.Journey, s.timeArg(ts.Started), ts.Version)
	case err != nil:
	case newerSync(ts, journey, started, version):
		_, err = tx.ExecContext(ctx, s.q(`UPDATE task_syncs SET journey = ?, started_at = ?, version = ? WHERE customer_id = ?`),
			ts.Journey, s.timeArg(ts.Started), ts.Version, ts.CustomerID)
	default:
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM tasks WHERE customer_id = ?`), ts.CustomerID); err != nil {
		return false, err
	}
	for _, t := range ts.Tasks {
		var snoozed any
		if !t.SnoozedUntil.IsZero() {
			snoozed = s.timeArg(t.SnoozedUntil)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO tasks (customer_id, task_id, journey, account_name, kind, title, cause, step,
			owner_role, owner_email, status, due_at, snoozed_until, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			ts.CustomerID, t.ID, ts.Journey, ts.AccountName, t.Kind, t.Title, t.Cause, t.Step,
			t.OwnerRole, strings.ToLower(t.OwnerEmail), t.Status, s.timeArg(t.Due), snoozed, s.timeArg(t.OpenedAt)); err != nil {
			return false, fmt.Errorf("store: task %s of %s: %w", t.ID, ts.CustomerID, err)
		}
	}
	return true, tx.Commit()
}

// newerSync: a later journey wins; within a journey, a later version.
func newerSync(ts TaskSync, journey string, started time.Time, version int) bool {
	if ts.Journey != journey {
		return ts.Started.After(started)
	}
	return ts.Version > version
}

// forUpdate locks the row read in PostgreSQL; SQLite serializes writers.
func (s *Store) forUpdate() string {
	if s.driver == driverPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// TaskFilter selects tasks across the portfolio. Zero fields select all.
type TaskFilter struct {
	Owner      string    // the owner's email
	Role       string    // the owner's role
	CustomerID string    // one customer's
	Statuses   []string  // open, snoozed (the store keeps no others)
	DueBefore  time.Time // due strictly before
	// After is where the previous page ended: its last task's due time,
	// customer and id.
	After *TaskCursor
	Limit int // at most MaxTaskPage; MaxTaskPage when <= 0
}

// TaskCursor is a position in the due-time order.
type TaskCursor struct {
	Due        time.Time
	CustomerID string
	ID         string
}

// MaxTaskPage is the most tasks one page answers.
const MaxTaskPage = 500

// Tasks lists tasks by due time, the earliest first (then by customer and
// id, so pages are stable).
func (s *Store) Tasks(ctx context.Context, f TaskFilter) ([]ListedTask, error) {
	if f.Limit <= 0 || f.Limit > MaxTaskPage {
		f.Limit = MaxTaskPage
	}
	var where []string
	var args []any
	if f.Owner != "" {
		where, args = append(where, "owner_email = ?"), append(args, strings.ToLower(f.Owner))
	}
	if f.Role != "" {
		where, args = append(where, "owner_role = ?"), append(args, f.Role)
	}
	if f.CustomerID != "" {
		where, args = append(where, "customer_id = ?"), append(args, f.CustomerID)
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN (?"+strings.Repeat(", ?", len(f.Statuses)-1)+")")
		for _, st := range f.Statuses {
			args = append(args, st)
		}
	}
	if !f.DueBefore.IsZero() {
		where, args = append(where, "due_at < ?"), append(args, s.timeArg(f.DueBefore))
	}
	if c := f.After; c != nil {
		due := s.timeArg(c.Due)
		where = append(where, "(due_at > ? OR (due_at = ? AND (customer_id > ? OR (customer_id = ? AND task_id > ?))))")
		args = append(args, due, due, c.CustomerID, c.CustomerID, c.ID)
	}
	query := `SELECT customer_id, account_name, journey, task_id, kind, title, cause, step, owner_role, owner_email,
		status, due_at, snoozed_until, opened_at FROM tasks`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY due_at, customer_id, task_id LIMIT ?"
	args = append(args, f.Limit)
	rows, err := s.rdb.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ListedTask{}
	for rows.Next() {
		var t ListedTask
		if err := rows.Scan(&t.CustomerID, &t.AccountName, &t.Journey, &t.ID, &t.Kind, &t.Title, &t.Cause, &t.Step,
			&t.OwnerRole, &t.OwnerEmail, &t.Status, timeCol{&t.Due}, timeCol{&t.SnoozedUntil}, timeCol{&t.OpenedAt}); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
