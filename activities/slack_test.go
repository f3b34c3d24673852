package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/worker"
)

// The webhooks' paths carry a secret, as Slack's do.
const (
	secret     = "XXsecretXXsecretXXsecretXX"
	teamPath   = "/services/T0/B1/team" + secret
	gracePath  = "/services/T0/B2/grace" + secret
	rolePath   = "/services/T0/B3/managers" + secret
	ownerEmail = "grace@vendor.example"
)

// slackPost is what the fake incoming webhook received.
type slackPost struct {
	Text   string `json:"text"`
	Blocks []struct {
		Type     string `json:"type"`
		Text     *slackText
		Elements []struct {
			Type string    `json:"type"`
			Text slackText `json:"text"`
			URL  string    `json:"url"`
		} `json:"elements"`
	} `json:"blocks"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackFake is an incoming webhook on loopback that refuses what Slack
// refuses: not a JSON POST, no text, unknown blocks or text objects, over
// Slack's limits, and (stricter than Slack, which would show it wrong) an
// unescaped &, < or > in mrkdwn. It answers status and reply once the
// message passes.
type slackFake struct {
	t      *testing.T
	mu     sync.Mutex
	posts  map[string][]slackPost // by path: which webhook
	tries  int
	status int
	reply  string
	header map[string]string
}

func newSlackFake(t *testing.T) (*slackFake, *httptest.Server) {
	f := &slackFake{t: t, posts: map[string][]slackPost{}, status: http.StatusOK, reply: "ok"}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

// markup is what may follow an & or a < in what we send: Slack's three
// entities, and the date sequence of a due time.
var markup = regexp.MustCompile(`&(amp|lt|gt);|<!date\^\d+\^[^|>]+\|[^<>]+>`)

func (f *slackFake) invalid(msg slackPost) string {
	escaped := func(s string) bool {
		rest := markup.ReplaceAllString(s, "")
		return !strings.ContainsAny(rest, "&<>")
	}
	switch {
	case msg.Text == "":
		return "no_text"
	case !escaped(msg.Text):
		return "fallback text not escaped: " + msg.Text
	case len(msg.Blocks) == 0 || len(msg.Blocks) > 50:
		return "invalid_blocks: count"
	}
	for _, b := range msg.Blocks {
		switch b.Type {
		case "section":
			if b.Text == nil {
				return "invalid_blocks: section without text"
			}
			n := utf8.RuneCountInString(b.Text.Text)
			if b.Text.Type != "mrkdwn" || n == 0 || n > 3000 {
				return fmt.Sprintf("invalid_blocks: section text %q of %d", b.Text.Type, n)
			}
			if !escaped(b.Text.Text) {
				return "section not escaped: " + b.Text.Text
			}
		case "actions":
			if len(b.Elements) == 0 || len(b.Elements) > 25 {
				return "invalid_blocks: elements"
			}
			for _, e := range b.Elements {
				n := utf8.RuneCountInString(e.Text.Text)
				if e.Type != "button" || e.Text.Type != "plain_text" || n == 0 || n > 75 ||
					!strings.HasPrefix(e.URL, "https://") || len(e.URL) > 3000 {
					return "invalid_blocks: button"
				}
			}
		default:
			return "invalid_blocks: type " + b.Type
		}
	}
	return ""
}

func (f *slackFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	var msg slackPost
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &msg) != nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if why := f.invalid(msg); why != "" {
		f.t.Errorf("Slack would refuse or misshow this message: %s", why)
		http.Error(w, "invalid_blocks", http.StatusBadRequest)
		return
	}
	for k, v := range f.header {
		w.Header().Set(k, v)
	}
	if f.status != http.StatusOK {
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, f.reply)
		return
	}
	f.posts[r.URL.Path] = append(f.posts[r.URL.Path], msg)
	_, _ = io.WriteString(w, "ok")
}

func (f *slackFake) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.posts[path])
}

func (f *slackFake) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, p := range f.posts {
		n += len(p)
	}
	return n
}

func (f *slackFake) answer(status int, reply string, header map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.reply, f.header = status, reply, header
}

// slackActs is activities with Slack pointed at the fake, a store's
// ledger, and a log the test can read.
func slackActs(t *testing.T, srv *httptest.Server) (*activities.Activities, *testsuite.TestActivityEnvironment, *bytes.Buffer) {
	t.Helper()
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	a := &activities.Activities{Slack: &activities.Slack{
		Team:      srv.URL + teamPath,
		People:    map[string]string{ownerEmail: srv.URL + gracePath},
		Roles:     map[string]string{activities.RoleManager: srv.URL + rolePath},
		PublicURL: "https://cs.example/", Client: srv.Client(), Ledger: activities.StoreLedger{Store: st},
	}}
	var logs bytes.Buffer
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	return a, env, &logs
}

func notice(key, role, owner string) activities.SlackNotice {
	return activities.SlackNotice{
		Key: key, CustomerID: "acme corp", Account: "Acme <Corp> & Sons", Event: activities.SlackTaskCreated,
		Role: role, Owner: owner, Title: `Milestone "Kickoff" is late <!channel>`, Text: "Due day 10. <script> & more",
		Due: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), ScheduledFor: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
	}
}

func post(t *testing.T, env *testsuite.TestActivityEnvironment, a *activities.Activities, n activities.SlackNotice) (activities.Sent, error) {
	t.Helper()
	val, err := env.ExecuteActivity(a.PostSlack, n)
	if err != nil {
		return activities.Sent{}, err
	}
	var s activities.Sent
	require.NoError(t, val.Get(&s))
	return s, nil
}

func TestSlackNoticeIsInSlacksFormat(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env, logs := slackActs(t, srv)
	sent, err := post(t, env, a, notice("k1", activities.RoleCSM, ownerEmail))
	require.NoError(t, err)
	assert.Equal(t, activities.Sent{Key: "k1", MessageID: "slack"}, sent)
	require.Equal(t, 1, fake.count(gracePath))

	msg := fake.posts[gracePath][0]
	assert.Equal(t, `New task: Milestone "Kickoff" is late &lt;!channel&gt; (Acme &lt;Corp&gt; &amp; Sons)`, msg.Text,
		"the fallback is escaped too: no @channel from a title")
	require.Len(t, msg.Blocks, 2)
	assert.Equal(t, "section", msg.Blocks[0].Type)
	assert.Equal(t, "*New task: Milestone \"Kickoff\" is late &lt;!channel&gt;*\n"+
		"Acme &lt;Corp&gt; &amp; Sons · due <!date^1796374800^{date_short_pretty} {time}|2026-12-04 09:00 UTC>\n"+
		"Due day 10. &lt;script&gt; &amp; more", msg.Blocks[0].Text.Text)
	assert.Equal(t, "actions", msg.Blocks[1].Type)
	require.Len(t, msg.Blocks[1].Elements, 1)
	button := msg.Blocks[1].Elements[0]
	assert.Equal(t, "button", button.Type)
	assert.Equal(t, slackText{Type: "plain_text", Text: "Open customer page"}, button.Text)
	assert.Equal(t, "https://cs.example/ui/customers/acme%20corp", button.URL)

	assert.Contains(t, logs.String(), "slack notice posted")
	assert.Contains(t, logs.String(), "webhook=person")
	assert.NotContains(t, logs.String(), secret, "a webhook URL is a secret: never logged")

	// Each event leads with its own word; no due time, no due line.
	for event, lead := range map[string]string{
		activities.SlackTaskOverdue: "Overdue task", activities.SlackEscalation: "Escalation", activities.SlackComplaint: "Complaint",
	} {
		n := notice("k-"+event, activities.RoleCSM, ownerEmail)
		n.Event, n.Due, n.Account, n.Title = event, time.Time{}, "Acme", "Renewal"
		_, err := post(t, env, a, n)
		require.NoError(t, err)
		got := fake.posts[gracePath][len(fake.posts[gracePath])-1]
		assert.Equal(t, lead+": Renewal (Acme)", got.Text)
		assert.True(t, strings.HasPrefix(got.Blocks[0].Text.Text, "*"+lead+": Renewal*\nAcme\n"), got.Blocks[0].Text.Text)
	}
}

func TestSlackNoticeGoesToThePersonThenTheRoleThenTheTeam(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env, _ := slackActs(t, srv)
	for _, tc := range []struct {
		name, role, owner, want string
	}{
		{"the owner's own webhook, whatever the email's case", activities.RoleCSM, " Grace@Vendor.example ", gracePath},
		{"the person's own wins over the role's", activities.RoleManager, ownerEmail, gracePath},
		{"no webhook of one's own: the role's", activities.RoleManager, "mo@vendor.example", rolePath},
		{"no owner: the role's", activities.RoleManager, "", rolePath},
		{"neither: the team's", activities.RoleSponsor, "vp@vendor.example", teamPath},
	} {
		before := fake.count(tc.want)
		_, err := post(t, env, a, notice("k-"+tc.name, tc.role, tc.owner))
		require.NoError(t, err)
		assert.Equal(t, before+1, fake.count(tc.want), tc.name)
	}
	assert.Equal(t, 5, fake.total(), "each notice posted to one webhook")

	// No team webhook: a notice with no webhook of its own is not posted,
	// and that is no error (Slack is optional, person by person).
	a.Slack.Team = ""
	sent, err := post(t, env, a, notice("k-nobody", activities.RoleSponsor, "vp@vendor.example"))
	require.NoError(t, err)
	assert.Equal(t, activities.Sent{}, sent)
	assert.Equal(t, 5, fake.total())

	// No Slack on the worker at all: email only.
	sent, err = (&activities.Activities{}).PostSlack(context.Background(), notice("k-off", activities.RoleCSM, ownerEmail))
	require.NoError(t, err)
	assert.Equal(t, activities.Sent{}, sent)
}

func TestSlackNoticeIsPostedOncePerKey(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env, _ := slackActs(t, srv)
	n := notice("customer:acme/j1/milestone:kickoff:late-2:slack", activities.RoleCSM, ownerEmail)
	first, err := post(t, env, a, n)
	require.NoError(t, err)
	assert.False(t, first.Duplicate)
	for range 2 {
		again, err := post(t, env, a, n)
		require.NoError(t, err)
		assert.Equal(t, activities.Sent{Key: n.Key, MessageID: "slack", Duplicate: true}, again)
	}
	assert.Equal(t, 1, fake.count(gracePath), "the same key posts once")

	// A failed attempt is not a post: its retry posts, once.
	n.Key = "customer:acme/j1/handoff:opened:slack"
	fake.answer(http.StatusInternalServerError, "rollup_error", nil)
	_, err = post(t, env, a, n)
	require.Error(t, err)
	fake.answer(http.StatusOK, "ok", nil)
	for range 2 {
		_, err = post(t, env, a, n)
		require.NoError(t, err)
	}
	assert.Equal(t, 2, fake.count(gracePath))

	// A notice without a key could not be kept to once: refused, unposted.
	n.Key = ""
	_, err = post(t, env, a, n)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable())
	a.Slack.Ledger = nil
	n.Key = "no-ledger"
	_, err = post(t, env, a, n)
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable(), "no ledger, no exactly-once: a misconfiguration")
	assert.Equal(t, 2, fake.count(gracePath))
}

func TestSlackLimitsAreKept(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env, _ := slackActs(t, srv)
	// Escaping makes each & five characters: clipped after escaping, and
	// never inside an entity (the fake refuses a broken one).
	n := notice("long", activities.RoleCSM, ownerEmail)
	n.Title, n.Account, n.Text = strings.Repeat("<", 300), strings.Repeat("A&", 400), strings.Repeat("é&", 1000)
	_, err := post(t, env, a, n)
	require.NoError(t, err, "clipped to Slack's limits, not refused")
	require.Equal(t, 1, fake.count(gracePath))
	section := fake.posts[gracePath][0].Blocks[0].Text.Text
	assert.LessOrEqual(t, utf8.RuneCountInString(section), 3000)
	assert.True(t, strings.HasSuffix(section, "…"), "clipped visibly")

	// Wherever the 3,000th character falls in an entity, the section stays
	// within the limit and whole.
	for k := range 5 {
		n.Key, n.Title, n.Account, n.Text = fmt.Sprint("edge", k), "T", "A", strings.Repeat("a", k)+strings.Repeat("&", 2000)
		_, err := post(t, env, a, n)
		require.NoError(t, err)
		got := fake.posts[gracePath][len(fake.posts[gracePath])-1].Blocks[0].Text.Text
		assert.LessOrEqual(t, utf8.RuneCountInString(got), 3000)
		assert.Greater(t, utf8.RuneCountInString(got), 2990, "clipped no more than an entity short")
		assert.True(t, strings.HasSuffix(got, "&amp;…"), got[len(got)-20:])
	}

	// A line break in a title would end the bold: titles stay on one line.
	n.Key, n.Title, n.Account, n.Text = "lines", "Kickoff\nlate", "Acme", ""
	_, err = post(t, env, a, n)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(fake.posts[gracePath][6].Blocks[0].Text.Text, "*New task: Kickoff late*\nAcme"))

	// A customer page too long for a button's URL: no button, the notice
	// still goes.
	n.Key, n.CustomerID = "long-id", strings.Repeat("x", 3000)
	_, err = post(t, env, a, n)
	require.NoError(t, err)
	assert.Len(t, fake.posts[gracePath][7].Blocks, 1)
}

func TestSlackFailures(t *testing.T) {
	for _, tc := range []struct {
		status    int
		reply     string
		retryable bool
	}{
		{http.StatusBadRequest, "invalid_payload", false},
		{http.StatusForbidden, "action_prohibited", false},
		{http.StatusNotFound, "channel_not_found", false},
		{http.StatusNotFound, "no_service", false},
		{http.StatusGone, "channel_is_archived", false},
		{http.StatusInternalServerError, "rollup_error", true},
		{http.StatusServiceUnavailable, "", true},
		{http.StatusTooManyRequests, "rate_limited", true},
	} {
		t.Run(fmt.Sprintf("%d %s", tc.status, tc.reply), func(t *testing.T) {
			fake, srv := newSlackFake(t)
			fake.answer(tc.status, tc.reply, map[string]string{"Retry-After": "7"})
			a, env, logs := slackActs(t, srv)
			_, err := post(t, env, a, notice("k", activities.RoleCSM, ownerEmail))
			var appErr *temporal.ApplicationError
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, tc.retryable, !appErr.NonRetryable(), err.Error())
			assert.Contains(t, err.Error(), fmt.Sprint(tc.status), "the status is named")
			assert.Contains(t, err.Error(), tc.reply, "Slack's reason is kept")
			assert.NotContains(t, err.Error(), secret, "the webhook URL is a secret")
			assert.NotContains(t, err.Error(), srv.URL)
			assert.NotContains(t, logs.String(), secret)
			switch {
			case tc.status == http.StatusTooManyRequests:
				assert.Equal(t, activities.SlackRateLimitedType, appErr.Type())
				assert.Equal(t, 7*time.Second, appErr.NextRetryDelay(), "Retry-After is honoured")
			case !tc.retryable:
				assert.Equal(t, activities.PermanentFailureType, appErr.Type(), "the journey's retry policy stops on this type")
			}
			assert.Zero(t, fake.total())
		})
	}
}

func TestSlackRateLimitWithoutRetryAfterWaitsAWhile(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env, _ := slackActs(t, srv)
	for header, want := range map[string]time.Duration{
		"":        30 * time.Second,
		"0":       time.Second,
		"86400":   time.Hour,
		"soonish": 30 * time.Second,
	} {
		fake.answer(http.StatusTooManyRequests, "rate_limited", map[string]string{"Retry-After": header})
		_, err := post(t, env, a, notice("k", activities.RoleCSM, ownerEmail))
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, want, appErr.NextRetryDelay(), "Retry-After %q", header)
	}
}

func TestSlackErrorsNeverNameTheWebhook(t *testing.T) {
	fake, srv := newSlackFake(t)
	a, env, _ := slackActs(t, srv)

	// Slack's answer quoting the webhook is cut out of the error, and a
	// long answer is clipped.
	fake.answer(http.StatusBadRequest, "invalid_payload for "+srv.URL+gracePath+" "+strings.Repeat("x", 500), nil)
	_, err := post(t, env, a, notice("k1", activities.RoleCSM, ownerEmail))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)
	assert.Contains(t, err.Error(), "invalid_payload for [webhook]")
	assert.Less(t, len(err.Error()), 400)

	// A redirect is not followed (Slack never redirects a webhook) and its
	// Location is not repeated.
	fake.answer(http.StatusFound, "", map[string]string{"Location": srv.URL + teamPath})
	_, err = post(t, env, a, notice("k2", activities.RoleCSM, ownerEmail))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "302")
	assert.NotContains(t, err.Error(), secret)
	assert.Zero(t, fake.total())
	fake.mu.Lock()
	assert.Equal(t, 2, fake.tries, "the redirect was not followed")
	fake.mu.Unlock()

	// Slack unreachable: retried, and the URL is not in the error.
	srv.Close()
	_, err = post(t, env, a, notice("k3", activities.RoleCSM, ownerEmail))
	require.Error(t, err)
	if errors.As(err, &appErr) {
		assert.False(t, appErr.NonRetryable())
	}
	assert.Contains(t, err.Error(), "connect")
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, err.Error(), srv.URL)
}

// TestWorkerWithSlackConfiguredPosts: the settings, as the worker command
// reads them, give activities that post.
func TestWorkerWithSlackConfiguredPosts(t *testing.T) {
	fake, srv := newSlackFake(t)
	st, err := store.Open(context.Background(), "", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	load := func(args ...string) *config.Config {
		fs := flag.NewFlagSet("worker", flag.ContinueOnError)
		vals := config.Register(fs, config.CmdWorker)
		require.NoError(t, fs.Parse(append(args, "--link-secret", strings.Repeat("s", 32), "--public-url", "https://cs.example")))
		cfg, err := config.Load(vals, config.CmdWorker)
		require.NoError(t, err)
		return cfg
	}

	acts, err := worker.Activities(load(), st)
	require.NoError(t, err)
	assert.Nil(t, acts.Slack, "no webhook set: no Slack, email only")

	acts, err = worker.Activities(load("--slack-webhooks", "Grace@Vendor.example="+srv.URL+gracePath+",manager="+srv.URL+rolePath), st)
	require.NoError(t, err)
	require.NotNil(t, acts.Slack)
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	_, err = post(t, env, acts, notice("w1", activities.RoleCSM, ownerEmail))
	require.NoError(t, err)
	_, err = post(t, env, acts, notice("w2", activities.RoleManager, "mo@vendor.example"))
	require.NoError(t, err)
	_, err = post(t, env, acts, notice("w1", activities.RoleCSM, ownerEmail))
	require.NoError(t, err)
	assert.Equal(t, 1, fake.count(gracePath))
	assert.Equal(t, 1, fake.count(rolePath))
	assert.Equal(t, "https://cs.example/ui/customers/acme%20corp", fake.posts[gracePath][0].Blocks[1].Elements[0].URL)
}

// The roles LIFECYCLE_SLACK_WEBHOOKS takes are the roles notices carry.
func TestSlackRolesAreTheTeamRoles(t *testing.T) {
	assert.Equal(t, []string{activities.RoleCSM, activities.RoleManager, activities.RoleSponsor}, config.SlackRoles)
}
