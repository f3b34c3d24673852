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
	Account      string    `json:"account"`
	Event        string    `json:"event"` // SlackTaskCreated, ...
	Role         string    `json:"role"`  // csm, manager or sponsor: whose channel
	Owner        string    `json:"owner"` // the owner's email: selects a person's webhook
	Title        string    `json:"title"`
	Text         string    `json:"text"`
	Due          time.Time `json:"due,omitzero"`
	ScheduledFor time.Time `json:"scheduled_for"`
}

// Slack posts task notices to Slack incoming webhooks: the owner's own
// when there is one, else the role's, else the team's; none, nothing is
// posted (Slack is optional, person by person). Webhook URLs are secrets:
// they are never logged nor put in an error.
type Slack struct {
	Team   string            // the team's webhook URL ("" none)
	Routes map[string]string // lower-cased email or role -> webhook URL
	// PublicURL is where the dashboard is reached: the message's button
	// opens the customer page there.
	PublicURL string
	Client    *http.Client // a 10 s timeout when nil
	Ledger    Ledger       // exactly once per key
}

// Slack's limits on what a message holds.
const (
	slackSectionMax = 3000
	slackButtonMax  = 75
	slackTextMax    = 4000
)

// route is the webhook a notice goes to, "" none.
func (s *Slack) route(n SlackNotice) string {
	if u := s.Routes[strings.ToLower(n.Owner)]; n.Owner != "" && u != "" {
		return u
	}
	if u := s.Routes[n.Role]; u != "" {
		return u
	}
	return s.Team
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// slackMessage is the incoming-webhook body: the text (Slack's fallback,
// shown in notifications) and blocks (a section and a button to the
// customer page).
func (s *Slack) slackMessage(n SlackNotice) map[string]any {
	lead := map[string]string{
		SlackTaskCreated: "New task", SlackTaskOverdue: "Overdue task", SlackEscalation: "Escalation", SlackComplaint: "Complaint",
	}[n.Event]
	if lead == "" {
		lead = "Task"
	}
	due := ""
	if !n.Due.IsZero() {
		due = " · due " + n.Due.UTC().Format("2006-01-02 15:04 UTC")
	}
	head := fmt.Sprintf("*%s: %s*\n%s%s", lead, slackEscape(n.Title), slackEscape(n.Account), due)
	body := head
	if n.Text != "" {
		body += "\n" + slackEscape(n.Text)
	}
	msg := map[string]any{
		"text": clipRunes(fmt.Sprintf("%s: %s (%s)", lead, n.Title, n.Account), slackTextMax),
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": clipRunes(body, slackSectionMax)}},
		},
	}
	if s.PublicURL != "" && n.CustomerID != "" {
		link := strings.TrimRight(s.PublicURL, "/") + "/ui/customers/" + url.PathEscape(n.CustomerID)
		msg["blocks"] = append(msg["blocks"].([]any), map[string]any{"type": "actions", "elements": []any{
			map[string]any{"type": "button", "text": map[string]any{"type": "plain_text", "text": clipRunes("Open "+n.Account, slackButtonMax)}, "url": link},
		}})
	}
	return msg
}

// PostSlack posts a task notice once per key. A refusal Slack means for
// good (a removed or archived channel, a revoked webhook, a malformed
// message) is permanent; a rate limit, Slack's own errors and the network
// are retried (a rate limit after the time Slack asks).
func (a *Activities) PostSlack(ctx context.Context, n SlackNotice) (Sent, error) {
	s := a.Slack
	if s == nil {
		return Sent{Key: n.Key}, nil // no Slack on this worker: email only
	}
	hook := s.route(n)
	if hook == "" {
		return Sent{Key: n.Key}, nil
	}
	if s.Ledger != nil {
		if _, sent, err := s.Ledger.LedgerSent(ctx, n.Key); err != nil {
			return Sent{}, err
		} else if sent {
			return Sent{Key: n.Key, Duplicate: true}, nil
		}
	}
	body, err := json.Marshal(s.slackMessage(n))
	if err != nil {
		return Sent{}, temporal.NewNonRetryableApplicationError("slack message: "+err.Error(), PermanentFailureType, nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook, bytes.NewReader(body))
	if err != nil {
		return Sent{}, temporal.NewNonRetryableApplicationError("slack: the webhook URL is not usable", PermanentFailureType, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	hc := s.Client
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		// The error names the URL; say what happened without it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Sent{}, fmt.Errorf("slack: posting failed: %v", err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	what := clipRunes(strings.TrimSpace(string(reply)), 200)
	switch {
	case resp.StatusCode == http.StatusOK:
		if s.Ledger != nil {
			if err := s.Ledger.LedgerMarkSent(ctx, n.Key, "slack"); err != nil {
				return Sent{}, err
			}
		}
		return Sent{Key: n.Key, MessageID: "slack"}, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		wait := time.Minute
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 && secs <= 3600 {
			wait = time.Duration(secs) * time.Second
		}
		return Sent{}, temporal.NewApplicationErrorWithOptions("slack: rate limited (429)", "SlackRateLimited",
			temporal.ApplicationErrorOptions{NextRetryDelay: wait})
	case resp.StatusCode >= 500:
		return Sent{}, fmt.Errorf("slack: %s: %s", resp.Status, what)
	default:
		msg := fmt.Sprintf("slack refused the message: %s: %s", resp.Status, what)
		if s.Ledger != nil {
			_ = s.Ledger.LedgerMarkFailed(ctx, n.Key, msg)
		}
		return Sent{}, temporal.NewNonRetryableApplicationError(msg, PermanentFailureType, nil)
	}
}
