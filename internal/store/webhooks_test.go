package store

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWebhookSubscriptionsAndTheirLog(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		sub, err := s.CreateSubscription(ctx, Subscription{URL: "https://crm.example/hook", Events: []string{"task.opened", "customer.churned"}, Description: "CRM"})
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(sub.ID, "sub_"))
		assert.True(t, strings.HasPrefix(sub.Secret, "whsec_"))
		assert.True(t, sub.Wants("task.opened"))
		assert.False(t, sub.Wants("customer.renewed"))
		got, err := s.Subscription(ctx, sub.ID)
		require.NoError(t, err)
		assert.Equal(t, sub, got)
		_, err = s.Subscription(ctx, "sub_nope")
		assert.ErrorIs(t, err, ErrNoSubscription)

		// Attempts are logged once each; a delivered one marks the event taken.
		for _, d := range []Delivery{
			{SubscriptionID: sub.ID, EventID: "evt_1", EventType: "task.opened", CustomerID: "acme", Attempt: 1, Status: DeliveryFailed, HTTPStatus: 502, Error: strings.Repeat("e", 900), At: at(1)},
			{SubscriptionID: sub.ID, EventID: "evt_1", EventType: "task.opened", CustomerID: "acme", Attempt: 1, Status: DeliveryFailed, HTTPStatus: 502, At: at(1)},
			{SubscriptionID: sub.ID, EventID: "evt_1", EventType: "task.opened", CustomerID: "acme", Attempt: 2, Status: DeliveryDelivered, HTTPStatus: 204, At: at(2)},
			{SubscriptionID: sub.ID, EventID: "evt_1", EventType: "task.opened", CustomerID: "acme", Attempt: 3, Status: DeliveryDelivered, HTTPStatus: 204, At: at(3)},
		} {
			require.NoError(t, s.RecordDelivery(ctx, d))
		}
		done, err := s.WebhookDelivered(ctx, sub.ID, "evt_1")
		require.NoError(t, err)
		assert.True(t, done)
		done, err = s.WebhookDelivered(ctx, sub.ID, "evt_2")
		require.NoError(t, err)
		assert.False(t, done)
		log, err := s.Deliveries(ctx, sub.ID, 0)
		require.NoError(t, err)
		require.Len(t, log, 3, "the repeated attempt 1 is kept once")
		assert.Equal(t, []int{3, 2, 1}, []int{log[0].Attempt, log[1].Attempt, log[2].Attempt}, "newest first")
		assert.Len(t, log[2].Error, maxDeliveryError, "the error text is bounded")
		assert.Equal(t, same(at(3)), log[0].At)

		require.NoError(t, s.DeleteSubscription(ctx, sub.ID))
		assert.ErrorIs(t, s.DeleteSubscription(ctx, sub.ID), ErrNoSubscription)
		log, err = s.Deliveries(ctx, sub.ID, 0)
		require.NoError(t, err)
		assert.Empty(t, log, "the log goes with the subscription")
		done, _ = s.WebhookDelivered(ctx, sub.ID, "evt_1")
		assert.False(t, done)

		for i := range MaxSubscriptions {
			_, err := s.CreateSubscription(ctx, Subscription{URL: fmt.Sprintf("https://crm.example/%d", i), Events: []string{"*"}})
			require.NoError(t, err)
		}
		_, err = s.CreateSubscription(ctx, Subscription{URL: "https://one-too-many.example", Events: []string{"*"}})
		assert.ErrorContains(t, err, "the most there may be")
		all, err := s.Subscriptions(ctx)
		require.NoError(t, err)
		assert.Len(t, all, MaxSubscriptions)
	})
}
