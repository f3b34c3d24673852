package e2e

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/sendgridfake"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The journey's promises on a real (embedded) Temporal server, through the
// HTTP API: a failing mailbox stalls nothing, the state and the listing are
// true when read, an oversized request breaks nothing, and a returning
// customer's journey is its own.

const (
	trustSales = "sales-key-trust-0123456789"
	trustCSM   = "csm-key-trust-0123456789ab"
	trustAdmin = "admin-key-trust-0123456789"
	trustLink  = "a-link-secret-for-the-trust-tests"
)

type trustEnv struct {
	c      client.Client
	st     *store.Store
	signer *links.Signer
	sales  httpAPI
	csm    httpAPI
	admin  httpAPI
	base   string
}

// newTrustEnv runs an embedded server, a worker sending through mailer
// (the outbox when nil) and the API, with days of the given length.
func newTrustEnv(t *testing.T, pb *playbooks.Playbook, day time.Duration, mailer func(st *store.Store) activities.Mailer) *trustEnv {
	return newTrustEnvWith(t, pb, day, func(st *store.Store, acts *activities.Activities, _ *apiserver.Options) {
		if mailer != nil {
			acts.Mailer = mailer(st)
		}
	})
}

// newTrustEnvWith is newTrustEnv whose worker activities and API options
// adjust can change before they start (opts has the client and namespace).
func newTrustEnvWith(t *testing.T, pb *playbooks.Playbook, day time.Duration, adjust func(st *store.Store, acts *activities.Activities, opts *apiserver.Options)) *trustEnv {
	t.Helper()
	ts, c := embedded(t, client.Options{})
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	tpl, err := activities.LoadTemplates(worker.Product)
	require.NoError(t, err)
	signer, err := links.NewSigner(trustLink, "http://lifecycle.test", time.Hour, nil)
	require.NoError(t, err)
	acts := &activities.Activities{Templates: tpl, Mailer: activities.NewOutbox(st), Links: signer}
	opts := apiserver.Options{
		Client: c, Namespace: ts.GetDefaultNamespace(), Playbook: pb, DayLength: day, Logger: zap.NewNop(),
		APIKeys: map[string]string{trustSales: "sales", trustCSM: "csm", trustAdmin: "admin"},
		Links:   signer, Store: st, Outbox: st,
	}
	adjust(st, acts, &opts)
	ts.NewWorker(workflows.TaskQueue, func(r sdkworker.Registry) { worker.Register(r, acts) })
	srv := httptest.NewServer(apiserver.New(opts).Handler())
	t.Cleanup(srv.Close)
	return &trustEnv{c: c, st: st, signer: signer, base: srv.URL,
		sales: httpAPI{srv.URL, trustSales}, csm: httpAPI{srv.URL, trustCSM}, admin: httpAPI{srv.URL, trustAdmin}}
}

func deal(id, dealID string) map[string]any {
	return map[string]any{
		"account":       map[string]any{"id": id, "name": "Trust Co", "plan": "pro", "renewal_date": time.Now().AddDate(1, 0, 0).Format(time.DateOnly)},
		"champion":      map[string]any{"name": "Ada Lovelace", "email": "ada@" + id + ".example", "time_zone": "UTC"},
		"csm":           map[string]any{"name": "Grace Hopper", "email": "grace@vendor.example"},
		"manager_email": "manager@vendor.example", "sponsor_email": "vp@vendor.example", "deal_id": dealID,
	}
}

func (e *trustEnv) start(t *testing.T, id, dealID string) {
	t.Helper()
	status, err := e.sales.do(http.MethodPost, "/v1/customers", deal(id, dealID), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)
}

func (e *trustEnv) state(t *testing.T, id string) workflows.State {
	t.Helper()
	var s workflows.State
	status, err := e.csm.do(http.MethodGet, "/v1/customers/"+id, nil, &s)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	return s
}

func TestFailingMailboxStallsNothingOnARealServer(t *testing.T) {
	fake := sendgridfake.New(t)
	fake.FailFor("ada@mailbox-co.example", http.StatusInternalServerError)
	pb := playbooks.Default()
	const day = 5 * time.Second
	e := newTrustEnv(t, pb, day, func(st *store.Store) activities.Mailer {
		return &activities.SendGrid{
			APIKey: fake.APIKey(), BaseURL: fake.URL(), From: activities.Recipient{Name: "CS", Email: "cs@vendor.example"},
			Timeout: 5 * time.Second, Ledger: activities.StoreLedger{Store: st}, Suppressions: st,
		}
	})
	// Started as the API starts it, with a 10 s delivery window (the least
	// is 70 s, for a worker lost mid-send; a test need not wait that long).
	in := workflows.JourneyInput{
		Account:      workflows.Account{ID: "mailbox-co", Name: "Mailbox Co", Plan: "pro", RenewalDate: time.Now().AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@mailbox-co.example", TimeZone: "UTC"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example", SponsorEmail: "vp@vendor.example", DealID: "deal-m1",
		Playbook: pb, DayLength: day, MinDeliveryWindow: 2 * day,
	}
	_, err := e.c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
		ID: workflows.WorkflowID("mailbox-co"), TaskQueue: workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
	}, workflows.CustomerLifecycle, in)
	require.NoError(t, err)
	status, err := e.csm.do(http.MethodPost, "/v1/customers/mailbox-co/complaints",
		map[string]any{"severity": "critical", "summary": "Nothing loads since the upgrade"}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)

	to := func(step string) []string {
		var out []string
		for _, m := range fake.AcceptedWith("step", step) {
			for _, p := range m.Personalizations {
				for _, a := range p.To {
					out = append(out, a.Email)
				}
			}
		}
		return out
	}
	// Critical: SLA one day (the manager), the sponsor a day later; the
	// welcome keeps failing all the while, and is given up after two days.
	waitFor(t, "the CSM's complaint task", 10*time.Second, func() bool { return len(to("complaint:c1:csm")) == 1 })
	waitFor(t, "the manager at the SLA", 30*time.Second, func() bool { return len(to("complaint:c1:sla")) == 1 })
	waitFor(t, "the sponsor a day past the SLA", 30*time.Second, func() bool { return len(to("complaint:c1:sponsor")) == 1 })
	assert.Equal(t, []string{"grace@vendor.example"}, to("complaint:c1:csm"))
	assert.Equal(t, []string{"manager@vendor.example"}, to("complaint:c1:sla"))
	assert.Equal(t, []string{"vp@vendor.example"}, to("complaint:c1:sponsor"))
	waitFor(t, "the failed welcome handed to the CSM", 30*time.Second, func() bool { return len(to("handoff:welcome:failed")) == 1 })
	assert.Equal(t, []string{"grace@vendor.example"}, to("handoff:welcome:failed"))
	assert.Empty(t, to("handoff:welcome"), "the welcome never got through")

	var tl workflows.Timeline
	_, err = e.csm.do(http.MethodGet, "/v1/customers/mailbox-co/timeline", nil, &tl)
	require.NoError(t, err)
	var failed *workflows.Entry
	for i, en := range tl.Entries {
		if en.Step == "handoff:welcome:failed" && en.Kind == workflows.EntrySystem {
			failed = &tl.Entries[i]
		}
	}
	require.NotNil(t, failed, "the failure is on the timeline")
	assert.Contains(t, failed.Cause, "delivery deadline")
	assert.InDelta(t, pb.GiveUpAfterDays(), failed.Day, 1, "given up at the playbook's deadline, not before")
	st := e.state(t, "mailbox-co")
	assert.GreaterOrEqual(t, st.Failures, 1, "the welcome, and the champion's later emails as they reach their deadlines")
}

func TestStateAndListingAreTrueWhenRead(t *testing.T) {
	pb := playbooks.Default()
	pb.Touchpoints = nil
	pb.Milestones = pb.Milestones[len(pb.Milestones)-1:] // nothing scheduled before day 85
	pb.Scoring.InitialHappiness = 90                     // happy despite silence: red only at 21 days
	const day = time.Second
	e := newTrustEnv(t, pb, day, nil)
	e.start(t, "live-co", "deal-l1")
	status, err := e.csm.do(http.MethodPost, "/v1/customers/live-co/outcomes", map[string]any{"kind": "handoff_held"}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	began := time.Now()
	status, err = e.csm.do(http.MethodPost, "/v1/customers/live-co/outcomes", map[string]any{"kind": "meeting_held"}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)

	listed := func(filter, value string) bool {
		var page struct {
			Customers []workflows.Listing `json:"customers"`
		}
		q := url.Values{filter: {value}}
		status, err := e.csm.do(http.MethodGet, "/v1/customers?"+q.Encode(), nil, &page)
		if err != nil || status != http.StatusOK {
			return false
		}
		for _, l := range page.Customers {
			if l.CustomerID == "live-co" {
				return true
			}
		}
		return false
	}
	// Engagement 50 decays below the engaged threshold within the first
	// day, with no step due: the journey wakes for it and the listing moves
	// the customer from champion to quiet.
	waitFor(t, "the listing to show live-co quiet", 5*day, func() bool { return listed("quadrant", workflows.QuadrantQuiet) })

	// The journey's last wake-up is within the first day (when its
	// engagement of 50 decays below the engaged threshold); nothing is due
	// until day 14. Read at day 7.5: the state says day 7, and engagement
	// decayed for as long.
	time.Sleep(time.Until(began.Add(7*day + day/2)))
	s := e.state(t, "live-co")
	elapsed := time.Since(began).Seconds() / day.Seconds()
	assert.Equal(t, 7, s.Day, "the day as of reading, not of the last wake-up")
	assert.InDelta(t, 50*math.Pow(0.5, elapsed/14), s.Scores.Engagement, 2, "engagement decayed for %.1f days", elapsed)
	assert.Less(t, s.Scores.Engagement, 45)
	assert.WithinDuration(t, time.Now(), s.AsOf, 5*time.Second)

	// Silence crosses 21 days with nothing else to wake for: the listing
	// says red within a minute of it (here: of 21 one-second days).
	crossing := began.Add(21 * day)
	waitFor(t, "the listing to show live-co red", time.Until(crossing)+time.Minute, func() bool { return listed("health", workflows.HealthRed) })
	assert.True(t, time.Now().After(crossing.Add(-2*day)), "red at the crossing, not before")
	t.Logf("listed red %.1fs after the 21-day crossing", time.Since(crossing).Seconds())
}

func TestOversizedRequestsLeaveTheJourneyWorking(t *testing.T) {
	e := newTrustEnv(t, playbooks.Default(), time.Hour, nil)
	e.start(t, "size-co", "deal-s1")
	var body map[string]any
	status, err := e.csm.do(http.MethodPost, "/v1/customers/size-co/reassign", map[string]any{
		"csm": map[string]any{"name": "Bob", "email": strings.Repeat("b", 3000) + "@vendor.example"}}, &body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Contains(t, body["error"].(map[string]any)["field"], "csm.email", "%v", body)
	for range 3 {
		status, err = e.csm.do(http.MethodPost, "/v1/customers/size-co/pause", map[string]any{"reason": strings.Repeat("r", workflows.MaxTextLen+1)}, &body)
		require.NoError(t, err)
		assert.Equal(t, http.StatusUnprocessableEntity, status)
		assert.Contains(t, body["error"].(map[string]any)["field"], "reason", "%v", body)
	}
	status, err = e.csm.do(http.MethodPost, "/v1/customers/size-co/events", map[string]any{"id": "after", "type": "login"}, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusForbidden, status, "events are the integration role's")
	status, err = e.csm.do(http.MethodPost, "/v1/customers/size-co/outcomes", map[string]any{"kind": "meeting_held"}, nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, status, "the journey still answers")
	s := e.state(t, "size-co")
	assert.Equal(t, "grace@vendor.example", s.CSM.Email)
	assert.False(t, s.Paused)
}

func TestReturningCustomerIsANewChapter(t *testing.T) {
	e := newTrustEnv(t, playbooks.Default(), time.Hour, nil)
	e.start(t, "back-co", "deal-b1")
	welcomes := func() []store.OutboxMessage {
		msgs, err := e.st.OutboxList(context.Background(), "back-co", 100)
		require.NoError(t, err)
		var out []store.OutboxMessage
		for _, m := range msgs {
			if m.Step == "handoff:welcome" {
				out = append(out, m)
			}
		}
		return out
	}
	waitFor(t, "the first welcome", 15*time.Second, func() bool { return len(welcomes()) == 1 })
	status, err := e.csm.do(http.MethodPost, "/v1/customers/back-co/outcomes", map[string]any{"kind": "churned", "note": "budget cut"}, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	waitFor(t, "the first journey to end", 15*time.Second, func() bool {
		d, err := e.c.DescribeWorkflowExecution(context.Background(), workflows.WorkflowID("back-co"), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})

	status, err = e.sales.do(http.MethodPost, "/v1/customers", deal("back-co", "deal-b1"), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusConflict, status, "the old deal replayed starts nothing")
	e.start(t, "back-co", "deal-b2")
	waitFor(t, "the second journey's welcome", 15*time.Second, func() bool { return len(welcomes()) == 2 })
	w := welcomes()
	assert.NotEqual(t, w[0].Key, w[1].Key, "each journey's welcome has its own key")

	// The new welcome's link acts on the new journey.
	var second store.OutboxMessage
	journey := e.state(t, "back-co").Journey
	require.NotEmpty(t, journey)
	for _, m := range w {
		if strings.Contains(m.Key, "/"+journey+"/") {
			second = m
		}
	}
	require.NotEmpty(t, second.Key, "the new journey's welcome is keyed by it")
	resp, err := http.Post(e.base+"/a/"+actionToken(t, second.Text, "Book your handoff call"), "application/x-www-form-urlencoded", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	waitFor(t, "the booking on the new journey", 10*time.Second, func() bool {
		return !e.state(t, "back-co").Handoff.BookedAt.IsZero()
	})
}

// actionToken finds the token of an action link in a text email, by the
// button's label ("Label: http://host/a/TOKEN").
func actionToken(t *testing.T, text, label string) string {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), label+": "); ok {
			if _, token, ok := strings.Cut(rest, "/a/"); ok {
				return strings.TrimSpace(token)
			}
		}
	}
	t.Fatalf("no %q link in:\n%s", label, text)
	return ""
}
