package activities_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/sendgridfake"
)

// These tests drive the real sendgrid-go client against sendgridfake, a
// SendGrid v3 server on loopback: nothing on the HTTP path is mocked.

// memLedger is a trivially correct in-memory Ledger and Suppressions.
type memLedger struct {
	mu         sync.Mutex
	sent       map[string]string // key -> provider id
	failed     map[string]string // key -> reason
	suppressed map[string]string // email -> reason
	// failMarkSent makes the next n LedgerMarkSent calls fail.
	failMarkSent int
}

func newLedger() *memLedger {
	return &memLedger{sent: map[string]string{}, failed: map[string]string{}, suppressed: map[string]string{}}
}

func (l *memLedger) LedgerSent(_ context.Context, key string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.sent[key]
	return id, ok, nil
}

func (l *memLedger) LedgerMarkSent(_ context.Context, key, providerID string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failMarkSent > 0 {
		l.failMarkSent--
		return errors.New("database is locked")
	}
	l.sent[key] = providerID
	return nil
}

func (l *memLedger) LedgerMarkFailed(_ context.Context, key, reason string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed[key] = reason
	return nil
}

func (l *memLedger) Suppressed(_ context.Context, email string) (string, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	reason, ok := l.suppressed[email]
	return reason, ok, nil
}

func (l *memLedger) state() (sent, failed map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.sent), maps.Clone(l.failed)
}

const apiKey = "SG.test-key-that-must-never-be-logged"

func newSendGrid(fake *sendgridfake.Server, ledger *memLedger) *activities.SendGrid {
	fake.SetAPIKey(apiKey)
	return &activities.SendGrid{
		APIKey:       apiKey,
		BaseURL:      fake.URL(),
		From:         activities.Recipient{Name: "Lifecycle CS", Email: "cs@vendor.example"},
		Timeout:      5 * time.Second,
		Ledger:       ledger,
		Suppressions: ledger,
	}
}

func customerMessage(key string) activities.Message {
	return activities.Message{
		Key: key, CustomerID: "acme", Step: "touchpoint:review-30", Kind: "customer", Template: "review",
		To:      activities.Recipient{Name: "Ada Lovelace", Email: "ada@acme.example"},
		Subject: "Your 30-day review", Text: "Hi Ada,\n\nBook it.\n", HTML: "<p>Hi Ada,</p><p>Book it.</p>",
		UnsubscribeURL: "https://lifecycle.example/u/tok123",
		ScheduledFor:   time.Date(2026, 2, 4, 9, 0, 0, 0, time.UTC),
	}
}

func TestSendGridRequestIsAV3MailSend(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	sg := newSendGrid(fake, ledger)
	msg := customerMessage("wf-acme/touchpoint:review-30")
	msg.Journey = "j1234"

	sent, err := sg.Send(context.Background(), msg)
	require.NoError(t, err)

	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	req := reqs[0]
	assert.Equal(t, "POST", req.Method)
	assert.Equal(t, "/v3/mail/send", req.Path)
	assert.Equal(t, "Bearer "+apiKey, req.Header.Get("Authorization"))
	assert.Equal(t, "application/json", req.Header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(req.Header.Get("User-Agent"), "sendgrid/"), "sent by sendgrid-go")
	assert.Equal(t, 202, req.Status)

	m := req.Mail
	require.NotNil(t, m)
	assert.Equal(t, &sendgridfake.Address{Email: "cs@vendor.example", Name: "Lifecycle CS"}, m.From)
	require.Len(t, m.Personalizations, 1)
	assert.Equal(t, []sendgridfake.Address{{Email: "ada@acme.example", Name: "Ada Lovelace"}}, m.Personalizations[0].To)
	assert.Equal(t, "Your 30-day review", m.Subject)
	assert.Equal(t, []sendgridfake.Content{
		{Type: "text/plain", Value: msg.Text},
		{Type: "text/html", Value: msg.HTML},
	}, m.Content)
	assert.Equal(t, map[string]string{
		"customer_id": "acme", "idempotency_key": msg.Key, "step": "touchpoint:review-30", "kind": "customer", "journey": "j1234",
	}, m.CustomArgs, "the kind and the journey tell the event webhook whose open or click it is")
	assert.Equal(t, map[string]string{
		"List-Unsubscribe":      "<https://lifecycle.example/u/tok123>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
	}, m.Headers)
	assert.Equal(t, []string{"customer", "review"}, m.Categories)

	require.NotEmpty(t, req.MessageID)
	assert.Equal(t, activities.Sent{Key: msg.Key, MessageID: req.MessageID}, sent)
	sentKeys, failed := ledger.state()
	assert.Equal(t, map[string]string{msg.Key: req.MessageID}, sentKeys)
	assert.Empty(t, failed)

	// A team notice: plain text only, no unsubscribe headers.
	notice := activities.Message{Key: "wf-acme/handoff:task", CustomerID: "acme", Step: "handoff:task", Kind: "csm",
		To: activities.Recipient{Name: "Grace", Email: "grace@vendor.example"}, Subject: "Book the handoff", Text: "Why: day 1"}
	_, err = sg.Send(context.Background(), notice)
	require.NoError(t, err)
	got := fake.Accepted()[1]
	assert.Equal(t, []sendgridfake.Content{{Type: "text/plain", Value: "Why: day 1"}}, got.Content)
	assert.Empty(t, got.Headers)
	assert.Equal(t, "csm", got.CustomArgs["kind"], "a team notice says so")
}

func TestSendGridSameKeyTwiceSendsOnce(t *testing.T) {
	fake := sendgridfake.New(t)
	sg := newSendGrid(fake, newLedger())
	msg := customerMessage("wf-acme/welcome")

	first, err := sg.Send(context.Background(), msg)
	require.NoError(t, err)
	second, err := sg.Send(context.Background(), msg)
	require.NoError(t, err)

	assert.False(t, first.Duplicate)
	assert.Equal(t, activities.Sent{Key: msg.Key, MessageID: first.MessageID, Duplicate: true}, second)
	assert.Len(t, fake.Requests(), 1, "the second send never reached SendGrid")
	assert.Len(t, fake.Accepted(), 1)
}

// --- Through Temporal: a one-step workflow with a retry policy ---

var sgActs *activities.Activities

func sendStepWorkflow(ctx workflow.Context, req activities.CustomerEmail) (activities.Sent, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        10 * time.Millisecond,
			BackoffCoefficient:     1,
			MaximumAttempts:        5,
			NonRetryableErrorTypes: []string{activities.PermanentFailureType},
		},
	})
	var sent activities.Sent
	err := workflow.ExecuteActivity(ctx, sgActs.SendCustomerEmail, req).Get(ctx, &sent)
	return sent, err
}

func welcomeEmail(key string) activities.CustomerEmail {
	return activities.CustomerEmail{
		Key: key, CustomerID: "acme", Step: "welcome", Template: "welcome",
		To:   activities.Recipient{Name: "Ada Lovelace", Email: "ada@acme.example"},
		Data: map[string]string{"AccountName": "Acme", "CSMName": "Grace Hopper", "CSMEmail": "grace@vendor.example"},
	}
}

// runStep runs sendStepWorkflow with the real activities around mailer.
func runStep(t *testing.T, mailer activities.Mailer, req activities.CustomerEmail) (activities.Sent, error) {
	t.Helper()
	tpl, err := activities.LoadTemplates("Lifecycle")
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(sendStepWorkflow)
	env.RegisterActivity(&activities.Activities{Mailer: mailer, Templates: tpl})
	env.ExecuteWorkflow(sendStepWorkflow, req)
	require.True(t, env.IsWorkflowCompleted())
	if err := env.GetWorkflowError(); err != nil {
		return activities.Sent{}, err
	}
	var sent activities.Sent
	require.NoError(t, env.GetWorkflowResult(&sent))
	return sent, nil
}

func TestSendGridServerErrorsAreRetriedByTemporal(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	fake.Enqueue(sendgridfake.Answer{Status: 500}, sendgridfake.Answer{Status: 503})

	sent, err := runStep(t, newSendGrid(fake, ledger), welcomeEmail("wf-acme/welcome"))
	require.NoError(t, err)

	reqs := fake.Requests()
	require.Len(t, reqs, 3, "two failed attempts, then the one that worked")
	assert.Equal(t, []int{500, 503, 202}, []int{reqs[0].Status, reqs[1].Status, reqs[2].Status})
	accepted := fake.Accepted()
	require.Len(t, accepted, 1, "one email")
	assert.Equal(t, "Welcome to Lifecycle, Acme", accepted[0].Subject)
	assert.Equal(t, "wf-acme/welcome", accepted[0].CustomArgs["idempotency_key"])
	assert.Equal(t, activities.Sent{Key: "wf-acme/welcome", MessageID: accepted[0].MessageID}, sent)
	sentKeys, _ := ledger.state()
	assert.Equal(t, map[string]string{"wf-acme/welcome": accepted[0].MessageID}, sentKeys)
}

func TestSendGridBadRequestIsPermanent(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	req := welcomeEmail("wf-acme/welcome")
	req.To.Email = "ada.acme.example" // SendGrid answers 400 for it

	_, err := runStep(t, newSendGrid(fake, ledger), req)

	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, activities.PermanentFailureType, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), "personalizations.0.to.0.email: Does not contain a valid address.")
	reqs := fake.Requests()
	require.Len(t, reqs, 1, "not retried")
	assert.Equal(t, 400, reqs[0].Status)
	assert.Empty(t, fake.Accepted())
	sentKeys, failed := ledger.state()
	assert.Empty(t, sentKeys)
	assert.Contains(t, failed["wf-acme/welcome"], "Does not contain a valid address")
}

func TestSendGridRateLimitAsksTemporalToWaitUntilReset(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		reset time.Time
		want  time.Duration
	}{
		{"reset in 2s", now.Add(2 * time.Second), 2 * time.Second},
		{"reset already passed: at least 1s", now.Add(-time.Minute), time.Second},
		{"reset in an hour: at most 10m", now.Add(time.Hour), 10 * time.Minute},
		{"no reset header: the retry policy decides", time.Time{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := sendgridfake.New(t)
			ledger := newLedger()
			sg := newSendGrid(fake, ledger)
			sg.Now = func() time.Time { return now }
			fake.Enqueue(sendgridfake.Answer{Status: 429, RateLimitReset: tc.reset})

			_, err := sg.Send(context.Background(), customerMessage("wf-acme/welcome"))

			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, activities.SendGridRateLimitedType, appErr.Type())
			assert.False(t, appErr.NonRetryable())
			assert.False(t, errors.Is(err, activities.ErrPermanent))
			assert.Equal(t, tc.want, appErr.NextRetryDelay())
			assert.Len(t, fake.Requests(), 1, "sendgrid-go did not retry on its own")
			sentKeys, failed := ledger.state()
			assert.Empty(t, sentKeys)
			assert.Empty(t, failed)
		})
	}

	t.Run("through Temporal: sent once after the wait", func(t *testing.T) {
		fake := sendgridfake.New(t)
		fake.Enqueue(sendgridfake.Answer{Status: 429, RateLimitReset: time.Now().Add(2 * time.Second)})
		sent, err := runStep(t, newSendGrid(fake, newLedger()), welcomeEmail("wf-acme/welcome"))
		require.NoError(t, err)
		assert.Len(t, fake.Requests(), 2)
		require.Len(t, fake.Accepted(), 1)
		assert.Equal(t, fake.Accepted()[0].MessageID, sent.MessageID)
	})
}

// The duplicate window: SendGrid accepted the message but the ledger did
// not record it (here the write fails; a crash at that moment is the same).
// SendGrid has no idempotency key, so the retry cannot know the first send
// went out and sends again: the customer gets the email twice. Each such
// failure costs at most one extra email; this one happens once, so two.
func TestSendGridLedgerWriteFailsAfterAcceptDocumentsTheWindow(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	ledger.failMarkSent = 1

	sent, err := runStep(t, newSendGrid(fake, ledger), welcomeEmail("wf-acme/welcome"))
	require.NoError(t, err)

	accepted := fake.AcceptedWith("idempotency_key", "wf-acme/welcome")
	require.Len(t, accepted, 2, "the known window: accepted, ledger write failed, retried, sent again")
	assert.NotEqual(t, accepted[0].MessageID, accepted[1].MessageID)
	assert.Equal(t, accepted[1].MessageID, sent.MessageID, "the ledger keeps the send that was recorded")
	sentKeys, _ := ledger.state()
	assert.Equal(t, map[string]string{"wf-acme/welcome": accepted[1].MessageID}, sentKeys)
}

// dyingWorker stands in for a worker killed during the first attempt,
// either before it calls the mailer or after the mailer returned (so its
// result never reaches Temporal). Temporal sees that attempt fail (in
// production: time out) and runs the activity again.
type dyingWorker struct {
	activities.Mailer
	afterSend bool

	mu   sync.Mutex
	died bool
}

func (d *dyingWorker) Send(ctx context.Context, m activities.Message) (activities.Sent, error) {
	d.mu.Lock()
	first := !d.died
	d.died = true
	d.mu.Unlock()
	if first && !d.afterSend {
		return activities.Sent{}, errors.New("worker killed before calling SendGrid")
	}
	sent, err := d.Mailer.Send(ctx, m)
	if first && d.afterSend && err == nil {
		return activities.Sent{}, errors.New("worker killed after SendGrid accepted and the ledger was written")
	}
	return sent, err
}

func TestSendGridWorkerKilled(t *testing.T) {
	t.Run("before the call: the retry sends once", func(t *testing.T) {
		fake := sendgridfake.New(t)
		ledger := newLedger()
		sent, err := runStep(t, &dyingWorker{Mailer: newSendGrid(fake, ledger)}, welcomeEmail("wf-acme/welcome"))
		require.NoError(t, err)
		assert.Len(t, fake.Requests(), 1)
		require.Len(t, fake.Accepted(), 1)
		assert.False(t, sent.Duplicate)
		assert.Equal(t, fake.Accepted()[0].MessageID, sent.MessageID)
	})
	t.Run("after accept and ledger write: the retry sends nothing", func(t *testing.T) {
		fake := sendgridfake.New(t)
		ledger := newLedger()
		sent, err := runStep(t, &dyingWorker{Mailer: newSendGrid(fake, ledger), afterSend: true}, welcomeEmail("wf-acme/welcome"))
		require.NoError(t, err)
		assert.Len(t, fake.Requests(), 1, "the retry found the key in the ledger")
		require.Len(t, fake.Accepted(), 1)
		assert.True(t, sent.Duplicate)
		assert.Equal(t, fake.Accepted()[0].MessageID, sent.MessageID)
	})
}

// A request that times out is ambiguous. The fake counts a message only
// when it answered 202, and here the client had gone before the answer, so
// it shows one accepted message. Real SendGrid had the whole request by
// then and may well have queued it: in production the customer may get
// this email twice. That is the same window as a failed ledger write.
func TestSendGridClientTimeoutIsRetryable(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	sg := newSendGrid(fake, ledger)
	sg.Timeout = 200 * time.Millisecond
	fake.Enqueue(sendgridfake.Answer{Status: 202, Delay: 10 * time.Second})
	msg := customerMessage("wf-acme/welcome")

	start := time.Now()
	_, err := sg.Send(context.Background(), msg)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "gave up at the timeout")
	assert.False(t, errors.Is(err, activities.ErrPermanent))
	var appErr *temporal.ApplicationError
	assert.False(t, errors.As(err, &appErr) && appErr.NonRetryable(), "retryable")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	sentKeys, failed := ledger.state()
	assert.Empty(t, sentKeys)
	assert.Empty(t, failed)

	sent, err := sg.Send(context.Background(), msg)
	require.NoError(t, err)
	assert.False(t, sent.Duplicate)

	fake.Close() // waits for the abandoned request's handler
	reqs := fake.Requests()
	require.Len(t, reqs, 2)
	assert.True(t, reqs[0].ClientGone)
	assert.Equal(t, 0, reqs[0].Status, "never answered")
	assert.Equal(t, msg.Key, reqs[0].Mail.CustomArgs["idempotency_key"], "but SendGrid had the full request")
	require.Len(t, fake.Accepted(), 1)
	assert.Equal(t, sent.MessageID, fake.Accepted()[0].MessageID)
}

func TestSendGridSuppressedRecipientIsNotSent(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	ledger.suppressed["ada@acme.example"] = "bounce"
	sg := newSendGrid(fake, ledger)

	_, err := sg.Send(context.Background(), customerMessage("wf-acme/welcome"))

	require.ErrorIs(t, err, activities.ErrPermanent)
	assert.Contains(t, err.Error(), "bounce")
	assert.Empty(t, fake.Requests())
	_, failed := ledger.state()
	assert.Contains(t, failed["wf-acme/welcome"], "suppressed (bounce)")
}

// 401/403 mean our key, its scopes or the sender identity are wrong: every
// email would fail alike, so the send is retried (and logged) rather than
// failing each customer's email for good.
func TestSendGridRejectedKeyIsRetryableAndNeverLogged(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	sg := newSendGrid(fake, ledger)
	fake.SetAPIKey("SG.the-rotated-key")

	_, err := sg.Send(context.Background(), customerMessage("wf-acme/welcome"))

	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.Equal(t, activities.SendGridAccountErrorType, appErr.Type())
	assert.False(t, appErr.NonRetryable())
	assert.False(t, errors.Is(err, activities.ErrPermanent))
	assert.Contains(t, err.Error(), "The provided authorization grant is invalid")
	assert.NotContains(t, err.Error(), apiKey)
	assert.Equal(t, 401, fake.Requests()[0].Status)
	sentKeys, failed := ledger.state()
	assert.Empty(t, sentKeys)
	assert.Empty(t, failed)
}

func TestSendGridConcurrentSends(t *testing.T) {
	fake := sendgridfake.New(t)
	ledger := newLedger()
	sg := newSendGrid(fake, ledger)

	const n = 20
	var wg sync.WaitGroup
	results := make([]activities.Sent, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := customerMessage(fmt.Sprintf("wf-%02d/welcome", i))
			msg.To.Email = fmt.Sprintf("champion%02d@acme.example", i)
			results[i], errs[i] = sg.Send(context.Background(), msg)
		}()
	}
	wg.Wait()

	ids := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		assert.False(t, results[i].Duplicate)
		ids[results[i].MessageID] = true
		key := fmt.Sprintf("wf-%02d/welcome", i)
		got := fake.AcceptedWith("idempotency_key", key)
		require.Len(t, got, 1, key)
		assert.Equal(t, fmt.Sprintf("champion%02d@acme.example", i), got[0].Personalizations[0].To[0].Email)
	}
	assert.Len(t, fake.Accepted(), n)
	assert.Len(t, ids, n, "one message id per email")
	sentKeys, _ := ledger.state()
	assert.Len(t, sentKeys, n)
}
