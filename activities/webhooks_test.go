package activities_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
)

func webhookStore(t *testing.T) *store.Store {
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// TestDeliverWebhookTakesEachEventOncePerSubscriber: a retry after one
// subscriber failed posts to that one only; every request verifies with
// the Standard Webhooks library; every attempt is in the log.
func TestDeliverWebhookTakesEachEventOncePerSubscriber(t *testing.T) {
	st := webhookStore(t)
	var okHits, flakyHits atomic.Int32
	verify := func(secret string, hits *atomic.Int32, failFirst int32) *httptest.Server {
		wh, err := standardwebhooks.NewWebhook(secret)
		require.NoError(t, err)
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := hits.Add(1)
			body := make([]byte, r.ContentLength)
			_, _ = r.Body.Read(body)
			if err := wh.Verify(body, r.Header); err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			if n <= failFirst {
				http.Error(w, "busy", http.StatusBadGateway)
				return
			}
			w.WriteHeader(http.StatusOK)
		}))
	}
	okSub, err := st.CreateSubscription(context.Background(), store.Subscription{URL: "placeholder", Events: []string{"*"}})
	require.NoError(t, err)
	flakySub, err := st.CreateSubscription(context.Background(), store.Subscription{URL: "placeholder", Events: []string{activities.EventChurned}})
	require.NoError(t, err)
	okSrv, flakySrv := verify(okSub.Secret, &okHits, 0), verify(flakySub.Secret, &flakyHits, 1)
	defer okSrv.Close()
	defer flakySrv.Close()
	// The URLs are known once the servers run; the secrets came from the store.
	require.NoError(t, st.DeleteSubscription(context.Background(), okSub.ID))
	require.NoError(t, st.DeleteSubscription(context.Background(), flakySub.ID))
	okSub, err = st.CreateSubscription(context.Background(), store.Subscription{URL: okSrv.URL, Secret: okSub.Secret, Events: []string{"*"}})
	require.NoError(t, err)
	flakySub, err = st.CreateSubscription(context.Background(), store.Subscription{URL: flakySrv.URL, Secret: flakySub.Secret, Events: []string{activities.EventChurned}})
	require.NoError(t, err)

	a := &activities.Activities{Webhooks: st}
	ev := activities.WebhookEvent{ID: "evt_j1_1", Type: activities.EventChurned, Timestamp: time.Now().UTC(),
		Data: activities.EventData{CustomerID: "acme", AccountName: "Acme", Summary: "Journey ended: churned"}}
	err = a.DeliverWebhook(context.Background(), ev)
	require.Error(t, err, "the flaky subscriber answered 502")
	assert.Contains(t, err.Error(), "answered 502")
	require.NoError(t, a.DeliverWebhook(context.Background(), ev), "the retry")
	require.NoError(t, a.DeliverWebhook(context.Background(), ev), "a third try posts nothing")
	assert.EqualValues(t, 1, okHits.Load(), "delivered once, though the activity ran three times")
	assert.EqualValues(t, 2, flakyHits.Load())

	log, err := st.Deliveries(context.Background(), flakySub.ID, 0)
	require.NoError(t, err)
	require.Len(t, log, 1, "attempts are numbered by the activity's attempt: both calls here were attempt 1")
	assert.Equal(t, store.DeliveryFailed, log[0].Status)
	assert.Equal(t, http.StatusBadGateway, log[0].HTTPStatus)

	// A subscriber of other types is not offered the event.
	other := activities.WebhookEvent{ID: "evt_j1_2", Type: activities.EventTaskOpened, Timestamp: time.Now().UTC()}
	require.NoError(t, a.DeliverWebhook(context.Background(), other))
	assert.EqualValues(t, 2, flakyHits.Load())
	assert.EqualValues(t, 2, okHits.Load())
}

func TestDeliverWebhookFailures(t *testing.T) {
	st := webhookStore(t)
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/elsewhere", http.StatusFound))
	defer redirect.Close()
	_, err := st.CreateSubscription(context.Background(), store.Subscription{URL: redirect.URL, Events: []string{"*"}})
	require.NoError(t, err)
	a := &activities.Activities{Webhooks: st}
	err = a.DeliverWebhook(context.Background(), activities.WebhookEvent{ID: "evt_r", Type: activities.EventEscalated, Timestamp: time.Now()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "answered 302", "a redirect is not followed")

	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	st2 := webhookStore(t)
	_, err = st2.CreateSubscription(context.Background(), store.Subscription{URL: url, Events: []string{"*"}})
	require.NoError(t, err)
	err = (&activities.Activities{Webhooks: st2}).DeliverWebhook(context.Background(), activities.WebhookEvent{ID: "evt_c", Type: activities.EventEscalated, Timestamp: time.Now()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no answer")

	assert.NoError(t, (&activities.Activities{}).DeliverWebhook(context.Background(), activities.WebhookEvent{ID: "x"}), "no store: nobody subscribed")
	_, err = activities.SignWebhook("whsec_not base64!", "id", time.Now(), nil)
	assert.Error(t, err)
	sig, err := activities.SignWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	require.NoError(t, err)
	assert.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig, "the Standard Webhooks specification's example")
	assert.True(t, strings.HasPrefix(store.NewWebhookSecret(), "whsec_"))
}

// TestWebhookTargets: the journey's question of who subscribed answers the
// types some subscription takes, once each; no store or no subscription
// answers none, and a store that cannot be read is an error.
func TestWebhookTargets(t *testing.T) {
	ctx := context.Background()
	all := []string{activities.EventEscalated, activities.EventChurned, activities.EventChurned, activities.EventRenewed}
	got, err := (&activities.Activities{}).WebhookTargets(ctx, all)
	require.NoError(t, err)
	assert.Empty(t, got, "no store: nobody subscribed")

	st := webhookStore(t)
	a := &activities.Activities{Webhooks: st}
	got, err = a.WebhookTargets(ctx, all)
	require.NoError(t, err)
	assert.Empty(t, got)
	_, err = st.CreateSubscription(ctx, store.Subscription{URL: "http://127.0.0.1:1/a", Events: []string{activities.EventChurned}})
	require.NoError(t, err)
	got, err = a.WebhookTargets(ctx, all)
	require.NoError(t, err)
	assert.Equal(t, []string{activities.EventChurned}, got)
	_, err = st.CreateSubscription(ctx, store.Subscription{URL: "http://127.0.0.1:1/b", Events: []string{"*"}})
	require.NoError(t, err)
	got, err = a.WebhookTargets(ctx, all)
	require.NoError(t, err)
	assert.Equal(t, []string{activities.EventEscalated, activities.EventChurned, activities.EventRenewed}, got)

	require.NoError(t, st.Close())
	_, err = a.WebhookTargets(ctx, all)
	assert.ErrorContains(t, err, "webhook subscriptions")
}
