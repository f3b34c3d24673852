package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// OutboxMessage is one email kept in local mode, so a person can read it and
// click its actions.
type OutboxMessage struct {
	Key          string // idempotency key, unique
	CustomerID   string
	Step         string
	Kind         string // "customer", "csm", "manager", "sponsor"
	Template     string
	ToName       string
	ToEmail      string
	Subject      string
	Text         string
	HTML         string
	ActionsJSON  string // JSON of the actions, opaque to the store
	ScheduledFor time.Time
	CreatedAt    time.Time // now when zero
	Seq          int64     // insertion order, assigned by the store
}

const outboxColumns = `seq, idem_key, customer_id, step, kind, template, to_name, to_email,
	subject, text_body, html_body, actions_json, scheduled_for, created_at`

// defaultOutboxLimit is OutboxList's limit when none is given.
const defaultOutboxLimit = 100

// OutboxPut stores m unless its key is already there; inserted is false then,
// and nothing changes (a retried activity must not rewrite what was shown).
// m.Seq is ignored.
func (s *Store) OutboxPut(ctx context.Context, m OutboxMessage) (inserted bool, err error) {
	if err := required("outbox key", m.Key); err != nil {
		return false, err
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	n, err := s.exec(ctx, `INSERT INTO outbox (idem_key, customer_id, step, kind, template, to_name, to_email,
			subject, text_body, html_body, actions_json, scheduled_for, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (idem_key) DO NOTHING`,
		m.Key, m.CustomerID, m.Step, m.Kind, m.Template, m.ToName, m.ToEmail,
		m.Subject, m.Text, m.HTML, m.ActionsJSON, s.timeArg(m.ScheduledFor), s.timeArg(m.CreatedAt))
	return n == 1, err
}

// OutboxGet returns the message with key, and false when there is none.
func (s *Store) OutboxGet(ctx context.Context, key string) (OutboxMessage, bool, error) {
	row := s.db.QueryRowContext(ctx, s.q(`SELECT `+outboxColumns+` FROM outbox WHERE idem_key = ?`), key)
	m, err := scanOutbox(row)
	if errors.Is(err, sql.ErrNoRows) {
		return OutboxMessage{}, false, nil
	}
	if err != nil {
		return OutboxMessage{}, false, err
	}
	return m, true, nil
}

// OutboxList returns messages newest first (by Seq), only customerID's unless
// it is "", at most limit (100 when limit <= 0). It never returns a nil slice,
// so that an empty list encodes as [] in JSON.
func (s *Store) OutboxList(ctx context.Context, customerID string, limit int) ([]OutboxMessage, error) {
	if limit <= 0 {
		limit = defaultOutboxLimit
	}
	query, args := `SELECT `+outboxColumns+` FROM outbox`, []any{}
	if customerID != "" {
		query += ` WHERE customer_id = ?`
		args = append(args, customerID)
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit)

	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OutboxMessage{}
	for rows.Next() {
		m, err := scanOutbox(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// scanOutbox reads the outboxColumns of a *sql.Row or *sql.Rows.
func scanOutbox(r interface{ Scan(...any) error }) (OutboxMessage, error) {
	var m OutboxMessage
	err := r.Scan(&m.Seq, &m.Key, &m.CustomerID, &m.Step, &m.Kind, &m.Template, &m.ToName, &m.ToEmail,
		&m.Subject, &m.Text, &m.HTML, &m.ActionsJSON, timeCol{&m.ScheduledFor}, timeCol{&m.CreatedAt})
	return m, err
}
