package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// LedgerEntry is the ledger's row for one email idempotency key.
type LedgerEntry struct {
	Key        string
	Status     string // "sent" or "failed"
	ProviderID string // e.g. SendGrid's X-Message-Id ("" for the outbox)
	Reason     string // for failed
	At         time.Time
}

// Ledger statuses.
const (
	StatusSent   = "sent"
	StatusFailed = "failed"
)

// LedgerGet returns the entry for key, and false when there is none.
func (s *Store) LedgerGet(ctx context.Context, key string) (LedgerEntry, bool, error) {
	e := LedgerEntry{Key: key}
	err := s.db.QueryRowContext(ctx,
		s.q(`SELECT status, provider_id, reason, updated_at FROM email_ledger WHERE idem_key = ?`), key,
	).Scan(&e.Status, &e.ProviderID, &e.Reason, timeCol{&e.At})
	if errors.Is(err, sql.ErrNoRows) {
		return LedgerEntry{}, false, nil
	}
	if err != nil {
		return LedgerEntry{}, false, err
	}
	return e, true, nil
}

// LedgerMarkSent records key as sent, over any earlier entry (a retry that
// succeeded after a failure).
func (s *Store) LedgerMarkSent(ctx context.Context, key, providerID string, at time.Time) error {
	if err := required("ledger key", key); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO email_ledger (idem_key, status, provider_id, reason, updated_at)
		VALUES (?, 'sent', ?, '', ?)
		ON CONFLICT (idem_key) DO UPDATE SET status = 'sent', provider_id = excluded.provider_id,
			reason = '', updated_at = excluded.updated_at`,
		key, providerID, s.timeArg(at))
	return err
}

// LedgerMarkFailed records key as failed, unless it is already sent: the email
// went out, and a late failure report must not make it look unsent.
func (s *Store) LedgerMarkFailed(ctx context.Context, key, reason string, at time.Time) error {
	if err := required("ledger key", key); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO email_ledger (idem_key, status, provider_id, reason, updated_at)
		VALUES (?, 'failed', '', ?, ?)
		ON CONFLICT (idem_key) DO UPDATE SET status = 'failed', provider_id = '',
			reason = excluded.reason, updated_at = excluded.updated_at
		WHERE email_ledger.status <> 'sent'`,
		key, reason, s.timeArg(at))
	return err
}

// normEmail is the form emails are stored and compared in: addresses are
// matched case-insensitively (providers report them in any case).
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Suppress adds email to the suppression list. It is idempotent and keeps the
// first reason: a bounce stays a bounce when an unsubscribe follows.
func (s *Store) Suppress(ctx context.Context, email, reason string, at time.Time) error {
	email = normEmail(email)
	if err := required("email", email); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO suppressions (email, reason, suppressed_at) VALUES (?, ?, ?)
		ON CONFLICT (email) DO NOTHING`, email, reason, s.timeArg(at))
	return err
}

// Suppressed says whether email is on the suppression list, and why.
func (s *Store) Suppressed(ctx context.Context, email string) (reason string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT reason FROM suppressions WHERE email = ?`), normEmail(email)).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return reason, true, nil
}

// Unsuppress removes email from the suppression list; no error if it was not on it.
func (s *Store) Unsuppress(ctx context.Context, email string) error {
	_, err := s.exec(ctx, `DELETE FROM suppressions WHERE email = ?`, normEmail(email))
	return err
}

// UseToken records a single-use action token id with its result. first is
// true only for the first call with that id, ever, also among concurrent
// callers: the primary key decides, not a read before the write.
func (s *Store) UseToken(ctx context.Context, tokenID, result string, at time.Time) (first bool, err error) {
	if err := required("token id", tokenID); err != nil {
		return false, err
	}
	n, err := s.exec(ctx, `INSERT INTO used_tokens (token_id, result, used_at) VALUES (?, ?, ?)
		ON CONFLICT (token_id) DO NOTHING`, tokenID, result, s.timeArg(at))
	return n == 1, err
}

// TokenResult returns the result stored by the first UseToken of tokenID.
func (s *Store) TokenResult(ctx context.Context, tokenID string) (result string, used bool, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT result FROM used_tokens WHERE token_id = ?`), tokenID).Scan(&result)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return result, true, nil
}

// SeenWebhookEvent records a provider event id (SendGrid's sg_event_id);
// first is true only the first time, also among concurrent callers.
func (s *Store) SeenWebhookEvent(ctx context.Context, eventID string, at time.Time) (first bool, err error) {
	if err := required("webhook event id", eventID); err != nil {
		return false, err
	}
	n, err := s.exec(ctx, `INSERT INTO webhook_events (event_id, seen_at) VALUES (?, ?)
		ON CONFLICT (event_id) DO NOTHING`, eventID, s.timeArg(at))
	return n == 1, err
}
