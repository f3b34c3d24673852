package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// WebhookStore keeps the subscriptions to journey events (webhooks out).
type WebhookStore interface {
	CreateSubscription(ctx context.Context, sub store.Subscription) (store.Subscription, error)
	Subscriptions(ctx context.Context) ([]store.Subscription, error)
	Subscription(ctx context.Context, id string) (store.Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	Deliveries(ctx context.Context, subscriptionID string, limit int) ([]store.Delivery, error)
}

// SubscriptionRequest subscribes a URL to journey events:
// POST /v1/webhooks/subscriptions.
type SubscriptionRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"` // event types, or "*" for all
	Description string   `json:"description,omitempty"`
}

// SubscriptionView is a subscription as the API answers it. Secret is
// there once, in the answer to its creation.
type SubscriptionView struct {
	store.Subscription
	Secret string `json:"secret,omitempty"`
}

// DeliveryLog answers GET /v1/webhooks/subscriptions/{id}/deliveries: the
// latest attempts, newest first, and how many of them failed.
type DeliveryLog struct {
	SubscriptionID string           `json:"subscription_id"`
	Deliveries     []store.Delivery `json:"deliveries"`
	Delivered      int              `json:"delivered"`
	Failed         int              `json:"failed"`
}

// SubscriptionList answers GET /v1/webhooks/subscriptions.
type SubscriptionList struct {
	Subscriptions []store.Subscription `json:"subscriptions"`
}

// WebhookEventTypes are the event types a subscription may name.
var WebhookEventTypes = activities.EventTypes

// Bounds on a subscription.
const (
	maxWebhookURL  = 2000
	maxEventsNamed = 20
)

func (s *Server) webhookRoutes(v1 *gin.RouterGroup) {
	admin := s.auth(config.RoleAdmin)
	v1.POST("/webhooks/subscriptions", admin, s.createSubscription)
	v1.GET("/webhooks/subscriptions", admin, s.listSubscriptions)
	v1.GET("/webhooks/subscriptions/:id", admin, s.getSubscription)
	v1.DELETE("/webhooks/subscriptions/:id", admin, s.deleteSubscription)
	v1.GET("/webhooks/subscriptions/:id/deliveries", admin, s.subscriptionDeliveries)
}

// webhooks is the subscriptions' store; without one the routes answer 404.
func (s *Server) webhooks(c *gin.Context) (WebhookStore, bool) {
	ws, ok := s.opts.Store.(WebhookStore)
	if !ok || ws == nil {
		fail(c, http.StatusNotFound, "not_found", "webhooks out need the store (DATABASE_URL or the data directory)", "")
		return nil, false
	}
	return ws, true
}

func validSubscription(r SubscriptionRequest) error {
	u, err := url.Parse(r.URL)
	switch {
	case r.URL == "":
		return &workflows.FieldError{Field: "url", Message: "is required: where the events are posted"}
	case len(r.URL) > maxWebhookURL:
		return &workflows.FieldError{Field: "url", Message: fmt.Sprintf("at most %d characters", maxWebhookURL)}
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return &workflows.FieldError{Field: "url", Message: "must be an http(s) URL"}
	case u.User != nil:
		return &workflows.FieldError{Field: "url", Message: "must not carry a user or password: the signature authenticates the events"}
	case len(r.Events) == 0:
		return &workflows.FieldError{Field: "events", Message: `name the event types (or "*" for all): ` + strings.Join(WebhookEventTypes, ", ")}
	case len(r.Events) > maxEventsNamed:
		return &workflows.FieldError{Field: "events", Message: fmt.Sprintf("at most %d", maxEventsNamed)}
	case len(r.Description) > workflows.MaxShortLen:
		return &workflows.FieldError{Field: "description", Message: fmt.Sprintf("at most %d characters", workflows.MaxShortLen)}
	}
	for i, e := range r.Events {
		switch {
		case e != "*" && !slices.Contains(WebhookEventTypes, e):
			return &workflows.FieldError{Field: fmt.Sprintf("events[%d]", i), Message: fmt.Sprintf("unknown event type %q (one of %s, or \"*\")", clipText(e, 60), strings.Join(WebhookEventTypes, ", "))}
		case slices.Index(r.Events, e) < i:
			return &workflows.FieldError{Field: fmt.Sprintf("events[%d]", i), Message: fmt.Sprintf("%q is named twice", e)}
		}
	}
	return nil
}

func (s *Server) createSubscription(c *gin.Context) {
	ws, ok := s.webhooks(c)
	if !ok {
		return
	}
	var req SubscriptionRequest
	if !decode(c, &req) {
		return
	}
	if err := validSubscription(req); err != nil {
		invalid(c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	subs, err := ws.Subscriptions(ctx)
	if err != nil {
		s.storeError(c, err, "webhook subscriptions", "")
		return
	}
	if len(subs) >= store.MaxSubscriptions {
		fail(c, http.StatusConflict, "too_many_subscriptions", fmt.Sprintf("there are %d subscriptions, the most there may be; delete one first", len(subs)), "")
		return
	}
	sub, err := ws.CreateSubscription(ctx, store.Subscription{URL: req.URL, Events: req.Events, Description: req.Description})
	if err != nil {
		s.storeError(c, err, "webhook subscription", "")
		return
	}
	c.Header("Location", "/v1/webhooks/subscriptions/"+sub.ID)
	c.JSON(http.StatusCreated, SubscriptionView{Subscription: sub, Secret: sub.Secret})
}

func (s *Server) listSubscriptions(c *gin.Context) {
	ws, ok := s.webhooks(c)
	if !ok {
		return
	}
	subs, err := ws.Subscriptions(c.Request.Context())
	if err != nil {
		s.storeError(c, err, "webhook subscriptions", "")
		return
	}
	c.JSON(http.StatusOK, SubscriptionList{Subscriptions: subs})
}

// subscription reads the path's subscription, answering 404 when unknown.
func (s *Server) subscription(c *gin.Context, ws WebhookStore) (store.Subscription, bool) {
	sub, err := ws.Subscription(c.Request.Context(), c.Param("id"))
	switch {
	case errors.Is(err, store.ErrNoSubscription):
		fail(c, http.StatusNotFound, "subscription_not_found", fmt.Sprintf("no subscription %q", clipText(c.Param("id"), 60)), "")
		return sub, false
	case err != nil:
		s.storeError(c, err, "webhook subscription", "")
		return sub, false
	}
	return sub, true
}

func (s *Server) getSubscription(c *gin.Context) {
	if ws, ok := s.webhooks(c); ok {
		if sub, ok := s.subscription(c, ws); ok {
			c.JSON(http.StatusOK, sub)
		}
	}
}

func (s *Server) deleteSubscription(c *gin.Context) {
	ws, ok := s.webhooks(c)
	if !ok {
		return
	}
	sub, ok := s.subscription(c, ws)
	if !ok {
		return
	}
	if err := ws.DeleteSubscription(c.Request.Context(), sub.ID); err != nil && !errors.Is(err, store.ErrNoSubscription) {
		s.storeError(c, err, "webhook subscription", "")
		return
	}
	c.JSON(http.StatusOK, sub)
}

func (s *Server) subscriptionDeliveries(c *gin.Context) {
	ws, ok := s.webhooks(c)
	if !ok {
		return
	}
	sub, ok := s.subscription(c, ws)
	if !ok {
		return
	}
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxDeliveryPage {
			fail(c, http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("limit: 1 to %d", store.MaxDeliveryPage), "limit")
			return
		}
		limit = n
	}
	ds, err := ws.Deliveries(c.Request.Context(), sub.ID, limit)
	if err != nil {
		s.storeError(c, err, "webhook deliveries", "")
		return
	}
	log := DeliveryLog{SubscriptionID: sub.ID, Deliveries: ds}
	for _, d := range ds {
		if d.Status == store.DeliveryDelivered {
			log.Delivered++
		} else {
			log.Failed++
		}
	}
	c.JSON(http.StatusOK, log)
}
