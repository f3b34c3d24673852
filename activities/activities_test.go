package activities_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

func templates(t *testing.T) *activities.Templates {
	t.Helper()
	tpl, err := activities.LoadTemplates("Lifecycle")
	require.NoError(t, err)
	return tpl
}

// Every template a playbook may name exists, and renders with the fields the
// journey passes.
func TestEveryPlaybookTemplateRenders(t *testing.T) {
	tpl := templates(t)
	data := map[string]string{
		"AccountName": "Acme", "CSMName": "Grace Hopper", "CSMEmail": "grace@vendor.example", "Day": "30",
		"Title": "30-day review", "DueDay": "21", "Deliverables": "SSO configured", "RenewalDate": "2027-01-05", "DaysBefore": "30",
	}
	actions := []activities.Action{{ID: "on_track", Label: "I'm on track", URL: "https://cs.example/a/tok1"}}
	for _, name := range playbooks.CustomerTemplates {
		email, err := tpl.RenderEmail(name, activities.Recipient{Name: "Ada Lovelace", Email: "ada@acme.example"}, data, actions, "https://cs.example/a/unsub")
		require.NoError(t, err, name)
		assert.NotEmpty(t, email.Subject, name)
		assert.Contains(t, email.Text, "Hi Ada,", name)
		assert.Contains(t, email.Text, "I'm on track: https://cs.example/a/tok1", name)
		assert.NotContains(t, email.Subject+email.Text+email.HTML, "<no value>", name)
		assert.Contains(t, email.HTML, `<a href="https://cs.example/a/tok1"`, name)
		assert.Contains(t, email.HTML, "I&#39;m on track", name, "labels are escaped")
		assert.Contains(t, email.HTML, `href="https://cs.example/a/unsub"`, name)
		assert.Contains(t, email.HTML, "<p style=\"margin:0 0 14px\">Hi Ada,</p>", name)
	}
	entries, err := os.ReadDir("templates")
	require.NoError(t, err)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".txt") {
			continue
		}
		name := strings.TrimSuffix(e.Name(), ".txt")
		assert.True(t, slices.Contains(playbooks.CustomerTemplates, name), "template %s is not in playbooks.CustomerTemplates", name)
	}
}

func TestHTMLEscapesCustomerData(t *testing.T) {
	data := map[string]string{"AccountName": "<script>alert(1)</script>", "CSMName": "Grace", "CSMEmail": "g@v.example"}
	email, err := templates(t).RenderEmail("welcome", activities.Recipient{Name: "Ada"}, data, nil, "")
	require.NoError(t, err)
	assert.NotContains(t, email.HTML, "<script>")
	assert.Contains(t, email.HTML, "&lt;script&gt;")
}

func TestMissingFieldFailsTheRender(t *testing.T) {
	_, _, err := templates(t).Render("renewal_reminder", activities.Recipient{Name: "Ada"}, map[string]string{"AccountName": "Acme", "CSMName": "Grace"})
	require.ErrorContains(t, err, "RenewalDate")
}

func newOutbox(t *testing.T) (*activities.Outbox, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return activities.NewOutbox(st), st
}

func TestOutboxWritesEachKeyOnce(t *testing.T) {
	box, st := newOutbox(t)
	var err error
	msg := activities.Message{
		Key: "customer:acme/touchpoint:review-30", CustomerID: "acme", Step: "touchpoint:review-30", Kind: "customer",
		Template: "review", To: activities.Recipient{Name: "Ada Lovelace", Email: "ada@acme.example"},
		Subject: "Your 30-day review", Text: "Hi Ada,\n\nBook it.\n", HTML: "<p>Hi Ada,</p>",
		Actions:      []activities.Action{{ID: "book_review", Label: "Book the review"}},
		ScheduledFor: time.Date(2026, 2, 4, 9, 0, 0, 0, time.UTC),
	}
	var wg sync.WaitGroup
	results := make([]activities.Sent, 20)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sendErr error
			results[i], sendErr = box.Send(context.Background(), msg)
			assert.NoError(t, sendErr)
		}()
	}
	wg.Wait()
	fresh := 0
	for _, r := range results {
		if !r.Duplicate {
			fresh++
		}
	}
	assert.Equal(t, 1, fresh, "twenty racing sends of one key: one email")

	msgs, err := box.List(context.Background())
	require.NoError(t, err)
	require.Len(t, msgs, 1)
	got := msgs[0]
	assert.Equal(t, msg.HTML, got.HTML)
	assert.Equal(t, msg.Key, got.Key)
	assert.Equal(t, msg.To, got.To)
	assert.Equal(t, msg.Subject, got.Subject)
	assert.Equal(t, msg.Text, got.Text)
	assert.Equal(t, msg.Actions, got.Actions)
	assert.Equal(t, msg.ScheduledFor, got.ScheduledFor)

	require.NoError(t, st.Suppress(context.Background(), "ADA@acme.example", "bounce", time.Now()))
	msg.Key = "customer:acme/touchpoint:review-60"
	_, err = box.Send(context.Background(), msg)
	assert.ErrorIs(t, err, activities.ErrPermanent, "a suppressed address is a permanent failure")
}

type failingMailer struct{ err error }

func (f failingMailer) Send(context.Context, activities.Message) (activities.Sent, error) {
	return activities.Sent{}, f.err
}

func TestPermanentFailuresAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mailer    activities.Mailer
		template  string
		retryable bool
	}{
		{"unknown template", failingMailer{}, "nope", false},
		{"permanent mailer error", failingMailer{fmt.Errorf("400 bad address: %w", activities.ErrPermanent)}, "welcome", false},
		{"transient mailer error", failingMailer{errors.New("connection reset")}, "welcome", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var suite testsuite.WorkflowTestSuite
			env := suite.NewTestActivityEnvironment()
			a := &activities.Activities{Mailer: tc.mailer, Templates: templates(t)}
			env.RegisterActivity(a)
			_, err := env.ExecuteActivity(a.SendCustomerEmail, activities.CustomerEmail{
				Key: "k", To: activities.Recipient{Name: "Ada", Email: "ada@acme.example"}, Template: tc.template,
				Data: map[string]string{"AccountName": "Acme", "CSMName": "Grace", "CSMEmail": "g@v.example"},
			})
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr), "%v", err)
			assert.Equal(t, tc.retryable, !appErr.NonRetryable(), err.Error())
		})
	}
}

func TestTeamNoticeGoesThroughTheMailer(t *testing.T) {
	box, _ := newOutbox(t)
	var err error
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a := &activities.Activities{Mailer: box, Templates: templates(t)}
	env.RegisterActivity(a)
	notice := activities.TeamNotice{Key: "customer:acme/handoff:escalation", Role: activities.RoleManager,
		To: activities.Recipient{Name: "CS manager", Email: "m@vendor.example"}, Subject: "Handoff not held", Body: "Why: day 5"}
	for range 2 {
		_, err = env.ExecuteActivity(a.NotifyTeam, notice)
		require.NoError(t, err)
	}
	msgs, err := box.List(context.Background())
	require.NoError(t, err)
	require.Len(t, msgs, 1, "a retried notice is not sent twice")
	assert.Equal(t, "manager", msgs[0].Kind)
}

// A customer email's links carry its journey (chapter): a returning
// customer's links are the new journey's own; a first journey's have none.
func TestCustomerEmailLinksNameTheJourney(t *testing.T) {
	box := &recordingMailer{}
	signer, err := links.NewSigner("a-secret-of-16-chars", "https://cs.example", time.Hour, nil)
	require.NoError(t, err)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a := &activities.Activities{Mailer: box, Templates: templates(t), Links: signer}
	env.RegisterActivity(a)
	for _, journey := range []string{"", "j2"} {
		_, err := env.ExecuteActivity(a.SendCustomerEmail, activities.CustomerEmail{
			Key: "customer:acme/" + journey + "/handoff:welcome", CustomerID: "acme", Journey: journey, Step: "handoff:welcome",
			To: activities.Recipient{Name: "Ada", Email: "ada@acme.example"}, Template: "welcome",
			Data:    map[string]string{"AccountName": "Acme", "CSMName": "Grace", "CSMEmail": "g@v.example"},
			Actions: []activities.Action{{ID: "book_handoff", Label: "Book your handoff call"}},
		})
		require.NoError(t, err)
	}
	msgs := box.sent
	require.Len(t, msgs, 2)
	uses := map[string]bool{}
	for _, m := range msgs {
		journey := strings.Split(m.Key, "/")[1]
		for _, u := range []string{m.Actions[0].URL, m.UnsubscribeURL} {
			tok, ok := strings.CutPrefix(u, "https://cs.example/a/")
			require.True(t, ok, u)
			c, err := signer.Parse(tok)
			require.NoError(t, err)
			assert.Equal(t, journey, c.Journey, m.Key)
			assert.Equal(t, "ada@acme.example", c.Email)
			if c.Action == "book_handoff" {
				uses[c.UseID()] = true
			}
		}
	}
	assert.Len(t, uses, 2, "the second journey's booking link is not used up by the first's")
}

type recordingMailer struct {
	mu   sync.Mutex
	sent []activities.Message
}

func (r *recordingMailer) Send(_ context.Context, m activities.Message) (activities.Sent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return activities.Sent{Key: m.Key, MessageID: m.Key}, nil
}
