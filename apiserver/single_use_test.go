package apiserver_test

// Applied once: SendGrid events and email actions, on the mock client (see
// mock_test.go), so that "reaches no journey" and "one update" are counted.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// sgBatch encodes SendGrid events.
func sgBatch(events ...map[string]any) []byte {
	b, _ := json.Marshal(events)
	return b
}

// A replayed batch of applied events reaches no journey: each id is claimed
// and done before the replay, which finds them done.
func TestSendGridReplayedBatchReachesNoJourney(t *testing.T) {
	e := newMockEnv(t, nil)
	e.expectUpdates(workflows.UpdateEvent, 0, nil)
	e.expectUpdates(workflows.UpdateEmail, 0, nil)
	at := mockNow.Unix()
	batch := sgBatch(
		map[string]any{"email": "ada@acme.example", "event": "open", "sg_event_id": "r-open", "timestamp": at, "customer_id": "acme", "kind": "customer"},
		map[string]any{"email": "ada@acme.example", "event": "click", "sg_event_id": "r-click", "timestamp": at, "customer_id": "acme"},
		map[string]any{"email": "ada@acme.example", "event": "bounce", "sg_event_id": "r-bounce", "timestamp": at, "customer_id": "acme"},
		map[string]any{"email": "ada@acme.example", "event": "delivered", "sg_event_id": "r-del", "timestamp": at, "customer_id": "acme"},
	)
	status, body := e.sendgridPost(batch)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"applied": 3.0, "acknowledged": 1.0}, body)
	assert.Equal(t, 2, e.updates(workflows.UpdateEvent))
	assert.Equal(t, 1, e.updates(workflows.UpdateEmail))

	for range 3 {
		status, body = e.sendgridPost(batch)
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, map[string]any{"duplicate": 4.0}, body)
	}
	assert.Equal(t, 2, e.updates(workflows.UpdateEvent), "the replays reached no journey")
	assert.Equal(t, 1, e.updates(workflows.UpdateEmail))
}

// A batch that fails part-way loses nothing: SendGrid's retry applies again
// what failed, and only that.
func TestSendGridPartlyFailedBatchIsAppliedAgainWhereItFailed(t *testing.T) {
	e := newMockEnv(t, nil)
	var down atomic.Bool
	down.Store(true)
	e.expectUpdates(workflows.UpdateEvent, 0, func(arg any) error {
		if arg.(workflows.EngagementEvent).ID == "sg-p-2" && down.Load() {
			return serviceerror.NewUnavailable("journey engine down")
		}
		return nil
	})
	at := mockNow.Unix()
	batch := sgBatch(
		map[string]any{"email": "ada@acme.example", "event": "open", "sg_event_id": "p-1", "timestamp": at, "customer_id": "acme"},
		map[string]any{"email": "ada@acme.example", "event": "click", "sg_event_id": "p-2", "timestamp": at, "customer_id": "acme"},
	)
	status, body := e.sendgridPost(batch)
	assert.Equal(t, http.StatusServiceUnavailable, status, "SendGrid retries the batch")
	assert.Equal(t, "retry", errCode(body))
	assert.Equal(t, 2, e.updates(workflows.UpdateEvent))

	down.Store(false)
	status, body = e.sendgridPost(batch)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"duplicate": 1.0, "applied": 1.0}, body)
	assert.Equal(t, 3, e.updates(workflows.UpdateEvent), "only the failed event again")

	status, body = e.sendgridPost(batch)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"duplicate": 2.0}, body)
	assert.Equal(t, 3, e.updates(workflows.UpdateEvent))
}

// Attribution: an open of a team notice is no engagement and reaches no
// journey; an open of the customer's email names its recipient; a bounce
// reports the very address it names, whoever's it is.
func TestSendGridEventsAreAttributed(t *testing.T) {
	e := newMockEnv(t, nil)
	var events []workflows.EngagementEvent
	var statuses []workflows.EmailStatus
	var mu sync.Mutex
	e.expectUpdates(workflows.UpdateEvent, 0, func(arg any) error {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, arg.(workflows.EngagementEvent))
		return nil
	})
	e.expectUpdates(workflows.UpdateEmail, 0, func(arg any) error {
		mu.Lock()
		defer mu.Unlock()
		statuses = append(statuses, arg.(workflows.EmailStatus))
		return nil
	})
	at := mockNow.Unix()
	status, body := e.sendgridPost(sgBatch(
		map[string]any{"email": "grace@vendor.example", "event": "open", "sg_event_id": "a-1", "timestamp": at, "customer_id": "acme", "kind": "csm"},
		map[string]any{"email": "manager@vendor.example", "event": "click", "sg_event_id": "a-2", "timestamp": at, "customer_id": "acme", "kind": "manager"},
		map[string]any{"email": "ada@acme.example", "event": "open", "sg_event_id": "a-3", "timestamp": at, "customer_id": "acme", "step": "handoff:welcome", "journey": "j1234"},
		map[string]any{"email": "grace@vendor.example", "event": "bounce", "sg_event_id": "a-4", "timestamp": at, "customer_id": "acme", "kind": "csm"},
	))
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"not_customer": 2.0, "applied": 2.0}, body)
	require.Len(t, events, 1)
	assert.Equal(t, workflows.EngagementEvent{ID: "sg-a-3", Type: "email_open", Source: "sendgrid", Time: mockNow,
		Attributes: map[string]string{"step": "handoff:welcome", workflows.EventAttrRecipient: "ada@acme.example", workflows.EventAttrJourney: "j1234"}}, events[0],
		"the email's journey goes with it: an earlier journey's opens do not count on a new one")
	assert.Equal(t, []workflows.EmailStatus{{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: "grace@vendor.example"}}, statuses,
		"the journey decides what the CSM's address bouncing means")
	_, suppressed, err := e.store.Suppressed(context.Background(), "grace@vendor.example")
	require.NoError(t, err)
	assert.True(t, suppressed)
	_, suppressed, err = e.store.Suppressed(context.Background(), "ada@acme.example")
	require.NoError(t, err)
	assert.False(t, suppressed, "only the address the event names")
}

// Twenty clicks at once on one email's answers (the same face, sibling
// faces, on track) update the journey once; every page agrees.
func TestEmailActionTwentyConcurrentClicksUpdateOnce(t *testing.T) {
	e := newMockEnv(t, nil)
	e.expectUpdates(workflows.UpdateEvent, 50*time.Millisecond, nil)
	faces := []string{"pulse_4", "pulse_4", "pulse_1", "pulse_5", "on_track"}
	var wg sync.WaitGroup
	statuses := make([]int, 20)
	pages := make([]string, 20)
	start := make(chan struct{})
	for i := range statuses {
		tok := e.links.Token(links.Link{CustomerID: "acme", Step: "touchpoint:pulse-21", Action: faces[i%len(faces)]})
		wg.Go(func() {
			<-start
			statuses[i], pages[i] = e.page("POST", "/a/"+tok)
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, e.updates(workflows.UpdateEvent), "one answer per email")
	recorded := 0
	for i, status := range statuses {
		switch {
		case status == http.StatusOK && strings.Contains(pages[i], "<h1>Recorded</h1>"):
			recorded++
		case status == http.StatusOK && strings.Contains(pages[i], "Already recorded"),
			status == http.StatusAccepted && strings.Contains(pages[i], "Being recorded"):
		default:
			t.Errorf("click %d: %d %s", i, status, pages[i])
		}
	}
	assert.Equal(t, 1, recorded)
	status, html := e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "acme", Step: "touchpoint:pulse-21", Action: "pulse_2"}))
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, html, "Already recorded")
	assert.Equal(t, 1, e.updates(workflows.UpdateEvent))
}

// A click whose update failed for a passing reason does not use the link up:
// the customer's next click records the answer.
func TestEmailActionFailureReleasesTheUse(t *testing.T) {
	e := newMockEnv(t, nil)
	var down atomic.Bool
	down.Store(true)
	e.expectUpdates(workflows.UpdateEvent, 0, func(any) error {
		if down.Load() {
			return serviceerror.NewUnavailable("journey engine down")
		}
		return nil
	})
	path := "/a/" + e.links.Token(links.Link{CustomerID: "acme", Step: "handoff:welcome", Action: "book_handoff"})
	status, html := e.page("POST", path)
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, html, "Please try again")
	status, html = e.page("GET", path)
	assert.Contains(t, html, "Book your handoff call?", "the link still asks")

	down.Store(false)
	status, html = e.page("POST", path)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, html, "<h1>Recorded</h1>")
	status, html = e.page("POST", path)
	assert.Contains(t, html, "Already recorded")
	assert.Equal(t, 2, e.updates(workflows.UpdateEvent), "the failed try and the one that recorded it")
}

// failingFinish is a store that cannot store a use's result: the write
// after the journey update fails, as a database can at that moment.
type failingFinish struct{ *store.Store }

func (failingFinish) FinishToken(context.Context, string, string) error {
	return fmt.Errorf("database is gone")
}

// "I need help" double-clicked, and clicked again after the first click
// filed a complaint, files nothing more: also when the result could not be
// stored, and also from its sibling answer. The use is claimed before the
// journey is updated, so no click depends on the journey deduplicating it
// (it would not across continue-as-new).
func TestNeedHelpRepeatedFilesNothing(t *testing.T) {
	for name, wrap := range map[string]func(*store.Store) apiserver.Store{
		"result stored":     nil,
		"result not stored": func(st *store.Store) apiserver.Store { return failingFinish{st} },
	} {
		t.Run(name, func(t *testing.T) {
			e := newMockEnv(t, wrap)
			var mu sync.Mutex
			var complaints []workflows.Complaint
			e.expectUpdates(workflows.UpdateComplaint, 30*time.Millisecond, func(arg any) error {
				mu.Lock()
				defer mu.Unlock()
				complaints = append(complaints, arg.(workflows.Complaint))
				return nil
			})
			help := "/a/" + e.links.Token(links.Link{CustomerID: "acme", Step: "touchpoint:checkin-14", Action: "need_help"})
			var wg sync.WaitGroup
			pages := make([]string, 3)
			for i := range pages {
				wg.Go(func() { _, pages[i] = e.page("POST", help) })
			}
			wg.Wait()
			recorded := 0
			for _, html := range pages {
				if strings.Contains(html, "<h1>Recorded</h1>") {
					recorded++
				}
			}
			assert.Equal(t, 1, recorded, "a triple click: one of them records")
			for range 3 {
				status, html := e.page("POST", help)
				assert.Contains(t, []int{http.StatusOK, http.StatusAccepted}, status)
				assert.NotContains(t, html, "<h1>Recorded</h1>", html)
			}
			status, _ := e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "acme", Step: "touchpoint:checkin-14", Action: "on_track"}))
			assert.Contains(t, []int{http.StatusOK, http.StatusAccepted}, status)
			require.Len(t, complaints, 1, "one complaint")
			assert.Equal(t, "low", complaints[0].Severity)
		})
	}
}

// A customer who closes the page while the click is applied still has it
// recorded: the result is stored after the journey took it, whatever
// became of the request.
func TestEmailActionRecordedWhenTheClickerLeaves(t *testing.T) {
	e := newMockEnv(t, nil)
	e.expectUpdates(workflows.UpdateEvent, 300*time.Millisecond, nil)
	tok := e.links.Token(links.Link{CustomerID: "acme", Step: "touchpoint:review-30", Action: "book_review"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", e.url+"/a/"+tok, nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "the customer left before the answer")

	c, err := e.links.Parse(tok)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		result, used, err := e.store.TokenResult(context.Background(), c.UseID())
		return err == nil && used && result != store.TokenPending
	}, 5*time.Second, 20*time.Millisecond, "the use has its result, not a pending claim")
	assert.Equal(t, 1, e.updates(workflows.UpdateEvent))
}
