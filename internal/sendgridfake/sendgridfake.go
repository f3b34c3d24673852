// Package sendgridfake is a SendGrid v3 Mail Send API on loopback, for tests.
//
// It checks a POST /v3/mail/send the way SendGrid does (bearer API key, JSON
// content type, the shape of the mail) and answers with SendGrid's status
// codes, headers and error bodies, so the real sendgrid-go client can be
// pointed at it. Tests can script answers (server errors, rate limits, slow
// answers) and read back every request and every accepted message.
//
//	fake := sendgridfake.New(t)
//	fake.Enqueue(sendgridfake.Answer{Status: 500})      // first well-formed request
//	fake.Enqueue(sendgridfake.Answer{Status: 202, Delay: 5 * time.Second})
//	... point the client at fake.URL() with fake.APIKey() ...
//	fake.Accepted() // what SendGrid would deliver
//
// A Server is safe for concurrent use.
package sendgridfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultAPIKey is the key a new Server accepts.
const DefaultAPIKey = "SG.sendgridfake.test-key"

// SendPath is the only endpoint the fake serves.
const SendPath = "/v3/mail/send"

// MaxBodyBytes is SendGrid's limit on a mail send request (30 MB).
const MaxBodyBytes = 30 << 20

// Address is an email address with an optional display name.
type Address struct {
	Email string `json:"email"`
	Name  string `json:"name,omitempty"`
}

// Content is one body part.
type Content struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Personalization is one envelope of a send.
type Personalization struct {
	To            []Address         `json:"to"`
	CC            []Address         `json:"cc,omitempty"`
	BCC           []Address         `json:"bcc,omitempty"`
	From          *Address          `json:"from,omitempty"`
	Subject       string            `json:"subject,omitempty"`
	Headers       map[string]string `json:"headers,omitempty"`
	Substitutions map[string]string `json:"substitutions,omitempty"`
	CustomArgs    map[string]string `json:"custom_args,omitempty"`
	SendAt        int64             `json:"send_at,omitempty"`
}

// Mail is the part of the v3 request body the fake understands. Other
// fields are accepted and ignored (the raw body is kept in Request.Body).
type Mail struct {
	Personalizations []Personalization `json:"personalizations"`
	From             *Address          `json:"from"`
	ReplyTo          *Address          `json:"reply_to,omitempty"`
	Subject          string            `json:"subject,omitempty"`
	Content          []Content         `json:"content,omitempty"`
	TemplateID       string            `json:"template_id,omitempty"`
	Headers          map[string]string `json:"headers,omitempty"`
	Categories       []string          `json:"categories,omitempty"`
	CustomArgs       map[string]string `json:"custom_args,omitempty"`
	SendAt           int64             `json:"send_at,omitempty"`

	// MessageID is the X-Message-Id the fake answered with; set on
	// accepted messages only.
	MessageID string `json:"-"`
}

// ContentOf returns the value of the first content block of the given type.
func (m Mail) ContentOf(typ string) (string, bool) {
	for _, c := range m.Content {
		if c.Type == typ {
			return c.Value, true
		}
	}
	return "", false
}

// Error is one entry of SendGrid's error body.
type Error struct {
	Message string  `json:"message"`
	Field   *string `json:"field"`
	Help    *string `json:"help"`
}

// ErrorBody is SendGrid's error body: {"errors":[{"message":..,"field":..,"help":null}]}.
type ErrorBody struct {
	Errors []Error `json:"errors"`
}

// Errorf builds one SendGrid error; an empty field is sent as null.
func Errorf(field, format string, args ...any) Error {
	e := Error{Message: fmt.Sprintf(format, args...)}
	if field != "" {
		e.Field = &field
	}
	return e
}

// ErrorJSON renders a SendGrid error body, for Answer.Body.
func ErrorJSON(errs ...Error) string {
	b, _ := json.Marshal(ErrorBody{Errors: errs})
	return string(b)
}

// Answer is a scripted response. The zero Answer is a plain 202.
type Answer struct {
	// Status to answer with; 0 means 202. A 2xx status accepts the message
	// (it gets an X-Message-Id and shows up in Accepted).
	Status int
	// Body replaces the response body. Empty: no body for 2xx, a
	// SendGrid-shaped error naming the status otherwise.
	Body string
	// Header is added to the response.
	Header http.Header
	// RateLimitReset, when set, adds X-RateLimit-Limit, X-RateLimit-Remaining: 0
	// and X-RateLimit-Reset (Unix seconds), as SendGrid does on a 429.
	RateLimitReset time.Time
	// Delay holds the answer back. If the client gives up first (timeout,
	// cancellation), nothing is answered and the message is not accepted.
	Delay time.Duration
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Mail is the parsed body; nil if it was not JSON of the right shape.
	Mail *Mail
	// Status is what the fake answered; 0 while a delayed answer is pending
	// or when the client went away before it.
	Status int
	// MessageID is the X-Message-Id answered on a 2xx.
	MessageID string
	// Errors are the errors in the answer's body, if the fake produced them.
	Errors []Error
	// ClientGone is true when the client disconnected before a delayed
	// answer was written.
	ClientGone bool
}

// Server is a fake SendGrid. Create it with New.
type Server struct {
	srv       *httptest.Server
	closeOnce sync.Once

	mu       sync.Mutex
	apiKey   string
	queue    []Answer
	failFor  map[string]int // recipient address (lower case) -> status
	requests []*Request
	accepted []Mail
}

// New starts a fake on loopback that accepts DefaultAPIKey. It is closed
// when the test ends.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{apiKey: DefaultAPIKey}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL is the base URL to give a client (the host, without /v3/mail/send).
func (s *Server) URL() string { return s.srv.URL }

// APIKey is the key the fake currently accepts.
func (s *Server) APIKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apiKey
}

// SetAPIKey changes the accepted key (to test a revoked or wrong key).
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// Enqueue adds scripted answers. They are used in order by the next
// authenticated, well-formed send requests (a malformed request is answered
// as SendGrid would and does not use one); when the queue is empty the
// fake accepts with 202.
func (s *Server) Enqueue(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, answers...)
}

// FailFor answers every send to address (a to, cc or bcc recipient) with
// status, for good: a mailbox SendGrid keeps refusing. Status 0 lifts it.
// It takes precedence over the scripted queue.
func (s *Server) FailFor(address string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failFor == nil {
		s.failFor = map[string]int{}
	}
	if status == 0 {
		delete(s.failFor, strings.ToLower(address))
		return
	}
	s.failFor[strings.ToLower(address)] = status
}

// failing is the status FailFor set for one of m's recipients, or 0.
func (s *Server) failing(m *Mail) int {
	for _, p := range m.Personalizations {
		for _, list := range [][]Address{p.To, p.CC, p.BCC} {
			for _, a := range list {
				if st := s.failFor[strings.ToLower(a.Email)]; st != 0 {
					return st
				}
			}
		}
	}
	return 0
}

// Pending is the number of scripted answers not used yet.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Requests returns a copy of every request received, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
	}
	return out
}

// Accepted returns every message answered with a 2xx, in order: what
// SendGrid would deliver. Treat the result as read-only.
func (s *Server) Accepted() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.accepted...)
}

// AcceptedWith returns the accepted messages whose top-level custom_args
// has key set to value, e.g. AcceptedWith("idempotency_key", k).
func (s *Server) AcceptedWith(key, value string) []Mail {
	var out []Mail
	for _, m := range s.Accepted() {
		if v, ok := m.CustomArgs[key]; ok && v == value {
			out = append(out, m)
		}
	}
	return out
}

// Close stops the server, waiting for requests in flight (a delayed answer
// ends early if its client is gone). Safe to call more than once.
func (s *Server) Close() { s.closeOnce.Do(s.srv.Close) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := &Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()}
	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	rec.Body = body
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	key := s.apiKey
	s.mu.Unlock()

	if r.URL.Path != SendPath {
		s.fail(w, rec, http.StatusNotFound, Errorf("", "resource not found"))
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, rec, http.StatusMethodNotAllowed, Errorf("", "method not allowed"))
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.fail(w, rec, http.StatusUnauthorized, Errorf("", "authorization required"))
		return
	}
	if got, ok := strings.CutPrefix(auth, "Bearer "); !ok || got != key {
		s.fail(w, rec, http.StatusUnauthorized, Errorf("", "The provided authorization grant is invalid, expired, or revoked"))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.fail(w, rec, http.StatusUnsupportedMediaType, Errorf("", "Content-Type should be application/json."))
		return
	}
	if readErr != nil {
		if errors.As(readErr, new(*http.MaxBytesError)) {
			s.fail(w, rec, http.StatusRequestEntityTooLarge, Errorf("", "Payload Too Large"))
		} else {
			s.fail(w, rec, http.StatusBadRequest, Errorf("", "Bad Request"))
		}
		return
	}
	m, errs := Parse(body)
	s.mu.Lock()
	rec.Mail = m
	s.mu.Unlock()
	if len(errs) > 0 {
		s.fail(w, rec, http.StatusBadRequest, errs...)
		return
	}

	s.mu.Lock()
	var a Answer
	if st := s.failing(m); st != 0 {
		a.Status = st
	} else if len(s.queue) > 0 {
		a, s.queue = s.queue[0], s.queue[1:]
	}
	s.mu.Unlock()
	if a.Status == 0 {
		a.Status = http.StatusAccepted
	}
	if a.Delay > 0 {
		timer := time.NewTimer(a.Delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			s.mu.Lock()
			rec.ClientGone = true
			s.mu.Unlock()
			return
		}
	}

	h := w.Header()
	for k, vs := range a.Header {
		h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	}
	if !a.RateLimitReset.IsZero() {
		h.Set("X-RateLimit-Limit", "600")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(a.RateLimitReset.Unix(), 10))
	}
	if a.Status >= 200 && a.Status < 300 {
		id := newMessageID()
		h.Set("X-Message-Id", id)
		accepted := *m
		accepted.MessageID = id
		s.mu.Lock()
		rec.Status, rec.MessageID = a.Status, id
		s.accepted = append(s.accepted, accepted)
		s.mu.Unlock()
		w.WriteHeader(a.Status)
		io.WriteString(w, a.Body)
		return
	}
	if a.Body != "" {
		var eb ErrorBody
		_ = json.Unmarshal([]byte(a.Body), &eb)
		s.mu.Lock()
		rec.Status, rec.Errors = a.Status, eb.Errors
		s.mu.Unlock()
		if h.Get("Content-Type") == "" {
			h.Set("Content-Type", "application/json")
		}
		w.WriteHeader(a.Status)
		io.WriteString(w, a.Body)
		return
	}
	msg := http.StatusText(a.Status)
	if a.Status == http.StatusTooManyRequests {
		msg = "too many requests"
	}
	s.fail(w, rec, a.Status, Errorf("", "%s", msg))
}

// fail answers with a SendGrid error body and records it.
func (s *Server) fail(w http.ResponseWriter, rec *Request, status int, errs ...Error) {
	s.mu.Lock()
	rec.Status, rec.Errors = status, errs
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, ErrorJSON(errs...))
}

// Parse decodes and checks a v3 mail send body as SendGrid does, returning
// the mail (nil if the body is not JSON of the right shape) and the errors
// SendGrid would answer with. Messages follow SendGrid's wording where it is
// known; a few (reserved headers, custom_args size) are approximations.
func Parse(body []byte) (*Mail, []Error) {
	var m Mail
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, []Error{Errorf(typeErr.Field, "Invalid type. Expected: %s, given: %s.", typeErr.Type, typeErr.Value)}
		}
		return nil, []Error{Errorf("", "Bad Request")}
	}
	if dec.More() {
		return nil, []Error{Errorf("", "Bad Request")}
	}
	return &m, Validate(&m)
}

// Validate checks the rules SendGrid applies to a parsed mail.
func Validate(m *Mail) []Error {
	var errs []Error
	if len(m.Personalizations) == 0 {
		errs = append(errs, Errorf("personalizations", "The personalizations field is required and must have at least one personalization."))
	}
	everyHasSubject := len(m.Personalizations) > 0
	for i, p := range m.Personalizations {
		if len(p.To) == 0 {
			errs = append(errs, Errorf(fmt.Sprintf("personalizations.%d.to", i),
				"The to array is required for all personalization objects, and must have at least one email object with a valid email address."))
		}
		for j, to := range p.To {
			if !validEmail(to.Email) {
				errs = append(errs, Errorf(fmt.Sprintf("personalizations.%d.to.%d.email", i, j), "Does not contain a valid address."))
			}
		}
		if p.Subject == "" {
			everyHasSubject = false
		}
		errs = append(errs, checkHeaders(fmt.Sprintf("personalizations.%d.headers", i), p.Headers)...)
	}
	switch {
	case m.From == nil:
		errs = append(errs, Errorf("from", "The from object must be provided for every email send. It is an object that requires the email parameter, but may also contain a name parameter."))
	case !validEmail(m.From.Email):
		errs = append(errs, Errorf("from.email", "The from email does not contain a valid address."))
	}
	if m.TemplateID == "" && m.Subject == "" && !everyHasSubject {
		errs = append(errs, Errorf("subject", "The subject is required. You can get around this requirement if you use a template with a subject defined or if every personalization has a subject defined."))
	}
	if m.TemplateID == "" && len(m.Content) == 0 {
		errs = append(errs, Errorf("content", "Unless a valid template_id is provided, the content parameter is required. There must be at least one defined content block. We typically suggest both text/plain and text/html blocks are included, but only one block is required."))
	}
	plain, html := -1, -1
	for i, c := range m.Content {
		if c.Type == "" {
			errs = append(errs, Errorf(fmt.Sprintf("content.%d.type", i), "The content type must be a string at least one character in length."))
		}
		if c.Value == "" {
			errs = append(errs, Errorf(fmt.Sprintf("content.%d.value", i), "The content value must be a string at least one character in length."))
		}
		switch c.Type {
		case "text/plain":
			if plain >= 0 {
				errs = append(errs, Errorf("content", "If present, text/plain and text/html may only be provided once."))
			}
			plain = i
		case "text/html":
			if html >= 0 {
				errs = append(errs, Errorf("content", "If present, text/plain and text/html may only be provided once."))
			}
			html = i
		}
	}
	wantHTML := 0 // text/html comes first, or right after text/plain
	if plain >= 0 {
		wantHTML = plain + 1
	}
	if plain > 0 || (html >= 0 && html != wantHTML) {
		errs = append(errs, Errorf("content", "If present, text/plain must be first, followed by text/html, followed by any other content."))
	}
	errs = append(errs, checkHeaders("headers", m.Headers)...)
	size := 0
	for k, v := range m.CustomArgs {
		size += len(k) + len(v)
	}
	if size > 10000 {
		errs = append(errs, Errorf("custom_args", "The custom_args total size must be less than 10,000 bytes."))
	}
	return errs
}

// reservedHeaders cannot be set through the headers object.
var reservedHeaders = map[string]bool{
	"x-sg-id": true, "x-sg-eid": true, "received": true, "dkim-signature": true, "content-type": true,
	"content-transfer-encoding": true, "to": true, "from": true, "subject": true, "reply-to": true, "cc": true, "bcc": true,
}

func checkHeaders(field string, headers map[string]string) []Error {
	var errs []Error
	for k, v := range headers {
		switch {
		case reservedHeaders[strings.ToLower(k)]:
			errs = append(errs, Errorf(field, "The header %q is reserved and cannot be set.", k))
		case strings.ContainsAny(k, " :\r\n") || strings.ContainsAny(v, "\r\n"):
			errs = append(errs, Errorf(field, "The header %q is not a valid header.", k))
		}
	}
	return errs
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// newMessageID makes an id shaped like SendGrid's (22 url-safe characters).
func newMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
