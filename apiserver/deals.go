package apiserver

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Deal webhook headers and the replay window.
const (
	DealTimestampHeader = "X-Lifecycle-Timestamp"
	DealSignatureHeader = "X-Lifecycle-Signature"
	DealReplayWindow    = 5 * time.Minute
)

// SignDeal computes the signature header value for a deal webhook body:
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func SignDeal(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", timestamp)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// signedBody reads a webhook's raw body and its timestamp header, refusing
// an oversized body, a malformed timestamp or one outside the window; the
// caller then checks the signature over exactly these bytes.
func (s *Server) signedBody(c *gin.Context, tsHeader string, window time.Duration) ([]byte, int64, bool) {
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		fail(c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", tooBig.Limit), "")
		return nil, 0, false
	}
	if err != nil {
		fail(c, http.StatusBadRequest, "invalid_body", "could not read the body", "")
		return nil, 0, false
	}
	ts, err := strconv.ParseInt(c.GetHeader(tsHeader), 10, 64)
	if err != nil {
		fail(c, http.StatusUnauthorized, "bad_signature", tsHeader+" must be Unix seconds", tsHeader)
		return nil, 0, false
	}
	if age := s.opts.Now().Sub(time.Unix(ts, 0)); age > window || age < -window {
		fail(c, http.StatusUnauthorized, "stale_timestamp", fmt.Sprintf("the timestamp is outside the %s window", window), tsHeader)
		return nil, 0, false
	}
	return body, ts, true
}

// DealWebhook is the CRM's closed-won payload.
type DealWebhook struct {
	Event string       `json:"event"` // "deal.closed_won"; other events are acknowledged and ignored
	Deal  StartRequest `json:"deal"`
}

// dealWebhook verifies the HMAC over the raw body before parsing anything.
func (s *Server) dealWebhook(c *gin.Context) {
	if s.opts.DealSecret == "" {
		fail(c, http.StatusNotFound, "not_configured", "the deal webhook is off: set LIFECYCLE_DEAL_WEBHOOK_SECRET", "")
		return
	}
	body, ts, ok := s.signedBody(c, DealTimestampHeader, DealReplayWindow)
	if !ok {
		return
	}
	want := SignDeal(s.opts.DealSecret, ts, body)
	got := strings.TrimSpace(c.GetHeader(DealSignatureHeader))
	if !hmac.Equal([]byte(want), []byte(got)) {
		fail(c, http.StatusUnauthorized, "bad_signature", "the signature does not match the body", DealSignatureHeader)
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	var hook DealWebhook
	if !decode(c, &hook) {
		return
	}
	if hook.Event != "deal.closed_won" {
		c.JSON(http.StatusAccepted, gin.H{"ignored": hook.Event})
		return
	}
	s.start(c, hook.Deal)
}
