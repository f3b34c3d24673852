package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
)

// Ledger remembers which idempotency keys were sent (a store implements it).
type Ledger interface {
	LedgerSent(ctx context.Context, key string) (providerID string, sent bool, err error)
	LedgerMarkSent(ctx context.Context, key, providerID string) error
	LedgerMarkFailed(ctx context.Context, key, reason string) error
}

// Suppressions says whether an address must not be emailed (bounced,
// unsubscribed, spam report).
type Suppressions interface {
	Suppressed(ctx context.Context, email string) (reason string, ok bool, err error)
}

// SendGrid defaults and the Temporal error types its retryable errors carry.
const (
	DefaultSendGridBaseURL = "https://api.sendgrid.com"
	DefaultSendGridTimeout = 10 * time.Second

	// SendGridRateLimitedType: SendGrid answered 429; the error's
	// NextRetryDelay points at X-RateLimit-Reset.
	SendGridRateLimitedType = "SendGridRateLimited"
	// SendGridAccountErrorType: SendGrid answered 401 or 403 (revoked key,
	// missing scope, unverified sender). Retried: it is our configuration,
	// not the message, and every email would fail the same way.
	SendGridAccountErrorType = "SendGridAccountError"
)

const (
	sendGridEndpoint    = "/v3/mail/send"
	sendGridMinRateWait = time.Second
	sendGridMaxRateWait = 10 * time.Minute
)

// SendGrid sends mail through the SendGrid v3 Mail Send API.
//
// Idempotency: SendGrid has no idempotency key of its own, so the Ledger is
// what makes Send idempotent. A key recorded as sent is never sent again.
// The one window left is between SendGrid accepting a message and the
// ledger recording it (a lost 2xx answer, a client timeout after SendGrid
// queued the mail, a crash or a failed ledger write): a retry then sends
// the message again. The idempotency key travels in custom_args so the
// event webhook can spot such duplicates; customer_id, step and kind
// (customer, csm, manager, sponsor) tell the webhook what an event is about.
type SendGrid struct {
	APIKey       string
	BaseURL      string // default "https://api.sendgrid.com"; tests point it at the fake
	From         Recipient
	Timeout      time.Duration // per request; default 10s
	Ledger       Ledger
	Suppressions Suppressions     // may be nil
	Now          func() time.Time // default time.Now
}

var _ Mailer = (*SendGrid)(nil)

// Send delivers m unless its key was sent before. Errors wrapping
// ErrPermanent will never succeed; any other error is worth retrying.
func (s *SendGrid) Send(ctx context.Context, m Message) (Sent, error) {
	lg := sendGridLogger(ctx)
	if err := s.configured(); err != nil {
		lg.Error("sendgrid mailer misconfigured", "error", err)
		return Sent{}, err
	}
	if m.Key == "" || m.To.Email == "" {
		return Sent{}, fmt.Errorf("%w: message %q to %q: key and recipient are required", ErrPermanent, m.Key, m.To.Email)
	}

	providerID, sent, err := s.Ledger.LedgerSent(ctx, m.Key)
	if err != nil {
		return Sent{}, fmt.Errorf("sendgrid: ledger lookup of %q: %w", m.Key, err)
	}
	if sent {
		return Sent{Key: m.Key, MessageID: providerID, Duplicate: true}, nil
	}

	if s.Suppressions != nil {
		reason, suppressed, err := s.Suppressions.Suppressed(ctx, m.To.Email)
		if err != nil {
			return Sent{}, fmt.Errorf("sendgrid: suppression lookup: %w", err)
		}
		if suppressed {
			return Sent{}, s.permanent(ctx, m, fmt.Sprintf("recipient %s is suppressed (%s)", m.To.Email, reason))
		}
	}

	body, err := s.body(m)
	if err != nil {
		return Sent{}, s.permanent(ctx, m, err.Error())
	}
	resp, err := s.post(ctx, body)
	if err != nil {
		if ctx.Err() != nil {
			return Sent{}, fmt.Errorf("sendgrid: send of %q abandoned: %w", m.Key, ctx.Err())
		}
		// The request may have reached SendGrid: the retry may send twice.
		return Sent{}, fmt.Errorf("sendgrid: send of %q failed, SendGrid may or may not have it: %w", m.Key, err)
	}
	status := resp.StatusCode
	header := http.Header(resp.Headers)

	switch {
	case status >= 200 && status < 300:
		id := header.Get("X-Message-Id")
		if id == "" {
			lg.Warn("sendgrid accepted a message without X-Message-Id", "key", m.Key, "status", status)
		}
		if err := s.Ledger.LedgerMarkSent(ctx, m.Key, id); err != nil {
			lg.Error("SENDGRID ACCEPTED THE MESSAGE BUT THE LEDGER WRITE FAILED: a retry will send it again",
				"key", m.Key, "customer_id", m.CustomerID, "message_id", id, "error", err)
			return Sent{}, fmt.Errorf("sendgrid accepted %q as message %s but the ledger write failed (a retry will send it again): %w", m.Key, id, err)
		}
		return Sent{Key: m.Key, MessageID: id}, nil

	case status == http.StatusTooManyRequests:
		wait := sendGridRateLimitWait(header, s.now())
		msg := fmt.Sprintf("sendgrid: rate limited sending %q (429), retry in %s: %s", m.Key, wait, sendGridErrors(resp))
		lg.Warn("sendgrid rate limited", "key", m.Key, "retry_in", wait)
		return Sent{}, temporal.NewApplicationErrorWithOptions(msg, SendGridRateLimitedType,
			temporal.ApplicationErrorOptions{NextRetryDelay: wait})

	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		msg := fmt.Sprintf("sendgrid: %d for %q, check the API key, its mail.send scope and the sender identity %s: %s",
			status, m.Key, s.From.Email, sendGridErrors(resp))
		lg.Error("sendgrid refused our credentials or sender", "key", m.Key, "status", status, "error", sendGridErrors(resp))
		return Sent{}, temporal.NewApplicationError(msg, SendGridAccountErrorType)

	case status >= 500 || status == http.StatusRequestTimeout:
		return Sent{}, fmt.Errorf("sendgrid: %d sending %q: %s", status, m.Key, sendGridErrors(resp))

	case status >= 400:
		return Sent{}, s.permanent(ctx, m, fmt.Sprintf("sendgrid rejected the message (%d): %s", status, sendGridErrors(resp)))

	default: // 1xx, 3xx: not something SendGrid answers; try again
		return Sent{}, fmt.Errorf("sendgrid: unexpected status %d sending %q", status, m.Key)
	}
}

func (s *SendGrid) configured() error {
	var missing []string
	if s.APIKey == "" {
		missing = append(missing, "APIKey")
	}
	if s.From.Email == "" {
		missing = append(missing, "From.Email")
	}
	if s.Ledger == nil {
		missing = append(missing, "Ledger")
	}
	if len(missing) > 0 {
		return fmt.Errorf("sendgrid mailer misconfigured: %s not set", strings.Join(missing, ", "))
	}
	return nil
}

// permanent records the failure in the ledger and returns an ErrPermanent.
// A failed ledger write is logged and reported but does not make the
// failure retryable: the send would fail the same way again.
func (s *SendGrid) permanent(ctx context.Context, m Message, reason string) error {
	err := fmt.Errorf("%w: %s", ErrPermanent, reason)
	sendGridLogger(ctx).Warn("email failed permanently", "key", m.Key, "customer_id", m.CustomerID, "reason", reason)
	if lerr := s.Ledger.LedgerMarkFailed(ctx, m.Key, reason); lerr != nil {
		sendGridLogger(ctx).Error("ledger: could not record a permanent failure", "key", m.Key, "error", lerr)
		return errors.Join(err, fmt.Errorf("ledger: %w", lerr))
	}
	return err
}

// body builds the v3 request body with sendgrid-go's mail helpers.
func (s *SendGrid) body(m Message) ([]byte, error) {
	v3 := mail.NewV3Mail()
	v3.SetFrom(mail.NewEmail(s.From.Name, s.From.Email))
	v3.Subject = m.Subject
	p := mail.NewPersonalization()
	p.AddTos(mail.NewEmail(m.To.Name, m.To.Email))
	v3.AddPersonalizations(p)
	// SendGrid wants text/plain first, then text/html, and no empty parts.
	if m.Text != "" {
		v3.AddContent(mail.NewContent("text/plain", m.Text))
	}
	if m.HTML != "" {
		v3.AddContent(mail.NewContent("text/html", m.HTML))
	}
	v3.SetCustomArg("idempotency_key", m.Key)
	if m.CustomerID != "" {
		v3.SetCustomArg("customer_id", m.CustomerID)
	}
	if m.Step != "" {
		v3.SetCustomArg("step", m.Step)
	}
	if m.Kind != "" {
		// The event webhook counts opens and clicks as the customer's
		// engagement only for the customer's own email.
		v3.SetCustomArg("kind", m.Kind)
	}
	if m.Journey != "" {
		// A returning customer's new journey does not count the opens and
		// clicks of the old journey's emails.
		v3.SetCustomArg("journey", m.Journey)
	}
	if m.UnsubscribeURL != "" {
		if strings.ContainsAny(m.UnsubscribeURL, "\r\n<>") {
			return nil, fmt.Errorf("unsubscribe URL %q cannot go in a header", m.UnsubscribeURL)
		}
		// RFC 8058 one-click unsubscribe.
		v3.SetHeader("List-Unsubscribe", "<"+m.UnsubscribeURL+">")
		v3.SetHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	for _, c := range []string{m.Kind, m.Template} {
		if c != "" {
			v3.AddCategories(c)
		}
	}
	body := mail.GetRequestBody(v3)
	if len(body) == 0 {
		return nil, errors.New("could not encode the message as JSON")
	}
	return body, nil
}

// post sends one request. It uses a fresh rest.Client and request per call
// and rest.Client.SendWithContext, which makes exactly one HTTP request:
// sendgrid.MakeRequestRetry* and MakeRequestAsync* would sleep through
// 429s (ignoring ctx) and hide them from Temporal.
func (s *SendGrid) post(ctx context.Context, body []byte) (*rest.Response, error) {
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSendGridTimeout
	}
	base := strings.TrimRight(s.BaseURL, "/")
	if base == "" {
		base = DefaultSendGridBaseURL
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req := sendgrid.GetRequest(s.APIKey, sendGridEndpoint, base)
	req.Method = rest.Post
	req.Body = body
	client := &rest.Client{HTTPClient: &http.Client{
		// SendGrid does not redirect API calls; never re-POST elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	return client.SendWithContext(ctx, req)
}

func (s *SendGrid) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// sendGridRateLimitWait is the time until X-RateLimit-Reset, within [1s, 10m]; 0
// (the retry policy decides) when SendGrid did not say.
func sendGridRateLimitWait(h http.Header, now time.Time) time.Duration {
	reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64)
	if err != nil {
		return 0
	}
	wait := time.Unix(reset, 0).Sub(now)
	return min(max(wait, sendGridMinRateWait), sendGridMaxRateWait)
}

// sendGridErrors turns SendGrid's error body into one line.
func sendGridErrors(resp *rest.Response) string {
	var body struct {
		Errors []struct {
			Message string  `json:"message"`
			Field   *string `json:"field"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err == nil && len(body.Errors) > 0 {
		parts := make([]string, 0, len(body.Errors))
		for _, e := range body.Errors {
			if e.Field != nil && *e.Field != "" {
				parts = append(parts, *e.Field+": "+e.Message)
			} else {
				parts = append(parts, e.Message)
			}
		}
		return strings.Join(parts, "; ")
	}
	text := strings.TrimSpace(resp.Body)
	if len(text) > 300 {
		text = text[:300] + "..."
	}
	if text == "" {
		text = http.StatusText(resp.StatusCode)
	}
	return text
}

func sendGridLogger(ctx context.Context) log.Logger {
	if activity.IsActivity(ctx) {
		return activity.GetLogger(ctx)
	}
	return log.NewStructuredLogger(slog.Default())
}
