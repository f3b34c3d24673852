package apiserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// SendGrid's signed event webhook headers.
const (
	SendGridSignatureHeader = "X-Twilio-Email-Event-Webhook-Signature"
	SendGridTimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp"
	SendGridMaxAge          = 10 * time.Minute
)

// ParseWebhookKey reads SENDGRID_WEBHOOK_PUBLIC_KEY: the base64 DER (PKIX)
// ECDSA key SendGrid shows, or the same in PEM.
func ParseWebhookKey(s string) (*ecdsa.PublicKey, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "-----BEGIN PUBLIC KEY-----")
	s = strings.TrimSuffix(s, "-----END PUBLIC KEY-----")
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		return nil, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: not base64: %w", err)
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("SENDGRID_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	ec, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("SENDGRID_WEBHOOK_PUBLIC_KEY: not an ECDSA key")
	}
	return ec, nil
}

// sendgridEvent is the part of a SendGrid event we use; custom_args arrive
// as top-level fields.
type sendgridEvent struct {
	Email      string `json:"email"`
	Event      string `json:"event"`
	EventID    string `json:"sg_event_id"`
	Timestamp  int64  `json:"timestamp"`
	Reason     string `json:"reason"`
	CustomerID string `json:"customer_id"`
	Key        string `json:"idempotency_key"`
	Step       string `json:"step"`
	Kind       string `json:"kind"` // "customer" or a team role; absent on mail sent before it existed
	Journey    string `json:"journey"`
}

var suppressing = map[string]bool{"bounce": true, "dropped": true, "spamreport": true, "unsubscribe": true, "group_unsubscribe": true}

// ignoredKnown are SendGrid events we acknowledge without acting.
var ignoredKnown = map[string]bool{"processed": true, "delivered": true, "deferred": true}

func (s *Server) sendgridWebhook(c *gin.Context) {
	if s.opts.SendGridKey == nil || s.opts.Store == nil {
		fail(c, http.StatusNotFound, "not_configured", "the SendGrid webhook is off: set SENDGRID_WEBHOOK_PUBLIC_KEY", "")
		return
	}
	body, _, ok := s.signedBody(c, SendGridTimestampHeader, SendGridMaxAge)
	if !ok {
		return
	}
	tsText := c.GetHeader(SendGridTimestampHeader) // signed as sent
	sig, err := base64.StdEncoding.DecodeString(c.GetHeader(SendGridSignatureHeader))
	digest := sha256.Sum256(append([]byte(tsText), body...))
	if err != nil || !ecdsa.VerifyASN1(s.opts.SendGridKey, digest[:], sig) {
		fail(c, http.StatusUnauthorized, "bad_signature", "the signature does not verify", SendGridSignatureHeader)
		return
	}
	var events []sendgridEvent
	if err := json.Unmarshal(body, &events); err != nil {
		fail(c, http.StatusBadRequest, "invalid_json", "expected a JSON array of SendGrid events: "+err.Error(), "")
		return
	}
	counts := map[string]int{}
	var retry error
	for _, ev := range events {
		result, err := s.sendgridEvent(c.Request.Context(), ev)
		if err != nil {
			retry = err
			result = "failed"
		}
		counts[result]++
		s.sgEvents.WithLabelValues(eventLabel(ev.Event), result).Inc()
	}
	if retry != nil {
		// SendGrid retries the batch; every effect is idempotent.
		s.log.Error("SendGrid events not applied; SendGrid will retry", zap.Error(retry))
		fail(c, http.StatusServiceUnavailable, "retry", "some events could not be applied; retry", "")
		return
	}
	c.JSON(http.StatusOK, counts)
}

// eventLabel bounds the metric's label values.
func eventLabel(e string) string {
	if suppressing[e] || ignoredKnown[e] || e == "open" || e == "click" {
		return e
	}
	return "unknown"
}

// sendgridEvent applies one event at most once. Its id is claimed before
// its effects and marked done after them: a done id is a duplicate and
// does nothing. An id still claimed (an earlier attempt failed or crashed
// mid-way, or a concurrent delivery is applying it) is applied again, which
// is safe: the journey dedupes updates by their id (sg:<event id>) and
// events by theirs, and suppression is a set. A failure leaves the id
// claimed, and SendGrid's retry of the batch applies it again.
func (s *Server) sendgridEvent(ctx context.Context, ev sendgridEvent) (string, error) {
	if ev.EventID == "" || len(ev.EventID) > 200 {
		return "invalid", nil
	}
	done, err := s.opts.Store.ClaimWebhookEvent(ctx, ev.EventID, s.opts.Now())
	if err != nil {
		return "", err
	}
	if done {
		return "duplicate", nil
	}
	result, err := s.applySendGridEvent(ctx, ev)
	if err != nil {
		return "", err
	}
	if err := s.opts.Store.WebhookEventDone(ctx, ev.EventID, s.opts.Now()); err != nil {
		return "", err
	}
	return result, nil
}

// applySendGridEvent turns an event into the journey's message. Opens and
// clicks are engagement only for the customer's own email; a suppressing
// event suppresses the address it names and tells the journey, which
// decides what that address is (its champion: customer email stops; a team
// address: someone is tasked to fix it).
func (s *Server) applySendGridEvent(ctx context.Context, ev sendgridEvent) (string, error) {
	known := workflows.ValidAccountID(ev.CustomerID)
	var err error
	switch {
	case ev.Event == "open" || ev.Event == "click":
		if ev.Kind != "" && ev.Kind != "customer" {
			return "not_customer", nil // a team notice read by the team
		}
		if !known {
			return "no_customer", nil
		}
		event := workflows.EngagementEvent{ID: "sg-" + ev.EventID, Type: map[string]string{"open": "email_open", "click": "email_click"}[ev.Event],
			Source: "sendgrid", Attributes: map[string]string{}}
		if ev.Timestamp > 0 {
			event.Time = time.Unix(ev.Timestamp, 0).UTC()
		}
		if ev.Step != "" {
			event.Attributes["step"] = ev.Step
		}
		if ev.Journey != "" {
			// An earlier journey's email: the current journey refuses it.
			event.Attributes[workflows.EventAttrJourney] = ev.Journey
		}
		if ev.Email != "" {
			// Mail sent before kind existed may be a team notice: the
			// journey counts it only from its champion's address.
			event.Attributes[workflows.EventAttrRecipient] = ev.Email
		}
		if workflows.ValidateEventShape(event) != nil {
			return "invalid", nil
		}
		err = s.updateWorkflow(ctx, workflows.WorkflowID(ev.CustomerID), workflows.UpdateEvent, "sg:"+ev.EventID, event, nil)
	case suppressing[ev.Event]:
		status := workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: ev.Event, Source: "sendgrid", Address: ev.Email}
		if ev.Email == "" || workflows.ValidateEmailStatusFields(status) != nil {
			return "invalid", nil
		}
		if err := s.opts.Store.Suppress(ctx, ev.Email, ev.Event, s.opts.Now()); err != nil {
			return "", err
		}
		if !known {
			return "applied", nil
		}
		err = s.updateWorkflow(ctx, workflows.WorkflowID(ev.CustomerID), workflows.UpdateEmail, "sg:"+ev.EventID, status, nil)
	case ignoredKnown[ev.Event]:
		return "acknowledged", nil
	default:
		return "unknown", nil
	}
	switch {
	case err == nil:
		return "applied", nil
	case workflows.IsDuplicateEvent(err):
		return "duplicate", nil
	case workflows.IsValidationError(err):
		return "refused", nil // not the champion's address, emails already stopped, ...
	case workflows.IsJourneyEnded(err), isCompleted(err), isNotFound(err):
		return "no_customer", nil
	}
	return "", err
}

func newSendGridCounter(reg *prometheus.Registry) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lifecycle_sendgrid_webhook_events_total",
		Help: "SendGrid webhook events by type and what became of them.",
	}, []string{"event", "result"})
	reg.MustRegister(c)
	return c
}
