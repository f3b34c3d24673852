package sendgridfake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	"github.com/sendgrid/sendgrid-go/helpers/mail"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/sendgridfake"
)

const validMail = `{
  "personalizations": [{"to": [{"email": "ada@acme.example", "name": "Ada"}]}],
  "from": {"email": "cs@vendor.example"},
  "subject": "Hello",
  "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}],
  "custom_args": {"idempotency_key": "k1"},
  "headers": {"List-Unsubscribe": "<https://x.example/u>"}
}`

type answer struct {
	status int
	header http.Header
	body   string
	errors []sendgridfake.Error
}

func post(t *testing.T, s *sendgridfake.Server, auth, contentType, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/v3/mail/send", strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	a := answer{status: res.StatusCode, header: res.Header, body: string(b)}
	if res.StatusCode >= 400 {
		var eb sendgridfake.ErrorBody
		require.NoError(t, json.Unmarshal(b, &eb), "SendGrid-shaped error body: %s", b)
		a.errors = eb.Errors
	}
	return a
}

func send(t *testing.T, s *sendgridfake.Server, body string) answer {
	t.Helper()
	return post(t, s, "Bearer "+s.APIKey(), "application/json", body)
}

func fields(errs []sendgridfake.Error) []string {
	var out []string
	for _, e := range errs {
		f := "null"
		if e.Field != nil {
			f = *e.Field
		}
		out = append(out, f)
	}
	return out
}

func TestAcceptsAValidSend(t *testing.T) {
	s := sendgridfake.New(t)
	a := send(t, s, validMail)
	assert.Equal(t, 202, a.status)
	assert.Empty(t, a.body)
	id := a.header.Get("X-Message-Id")
	assert.NotEmpty(t, id)

	b := send(t, s, validMail)
	assert.NotEqual(t, id, b.header.Get("X-Message-Id"), "unique per message")

	acc := s.Accepted()
	require.Len(t, acc, 2)
	assert.Equal(t, id, acc[0].MessageID)
	assert.Equal(t, "ada@acme.example", acc[0].Personalizations[0].To[0].Email)
	v, _ := acc[0].ContentOf("text/html")
	assert.Equal(t, "<p>Hi</p>", v)
	assert.Len(t, s.AcceptedWith("idempotency_key", "k1"), 2)
	reqs := s.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, id, reqs[0].MessageID)
	assert.Equal(t, "Bearer "+sendgridfake.DefaultAPIKey, reqs[0].Header.Get("Authorization"))
}

func TestRejectsLikeSendGrid(t *testing.T) {
	s := sendgridfake.New(t)
	key := "Bearer " + s.APIKey()

	a := post(t, s, "", "application/json", validMail)
	assert.Equal(t, 401, a.status)
	assert.Equal(t, "authorization required", a.errors[0].Message)
	a = post(t, s, "Bearer SG.wrong", "application/json", validMail)
	assert.Equal(t, 401, a.status)
	assert.Equal(t, "The provided authorization grant is invalid, expired, or revoked", a.errors[0].Message)
	assert.Nil(t, a.errors[0].Field)
	assert.Nil(t, a.errors[0].Help)
	assert.JSONEq(t, `{"errors":[{"message":"The provided authorization grant is invalid, expired, or revoked","field":null,"help":null}]}`, a.body)

	a = post(t, s, key, "text/plain", validMail)
	assert.Equal(t, 415, a.status)
	a = post(t, s, key, "application/json; charset=utf-8", validMail)
	assert.Equal(t, 202, a.status, "a charset parameter is fine")

	for _, tc := range []struct {
		name, body string
		fields     []string
	}{
		{"not JSON", `{"personalizations":`, []string{"null"}},
		{"wrong type", `{"personalizations": "ada"}`, []string{"personalizations"}},
		{"nothing", `{}`, []string{"personalizations", "from", "subject", "content"}},
		{"no to", strings.Replace(validMail, `"to": [{"email": "ada@acme.example", "name": "Ada"}]`, `"to": []`, 1), []string{"personalizations.0.to"}},
		{"bad to", strings.Replace(validMail, `ada@acme.example`, `ada`, 1), []string{"personalizations.0.to.0.email"}},
		{"bad from", strings.Replace(validMail, `cs@vendor.example`, `cs at vendor`, 1), []string{"from.email"}},
		{"no subject", strings.Replace(validMail, `"subject": "Hello",`, ``, 1), []string{"subject"}},
		{"html first", strings.Replace(validMail, `[{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}]`,
			`[{"type": "text/html", "value": "<p>Hi</p>"}, {"type": "text/plain", "value": "Hi"}]`, 1), []string{"content"}},
		{"empty content value", strings.Replace(validMail, `"value": "Hi"`, `"value": ""`, 1), []string{"content.0.value"}},
		{"reserved header", strings.Replace(validMail, `"List-Unsubscribe"`, `"From"`, 1), []string{"headers"}},
		{"custom arg not a string", strings.Replace(validMail, `"k1"`, `7`, 1), []string{"custom_args"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := send(t, s, tc.body)
			assert.Equal(t, 400, a.status, a.body)
			assert.ElementsMatch(t, tc.fields, fields(a.errors), a.body)
		})
	}

	subjectPerPersonalization := strings.Replace(strings.Replace(validMail, `"subject": "Hello",`, ``, 1),
		`"name": "Ada"}]`, `"name": "Ada"}], "subject": "Hi Ada"`, 1)
	assert.Equal(t, 202, send(t, s, subjectPerPersonalization).status, "a subject per personalization is enough")
	htmlOnly := strings.Replace(validMail, `{"type": "text/plain", "value": "Hi"}, `, ``, 1)
	assert.Equal(t, 202, send(t, s, htmlOnly).status)

	assert.Len(t, s.Accepted(), 3, "only the good ones")
}

func TestScriptedAnswersThenDefault(t *testing.T) {
	s := sendgridfake.New(t)
	reset := time.Now().Add(3 * time.Second).Truncate(time.Second)
	s.Enqueue(
		sendgridfake.Answer{Status: 500},
		sendgridfake.Answer{Status: 429, RateLimitReset: reset},
		sendgridfake.Answer{Status: 400, Body: sendgridfake.ErrorJSON(sendgridfake.Errorf("from.email", "nope"))},
	)
	// A malformed request does not use a scripted answer.
	assert.Equal(t, 401, post(t, s, "Bearer nope", "application/json", validMail).status)
	assert.Equal(t, 3, s.Pending())

	a := send(t, s, validMail)
	assert.Equal(t, 500, a.status)
	assert.Empty(t, a.header.Get("X-Message-Id"))

	a = send(t, s, validMail)
	assert.Equal(t, 429, a.status)
	assert.Equal(t, "0", a.header.Get("X-RateLimit-Remaining"))
	assert.NotEmpty(t, a.header.Get("X-RateLimit-Limit"))
	assert.Equal(t, strconv.FormatInt(reset.Unix(), 10), a.header.Get("X-RateLimit-Reset"))

	a = send(t, s, validMail)
	assert.Equal(t, 400, a.status)
	assert.Equal(t, []string{"from.email"}, fields(a.errors))

	assert.Equal(t, 202, send(t, s, validMail).status)
	assert.Equal(t, 202, send(t, s, validMail).status)
	assert.Len(t, s.Accepted(), 2)
	statuses := []int{}
	for _, r := range s.Requests() {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{401, 500, 429, 400, 202, 202}, statuses)
}

func TestDelayedAnswerTheClientGaveUpOnIsNotAccepted(t *testing.T) {
	s := sendgridfake.New(t)
	s.Enqueue(sendgridfake.Answer{Delay: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/v3/mail/send", strings.NewReader(validMail))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.APIKey())
	req.Header.Set("Content-Type", "application/json")
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	start := time.Now()
	s.Close()
	assert.Less(t, time.Since(start), 5*time.Second, "the handler noticed the client left")
	reqs := s.Requests()
	require.Len(t, reqs, 1)
	assert.True(t, reqs[0].ClientGone)
	assert.Equal(t, 0, reqs[0].Status)
	assert.Empty(t, s.Accepted())
}

func TestDelayedAnswerArrives(t *testing.T) {
	s := sendgridfake.New(t)
	s.Enqueue(sendgridfake.Answer{Delay: 50 * time.Millisecond})
	start := time.Now()
	assert.Equal(t, 202, send(t, s, validMail).status)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)
	assert.Len(t, s.Accepted(), 1)
}

// The real sendgrid-go client's request passes the fake's checks.
func TestSendgridGoClient(t *testing.T) {
	s := sendgridfake.New(t)
	m := mail.NewSingleEmail(mail.NewEmail("CS", "cs@vendor.example"), "Hello",
		mail.NewEmail("Ada", "ada@acme.example"), "Hi", "<p>Hi</p>")
	req := sendgrid.GetRequest(s.APIKey(), "/v3/mail/send", s.URL())
	req.Method = rest.Post
	req.Body = mail.GetRequestBody(m)
	res, err := sendgrid.MakeRequestWithContext(context.Background(), req)
	require.NoError(t, err)
	assert.Equal(t, 202, res.StatusCode, res.Body)
	assert.NotEmpty(t, http.Header(res.Headers).Get("X-Message-Id"))
}

func TestConcurrentUse(t *testing.T) {
	s := sendgridfake.New(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Enqueue(sendgridfake.Answer{Status: 500})
			_ = s.Requests()
			_ = s.Accepted()
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPost, s.URL()+"/v3/mail/send", strings.NewReader(validMail))
			req.Header.Set("Authorization", "Bearer "+s.APIKey())
			req.Header.Set("Content-Type", "application/json")
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	assert.Len(t, s.Requests(), 20)
	// Each request either used up a scripted 500 or was accepted.
	assert.Equal(t, s.Pending(), len(s.Accepted()))
}
