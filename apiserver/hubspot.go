package apiserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
)

// HubSpot webhook headers, the replay window and the bounds of a delivery.
const (
	HubSpotSignatureHeader = "X-HubSpot-Signature-v3"
	HubSpotTimestampHeader = "X-HubSpot-Request-Timestamp"
	HubSpotReplayWindow    = 5 * time.Minute
	// HubSpotMaxEvents is the most events HubSpot sends in one request.
	HubSpotMaxEvents = 100
	// hubspotBudget bounds the CRM reads of one delivery: HubSpot gives up
	// on an endpoint after 5 seconds and sends the delivery again.
	hubspotBudget = 4 * time.Second
	// hubspotParallel deals' records are read at once.
	hubspotParallel = 4
)

// HubSpot turns on POST /v1/webhooks/hubspot.
type HubSpot struct {
	// ClientSecret signs HubSpot's requests (X-HubSpot-Signature-v3).
	ClientSecret string
	// PublicURL is the scheme and host HubSpot posts to (the API's public
	// URL): HubSpot signs the whole URL, and behind a proxy the request
	// does not say which one it was.
	PublicURL string
	CRM       *hubspot.Client
	Mapping   hubspot.Mapping
}

// hubspotDecoded are the escapes HubSpot decodes in the URI before signing.
var hubspotDecoded = strings.NewReplacer(
	"%3A", ":", "%2F", "/", "%3F", "?", "%40", "@", "%21", "!", "%24", "$",
	"%27", "'", "%28", "(", "%29", ")", "%2A", "*", "%2C", ",", "%3B", ";",
	"%3a", ":", "%2f", "/", "%3f", "?", "%2a", "*", "%2c", ",", "%3b", ";",
)

// SignHubSpot is HubSpot's v3 signature of a request: base64 of
// HMAC-SHA256(client secret, method + URI + body + timestamp), the URI
// whole (scheme, host, path, query) with the escapes HubSpot decodes decoded.
func SignHubSpot(secret, method, uri string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + hubspotDecoded.Replace(uri)))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// HubSpotEvent is one webhook event, as HubSpot sends them (an array).
type HubSpotEvent struct {
	EventID          int64  `json:"eventId"`
	SubscriptionID   int64  `json:"subscriptionId"`
	PortalID         int64  `json:"portalId"`
	AppID            int64  `json:"appId"`
	OccurredAt       int64  `json:"occurredAt"`
	SubscriptionType string `json:"subscriptionType"`
	AttemptNumber    int    `json:"attemptNumber"`
	ObjectID         int64  `json:"objectId"`
	ObjectTypeID     string `json:"objectTypeId,omitempty"` // object.* subscriptions: "0-3" is a deal
	PropertyName     string `json:"propertyName"`
	PropertyValue    string `json:"propertyValue"`
	ChangeSource     string `json:"changeSource"`
}

// HubSpotResult says what became of one event.
type HubSpotResult struct {
	EventID    int64  `json:"event_id"`
	DealID     string `json:"deal_id,omitempty"`
	Outcome    string `json:"outcome"` // started, joined, duplicate, ignored, refused, retry
	CustomerID string `json:"customer_id,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// HubSpotResponse answers a delivery (200).
type HubSpotResponse struct {
	Results []HubSpotResult `json:"results"`
}

// Outcomes of an event.
const (
	hsStarted   = "started"
	hsJoined    = "joined"
	hsDuplicate = "duplicate"
	hsIgnored   = "ignored"
	hsRefused   = "refused"
	hsRetry     = "retry"
)

func (s *Server) hubspotRoutes(v1 *gin.RouterGroup) {
	v1.POST("/webhooks/hubspot", s.hubspotWebhook)
}

// hubspotWebhook verifies HubSpot's v3 signature over the raw request, then
// starts a journey for each deal moved to a closed-won stage. A deal starts
// one journey, ever (its id is kept with the journey), and the account's
// workflow id joins every further start, so HubSpot's retries and repeated
// events start nothing twice. Anything HubSpot should send again (its API
// or Temporal down, time running out) answers 503; records a person must
// fix answer 200 with the event "refused" and its reason (retrying would
// not help), and are logged; 200 lists each event's outcome.
func (s *Server) hubspotWebhook(c *gin.Context) {
	hs := s.opts.HubSpot
	if hs == nil || hs.ClientSecret == "" {
		fail(c, http.StatusNotFound, "not_configured", "the HubSpot webhook is off: set HUBSPOT_CLIENT_SECRET", "")
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", tooBig.Limit), "")
		return
	case err != nil:
		fail(c, http.StatusBadRequest, "invalid_body", "could not read the body", "")
		return
	}
	ts := c.GetHeader(HubSpotTimestampHeader)
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		fail(c, http.StatusUnauthorized, "bad_signature", HubSpotTimestampHeader+" must be milliseconds since the epoch", HubSpotTimestampHeader)
		return
	}
	if age := s.opts.Now().Sub(time.UnixMilli(ms)); age > HubSpotReplayWindow || age < -HubSpotReplayWindow {
		fail(c, http.StatusUnauthorized, "stale_timestamp", fmt.Sprintf("the timestamp is outside the %s window", HubSpotReplayWindow), HubSpotTimestampHeader)
		return
	}
	want := SignHubSpot(hs.ClientSecret, c.Request.Method, hs.requestURL(c.Request), body, ts)
	if !hmac.Equal([]byte(want), []byte(strings.TrimSpace(c.GetHeader(HubSpotSignatureHeader)))) {
		fail(c, http.StatusUnauthorized, "bad_signature", "the signature does not match the request", HubSpotSignatureHeader)
		return
	}
	var events []HubSpotEvent
	if err := json.Unmarshal(body, &events); err != nil {
		fail(c, http.StatusBadRequest, "invalid_json", "the body must be HubSpot's array of events: "+clipText(err.Error(), 200), "")
		return
	}
	if len(events) > HubSpotMaxEvents {
		fail(c, http.StatusBadRequest, "too_many_events", fmt.Sprintf("at most %d events a request (got %d)", HubSpotMaxEvents, len(events)), "")
		return
	}
	results, deals := s.hubspotTriage(events)
	s.hubspotStart(c, deals, results)
	var retry []string
	for _, r := range results {
		if r.Outcome == hsRetry && !slices.Contains(retry, "deal "+r.DealID+": "+r.Reason) {
			retry = append(retry, "deal "+r.DealID+": "+r.Reason)
		}
	}
	if len(retry) > 0 {
		// HubSpot sends the whole delivery again; deals started now answer
		// "duplicate" then.
		fail(c, http.StatusServiceUnavailable, "retry", clipText(strings.Join(retry, "; "), 1000)+"; send the delivery again", "")
		return
	}
	c.JSON(http.StatusOK, HubSpotResponse{Results: results})
}

// requestURL is the URL HubSpot posted to: the public URL's scheme and
// host, and the path and query exactly as they arrived.
func (hs *HubSpot) requestURL(r *http.Request) string {
	uri := r.RequestURI
	if strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://") {
		return uri
	}
	return strings.TrimRight(hs.PublicURL, "/") + uri
}

// hubspotDeal is a closed-won deal of a delivery and what became of it.
type hubspotDeal struct {
	id      string
	results []int // indexes of its events' results
	start   *hubspot.Start
	outcome HubSpotResult
}

// hubspotTriage answers every event that starts nothing (another stage,
// another object, another subscription) and gathers the closed-won deals,
// each once however many of its events the delivery holds.
func (s *Server) hubspotTriage(events []HubSpotEvent) ([]HubSpotResult, []*hubspotDeal) {
	m := s.opts.HubSpot.Mapping
	results := make([]HubSpotResult, len(events))
	var deals []*hubspotDeal
	byID := map[string]*hubspotDeal{}
	for i, ev := range events {
		results[i] = HubSpotResult{EventID: ev.EventID, Outcome: hsIgnored}
		isDeal := ev.SubscriptionType == "deal.propertyChange" ||
			(ev.SubscriptionType == "object.propertyChange" && ev.ObjectTypeID == "0-3")
		switch {
		case !isDeal:
			results[i].Reason = "not a deal property change"
			continue
		case ev.ObjectID <= 0:
			results[i].Reason = "no objectId"
			continue
		}
		results[i].DealID = strconv.FormatInt(ev.ObjectID, 10)
		switch {
		case ev.PropertyName != hubspot.PropDealStage:
			results[i].Reason = "not a deal stage change"
		case !m.ClosedWon(ev.PropertyValue):
			results[i].Reason = fmt.Sprintf("stage %q is not a closed-won stage (HUBSPOT_CLOSED_WON_STAGES)", clipText(ev.PropertyValue, 64))
		default:
			d := byID[results[i].DealID]
			if d == nil {
				d = &hubspotDeal{id: results[i].DealID}
				byID[d.id] = d
				deals = append(deals, d)
			}
			d.results = append(d.results, i)
		}
	}
	return results, deals
}

// hubspotStart reads each deal's records (a few deals at once, within the
// budget), then starts their journeys one by one, and fills in the results.
func (s *Server) hubspotStart(c *gin.Context, deals []*hubspotDeal, results []HubSpotResult) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), hubspotBudget)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, hubspotParallel)
	for _, d := range deals {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			s.hubspotRead(ctx, d)
		}()
	}
	wg.Wait()
	for _, d := range deals {
		if d.start != nil {
			d.outcome = s.hubspotJourney(c, d)
		}
		s.log.Info("HubSpot deal", zap.String("deal_id", d.id), zap.String("outcome", d.outcome.Outcome),
			zap.String("customer_id", d.outcome.CustomerID), zap.String("reason", d.outcome.Reason),
			zap.String("request_id", c.GetString("request_id")))
		for _, i := range d.results {
			ev := results[i].EventID
			results[i] = d.outcome
			results[i].EventID = ev
		}
	}
}

// hubspotRead looks the deal up in the store (a deal already used needs no
// CRM call: retries stay cheap), else reads its records from HubSpot and
// maps them.
func (s *Server) hubspotRead(ctx context.Context, d *hubspotDeal) {
	hs := s.opts.HubSpot
	d.outcome = HubSpotResult{DealID: d.id}
	if s.opts.Store != nil {
		used, ok, err := s.opts.Store.Deal(ctx, "hubspot-"+d.id)
		switch {
		case err != nil:
			s.log.Error("store failed", zap.String("what", "HubSpot deal lookup"), zap.Error(err), zap.String("deal_id", d.id))
			d.outcome.Outcome, d.outcome.Reason = hsRetry, "the store did not answer"
			return
		case ok:
			d.outcome.Outcome, d.outcome.CustomerID = hsDuplicate, used.AccountID
			d.outcome.Reason = "this deal already started a journey"
			return
		}
	}
	m := hs.Mapping
	deal, err := hs.CRM.Deal(ctx, d.id, m.DealProperties())
	if hubspot.NotFound(err) {
		d.outcome.Outcome, d.outcome.Reason = hsIgnored, "HubSpot has no such deal (deleted since)"
		return
	}
	if err != nil {
		s.hubspotFailed(d, err)
		return
	}
	if len(deal.CompanyIDs) == 0 {
		d.outcome.Outcome, d.outcome.Reason = hsRefused, fmt.Sprintf("deal %s has no associated company: associate the customer's company with the deal", d.id)
		return
	}
	company, err := hs.CRM.Company(ctx, deal.CompanyIDs[0], m.CompanyProperties())
	if err != nil {
		s.hubspotFailed(d, err)
		return
	}
	contacts, err := hs.CRM.Contacts(ctx, deal.ContactIDs, m.ContactProperties())
	if err != nil {
		s.hubspotFailed(d, err)
		return
	}
	var owner *hubspot.Owner
	if id := deal.Prop(hubspot.PropOwner); id != "" {
		o, err := hs.CRM.Owner(ctx, id)
		switch {
		case hubspot.NotFound(err): // a deactivated user: the default CSM
		case err != nil:
			s.hubspotFailed(d, err)
			return
		default:
			owner = &o
		}
	}
	start, err := m.Journey(s.opts.Now(), deal, company, contacts, owner)
	if err != nil {
		d.outcome.Outcome, d.outcome.Reason = hsRefused, err.Error()
		return
	}
	d.start = &start
	if len(start.Left) > 0 {
		s.log.Warn("HubSpot contacts left out", zap.String("deal_id", d.id), zap.Strings("why", start.Left))
	}
}

// hubspotFailed: HubSpot's API failed or time ran out; HubSpot sends the
// delivery again.
func (s *Server) hubspotFailed(d *hubspotDeal, err error) {
	s.log.Warn("HubSpot API failed", zap.String("deal_id", d.id), zap.Error(err))
	d.outcome.Outcome, d.outcome.Reason = hsRetry, clipText(err.Error(), 300)
}

// hubspotJourney starts the deal's journey through the start route's own
// rules (validation, the deal ledger, the workflow id's conflict policy).
func (s *Server) hubspotJourney(c *gin.Context, d *hubspotDeal) HubSpotResult {
	st := d.start
	var req StartRequest
	req.Account.ID, req.Account.Name, req.Account.Plan = st.AccountID, st.AccountName, st.Plan
	req.Account.RenewalDate = Date{st.RenewalDate}
	req.CSM, req.ManagerEmail, req.DealID, req.Contacts = st.CSM, st.ManagerEmail, st.DealID, st.Contacts
	status, detail := s.aside(c, func(sub *gin.Context) { s.start(sub, req) })
	if detail == nil {
		detail = &ErrorDetail{}
	}
	out := HubSpotResult{DealID: d.id, CustomerID: st.AccountID}
	switch {
	case status == http.StatusCreated:
		out.Outcome = hsStarted
	case status == http.StatusOK:
		out.Outcome, out.Reason = hsJoined, "the account's journey runs: the deal joined it"
	case status == http.StatusConflict:
		out.Outcome, out.Reason = hsDuplicate, detail.Message
	case status >= 500:
		out.Outcome, out.Reason = hsRetry, detail.Message
	default:
		out.Outcome, out.Reason = hsRefused, detail.Message
		if detail.Field != "" {
			out.Reason = detail.Field + ": " + strings.TrimPrefix(detail.Message, detail.Field+": ")
		}
		s.log.Error("HubSpot deal refused", zap.String("deal_id", d.id), zap.String("customer_id", st.AccountID),
			zap.Int("status", status), zap.String("reason", out.Reason))
	}
	return out
}
