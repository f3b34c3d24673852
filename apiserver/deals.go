package apiserver

import (
	"bytes"
	"context"
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
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/converter"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
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

// DealIgnored answers a webhook event that is not a closed-won deal.
type DealIgnored struct {
	Ignored string `json:"ignored"` // the event
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
		c.JSON(http.StatusAccepted, DealIgnored{Ignored: hook.Event})
		return
	}
	s.start(c, hook.Deal)
}

// joinJourney answers a deal whose account's workflow already runs: 200,
// and the deal is recorded as that journey's, so it never starts another.
// A journey that has ended but is still sending its last messages is not
// joined: the deal is for the customer's next journey, which can start
// once this one closes.
func (s *Server) joinJourney(c *gin.Context, ctx context.Context, in workflows.JourneyInput, body StartResponse) {
	j, err := s.journeyOf(ctx, in.Account.ID)
	switch {
	case err != nil:
		s.temporalError(c, err, in.Account.ID)
	case !j.open:
		// Closed between the start and now: the CRM's retry starts the next journey.
		fail(c, http.StatusServiceUnavailable, "retry", fmt.Sprintf("the journey of customer %q ended just now; retry", in.Account.ID), "")
	case j.ended:
		c.Header("Retry-After", "60")
		fail(c, http.StatusServiceUnavailable, "journey_finishing",
			fmt.Sprintf("the journey of customer %q has ended and is sending its last messages; retry later, and this deal starts the next journey", in.Account.ID), "")
	case s.opts.Store == nil:
		c.JSON(http.StatusOK, body)
	default:
		d, err := s.opts.Store.RecordDeal(ctx, store.Deal{DealID: in.DealID, AccountID: in.Account.ID, RunID: j.firstRun, StartedAt: s.opts.Now()})
		if err != nil {
			s.storeError(c, err, "deal record", in.Account.ID)
			return
		}
		s.usedDeal(c, ctx, d, in, body)
	}
}

// usedDeal answers a deal already recorded: 200 while the journey it
// belongs to runs, 409 deal_already_used once that journey is over.
func (s *Server) usedDeal(c *gin.Context, ctx context.Context, d store.Deal, in workflows.JourneyInput, body StartResponse) {
	refuse := func(why string) {
		fail(c, http.StatusConflict, "deal_already_used",
			fmt.Sprintf("deal %q was used by a journey of customer %q that %s; a deal starts one journey, ever: send the new deal's id", d.DealID, d.AccountID, why), "deal_id")
	}
	if d.AccountID != in.Account.ID {
		refuse("is another customer's")
		return
	}
	j, err := s.journeyOf(ctx, in.Account.ID)
	switch {
	case err != nil:
		s.temporalError(c, err, in.Account.ID)
	case j.open && !j.ended && j.firstRun == d.RunID:
		c.JSON(http.StatusOK, body)
	default:
		refuse("is no longer running")
	}
}

// recordDeal keeps the deal that started the journey whose first run is
// runID. A failed write answers 503: the journey runs, and the CRM's retry
// joins it and records the deal then.
func (s *Server) recordDeal(c *gin.Context, ctx context.Context, in workflows.JourneyInput, runID string) bool {
	if s.opts.Store == nil {
		return true
	}
	if _, err := s.opts.Store.RecordDeal(ctx, store.Deal{DealID: in.DealID, AccountID: in.Account.ID, RunID: runID, StartedAt: s.opts.Now()}); err != nil {
		s.storeError(c, err, "deal record after the start", in.Account.ID)
		return false
	}
	return true
}

// journeyStatus is what the API needs to know of an account's workflow.
type journeyStatus struct {
	firstRun string // the first run of its chain: the journey's identity across continue-as-new
	open     bool   // the workflow runs
	ended    bool   // and yet the journey ended (churned, offboarded): it is sending its last messages
}

// journeyOf describes the account's current workflow. No workflow at all is
// not open, not an error.
func (s *Server) journeyOf(ctx context.Context, accountID string) (journeyStatus, error) {
	resp, err := s.opts.Client.DescribeWorkflowExecution(ctx, workflows.WorkflowID(accountID), "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return journeyStatus{}, nil
	}
	if err != nil {
		return journeyStatus{}, err
	}
	info := resp.GetWorkflowExecutionInfo()
	j := journeyStatus{firstRun: info.GetFirstRunId(), open: info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING}
	if p := info.GetSearchAttributes().GetIndexedFields()[workflows.SAPhase.GetName()]; p != nil {
		var phase string
		if converter.GetDefaultDataConverter().FromPayload(p, &phase) == nil {
			j.ended = phase == workflows.PhaseEnded
		}
	}
	return j, nil
}
