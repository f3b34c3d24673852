package simulate

import (
	"context"
	"fmt"
	"sync"

	"github.com/seed-a80403e2/lifecycle/activities"
)

// Outbox is an in-memory Mailer: it keeps every message, once per key, in
// the order they were sent, as the real outbox would deliver them.
type Outbox struct {
	mu   sync.Mutex
	msgs []activities.Message
	keys map[string]bool
}

// NewOutbox returns an empty in-memory outbox.
func NewOutbox() *Outbox { return &Outbox{keys: map[string]bool{}} }

// Send keeps the message unless its key was sent before.
func (o *Outbox) Send(_ context.Context, m activities.Message) (activities.Sent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.keys[m.Key] {
		return activities.Sent{Key: m.Key, Duplicate: true}, nil
	}
	o.keys[m.Key] = true
	o.msgs = append(o.msgs, m)
	return activities.Sent{Key: m.Key, MessageID: fmt.Sprintf("sim-%d", len(o.msgs))}, nil
}

// Messages is every message sent so far.
func (o *Outbox) Messages() []activities.Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]activities.Message(nil), o.msgs...)
}
