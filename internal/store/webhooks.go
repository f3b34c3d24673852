package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Subscription is a receiver of journey events (webhooks out).
type Subscription struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Secret      string    `json:"-"` // whsec_...: answered once, when created
	Events      []string  `json:"events"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Wants reports whether the subscription takes events of type t.
func (s Subscription) Wants(t string) bool {
	return slices.Contains(s.Events, "*") || slices.Contains(s.Events, t)
}

// Delivery is one attempt to deliver an event to a subscriber.
type Delivery struct {
	SubscriptionID string    `json:"subscription_id"`
	EventID        string    `json:"event_id"`
	EventType      string    `json:"event_type"`
	CustomerID     string    `json:"customer_id"`
	Attempt        int       `json:"attempt"`
	Status         string    `json:"status"` // DeliveryDelivered or DeliveryFailed
	HTTPStatus     int       `json:"http_status,omitempty"`
	Error          string    `json:"error,omitempty"`
	DurationMS     int64     `json:"duration_ms"`
	At             time.Time `json:"at"`
}

// Delivery statuses.
const (
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// ErrNoSubscription is a subscription id the store does not know.
var ErrNoSubscription = errors.New("no such subscription")

// MaxSubscriptions bounds the subscriptions: every event is offered to each.
const MaxSubscriptions = 50

// NewWebhookSecret is a Standard Webhooks secret: "whsec_" and 24 random
// bytes in base64.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// CreateSubscription keeps a new subscription with a fresh id and secret.
func (s *Store) CreateSubscription(ctx context.Context, sub Subscription) (Subscription, error) {
	if err := required("subscription url", sub.URL); err != nil {
		return Subscription{}, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_subscriptions`).Scan(&n); err != nil {
		return Subscription{}, err
	}
	if n >= MaxSubscriptions {
		return Subscription{}, fmt.Errorf("store: %d subscriptions already, the most there may be", n)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	sub.ID = "sub_" + hex.EncodeToString(id)
	if sub.Secret == "" {
		sub.Secret = NewWebhookSecret()
	}
	sub.CreatedAt = time.Now().UTC().Truncate(time.Microsecond)
	_, err := s.exec(ctx, `INSERT INTO webhook_subscriptions (id, url, secret, events, description, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		sub.ID, sub.URL, sub.Secret, strings.Join(sub.Events, ","), sub.Description, s.timeArg(sub.CreatedAt))
	return sub, err
}

const subscriptionColumns = `id, url, secret, events, description, created_at`

func scanSubscription(sc interface{ Scan(...any) error }) (Subscription, error) {
	var sub Subscription
	var events string
	err := sc.Scan(&sub.ID, &sub.URL, &sub.Secret, &events, &sub.Description, timeCol{&sub.CreatedAt})
	if events != "" {
		sub.Events = strings.Split(events, ",")
	}
	return sub, err
}

// Subscriptions lists every subscription, oldest first.
func (s *Store) Subscriptions(ctx context.Context) ([]Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+` FROM webhook_subscriptions ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// Subscription reads one subscription (ErrNoSubscription when unknown).
func (s *Store) Subscription(ctx context.Context, id string) (Subscription, error) {
	sub, err := scanSubscription(s.db.QueryRowContext(ctx, s.q(`SELECT `+subscriptionColumns+` FROM webhook_subscriptions WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Subscription{}, ErrNoSubscription
	}
	return sub, err
}

// DeleteSubscription stops a subscription; its delivery log goes with it.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	n, err := s.exec(ctx, `DELETE FROM webhook_subscriptions WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNoSubscription
	}
	for _, q := range []string{`DELETE FROM webhook_deliveries WHERE subscription_id = ?`, `DELETE FROM webhook_delivered WHERE subscription_id = ?`} {
		if _, err := s.exec(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}

// WebhookDelivered reports whether the subscriber took the event already.
func (s *Store) WebhookDelivered(ctx context.Context, subscriptionID, eventID string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM webhook_delivered WHERE subscription_id = ? AND event_id = ?`), subscriptionID, eventID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// maxDeliveryError bounds the error text kept per attempt.
const maxDeliveryError = 500

// RecordDelivery logs an attempt; a delivered one also marks the event as
// taken by the subscriber, in the same transaction. A repeated attempt
// number (a retried activity's record) changes nothing.
func (s *Store) RecordDelivery(ctx context.Context, d Delivery) error {
	if len(d.Error) > maxDeliveryError {
		d.Error = d.Error[:maxDeliveryError]
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_deliveries (subscription_id, event_id, attempt, event_type, customer_id,
		status, http_status, error, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		d.SubscriptionID, d.EventID, d.Attempt, d.EventType, d.CustomerID, d.Status, d.HTTPStatus, d.Error, d.DurationMS, s.timeArg(d.At)); err != nil {
		return err
	}
	if d.Status == DeliveryDelivered {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO webhook_delivered (subscription_id, event_id) VALUES (?, ?) ON CONFLICT DO NOTHING`),
			d.SubscriptionID, d.EventID); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// MaxDeliveryPage is the most deliveries one read answers.
const MaxDeliveryPage = 500

// Deliveries lists a subscription's latest delivery attempts, newest first.
func (s *Store) Deliveries(ctx context.Context, subscriptionID string, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > MaxDeliveryPage {
		limit = MaxDeliveryPage
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT subscription_id, event_id, event_type, customer_id, attempt, status, http_status, error, duration_ms, at
		FROM webhook_deliveries WHERE subscription_id = ? ORDER BY at DESC, event_id DESC, attempt DESC LIMIT ?`), subscriptionID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		var d Delivery
		if err := rows.Scan(&d.SubscriptionID, &d.EventID, &d.EventType, &d.CustomerID, &d.Attempt, &d.Status, &d.HTTPStatus, &d.Error, &d.DurationMS, timeCol{&d.At}); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
