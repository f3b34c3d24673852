package apiserver_test

// Fuzz targets for the JSON bodies of every API route that takes one.
//
// The API runs in-process (httptest, no listener) against a real Temporal
// SDK client that cannot connect: client.NewLazyClient pointed at
// 127.0.0.1:1. Its calls fail at once with serviceerror.Unavailable, which
// the API answers 503; every request also carries a short context deadline,
// so a call that hung would fail the "answers in time" property instead of
// stalling the fuzzer. Nothing here needs the package's shared Temporal test
// server. Consequently a body that passes decoding and the API's own checks
// answers 503, never 2xx.
//
// Properties checked for every answer (fzCheckAnswer):
//   - no 5xx but 503, and the handler answers within fzTimeout;
//   - every non-2xx answer is exactly {"error":{"code","message"[,"field"]}}
//     with a non-empty code and message; every answer is JSON and has an
//     X-Request-ID;
//   - a body over the size limit gets 413 (or 400 when the body is malformed
//     JSON anyway); it is never acted on;
//
// and per route, a model of the expected status (fzJSONModel, the webhook
// models): 400 exactly when the body is not one JSON object of the route's
// type (strict: no unknown fields, nothing but whitespace after it), else
// the route's validation (422) or Temporal (503).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

const (
	fzSalesKey   = "fuzz-sales-key-1-01234567"
	fzCSMKey     = "fuzz-csm-key-001-01234567"
	fzIntegKey   = "fuzz-integ-key-1-01234567"
	fzDealSecret = "fuzz-deal-webhook-secret"
	// fzMaxBody is the fuzzed API's body limit: small enough for the fuzzer
	// to cross, large enough for a body carrying the default playbook.
	fzMaxBody = 16 << 10
	fzTimeout = 5 * time.Second
)

// fzNow is the API's clock: fixed, so timestamps and renewal dates in seeds
// stay valid and every input answers the same way on every run.
var fzNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type fzAPI struct {
	h     http.Handler
	sgKey *ecdsa.PrivateKey
	// sgDone are the SendGrid event ids the API has applied (marked done
	// in its store): a later event with one of them is a duplicate.
	sgDone map[string]bool
}

// fuzzDeps are a fuzzed API's Temporal client, which cannot reach a server
// (127.0.0.1:1), and its store.
func fuzzDeps(f *testing.F) (client.Client, *store.Store) {
	f.Helper()
	quiet := sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(c.Close)
	st, err := store.Open(context.Background(), "", f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	return c, st
}

func newFuzzAPI(f *testing.F) *fzAPI {
	f.Helper()
	c, st := fuzzDeps(f)
	sgKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	api := apiserver.New(apiserver.Options{
		Client: c, Namespace: "default",
		APIKeys:   map[string]string{fzSalesKey: "sales", fzCSMKey: "csm", fzIntegKey: "integration"},
		DayLength: time.Hour, DealSecret: fzDealSecret, Logger: zap.NewNop(),
		MaxBody: fzMaxBody, Now: func() time.Time { return fzNow },
		Store: st, SendGridKey: &sgKey.PublicKey,
	})
	return &fzAPI{h: api.Handler(), sgKey: sgKey, sgDone: map[string]bool{}}
}

// post sends one POST and checks the properties every answer has.
func (a *fzAPI) post(t *testing.T, path, key string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	return a.send(t, http.MethodPost, path, key, body, header)
}

// send sends one request and checks the properties every answer has.
func (a *fzAPI) send(t *testing.T, method, path, key string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fzTimeout)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	start := time.Now()
	a.h.ServeHTTP(rec, req)
	if took := time.Since(start); took >= fzTimeout {
		t.Fatalf("%s %s took %v (body %q)", method, path, took, fzShort(body))
	}
	fzCheckAnswer(t, method+" "+path, body, rec)
	return rec.Code, rec.Body.Bytes()
}

func fzCheckAnswer(t *testing.T, what string, body []byte, rec *httptest.ResponseRecorder) {
	t.Helper()
	status := rec.Code
	if status >= 500 && status != http.StatusServiceUnavailable {
		t.Fatalf("%s answered %d %s for body %q", what, status, rec.Body.String(), fzShort(body))
	}
	if rec.Header().Get("X-Request-ID") == "" {
		t.Fatalf("%s answered %d without X-Request-ID", what, status)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s answered %d with Content-Type %q: %s", what, status, ct, rec.Body.String())
	}
	if status >= 200 && status < 300 {
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s answered %d with invalid JSON %q", what, status, rec.Body.String())
		}
		return
	}
	var eb apiserver.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil || dec.More() {
		t.Fatalf("%s answered %d without the error shape (%v): %s", what, status, err, rec.Body.String())
	}
	if eb.Error.Code == "" || strings.TrimSpace(eb.Error.Message) == "" {
		t.Fatalf("%s answered %d with an empty error code or message: %s", what, status, rec.Body.String())
	}
}

// fzStrict reports whether body is what the API's decoder should accept:
// exactly one JSON value of v's type, no unknown fields, only whitespace
// after it.
func fzStrict(body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false
	}
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// fzOversize checks the answer to a body over the limit: 413, or 400 when
// the body is not a valid request anyway. It is never acted on.
func fzOversize(t *testing.T, what string, status int, answer, body []byte, valid bool) {
	t.Helper()
	if status == http.StatusRequestEntityTooLarge || (status == http.StatusBadRequest && !valid) {
		return
	}
	t.Fatalf("%s: a %d-byte body (limit %d, valid JSON: %v) answered %d %s; want 413; body %q",
		what, len(body), fzMaxBody, valid, status, answer, fzShort(body))
}

func fzShort(b []byte) string {
	if len(b) > 300 {
		return string(b[:150]) + "..." + string(b[len(b)-150:])
	}
	return string(b)
}

// fzRoute is a customer route with a JSON body.
type fzRoute struct {
	put    bool // PUT, not POST
	path   string
	key    string
	newReq func() any
	// after decoding: the statuses the route may answer (Temporal being
	// unreachable, 2xx is impossible); check refines them when set.
	check func(t *testing.T, req any, status int, answer []byte)
	// emptyOK: an empty body is not decoded (resume).
	emptyOK bool
}

func (r fzRoute) method() string {
	if r.put {
		return http.MethodPut
	}
	return http.MethodPost
}

// fzFields models a route whose fields the API checks with a workflows
// validator: 422 exactly when it refuses them, else Temporal (503).
func fzFields[T any](validate func(T) error) func(t *testing.T, req any, status int, answer []byte) {
	return func(t *testing.T, req any, status int, answer []byte) {
		t.Helper()
		want := http.StatusServiceUnavailable
		if validate(*req.(*T)) != nil {
			want = http.StatusUnprocessableEntity
		}
		if status != want {
			t.Fatalf("a decoded %T answered %d %s; want %d (the fields' validator decides)", req, status, answer, want)
		}
	}
}

var fzRoutes = map[string]fzRoute{
	"start": {path: "/v1/customers", key: fzSalesKey, newReq: func() any { return new(apiserver.StartRequest) },
		check: func(t *testing.T, req any, status int, answer []byte) {
			t.Helper()
			if req.(*apiserver.StartRequest).PlaybookYAML != "" {
				if status != http.StatusForbidden {
					t.Fatalf("a start with a playbook from a sales key answered %d %s; want 403", status, answer)
				}
				return
			}
			if status != http.StatusUnprocessableEntity && status != http.StatusServiceUnavailable {
				t.Fatalf("a decoded start answered %d %s; want 422 or 503", status, answer)
			}
		}},
	"events": {path: "/v1/customers/acme/events", key: fzIntegKey, newReq: func() any { return new(workflows.EngagementEvent) },
		check: func(t *testing.T, req any, status int, answer []byte) {
			t.Helper()
			// The API checks the event's shape (422) before Temporal (503);
			// an event without an id is always refused.
			if status != http.StatusUnprocessableEntity && status != http.StatusServiceUnavailable {
				t.Fatalf("a decoded event answered %d %s; want 422 or 503", status, answer)
			}
			if req.(*workflows.EngagementEvent).ID == "" && status != http.StatusUnprocessableEntity {
				t.Fatalf("an event without an id answered %d %s; want 422", status, answer)
			}
		}},
	"complaints": {path: "/v1/customers/acme/complaints", key: fzCSMKey, newReq: func() any { return new(workflows.Complaint) },
		check: fzFields(workflows.ValidateComplaint)},
	"outcomes": {path: "/v1/customers/acme/outcomes", key: fzCSMKey, newReq: func() any { return new(workflows.Outcome) },
		check: fzFields(func(o workflows.Outcome) error { return workflows.ValidateOutcomeFields(o, fzNow) })},
	"pause": {path: "/v1/customers/acme/pause", key: fzCSMKey, newReq: func() any { return new(workflows.PauseRequest) },
		check: fzFields(workflows.ValidatePause)},
	"resume": {path: "/v1/customers/acme/resume", key: fzCSMKey, newReq: func() any { return new(workflows.ResumeRequest) },
		check: fzFields(workflows.ValidateResume), emptyOK: true},
	"reassign": {path: "/v1/customers/acme/reassign", key: fzCSMKey, newReq: func() any { return new(workflows.Reassignment) },
		check: fzFields(workflows.ValidateReassign)},
	"champion": {put: true, path: "/v1/customers/acme/champion", key: fzCSMKey, newReq: func() any { return new(workflows.ChampionChange) },
		check: fzFields(workflows.ValidateChampion)},
}

// fzJSONModel posts body to a customer route and checks the expected status.
func (a *fzAPI) fzJSONModel(t *testing.T, name string, body []byte) {
	t.Helper()
	r := fzRoutes[name]
	status, answer := a.send(t, r.method(), r.path, r.key, body, nil)
	req := r.newReq()
	valid := fzStrict(body, req)
	switch {
	case len(body) > fzMaxBody:
		fzOversize(t, name, status, answer, body, valid)
	case r.emptyOK && len(body) == 0:
		r.check(t, req, status, answer)
	case !valid:
		if status != http.StatusBadRequest {
			t.Fatalf("%s: a body that is not one %T answered %d %s; want 400; body %q", name, req, status, answer, fzShort(body))
		}
	default:
		if status == http.StatusBadRequest {
			t.Fatalf("%s: a valid %T answered 400 %s; body %q", name, req, answer, fzShort(body))
		}
		r.check(t, req, status, answer)
	}
}

// Seeds.

func fzStartBody(id string) string {
	return `{
  "account": {"id": "` + id + `", "name": "Acme Corp", "plan": "enterprise", "renewal_date": "2027-12-01"},
  "champion": {"name": "Ada Lovelace", "email": "ada@acme.example", "time_zone": "Europe/London"},
  "csm": {"name": "Grace Hopper", "email": "grace@vendor.example"},
  "manager_email": "manager@vendor.example",
  "deal_id": "deal-42"
}`
}

// fzBroken are bodies every route must refuse or survive.
var fzBroken = []string{
	``, ` `, `{`, `}`, `{}`, `[]`, `null`, `"x"`, `0`, `{"a":1}`, `{} {}`, `{}x`,
	`{"id": 7}`, `{"id": null}`, `{"id": "\ud800"}`, `{"id": "ünï\u0000cödé"}`,
	`{"reason": 1e999}`, `{"sentiment": 99999999999999999999}`, `{"sentiment": -1.5}`,
	`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, `{"attributes": {"a": [1, [2]]}}`,
	"\xef\xbb\xbf{}", "{\"id\":\"\xff\"}",
}

func fzAddAll(f *testing.F, bodies ...string) {
	for _, b := range append(bodies, fzBroken...) {
		f.Add([]byte(b))
	}
}

func FuzzStartCustomer(f *testing.F) {
	a := newFuzzAPI(f)
	full := fzStartBody("acme")
	pb, _ := json.Marshal(map[string]string{"playbook_yaml": "id: small\nversion: 1\nname: Small\n"})
	fzAddAll(f, full,
		strings.Replace(full, `"deal_id"`, `"sponsor_email": "ceo@acme.example", "deal_id"`, 1),
		strings.Replace(full, "2027-12-01", "2020-01-01", 1),
		strings.Replace(full, "2027-12-01", "2027-12-01T10:00:00Z", 1),
		strings.Replace(full, "2027-12-01", "tomorrow", 1),
		strings.Replace(full, `"2027-12-01"`, `20271201`, 1),
		strings.Replace(full, `"acme"`, `"ACME CORP"`, 1),
		strings.Replace(full, `"Europe/London"`, `"Mars/Olympus"`, 1),
		strings.Replace(full, `"deal_id"`, `"acount": {}, "deal_id"`, 1),
		strings.Replace(full, `"deal_id": "deal-42"`, `"deal_id": "deal-42", "playbook_yaml": "id: [", "sponsor_email": ""`, 1),
		strings.Replace(full, `"deal_id"`, string(pb[1:len(pb)-1])+`, "deal_id"`, 1),
		full[:len(full)/2],
		`{"account": `, `{"acount": {}}`, `{"account": {"id": 7}}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "start", body) })
}

func FuzzCustomerEvent(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f,
		`{"id": "webinar-7", "type": "webinar_attended"}`,
		`{"id": "e1", "type": "login", "time": "2026-05-31T10:00:00Z", "source": "app", "attributes": {"user": "ada"}}`,
		`{"id": "x", "type": "teleported"}`,
		`{"id": "   ", "type": "login"}`,
		`{"id": "e2", "type": "login", "time": "yesterday"}`,
		`{"id": "e3", "type": "login", "time": "0001-01-01T00:00:00Z"}`,
		`{"id": "e4", "type": "login", "attributes": {"k": 1}}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "events", body) })
}

func FuzzCustomerComplaint(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f,
		`{"severity": "high", "summary": "Nightly export fails"}`,
		`{"severity": "critical", "summary": "Down", "source": "zendesk"}`,
		`{"severity": "apocalyptic", "summary": ""}`,
		`{"severity": ["high"]}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "complaints", body) })
}

func FuzzCustomerOutcome(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f,
		`{"kind": "handoff_held"}`,
		`{"kind": "complaint_resolved", "complaint_id": "c1", "note": "patched"}`,
		`{"kind": "milestone_completed", "milestone_id": "nope"}`,
		`{"kind": "sentiment", "sentiment": 5, "by": "grace@vendor.example"}`,
		`{"kind": "risk", "risk": "high"}`,
		`{"kind": "renewed", "renewal_date": "2028-12-01T00:00:00Z"}`,
		`{"kind": "renewed", "renewal_date": "2028-12-01"}`,
		`{"kind": "churned", "note": "budget"}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "outcomes", body) })
}

func FuzzCustomerPause(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f, `{"reason": "holiday"}`, `{"reason": "legal hold", "by": "grace@vendor.example"}`, `{"reason": ""}`)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "pause", body) })
}

func FuzzCustomerResume(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f, `{"by": "grace@vendor.example"}`, `{"by": 1}`)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "resume", body) })
}

func FuzzCustomerChampion(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f,
		`{"champion": {"name": "Katherine Johnson", "email": "katherine@acme.example", "time_zone": "America/New_York"}, "reason": "Ada left"}`,
		`{"champion": {"name": "Katherine Johnson", "email": "katherine@acme.example", "time_zone": "Mars/Olympus"}}`,
		`{"champion": {"name": "", "email": "not-an-email"}}`,
		`{"champion": "katherine@acme.example"}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "champion", body) })
}

func FuzzCustomerReassign(f *testing.F) {
	a := newFuzzAPI(f)
	fzAddAll(f,
		`{"csm": {"name": "Katherine Johnson", "email": "katherine@vendor.example"}, "reason": "territory"}`,
		`{"csm": {"name": "", "email": "not-an-email"}}`,
		`{"csm": "katherine@vendor.example"}`,
	)
	f.Fuzz(func(t *testing.T, body []byte) { a.fzJSONModel(t, "reassign", body) })
}

// FuzzOversizedBody sends every body route a body just over the limit: a
// fuzzed prefix padded with a fuzzed byte.
func FuzzOversizedBody(f *testing.F) {
	a := newFuzzAPI(f)
	f.Add(uint8(0), []byte(`{"deal_id": "`), byte('x'), uint16(0))
	f.Add(uint8(1), []byte(`{"id": "e1", "type": "login", "attributes": {"a": "`), byte('y'), uint16(1))
	f.Add(uint8(2), []byte(`{"severity": "high", "summary": "`), byte('z'), uint16(100))
	f.Add(uint8(3), []byte(`[`), byte('['), uint16(7))
	f.Add(uint8(5), []byte(``), byte('x'), uint16(0))
	f.Add(uint8(7), []byte(`{"event": "x", "deal": {}, "pad": "`), byte('x'), uint16(3))
	f.Add(uint8(8), []byte(`[{"event": "open", "email": "`), byte('a'), uint16(3))
	names := []string{"start", "events", "complaints", "outcomes", "pause", "resume", "reassign", "champion"}
	f.Fuzz(func(t *testing.T, route uint8, prefix []byte, pad byte, extra uint16) {
		if len(prefix) > fzMaxBody {
			prefix = prefix[:fzMaxBody]
		}
		body := append(bytes.Clone(prefix), bytes.Repeat([]byte{pad}, fzMaxBody+1-len(prefix)+int(extra))...)
		switch i := int(route) % (len(names) + 2); {
		case i < len(names):
			r := fzRoutes[names[i]]
			status, answer := a.send(t, r.method(), r.path, r.key, body, nil)
			fzOversize(t, names[i], status, answer, body, fzStrict(body, r.newReq()))
		case i == len(names):
			ts := fzNow.Unix()
			status, answer := a.post(t, "/v1/webhooks/deals", "", body, map[string]string{
				apiserver.DealTimestampHeader: strconv.FormatInt(ts, 10),
				apiserver.DealSignatureHeader: apiserver.SignDeal(fzDealSecret, ts, body)})
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("deal webhook: %d-byte body answered %d %s; want 413", len(body), status, answer)
			}
		default:
			status, answer := a.post(t, "/v1/webhooks/sendgrid", "", body, a.sgHeaders(t, fzNow.Unix(), body))
			if status != http.StatusRequestEntityTooLarge {
				t.Fatalf("sendgrid webhook: %d-byte body answered %d %s; want 413", len(body), status, answer)
			}
		}
	})
}

// Deal webhook.

func fzDealBody(event string) string {
	return `{"event": "` + event + `", "deal": ` + fzStartBody("acme") + `}`
}

var fzDealSeeds = []string{
	fzDealBody("deal.closed_won"), fzDealBody("deal.updated"), fzDealBody(""), fzDealBody("ünï\u2028"),
	`{"event": "deal.closed_won"}`, `{"event": "deal.closed_won", "deal": null}`, `{"event": "deal.closed_won", "deal": []}`,
	`{"event": 1}`, `{"event": "deal.closed_won", "deal": {"account": {"id": "acme", "renewal_date": 5}}}`,
	`{"event": "deal.closed_won", "deal": {"playbook_yaml": "id: x\n"}}`, `{"event": "deal.closed_won", "extra": true}`,
}

// dealModel checks a deal webhook answer given the headers sent.
func (a *fzAPI) dealModel(t *testing.T, body []byte, tsText, sig string) {
	t.Helper()
	status, answer := a.post(t, "/v1/webhooks/deals", "", body, map[string]string{
		apiserver.DealTimestampHeader: tsText, apiserver.DealSignatureHeader: sig})
	var hook apiserver.DealWebhook
	valid := fzStrict(body, &hook)
	if len(body) > fzMaxBody {
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("deal webhook: %d-byte body answered %d; want 413", len(body), status)
		}
		return
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	age := fzNow.Sub(time.Unix(ts, 0))
	signed := err == nil && age <= apiserver.DealReplayWindow && age >= -apiserver.DealReplayWindow &&
		strings.TrimSpace(sig) == apiserver.SignDeal(fzDealSecret, ts, body)
	switch {
	case !signed:
		if status != http.StatusUnauthorized {
			t.Fatalf("deal webhook: unsigned body answered %d %s; want 401 (ts %q sig %q)", status, answer, tsText, sig)
		}
	case !valid:
		if status != http.StatusBadRequest {
			t.Fatalf("deal webhook: signed body that is not one DealWebhook answered %d %s; want 400; body %q", status, answer, fzShort(body))
		}
	case hook.Event != "deal.closed_won":
		var got map[string]string
		if status != http.StatusAccepted || json.Unmarshal(answer, &got) != nil || got["ignored"] != hook.Event {
			t.Fatalf("deal webhook: event %q answered %d %s; want 202 {\"ignored\": event}", hook.Event, status, answer)
		}
	case hook.Deal.PlaybookYAML != "":
		if status != http.StatusForbidden {
			t.Fatalf("deal webhook: a deal with a playbook answered %d %s; want 403; body %q", status, answer, fzShort(body))
		}
	default:
		if status != http.StatusUnprocessableEntity && status != http.StatusServiceUnavailable {
			t.Fatalf("deal webhook: a decoded closed-won deal answered %d %s; want 422 or 503; body %q", status, answer, fzShort(body))
		}
	}
}

// FuzzDealWebhook fuzzes the body and the two signature headers: nearly
// everything is refused 401 (or 413); seeds include correctly signed ones.
func FuzzDealWebhook(f *testing.F) {
	a := newFuzzAPI(f)
	now := fzNow.Unix()
	nowText := strconv.FormatInt(now, 10)
	for _, b := range append(fzDealSeeds, fzBroken...) {
		f.Add([]byte(b), nowText, "sha256=00")
		f.Add([]byte(b), nowText, apiserver.SignDeal(fzDealSecret, now, []byte(b)))
	}
	f.Add([]byte(fzDealSeeds[0]), strconv.FormatInt(now-3600, 10), apiserver.SignDeal(fzDealSecret, now-3600, []byte(fzDealSeeds[0])))
	f.Add([]byte(fzDealSeeds[0]), "not-a-time", "%%%")
	f.Add([]byte(fzDealSeeds[0]), "", "")
	f.Add([]byte(fzDealSeeds[0]), "99999999999999999999", " "+apiserver.SignDeal(fzDealSecret, now, []byte(fzDealSeeds[0]))+" ")
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) { a.dealModel(t, body, ts, sig) })
}

// FuzzDealWebhookSigned signs every fuzzed body, so the parsing behind the
// signature is fuzzed.
func FuzzDealWebhookSigned(f *testing.F) {
	a := newFuzzAPI(f)
	for _, b := range append(fzDealSeeds, fzBroken...) {
		f.Add([]byte(b))
	}
	now := fzNow.Unix()
	f.Fuzz(func(t *testing.T, body []byte) {
		a.dealModel(t, body, strconv.FormatInt(now, 10), apiserver.SignDeal(fzDealSecret, now, body))
	})
}

// SendGrid webhook.

// fzSGEvent mirrors the fields the API reads from a SendGrid event.
type fzSGEvent struct {
	Email      string `json:"email"`
	Event      string `json:"event"`
	EventID    string `json:"sg_event_id"`
	Timestamp  int64  `json:"timestamp"`
	Reason     string `json:"reason"`
	CustomerID string `json:"customer_id"`
	Key        string `json:"idempotency_key"`
	Step       string `json:"step"`
	Kind       string `json:"kind"`
}

func (a *fzAPI) sgHeaders(t *testing.T, ts int64, body []byte) map[string]string {
	tsText := strconv.FormatInt(ts, 10)
	digest := sha256.Sum256(append([]byte(tsText), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.sgKey, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{apiserver.SendGridTimestampHeader: tsText, apiserver.SendGridSignatureHeader: base64.StdEncoding.EncodeToString(sig)}
}

var fzSGSeeds = []string{
	`[{"email": "ada@acme.example", "event": "open", "sg_event_id": "ev-open-1", "timestamp": 1780315200, "customer_id": "acme", "step": "handoff:welcome"}]`,
	`[{"email": "ada@acme.example", "event": "click", "sg_event_id": "ev-click-1", "timestamp": 1780315200, "customer_id": "acme"},
	  {"email": "ada@acme.example", "event": "delivered", "sg_event_id": "ev-del-1", "timestamp": 1780315200, "customer_id": "acme"},
	  {"email": "ada@acme.example", "event": "brand_new_event", "sg_event_id": "ev-new-1", "timestamp": 1780315200}]`,
	`[{"email": "Ada@acme.example", "event": "bounce", "sg_event_id": "ev-b-1", "timestamp": 1780315200, "customer_id": "acme", "reason": "550 no such user"}]`,
	`[{"email": "bob@nobody.example", "event": "unsubscribe", "sg_event_id": "ev-u-1", "timestamp": 1780315200}]`,
	`[{"email": "", "event": "dropped", "sg_event_id": "ev-d-1"}]`,
	`[{"event": "open", "sg_event_id": "", "customer_id": "acme"}]`,
	`[{"event": "open", "sg_event_id": "ev-o-2", "customer_id": "Not An Id"}]`,
	`[{"event": "processed", "sg_event_id": "ev-p-1", "unknown_custom_arg": [1, {"x": null}]}]`,
	`[null, {}, {"timestamp": 1.5}]`, `[{"timestamp": "now"}]`, `[{"event": "open",`, `{"event": "open"}`, `[]`,
}

// sgModel checks a SendGrid webhook answer given the headers sent.
func (a *fzAPI) sgModel(t *testing.T, body []byte, hdr map[string]string, signed bool) {
	t.Helper()
	status, answer := a.post(t, "/v1/webhooks/sendgrid", "", body, hdr)
	if len(body) > fzMaxBody {
		if status != http.StatusRequestEntityTooLarge {
			t.Fatalf("sendgrid webhook: %d-byte body answered %d; want 413", len(body), status)
		}
		return
	}
	if !signed {
		if status != http.StatusUnauthorized {
			t.Fatalf("sendgrid webhook: unsigned body answered %d %s; want 401 (headers %q)", status, answer, hdr)
		}
		return
	}
	var events []fzSGEvent
	if err := json.Unmarshal(body, &events); err != nil {
		if status != http.StatusBadRequest {
			t.Fatalf("sendgrid webhook: a body that is not an array of events (%v) answered %d %s; want 400; body %q", err, status, answer, fzShort(body))
		}
		return
	}
	// An event reaches Temporal (unreachable: the batch answers 503 retry)
	// when it has an id not applied before and a valid customer id, and is
	// an open or a click of the customer's own email (kind customer or
	// none) or a suppression of a valid address. An event that does not is
	// applied (its id done) whatever becomes of the rest of the batch.
	reaches := false
	for _, ev := range events {
		if ev.EventID == "" || len(ev.EventID) > 200 || a.sgDone[ev.EventID] {
			continue
		}
		needs := false
		if workflows.ValidAccountID(ev.CustomerID) {
			switch ev.Event {
			case "open", "click":
				needs = (ev.Kind == "" || ev.Kind == "customer") && len("sg-"+ev.EventID) <= 200 && len(ev.Step) <= 1000 && len(ev.Email) <= 1000
			case "bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe":
				needs = ev.Email != "" && workflows.ValidateEmailStatusFields(workflows.EmailStatus{Address: ev.Email}) == nil
			}
		}
		if needs {
			reaches = true
		} else {
			a.sgDone[ev.EventID] = true
		}
	}
	if reaches {
		if status != http.StatusServiceUnavailable {
			t.Fatalf("sendgrid webhook: a batch needing Temporal answered %d %s; want 503; body %q", status, answer, fzShort(body))
		}
		return
	}
	var counts map[string]int
	if status != http.StatusOK || json.Unmarshal(answer, &counts) != nil {
		t.Fatalf("sendgrid webhook: a batch not needing Temporal answered %d %s; want 200 and counts; body %q", status, answer, fzShort(body))
	}
	sum := 0
	for _, n := range counts {
		sum += n
	}
	if sum != len(events) {
		t.Fatalf("sendgrid webhook: counts %s add up to %d for %d events", answer, sum, len(events))
	}
}

// FuzzSendGridWebhook fuzzes the body and both headers: nearly everything
// is refused 401 (or 413).
func FuzzSendGridWebhook(f *testing.F) {
	a := newFuzzAPI(f)
	nowText := strconv.FormatInt(fzNow.Unix(), 10)
	for _, b := range append(fzSGSeeds, fzBroken...) {
		f.Add([]byte(b), nowText, "MEUCIQ==")
	}
	f.Add([]byte(fzSGSeeds[0]), "not-a-time", "%%%")
	f.Add([]byte(fzSGSeeds[0]), strconv.FormatInt(fzNow.Unix()-3600, 10), "")
	f.Add([]byte(fzSGSeeds[0]), "-9223372036854775808", "")
	f.Fuzz(func(t *testing.T, body []byte, ts, sig string) {
		hdr := map[string]string{apiserver.SendGridTimestampHeader: ts, apiserver.SendGridSignatureHeader: sig}
		signed := false
		if n, err := strconv.ParseInt(ts, 10, 64); err == nil {
			age := fzNow.Sub(time.Unix(n, 0))
			raw, err := base64.StdEncoding.DecodeString(sig)
			digest := sha256.Sum256(append([]byte(ts), body...))
			signed = age <= apiserver.SendGridMaxAge && age >= -apiserver.SendGridMaxAge && err == nil &&
				ecdsa.VerifyASN1(&a.sgKey.PublicKey, digest[:], raw)
		}
		a.sgModel(t, body, hdr, signed)
	})
}

// FuzzSendGridWebhookSigned signs every fuzzed body with the key the API
// trusts, so the event parsing behind the signature is fuzzed.
func FuzzSendGridWebhookSigned(f *testing.F) {
	a := newFuzzAPI(f)
	for _, b := range append(fzSGSeeds, fzBroken...) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a.sgModel(t, body, a.sgHeaders(t, fzNow.Unix(), body), true)
	})
}
