package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	err := s.rdb.QueryRowContext(ctx,
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
	err = s.rdb.QueryRowContext(ctx, s.q(`SELECT reason FROM suppressions WHERE email = ?`), normEmail(email)).Scan(&reason)
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

// TokenPending is the result of a token use that is being applied.
const TokenPending = "pending"

// ClaimToken records a use of the action token id tokenID before it is
// applied. claimed is true for exactly one caller, also among concurrent
// ones: the primary key decides. Only that caller applies the action, then
// calls FinishToken (applied) or ReleaseToken (failed; the customer may try
// again). A pending claim older than takeOverAfter belongs to a caller that
// died mid-way: the next ClaimToken takes it over and applies the action
// again, which the journey deduplicates. When claimed is false, result is
// the stored result: TokenPending while another caller applies it.
func (s *Store) ClaimToken(ctx context.Context, tokenID string, at time.Time, takeOverAfter time.Duration) (claimed bool, result string, err error) {
	if err := required("token id", tokenID); err != nil {
		return false, "", err
	}
	n, err := s.exec(ctx, `INSERT INTO used_tokens (token_id, result, used_at) VALUES (?, ?, ?)
		ON CONFLICT (token_id) DO UPDATE SET used_at = excluded.used_at
		WHERE used_tokens.result = ? AND used_tokens.used_at < ?`,
		tokenID, TokenPending, s.timeArg(at), TokenPending, s.timeArg(at.Add(-takeOverAfter)))
	if err != nil || n == 1 {
		return n == 1, "", err
	}
	result, _, err = s.TokenResult(ctx, tokenID)
	return false, result, err
}

// FinishToken stores the result of a claimed token use: the action was
// applied, and every later use answers with this result.
func (s *Store) FinishToken(ctx context.Context, tokenID, result string) error {
	if result == "" || result == TokenPending {
		return fmt.Errorf("store: token %q: result %q is not a final result", tokenID, result)
	}
	_, err := s.exec(ctx, `UPDATE used_tokens SET result = ? WHERE token_id = ? AND result = ?`, result, tokenID, TokenPending)
	return err
}

// ReleaseToken removes a claimed token use whose action could not be
// applied, so the next use applies it. A finished use stays.
func (s *Store) ReleaseToken(ctx context.Context, tokenID string) error {
	_, err := s.exec(ctx, `DELETE FROM used_tokens WHERE token_id = ? AND result = ?`, tokenID, TokenPending)
	return err
}

// TokenResult returns the stored result of tokenID's use (TokenPending while
// it is being applied), and false when it was never used.
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

// ClaimWebhookEvent records a provider event id (SendGrid's sg_event_id)
// before its effects are applied. done is true when the event was applied
// before: a duplicate, to be ignored. Otherwise the caller applies it and
// then calls WebhookEventDone; an event whose effects failed stays claimed,
// and the provider's retry applies it again (effects must be idempotent:
// an earlier attempt may have applied some, and a concurrent delivery of
// the same event may be applying them now).
func (s *Store) ClaimWebhookEvent(ctx context.Context, eventID string, at time.Time) (done bool, err error) {
	if err := required("webhook event id", eventID); err != nil {
		return false, err
	}
	n, err := s.exec(ctx, `INSERT INTO webhook_events (event_id, seen_at, state) VALUES (?, ?, 'claimed')
		ON CONFLICT (event_id) DO NOTHING`, eventID, s.timeArg(at))
	if err != nil || n == 1 {
		return false, err
	}
	var state string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT state FROM webhook_events WHERE event_id = ?`), eventID).Scan(&state); err != nil {
		return false, err
	}
	return state == "done", nil
}

// WebhookEventDone marks a claimed event as applied: from now on it is a
// duplicate.
func (s *Store) WebhookEventDone(ctx context.Context, eventID string, at time.Time) error {
	if err := required("webhook event id", eventID); err != nil {
		return err
	}
	_, err := s.exec(ctx, `UPDATE webhook_events SET state = 'done', seen_at = ? WHERE event_id = ?`, s.timeArg(at), eventID)
	return err
}

// Deal is a CRM deal that a journey used: it started the journey, or
// arrived while that journey ran. A deal is used once, for good.
type Deal struct {
	DealID    string
	AccountID string
	// RunID is the first run id of the journey the deal belongs to: the
	// journey's identity across continue-as-new.
	RunID     string
	StartedAt time.Time
}

// RecordDeal keeps d, unless its deal id is already recorded; either way
// it returns the record that stands (the first one).
func (s *Store) RecordDeal(ctx context.Context, d Deal) (Deal, error) {
	if err := required("deal id", d.DealID); err != nil {
		return Deal{}, err
	}
	if err := required("account id", d.AccountID); err != nil {
		return Deal{}, err
	}
	n, err := s.exec(ctx, `INSERT INTO deals (deal_id, account_id, run_id, started_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (deal_id) DO NOTHING`, d.DealID, d.AccountID, d.RunID, s.timeArg(d.StartedAt))
	if err != nil {
		return Deal{}, err
	}
	if n == 1 {
		// The first record: no read back; the time as the database keeps it.
		d.StartedAt = d.StartedAt.UTC().Truncate(time.Microsecond)
		return d, nil
	}
	got, _, err := s.Deal(ctx, d.DealID)
	return got, err
}

// Deal returns the record of dealID, and false when it was never used.
func (s *Store) Deal(ctx context.Context, dealID string) (Deal, bool, error) {
	d := Deal{DealID: dealID}
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT account_id, run_id, started_at FROM deals WHERE deal_id = ?`), dealID).
		Scan(&d.AccountID, &d.RunID, timeCol{&d.StartedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return Deal{}, false, nil
	}
	if err != nil {
		return Deal{}, false, err
	}
	return d, true, nil
}
