package activities

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/seed-a80403e2/lifecycle/internal/store"
)

// Journey event types a webhook subscription may take.
const (
	EventHealthChanged     = "customer.health_changed"
	EventEscalated         = "customer.escalated"
	EventTaskOpened        = "task.opened"
	EventComplaintOpened   = "complaint.opened"
	EventComplaintResolved = "complaint.resolved"
	EventRenewalReminder   = "renewal.reminder"
	EventChurned           = "customer.churned"
	EventOffboarded        = "customer.offboarded"
	EventRenewed           = "customer.renewed"
)

// EventTypes lists every journey event type.
var EventTypes = []string{
	EventHealthChanged, EventEscalated, EventTaskOpened, EventComplaintOpened,
	EventComplaintResolved, EventRenewalReminder, EventChurned, EventOffboarded, EventRenewed,
}

// WebhookEvent is one journey event, as every subscriber receives it. ID
// is the Standard Webhooks webhook-id: the same event retried keeps it, so
// a receiver can tell a retry from a new event.
type WebhookEvent struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      EventData `json:"data"`
}

// EventData is what the event is about: the customer, and the timeline
// entry (step, summary, cause) or the health change behind it.
type EventData struct {
	CustomerID  string `json:"customer_id"`
	AccountName string `json:"account_name"`
	Journey     string `json:"journey,omitempty"`
	Day         int    `json:"day"`
	Step        string `json:"step,omitempty"`
	Label       string `json:"label,omitempty"` // the step in words
	Summary     string `json:"summary"`
	Cause       string `json:"cause,omitempty"`
	// Health changes.
	Health         string   `json:"health,omitempty"`
	PreviousHealth string   `json:"previous_health,omitempty"`
	Reasons        []string `json:"reasons,omitempty"`
}

// Webhooks is the store's side of webhooks out.
type Webhooks interface {
	Subscriptions(ctx context.Context) ([]store.Subscription, error)
	WebhookDelivered(ctx context.Context, subscriptionID, eventID string) (bool, error)
	RecordDelivery(ctx context.Context, d store.Delivery) error
}

// webhookTimeout bounds one POST to a subscriber.
const webhookTimeout = 10 * time.Second

// SignWebhook is the Standard Webhooks signature of a message:
// "v1," and the base64 HMAC-SHA256 of "id.timestamp.body" under the
// secret's key (the base64 after "whsec_").
func SignWebhook(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: not whsec_ and base64: %w", err)
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%d.", id, ts.Unix())
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// WebhookTargets answers which of the given event types some subscription
// takes. The journey asks it (a local activity, since revision 8) before it
// issues its events, so that with nobody subscribed no delivery is issued at
// all: one marker in the history instead of an activity per event.
func (a *Activities) WebhookTargets(ctx context.Context, types []string) ([]string, error) {
	if a.Webhooks == nil {
		return []string{}, nil
	}
	subs, err := a.Webhooks.Subscriptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhook subscriptions: %w", err)
	}
	wanted := []string{}
	for _, t := range types {
		if slices.ContainsFunc(subs, func(s store.Subscription) bool { return s.Wants(t) }) && !slices.Contains(wanted, t) {
			wanted = append(wanted, t)
		}
	}
	return wanted, nil
}

// DeliverWebhook offers an event to every subscription that takes its type.
// A subscriber that took it before (2xx) is
// skipped, so a retry delivers to the others only: exactly once each. Each
// attempt is logged; any failure fails the activity, and Temporal retries
// it with backoff until the journey's delivery deadline.
func (a *Activities) DeliverWebhook(ctx context.Context, ev WebhookEvent) error {
	if a.Webhooks == nil {
		return nil // a worker without a store: nobody can have subscribed
	}
	subs, err := a.Webhooks.Subscriptions(ctx)
	if err != nil {
		return fmt.Errorf("webhook subscriptions: %w", err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	attempt := 1
	if activity.IsActivity(ctx) {
		attempt = int(activity.GetInfo(ctx).Attempt)
	}
	var failed []string
	for _, sub := range subs {
		if !sub.Wants(ev.Type) {
			continue
		}
		done, err := a.Webhooks.WebhookDelivered(ctx, sub.ID, ev.ID)
		if err != nil {
			return fmt.Errorf("webhook delivery log: %w", err)
		}
		if done {
			continue
		}
		d := a.postWebhook(ctx, sub, ev, body)
		d.Attempt = attempt
		if err := a.Webhooks.RecordDelivery(ctx, d); err != nil {
			return fmt.Errorf("webhook delivery log: %w", err)
		}
		if d.Status != store.DeliveryDelivered {
			failed = append(failed, sub.ID+": "+d.Error)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("event %s not taken by %d subscriber(s): %s", ev.ID, len(failed), strings.Join(failed, "; "))
	}
	return nil
}

// postWebhook sends the event to one subscriber with the Standard Webhooks
// headers; a 2xx answer is delivered.
func (a *Activities) postWebhook(ctx context.Context, sub store.Subscription, ev WebhookEvent, body []byte) store.Delivery {
	now := a.now()
	d := store.Delivery{SubscriptionID: sub.ID, EventID: ev.ID, EventType: ev.Type, CustomerID: ev.Data.CustomerID, Status: store.DeliveryFailed, At: now.UTC()}
	sig, err := SignWebhook(sub.Secret, ev.ID, now, body)
	if err != nil {
		d.Error = err.Error()
		return d
	}
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		d.Error = err.Error()
		return d
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "lifecycle-webhooks/1")
	req.Header.Set("webhook-id", ev.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	t0 := time.Now()
	resp, err := webhookClient.Do(req)
	d.DurationMS = time.Since(t0).Milliseconds()
	if err != nil {
		var uerr interface{ Unwrap() error }
		if errors.As(err, &uerr) && uerr.Unwrap() != nil {
			err = uerr.Unwrap()
		}
		d.Error = "no answer: " + err.Error()
		return d
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	d.HTTPStatus = resp.StatusCode
	if resp.StatusCode/100 == 2 {
		d.Status = store.DeliveryDelivered
		return d
	}
	d.Error = fmt.Sprintf("answered %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	return d
}

// webhookClient follows no redirect: a subscriber's URL is where events go,
// not a hop to wherever it points.
var webhookClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
