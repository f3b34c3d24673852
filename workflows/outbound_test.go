package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// receiver is a webhook subscriber on loopback that checks each request's
// Standard Webhooks signature with the Standard Webhooks library.
type receiver struct {
	t    *testing.T
	srv  *httptest.Server
	wh   *standardwebhooks.Webhook
	down bool

	mu     sync.Mutex
	events []activities.WebhookEvent
	times  map[string]int // deliveries taken, by webhook-id
	bad    []string
	tries  int
}

func newReceiver(t *testing.T, secret string, down bool) *receiver {
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	r := &receiver{t: t, wh: wh, down: down, times: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.tries++
		if r.down {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		if err := r.wh.Verify(body, req.Header); err != nil {
			r.bad = append(r.bad, err.Error())
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev activities.WebhookEvent
		if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get("webhook-id") {
			r.bad = append(r.bad, fmt.Sprintf("body %s, id header %q", body, req.Header.Get("webhook-id")))
		}
		r.times[ev.ID]++
		if r.times[ev.ID] == 1 {
			r.events = append(r.events, ev)
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.events {
		out = append(out, fmt.Sprintf("%s@%d", ev.Type, ev.Data.Day))
	}
	return out
}

// steps are the journey's emails, tasks and escalations by day.
func steps(h *harness) []string {
	return h.sent(workflows.EntryTouchpoint, workflows.EntryTask, workflows.EntryEscalation)
}

// eventfulJourney is 90 days with a complaint, its resolution, silence,
// renewal reminders on days 10, 40 and 70 (the renewal is on day 100) and
// churn on day 80.
func eventfulJourney(t *testing.T, subscribe func(st *store.Store)) *harness {
	return eventfulJourneyThrough(t, subscribe, nil)
}

// eventfulJourneyThrough is eventfulJourney with the store's webhook side
// wrapped (a store failing, say) when wrap is set.
func eventfulJourneyThrough(t *testing.T, subscribe func(st *store.Store), wrap func(activities.Webhooks) activities.Webhooks) *harness {
	in := testInput(playbooks.Default())
	in.Account.RenewalDate = testStart.AddDate(0, 0, 100)
	h := newHarness(t, in)
	h.webhooks = h.store
	if wrap != nil {
		h.webhooks = wrap(h.store)
	}
	if subscribe != nil {
		subscribe(h.store)
	}
	h.at(1, func(c *call) {
		c.update("complaint", workflows.UpdateComplaint, workflows.Complaint{Severity: "high", Summary: "Exports fail"}, nil)
	})
	h.at(2, func(c *call) {
		c.outcome("resolved", workflows.Outcome{Kind: workflows.OutcomeComplaintResolved, ComplaintID: "c1"})
	})
	// The journey ends by itself at the churn: its timeline is read before.
	h.at(79.9, func(c *call) { h.timeline = c.timeline() })
	h.at(80, func(c *call) { c.outcome("churn", workflows.Outcome{Kind: workflows.OutcomeChurned, Note: "budget"}) })
	h.run(90)
	return h
}

func subscribeTo(t *testing.T, url string, events ...string) func(st *store.Store) {
	return func(st *store.Store) {
		_, err := st.CreateSubscription(context.Background(), store.Subscription{URL: url, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", Events: events})
		require.NoError(t, err)
	}
}

// TestJourneyEventsReachTheirSubscribers: every kind of journey event reaches
// a subscriber once, signed as Standard Webhooks says, and a subscriber of
// some types only gets those.
func TestJourneyEventsReachTheirSubscribers(t *testing.T) {
	all := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false)
	some := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false)
	eventfulJourney(t, func(st *store.Store) {
		subscribeTo(t, all.srv.URL, "*")(st)
		subscribeTo(t, some.srv.URL, activities.EventChurned, activities.EventRenewalReminder)(st)
	})
	assert.Empty(t, all.bad, "every signature verifies")
	for id, n := range all.times {
		assert.Equal(t, 1, n, "%s delivered once", id)
	}
	got := all.types()
	for _, want := range []string{
		"complaint.opened@1", "task.opened@1", "complaint.resolved@2", "customer.escalated@5",
		"renewal.reminder@10", "renewal.reminder@40", "renewal.reminder@70", "customer.churned@80",
	} {
		assert.Contains(t, got, want)
	}
	assert.True(t, slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "customer.health_changed@") }), "%v", got)
	assert.Equal(t, []string{"renewal.reminder@10", "renewal.reminder@40", "renewal.reminder@70", "customer.churned@80"}, some.types())

	all.mu.Lock()
	defer all.mu.Unlock()
	ids := map[string]bool{}
	for _, ev := range all.events {
		assert.False(t, ids[ev.ID], "event ids are unique: %s", ev.ID)
		ids[ev.ID] = true
		assert.Equal(t, "acme", ev.Data.CustomerID)
		assert.Equal(t, "Acme Corp", ev.Data.AccountName)
		assert.NotEmpty(t, ev.Data.Summary, ev.ID)
		if ev.Type == activities.EventHealthChanged {
			assert.NotEqual(t, ev.Data.Health, ev.Data.PreviousHealth)
			assert.NotEmpty(t, ev.Data.Reasons)
		}
	}
	churn := all.events[len(all.events)-1]
	assert.Equal(t, activities.EventChurned, churn.Type, "the journey waited for its last event")
	assert.Equal(t, "outcome:churned", churn.Data.Step)
	for _, ev := range all.events {
		if ev.Type == activities.EventRenewalReminder {
			assert.Regexp(t, `^Renewal reminder \(\d+ days\)$`, ev.Data.Label, "the step in words")
		}
	}
}

// TestADownReceiverDelaysNothing: the same journey with a subscriber that
// answers 503 to everything sends every email and task on the same day as
// with nobody subscribed; its events are given up at the delivery deadline
// and the delivery log shows every failed attempt.
func TestADownReceiverDelaysNothing(t *testing.T) {
	alone := eventfulJourney(t, nil)
	down := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true)
	h := eventfulJourney(t, subscribeTo(t, down.srv.URL, "*"))
	assert.Equal(t, steps(alone), steps(h), "the schedule is the same with a receiver down")
	assert.Greater(t, down.tries, 20, "each event retried")

	var givenUp int
	for _, e := range h.timeline.Entries {
		if strings.HasPrefix(e.Step, "webhook:") && strings.HasSuffix(e.Step, ":failed") {
			givenUp++
			assert.Contains(t, e.Cause, "answered 503")
		}
	}
	assert.GreaterOrEqual(t, givenUp, 8, "every event given up at its deadline")
	subs, err := h.store.Subscriptions(context.Background())
	require.NoError(t, err)
	log, err := h.store.Deliveries(context.Background(), subs[0].ID, 0)
	require.NoError(t, err)
	require.NotEmpty(t, log)
	for _, d := range log {
		assert.Equal(t, store.DeliveryFailed, d.Status)
		assert.Equal(t, http.StatusServiceUnavailable, d.HTTPStatus)
	}
	assert.Zero(t, h.final.Failures, "a webhook given up is not an email given up")
}

// activityCount is how many activities of a type the journey's runs
// completed.
func (h *harness) activityCount(name string) int {
	n := 0
	for _, r := range h.runs {
		n += r.Activities[name]
	}
	return n
}

// TestNobodySubscribedIssuesNoDelivery: with no subscription the journey's
// events cost a question to the store per batch and no delivery activity,
// and an eventful journey's schedule is the same.
func TestNobodySubscribedIssuesNoDelivery(t *testing.T) {
	h := eventfulJourney(t, nil)
	assert.Zero(t, h.activityCount("DeliverWebhook"), "no delivery issued")
	asked := h.activityCount("local")
	assert.Positive(t, asked, "the journey asked who subscribed")
	assert.Less(t, asked, 40, "once per batch of events, not per wake-up")
	assert.Contains(t, h.sent(workflows.EntryTouchpoint), "renewal:2026-04-15:30d@70")
}

// TestOnlySubscribedTypesAreIssued: a subscription to churn alone makes the
// journey issue one delivery, the churn, out of all its events.
func TestOnlySubscribedTypesAreIssued(t *testing.T) {
	churn := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false)
	h := eventfulJourney(t, subscribeTo(t, churn.srv.URL, activities.EventChurned))
	assert.Equal(t, []string{"customer.churned@80"}, churn.types())
	assert.Equal(t, 1, h.activityCount("DeliverWebhook"), "the churn's delivery only")
}

// unreadableSubscriptions is a store whose subscription list cannot be read
// by the journey's question (a local activity), while deliveries read it.
type unreadableSubscriptions struct {
	activities.Webhooks
	refused atomic.Int32
}

func (u *unreadableSubscriptions) Subscriptions(ctx context.Context) ([]store.Subscription, error) {
	if activity.IsActivity(ctx) && activity.GetInfo(ctx).IsLocalActivity {
		u.refused.Add(1)
		return nil, errors.New("database is locked")
	}
	return u.Webhooks.Subscriptions(ctx)
}

// TestSubscriptionsUnreadableEveryEventGoesOut: when the store cannot say
// who subscribed, the journey issues every event and each delivery checks
// for itself: the subscriber of renewal reminders still gets all three, and
// the schedule is unchanged.
func TestSubscriptionsUnreadableEveryEventGoesOut(t *testing.T) {
	rcv := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false)
	var u *unreadableSubscriptions
	h := eventfulJourneyThrough(t, subscribeTo(t, rcv.srv.URL, activities.EventRenewalReminder), func(w activities.Webhooks) activities.Webhooks {
		u = &unreadableSubscriptions{Webhooks: w}
		return u
	})
	assert.Positive(t, u.refused.Load())
	assert.Equal(t, []string{"renewal.reminder@10", "renewal.reminder@40", "renewal.reminder@70"}, rcv.types())
	assert.Greater(t, h.activityCount("DeliverWebhook"), 3, "every event issued, not only the subscribed ones")
	assert.Equal(t, steps(eventfulJourney(t, nil)), steps(h))
}
