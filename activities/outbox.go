package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// Outbox is the local mailer: every message is kept in the store, where a
// person reads it (the dev outbox page) and clicks its actions. A key is
// written at most once, so a retried send is recorded as a duplicate.
type Outbox struct {
	Store *store.Store
	Now   func() time.Time
}

// NewOutbox keeps messages in st.
func NewOutbox(st *store.Store) *Outbox { return &Outbox{Store: st, Now: time.Now} }

// Send keeps the message unless its key was kept before. A suppressed
// address fails for good, as it would with a real provider.
func (o *Outbox) Send(ctx context.Context, m Message) (Sent, error) {
	if reason, ok, err := o.Store.Suppressed(ctx, m.To.Email); err != nil {
		return Sent{}, err
	} else if ok {
		return Sent{}, fmt.Errorf("%s is suppressed (%s): %w", m.To.Email, reason, ErrPermanent)
	}
	actions, err := json.Marshal(m.Actions)
	if err != nil {
		return Sent{}, err
	}
	inserted, err := o.Store.OutboxPut(ctx, store.OutboxMessage{
		Key: m.Key, CustomerID: m.CustomerID, Step: m.Step, Kind: m.Kind, Template: m.Template,
		ToName: m.To.Name, ToEmail: m.To.Email, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
		ActionsJSON: string(actions), ScheduledFor: m.ScheduledFor, CreatedAt: o.Now(),
	})
	if err != nil {
		return Sent{}, fmt.Errorf("outbox: %w", err)
	}
	return Sent{Key: m.Key, MessageID: m.Key, Duplicate: !inserted}, nil
}

// List returns every kept message, oldest first.
func (o *Outbox) List(ctx context.Context) ([]Message, error) {
	rows, err := o.Store.OutboxList(ctx, "", 100000)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		out = append(out, FromOutbox(rows[i]))
	}
	return out, nil
}

// FromOutbox turns a stored message back into a Message.
func FromOutbox(r store.OutboxMessage) Message {
	m := Message{
		Key: r.Key, CustomerID: r.CustomerID, Step: r.Step, Kind: r.Kind, Template: r.Template,
		To: Recipient{Name: r.ToName, Email: r.ToEmail}, Subject: r.Subject, Text: r.Text, HTML: r.HTML,
		ScheduledFor: r.ScheduledFor,
	}
	_ = json.Unmarshal([]byte(r.ActionsJSON), &m.Actions) // written by Send: valid JSON
	return m
}

// StoreLedger adapts the store to the SendGrid mailer's ledger.
type StoreLedger struct {
	Store *store.Store
	Now   func() time.Time
}

// LedgerSent reports whether key was sent, and the provider's message id.
func (l StoreLedger) LedgerSent(ctx context.Context, key string) (string, bool, error) {
	e, ok, err := l.Store.LedgerGet(ctx, key)
	if err != nil || !ok || e.Status != "sent" {
		return "", false, err
	}
	return e.ProviderID, true, nil
}

// LedgerMarkSent records that the provider accepted key.
func (l StoreLedger) LedgerMarkSent(ctx context.Context, key, providerID string) error {
	return l.Store.LedgerMarkSent(ctx, key, providerID, l.now())
}

// LedgerMarkFailed records a permanent failure of key.
func (l StoreLedger) LedgerMarkFailed(ctx context.Context, key, reason string) error {
	return l.Store.LedgerMarkFailed(ctx, key, reason, l.now())
}

func (l StoreLedger) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}
