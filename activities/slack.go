package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/temporal"
)

// Slack task notices: what a journey posts for our side besides the email.
const (
	SlackTaskCreated = "task_created"
	SlackTaskOverdue = "task_overdue"
	SlackEscalation  = "escalation"
	SlackComplaint   = "complaint"
)

// SlackNotice is a task notice for our side's Slack.
type SlackNotice struct {
	Key          string    `json:"key"` // exactly once: the step's key and ":slack"
	CustomerID   string    `json:"customer_id"`
	Account      string    `json:"account"` // the account's name
	Event        string    `json:"event"`   // SlackTaskCreated, SlackTaskOverdue, SlackEscalation, SlackComplaint
	Role         string    `json:"role"`    // RoleCSM, RoleManager, RoleSponsor: whose channel
	Owner        string    `json:"owner"`   // the owner's email: selects a person's webhook
	Title        string    `json:"title"`   // at most 300 characters (the workflow bounds it)
	Text         string    `json:"text"`    // at most 2,000 characters (likewise)
	Due          time.Time `json:"due,omitzero"`
	ScheduledFor time.Time `json:"scheduled_for"`
}

// SlackRateLimitedType is the Temporal error type of a 429 from Slack; the
// error's NextRetryDelay is Slack's Retry-After.
const SlackRateLimitedType = "SlackRateLimited"

// DefaultSlackTimeout bounds one post when Slack.Client is nil.
const DefaultSlackTimeout = 10 * time.Second

// Slack posts task notices to Slack incoming webhooks: the owner's own
// when there is one, else the role's, else the team's; none, nothing is
// posted (Slack is optional, person by person). Webhook URLs are secrets
// (whoever has one can post to the channel): no log line and no error
// names one.
type Slack struct {
	Team   string            // the team's webhook URL; "" none
	People map[string]string // lower-cased email -> the person's webhook URL
	Roles  map[string]string // RoleCSM, RoleManager, RoleSponsor -> webhook URL
	// PublicURL is where the dashboard is reached: the message's button
	// opens the customer page there ("" no button).
	PublicURL string
	Client    *http.Client // DefaultSlackTimeout when nil; redirects are never followed
	// Ledger makes a post exactly-once per key (the email ledger; the keys
	// end in ":slack", so they never meet an email's). Required.
	Ledger Ledger
}

// Slack's limits (Block Kit reference: a section's text, a button's text
// and URL; a message holds at most 50 blocks, a notice two) and the
// fallback text's recommended size.
const (
	slackSectionMax   = 3000
	slackButtonMax    = 75
	slackButtonURLMax = 3000
	slackFallbackMax  = 3000
	slackLineMax      = 300 // a title or an account name on the notice
	slackReplyMax     = 200 // Slack's answer, in an error
	slackMaxRateWait  = time.Hour
	slackRateWait     = 30 * time.Second // when Slack gives no Retry-After
	slackMinRateWait  = time.Second
)

// slackButtonText is the button's label: fixed, so no customer text goes
// in a plain_text object (which Slack shows as it is, unescaped).
const slackButtonText = "Open customer page"

// Incoming-webhook body: text is the fallback (notifications, screen
// readers); blocks are what the channel shows.
type (
	slackMessage struct {
		Text   string       `json:"text"`
		Blocks []slackBlock `json:"blocks"`
	}
	slackBlock struct {
		Type     string         `json:"type"` // section, actions
		Text     *slackText     `json:"text,omitempty"`
		Elements []slackElement `json:"elements,omitempty"`
	}
	slackElement struct {
		Type string    `json:"type"` // button
		Text slackText `json:"text"`
		URL  string    `json:"url"`
	}
	slackText struct {
		Type string `json:"type"` // mrkdwn, plain_text
		Text string `json:"text"`
	}
)

var slackLeads = map[string]string{
	SlackTaskCreated: "New task", SlackTaskOverdue: "Overdue task", SlackEscalation: "Escalation", SlackComplaint: "Complaint",
}

// route is the webhook a notice goes to ("" none) and whose it is, for the
// log.
func (s *Slack) route(n SlackNotice) (hook, via string) {
	if owner := strings.ToLower(strings.TrimSpace(n.Owner)); owner != "" && s.People[owner] != "" {
		return s.People[owner], "person"
	}
	if n.Role != "" && s.Roles[n.Role] != "" {
		return s.Roles[n.Role], "role"
	}
	if s.Team != "" {
		return s.Team, "team"
	}
	return "", ""
}

// message is the notice in Slack's format: a bold title, the account and
// when the task is due, the text, and a button to the customer page.
func (s *Slack) message(n SlackNotice) slackMessage {
	lead := slackLeads[n.Event]
	if lead == "" {
		lead = "Task"
	}
	title, account := oneLine(n.Title), oneLine(n.Account)
	head := "*" + lead + ": " + slackClip(title, slackLineMax) + "*\n" + slackClip(account, slackLineMax)
	if !n.Due.IsZero() {
		// Slack shows the time in the reader's own zone; the UTC text is for
		// clients that cannot.
		head += fmt.Sprintf(" · due <!date^%d^{date_short_pretty} {time}|%s>",
			n.Due.Unix(), n.Due.UTC().Format("2006-01-02 15:04 UTC"))
	}
	section := head
	if text := strings.TrimSpace(n.Text); text != "" {
		section += "\n" + slackClip(text, slackSectionMax-utf8.RuneCountInString(head)-1)
	}
	msg := slackMessage{
		Text:   slackClip(fmt.Sprintf("%s: %s (%s)", lead, title, account), slackFallbackMax),
		Blocks: []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: section}}},
	}
	if link := s.customerURL(n.CustomerID); link != "" {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "actions", Elements: []slackElement{{
			Type: "button", Text: slackText{Type: "plain_text", Text: slackButtonText}, URL: link,
		}}})
	}
	return msg
}

// customerURL is the dashboard's page of the customer, "" when there is no
// dashboard to link to or the link is longer than Slack takes.
func (s *Slack) customerURL(id string) string {
	if s.PublicURL == "" || id == "" {
		return ""
	}
	link := strings.TrimRight(s.PublicURL, "/") + "/ui/customers/" + url.PathEscape(id)
	if len(link) > slackButtonURLMax {
		return ""
	}
	return link
}

// PostSlack posts a task notice once per key. A refusal Slack means for
// good (a removed or archived channel, a revoked webhook, a malformed
// message) is permanent; a rate limit, Slack's own errors and the network
// are retried (a rate limit after the time Slack asks).
func (a *Activities) PostSlack(ctx context.Context, n SlackNotice) (Sent, error) {
	s := a.Slack
	if s == nil {
		return Sent{}, nil // no Slack on this worker: email only
	}
	hook, via := s.route(n)
	if hook == "" {
		return Sent{}, nil // nobody's Slack for this notice
	}
	if n.Key == "" {
		return Sent{}, temporal.NewNonRetryableApplicationError("slack: a notice needs a key (exactly once)", PermanentFailureType, nil)
	}
	if s.Ledger == nil {
		return Sent{}, temporal.NewNonRetryableApplicationError("slack: misconfigured, no ledger", PermanentFailureType, nil)
	}
	lg := sendGridLogger(ctx) // the activity's logger (slog's outside an activity)
	providerID, sent, err := s.Ledger.LedgerSent(ctx, n.Key)
	if err != nil {
		return Sent{}, fmt.Errorf("slack: ledger lookup of %q: %w", n.Key, err)
	}
	if sent {
		return Sent{Key: n.Key, MessageID: providerID, Duplicate: true}, nil
	}
	body, err := json.Marshal(s.message(n))
	if err != nil {
		return Sent{}, temporal.NewNonRetryableApplicationError("slack: encoding the message: "+err.Error(), PermanentFailureType, nil)
	}
	// clean keeps the webhook out of what goes into errors and logs, should
	// an error or Slack's answer ever quote it.
	clean := func(text string) string {
		text = strings.ReplaceAll(text, hook, "[webhook]")
		if u, err := url.Parse(hook); err == nil && len(u.Path) > 1 {
			text = strings.ReplaceAll(text, u.Path, "/[webhook]")
		}
		return text
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return Sent{}, temporal.NewNonRetryableApplicationError("slack: the "+via+"'s webhook URL is not usable", PermanentFailureType, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Sent{}, fmt.Errorf("slack: post of %q abandoned: %w", n.Key, ctx.Err())
		}
		// The client's error quotes the URL; keep what happened without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Sent{}, errors.New(clean(fmt.Sprintf("slack: post of %q failed (Slack may or may not have it): %v", n.Key, err)))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	reply := clean(clipRunes(strings.TrimSpace(string(raw)), slackReplyMax))
	if reply == "" {
		reply = http.StatusText(resp.StatusCode)
	}
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	fields := []any{"key", n.Key, "customer_id", n.CustomerID, "event", n.Event, "webhook", via}

	switch code := resp.StatusCode; {
	case code >= 200 && code < 300: // Slack answers 200 "ok"
		if err := s.Ledger.LedgerMarkSent(ctx, n.Key, "slack"); err != nil {
			lg.Error("SLACK TOOK THE NOTICE BUT THE LEDGER WRITE FAILED: a retry will post it again", append(fields, "error", err)...)
			return Sent{}, fmt.Errorf("slack took %q but the ledger write failed (a retry will post it again): %w", n.Key, err)
		}
		lg.Info("slack notice posted", fields...)
		return Sent{Key: n.Key, MessageID: "slack"}, nil

	case code == http.StatusTooManyRequests:
		wait := slackRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		lg.Warn("slack rate limited", append(fields, "retry_in", wait)...)
		return Sent{}, temporal.NewApplicationErrorWithOptions(
			fmt.Sprintf("slack: rate limited (%s), retry in %s: %s", status, wait, reply), SlackRateLimitedType,
			temporal.ApplicationErrorOptions{NextRetryDelay: wait})

	case code >= 500 || code == http.StatusRequestTimeout:
		lg.Warn("slack failed, will retry", append(fields, "status", code, "reply", reply)...)
		return Sent{}, fmt.Errorf("slack: %s: %s", status, reply)

	case code >= 300 && code < 400:
		// Slack does not redirect a webhook: the URL is wrong, and the
		// Location it names is not repeated (it may hold the secret).
		return Sent{}, s.permanent(ctx, n, fields, fmt.Sprintf("slack: the %s's webhook answered %s (a redirect): check its URL", via, status))

	case code >= 400: // invalid_payload, action_prohibited, channel_not_found, channel_is_archived, no_service...
		return Sent{}, s.permanent(ctx, n, fields, fmt.Sprintf("slack refused the notice: %s: %s", status, reply))

	default:
		return Sent{}, fmt.Errorf("slack: unexpected %s", status)
	}
}

// permanent records a failure for good in the ledger and returns the
// non-retryable error. A failed ledger write is logged and does not make
// the failure retryable: a post would be refused the same way again.
func (s *Slack) permanent(ctx context.Context, n SlackNotice, fields []any, reason string) error {
	lg := sendGridLogger(ctx)
	lg.Warn("slack notice refused for good", append(fields, "reason", reason)...)
	if err := s.Ledger.LedgerMarkFailed(ctx, n.Key, reason); err != nil {
		lg.Error("ledger: could not record a Slack notice's failure", append(fields, "error", err)...)
	}
	return temporal.NewNonRetryableApplicationError(reason, PermanentFailureType, nil)
}

// client is the configured client without redirects: Slack never
// redirects a webhook, and a redirected POST would carry the notice
// elsewhere.
func (s *Slack) client() *http.Client {
	c := http.Client{Timeout: DefaultSlackTimeout}
	if s.Client != nil {
		c = *s.Client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// slackRetryAfter is Slack's Retry-After (seconds, or an HTTP date) within
// [1s, 1h]; slackRateWait when Slack does not say.
func slackRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	wait := slackRateWait
	if secs, err := strconv.Atoi(v); err == nil {
		wait = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		wait = at.Sub(now)
	}
	return min(max(wait, slackMinRateWait), slackMaxRateWait)
}

// slackEscape escapes the three characters Slack reads as markup (&, <, >)
// as Slack's formatting reference says; nothing else.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// slackClip escapes s and clips the result to max characters, ending in
// "…" when clipped, never in the middle of an entity.
func slackClip(s string, max int) string {
	esc := slackEscape(s)
	if utf8.RuneCountInString(esc) <= max {
		return esc
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		piece := slackEscape(string(r))
		if n+utf8.RuneCountInString(piece) > max-1 {
			break
		}
		b.WriteString(piece)
		n += utf8.RuneCountInString(piece)
	}
	return b.String() + "…"
}

// oneLine keeps a title or a name on its line: a line break inside would
// end the bold and shift the notice's layout.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
