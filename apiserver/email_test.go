package apiserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/links"
)

func (e *env) page(method, path string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	require.NoError(e.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) state(id string) map[string]any {
	e.t.Helper()
	status, body := e.do("GET", "/v1/customers/"+id, csmKey, nil)
	require.Equal(e.t, http.StatusOK, status, body)
	return body
}

func TestEmailActionTokens(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-act"))
	require.Equal(t, http.StatusCreated, status)

	// The welcome email in the outbox carries a signed "book" link.
	var bookURL string
	require.Eventually(t, func() bool {
		msgs, err := e.store.OutboxList(context.Background(), "acme-act", 10)
		require.NoError(t, err)
		for _, m := range msgs {
			if m.Step == "handoff:welcome" && strings.Contains(m.HTML, "Book your handoff call") {
				var acts []struct{ ID, URL string }
				require.NoError(t, json.Unmarshal([]byte(m.ActionsJSON), &acts))
				bookURL = acts[0].URL
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	path := strings.TrimPrefix(bookURL, "http://lifecycle.test")
	require.True(t, strings.HasPrefix(path, "/a/"), bookURL)

	// GET only asks, as often as a mail scanner likes.
	for range 3 {
		status, html := e.page("GET", path)
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, html, "Book your handoff call?")
		assert.Contains(t, html, `<form method="post">`)
	}
	handoff := e.state("acme-act")["handoff"].(map[string]any)
	assert.Nil(t, handoff["booked_at"], "GET never acts")

	status, html := e.page("POST", path)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, html, "Recorded")
	handoff = e.state("acme-act")["handoff"].(map[string]any)
	assert.NotNil(t, handoff["booked_at"], "POST books the handoff")

	status, html = e.page("POST", path)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, html, "Already recorded")
	status, html = e.page("GET", path)
	assert.Contains(t, html, "Already recorded")

	// Tampered: another customer's claims under this signature.
	token := strings.TrimPrefix(path, "/a/")
	_, sig, _ := strings.Cut(token, ".")
	other := e.links.Token(links.Link{CustomerID: "acme-1", Step: "handoff:welcome", Action: "book_handoff"})
	otherPayload, _, _ := strings.Cut(other, ".")
	status, html = e.page("POST", "/a/"+otherPayload+"."+sig)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, html, "not issued by us or has been altered")

	// Expired.
	past, err := links.NewSigner(linkSecret, "http://lifecycle.test", time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	require.NoError(t, err)
	status, html = e.page("POST", "/a/"+past.Token(links.Link{CustomerID: "acme-act", Step: "touchpoint:pulse-21", Action: "pulse_5"}))
	assert.Equal(t, http.StatusGone, status)
	assert.Contains(t, html, "expired")

	// Foreign: signed with another secret.
	foreign, err := links.NewSigner("another-installation-secret", "http://x", time.Hour, nil)
	require.NoError(t, err)
	status, _ = e.page("POST", "/a/"+foreign.Token(links.Link{CustomerID: "acme-act", Step: "touchpoint:pulse-21", Action: "pulse_5"}))
	assert.Equal(t, http.StatusBadRequest, status)

	// A valid token for a customer without a journey changes nothing.
	status, html = e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "nobody-here", Step: "touchpoint:pulse-21", Action: "pulse_5"}))
	assert.Equal(t, http.StatusGone, status)
	assert.Contains(t, html, "Nothing was recorded")

	// A pulse answer moves happiness; a second face for the same email does not.
	status, _ = e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "acme-act", Step: "touchpoint:pulse-21", Action: "pulse_1"}))
	require.Equal(t, http.StatusOK, status)
	status, html = e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "acme-act", Step: "touchpoint:pulse-21", Action: "pulse_5"}))
	assert.Contains(t, html, "Already recorded")
	scores := e.state("acme-act")["scores"].(map[string]any)
	assert.EqualValues(t, 0, scores["happiness"], "one pulse of 1 out of 5")
}

func TestUnsubscribeLinkStopsEmail(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-unsub"))
	require.Equal(t, http.StatusCreated, status)
	// A former champion's address (an old email's link) is suppressed, and
	// the journey only records it.
	status, html := e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "acme-unsub", Step: "handoff:welcome", Action: "unsubscribe", Email: "ada@unsub.example"}))
	require.Equal(t, http.StatusOK, status, html)
	reason, ok, err := e.store.Suppressed(context.Background(), "ada@unsub.example")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "unsubscribe", reason)
	assert.Nil(t, e.state("acme-unsub")["email_blocked"], "not the champion's address: customer email goes on")

	// The champion's own link stops customer email.
	status, html = e.page("POST", "/a/"+e.links.Token(links.Link{CustomerID: "acme-unsub", Step: "touchpoint:checkin-14", Action: "unsubscribe", Email: "ada@acme-unsub.example"}))
	require.Equal(t, http.StatusOK, status, html)
	_, ok, err = e.store.Suppressed(context.Background(), "ada@acme-unsub.example")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, "unsubscribe", e.state("acme-unsub")["email_blocked"])
}

// sendgridPost signs body as SendGrid does: ECDSA P-256 over SHA-256 of
// timestamp + body, base64 DER.
func (e *env) sendgridPost(key *ecdsa.PrivateKey, ts int64, body []byte) (int, map[string]any) {
	e.t.Helper()
	tsText := fmt.Sprint(ts)
	digest := sha256.Sum256(append([]byte(tsText), body...))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	require.NoError(e.t, err)
	req, _ := http.NewRequest("POST", e.url+"/v1/webhooks/sendgrid", bytes.NewReader(body))
	req.Header.Set(apiserver.SendGridTimestampHeader, tsText)
	req.Header.Set(apiserver.SendGridSignatureHeader, base64.StdEncoding.EncodeToString(sig))
	return doJSON(e.t, req)
}

func TestSendGridWebhook(t *testing.T) {
	e := newEnv(t)
	deal := startBody("acme-sg")
	deal["csm"].(map[string]any)["email"] = "grace@sg-vendor.example" // suppressed below: not the shared CSM
	status, _ := e.do("POST", "/v1/customers", salesKey, deal)
	require.Equal(t, http.StatusCreated, status)
	now := time.Now().Unix()
	// When SendGrid saw it: after the journey began (its start had a
	// fraction of this second), as a real event is after the email.
	at := now + 1
	batch, _ := json.Marshal([]map[string]any{
		{"email": "ada@acme-sg.example", "event": "open", "sg_event_id": "ev-open-1", "timestamp": at, "customer_id": "acme-sg", "step": "handoff:welcome", "kind": "customer"},
		// Mail sent before the kind existed: the journey checks the recipient.
		{"email": "ADA@acme-sg.example", "event": "click", "sg_event_id": "ev-click-1", "timestamp": at, "customer_id": "acme-sg"},
		{"email": "old-champion@acme-sg.example", "event": "click", "sg_event_id": "ev-click-2", "timestamp": at, "customer_id": "acme-sg"},
		// The CSM reading their task is not the customer engaging.
		{"email": "grace@sg-vendor.example", "event": "open", "sg_event_id": "ev-open-csm", "timestamp": at, "customer_id": "acme-sg", "kind": "csm"},
		{"email": "ada@acme-sg.example", "event": "delivered", "sg_event_id": "ev-del-1", "timestamp": at, "customer_id": "acme-sg"},
		{"email": "ada@acme-sg.example", "event": "brand_new_event", "sg_event_id": "ev-new-1", "timestamp": now},
	})
	status, body := e.sendgridPost(e.sgKey, now, batch)
	require.Equal(t, http.StatusOK, status, body)
	assert.Equal(t, map[string]any{"applied": 2.0, "refused": 1.0, "not_customer": 1.0, "acknowledged": 1.0, "unknown": 1.0}, body)
	scores := e.state("acme-sg")["scores"].(map[string]any)
	assert.EqualValues(t, 10, scores["engagement"], "open 2 + click 8; neither the CSM's open nor a former address's click")

	status, body = e.sendgridPost(e.sgKey, now, batch)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, map[string]any{"duplicate": 6.0}, body, "the same events again")
	assert.EqualValues(t, 10, e.state("acme-sg")["scores"].(map[string]any)["engagement"], "counted once")

	// The CSM's address bounces: it is suppressed, the journey is told and
	// tasks someone to fix it, and customer email goes on.
	bounce, _ := json.Marshal([]map[string]any{{"email": "Grace@SG-vendor.example", "event": "bounce", "sg_event_id": "ev-b-csm", "timestamp": at, "customer_id": "acme-sg", "kind": "csm", "reason": "550 no such user"}})
	status, body = e.sendgridPost(e.sgKey, now, bounce)
	require.Equal(t, http.StatusOK, status, body)
	_, suppressed, err := e.store.Suppressed(context.Background(), "grace@sg-vendor.example")
	require.NoError(t, err)
	assert.True(t, suppressed, "the address the event names")
	_, suppressed, err = e.store.Suppressed(context.Background(), "ada@acme-sg.example")
	require.NoError(t, err)
	assert.False(t, suppressed, "not the champion's")
	assert.Nil(t, e.state("acme-sg")["email_blocked"], "a team address never stops customer email")
	status, tl := e.do("GET", "/v1/customers/acme-sg/timeline", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	assert.Contains(t, fmt.Sprint(tl["entries"]), "grace@sg-vendor.example", "the journey recorded the team bounce")

	// The champion's address bounces: customer email stops.
	bounce, _ = json.Marshal([]map[string]any{{"email": "Ada@acme-SG.example", "event": "bounce", "sg_event_id": "ev-b-1", "timestamp": at, "customer_id": "acme-sg", "kind": "customer", "reason": "550 no such user"}})
	status, _ = e.sendgridPost(e.sgKey, now, bounce)
	require.Equal(t, http.StatusOK, status)
	_, suppressed, err = e.store.Suppressed(context.Background(), "ada@acme-sg.example")
	require.NoError(t, err)
	assert.True(t, suppressed)
	assert.Equal(t, "bounce", e.state("acme-sg")["email_blocked"], "the journey stops customer email and tasks the CSM")

	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	status, body = e.sendgridPost(other, now, batch)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "bad_signature", errCode(body))

	status, body = e.sendgridPost(e.sgKey, now-3600, batch)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, "stale_timestamp", errCode(body))

	status, body = e.sendgridPost(e.sgKey, now, []byte(`[{"event": "open",`))
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Equal(t, "invalid_json", errCode(body))

	status, body = e.sendgridPost(e.sgKey, now, bytes.Repeat([]byte(" "), 2<<20))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)

	req, _ := http.NewRequest("POST", e.url+"/v1/webhooks/sendgrid", bytes.NewReader(batch))
	req.Header.Set(apiserver.SendGridTimestampHeader, "not-a-time")
	req.Header.Set(apiserver.SendGridSignatureHeader, "%%%")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestParseWebhookKey(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	require.NoError(t, err)
	parsed, err := apiserver.ParseWebhookKey(base64.StdEncoding.EncodeToString(der))
	require.NoError(t, err)
	assert.True(t, parsed.Equal(&k.PublicKey))
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("garbage"))} {
		_, err := apiserver.ParseWebhookKey(bad)
		assert.ErrorContains(t, err, "SENDGRID_WEBHOOK_PUBLIC_KEY")
	}
}

func TestDevOutboxPage(t *testing.T) {
	e := newEnv(t)
	status, _ := e.do("POST", "/v1/customers", salesKey, startBody("acme-box"))
	require.Equal(t, http.StatusCreated, status)
	require.Eventually(t, func() bool {
		_, html := e.page("GET", "/dev/outbox?customer=acme-box")
		return strings.Contains(html, "Welcome to Lifecycle, Acme acme-box")
	}, 10*time.Second, 50*time.Millisecond)
	_, html := e.page("GET", "/dev/outbox?customer=acme-box")
	assert.Contains(t, html, "http://lifecycle.test/a/", "working action links")
	var key string
	msgs, err := e.store.OutboxList(context.Background(), "acme-box", 10)
	require.NoError(t, err)
	for _, m := range msgs {
		if m.Step == "handoff:welcome" {
			key = m.Key
		}
	}
	require.NotEmpty(t, key)
	assert.Contains(t, html, "/dev/outbox/view?key="+strings.ToLower(url.QueryEscape(key)))
	status, view := e.page("GET", "/dev/outbox/view?key="+url.QueryEscape(key))
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, view, "<!doctype html>")
	status, _ = e.page("GET", "/dev/outbox/view?key=nope")
	assert.Equal(t, http.StatusNotFound, status)
}
