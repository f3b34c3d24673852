// Package activities is what a journey does to the world: emails to the
// customer and notices to the CSM, manager and sponsor. Each send carries an
// idempotency key (workflow id + step) so that a retried activity never sends
// the same message twice.
package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/links"
)

// Recipient is who a message goes to.
type Recipient struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Action is a one-click answer offered in a customer email.
type Action struct {
	ID    string `json:"id"`            // e.g. "book_handoff", "on_track", "need_help"
	Label string `json:"label"`         // what the button says
	URL   string `json:"url,omitempty"` // the signed link, filled in when the email is rendered
}

// CustomerEmail asks for a templated email to the customer's champion.
type CustomerEmail struct {
	Key        string `json:"key"` // idempotency key: workflow id (+ journey) + step
	CustomerID string `json:"customer_id"`
	// Journey names the customer's journey (chapter) when the account had
	// one before: a returning customer's links and keys are its own. Empty
	// for journeys before revision 2.
	Journey      string            `json:"journey,omitempty"`
	Step         string            `json:"step"`
	To           Recipient         `json:"to"`
	Template     string            `json:"template"`
	Data         map[string]string `json:"data"`
	Actions      []Action          `json:"actions,omitempty"`
	ScheduledFor time.Time         `json:"scheduled_for"` // journey time the step was due
	// About, when set, fills the email's Practices field at send time from
	// the latest insights (the best-practices email).
	About *insights.Subject `json:"about,omitempty"`
	// Contact is the contact the email goes to when it is not the champion
	// (journey revision 6): its links are its own, one use each.
	Contact string `json:"contact,omitempty"`
}

// Team roles a notice can go to.
const (
	RoleCSM     = "csm"
	RoleManager = "manager"
	RoleSponsor = "sponsor"
)

// TeamNotice is a task or escalation for someone on our side.
type TeamNotice struct {
	Key          string    `json:"key"`
	CustomerID   string    `json:"customer_id"`
	Step         string    `json:"step"`
	Role         string    `json:"role"`
	To           Recipient `json:"to"`
	Subject      string    `json:"subject"`
	Body         string    `json:"body"`
	ScheduledFor time.Time `json:"scheduled_for"`
	// About, when set, adds the customer's top gaps against green accounts
	// to the body at send time (the CSM's briefings).
	About *insights.Subject `json:"about,omitempty"`
}

// Sent reports a send. Duplicate means the key was sent before and nothing
// went out this time.
type Sent struct {
	Key       string `json:"key"`
	MessageID string `json:"message_id"`
	Duplicate bool   `json:"duplicate"`
}

// Message is a rendered email as a Mailer receives it.
type Message struct {
	Key        string `json:"key"`
	CustomerID string `json:"customer_id"`
	Step       string `json:"step"`
	Kind       string `json:"kind"` // "customer" or the team role
	// Journey names the customer's journey a customer email belongs to
	// (CustomerEmail.Journey), so its opens and clicks count on that one.
	Journey  string    `json:"journey,omitempty"`
	Template string    `json:"template,omitempty"`
	To       Recipient `json:"to"`
	Subject  string    `json:"subject"`
	Text     string    `json:"text"`
	HTML     string    `json:"html,omitempty"` // customer emails; team notices are plain text
	Actions  []Action  `json:"actions,omitempty"`
	// UnsubscribeURL is a one-click (RFC 8058) unsubscribe link for customer
	// emails, sent as List-Unsubscribe; empty for team notices.
	UnsubscribeURL string    `json:"unsubscribe_url,omitempty"`
	ScheduledFor   time.Time `json:"scheduled_for"`
}

// Mailer delivers messages. Send must be idempotent by Message.Key.
type Mailer interface {
	Send(ctx context.Context, m Message) (Sent, error)
}

// ErrPermanent marks a send that will never succeed (a bad address, a
// rejected request). The journey records it and tasks the CSM instead.
var ErrPermanent = errors.New("permanent send failure")

// PermanentFailureType is the Temporal error type of a permanent failure.
const PermanentFailureType = "PermanentSendFailure"

// Links makes the signed one-click URLs of customer emails
// (*links.Signer). The link names the journey, so that a returning
// customer's answers are the new journey's own.
type Links interface {
	URL(l links.Link) string
}

// Activities holds the dependencies of the journey's activities.
type Activities struct {
	Mailer    Mailer
	Templates *Templates
	Links     Links // nil: emails carry their actions without links
	// Insights fills the best-practices email and the CSM's briefings at
	// send time; nil: they go out with the playbook's own text.
	Insights Insights
	// Portfolio and Results run the insights job (ComputeInsights); nil on
	// a worker that does not.
	Portfolio Portfolio
	Results   InsightResults
	// Now is the clock the gaps are judged at (time.Now when nil).
	Now func() time.Time
	// Slack posts our side's task notices to Slack incoming webhooks
	// (PostSlack); nil: no Slack, email only.
	Slack *Slack
	// Tasks keeps every journey's tasks for the work lists (SaveTasks); nil
	// on a worker without a store.
	Tasks TaskStore
	// Webhooks holds the subscriptions to journey events and their
	// delivery log (DeliverWebhook); nil: no webhooks out.
	Webhooks Webhooks
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// SendCustomerEmail renders the template and sends it to the champion.
func (a *Activities) SendCustomerEmail(ctx context.Context, req CustomerEmail) (Sent, error) {
	actions := append([]Action(nil), req.Actions...)
	unsubscribe := ""
	if a.Links != nil {
		link := func(action string) string {
			return a.Links.URL(links.Link{CustomerID: req.CustomerID, Journey: req.Journey, Step: req.Step, Action: action, Email: req.To.Email, Contact: req.Contact})
		}
		for i := range actions {
			actions[i].URL = link(actions[i].ID)
		}
		unsubscribe = link("unsubscribe")
	}
	data := req.Data
	if req.About != nil {
		data = make(map[string]string, len(req.Data)+1)
		for k, v := range req.Data {
			data[k] = v
		}
		data["Practices"] = practices(a.gaps(ctx, req.About, a.now()))
	}
	email, err := a.Templates.RenderEmail(req.Template, req.To, data, actions, unsubscribe)
	if err != nil {
		// A template that does not render will not render on retry either.
		return Sent{}, temporal.NewNonRetryableApplicationError(err.Error(), PermanentFailureType, err)
	}
	return a.send(ctx, Message{
		Key: req.Key, CustomerID: req.CustomerID, Journey: req.Journey, Step: req.Step, Kind: "customer", Template: req.Template,
		To: req.To, Subject: email.Subject, Text: email.Text, HTML: email.HTML, Actions: actions,
		UnsubscribeURL: unsubscribe, ScheduledFor: req.ScheduledFor,
	})
}

// NotifyTeam sends a task or escalation to the CSM, manager or sponsor.
func (a *Activities) NotifyTeam(ctx context.Context, req TeamNotice) (Sent, error) {
	body := req.Body
	if req.About != nil {
		gaps, _ := a.gaps(ctx, req.About, a.now())
		body += briefing(gaps, req.About.Account)
	}
	return a.send(ctx, Message{
		Key: req.Key, CustomerID: req.CustomerID, Step: req.Step, Kind: req.Role,
		To: req.To, Subject: req.Subject, Text: body, ScheduledFor: req.ScheduledFor,
	})
}

func (a *Activities) send(ctx context.Context, m Message) (Sent, error) {
	if m.Key == "" || m.To.Email == "" {
		err := fmt.Errorf("message %q to %q: key and recipient are required", m.Key, m.To.Email)
		return Sent{}, temporal.NewNonRetryableApplicationError(err.Error(), PermanentFailureType, err)
	}
	sent, err := a.Mailer.Send(ctx, m)
	if errors.Is(err, ErrPermanent) {
		return Sent{}, temporal.NewNonRetryableApplicationError(err.Error(), PermanentFailureType, err)
	}
	if err != nil {
		return Sent{}, err
	}
	if activity.IsActivity(ctx) {
		activity.GetLogger(ctx).Info("email sent", "customer_id", m.CustomerID, "step", m.Step, "to_role", m.Kind, "duplicate", sent.Duplicate)
	}
	return sent, nil
}

func renderActions(actions []Action) string {
	if len(actions) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n\n")
	for _, a := range actions {
		if a.URL != "" {
			fmt.Fprintf(&b, "%s: %s\n", a.Label, a.URL)
		} else {
			fmt.Fprintf(&b, "[ %s ]  (action: %s)\n", a.Label, a.ID)
		}
	}
	return b.String()
}
