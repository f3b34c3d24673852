package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Date accepts "2027-01-31" or an RFC 3339 time.
type Date struct{ time.Time }

// UnmarshalJSON parses a date or a time.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("must be a date like \"2027-01-31\"")
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			d.Time = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("%q is not a date like \"2027-01-31\"", s)
}

// StartRequest is a closed deal: POST /v1/customers.
type StartRequest struct {
	Account struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Plan        string `json:"plan"`
		RenewalDate Date   `json:"renewal_date"`
	} `json:"account"`
	Champion     workflows.Person `json:"champion"`
	CSM          workflows.Person `json:"csm"`
	ManagerEmail string           `json:"manager_email"`
	SponsorEmail string           `json:"sponsor_email,omitempty"`
	DealID       string           `json:"deal_id"`
	// Contacts are the account's other contacts (admins, users, executive
	// sponsor, billing). A contact with role champion stands for champion
	// when champion is left out.
	Contacts []workflows.Contact `json:"contacts,omitempty"`
	// Playbook names a published version (id@vN, GET /v1/playbooks); left
	// out, the account's plan decides (PUT /v1/plans/{plan}/playbook), else
	// the built-in playbook.
	Playbook     string `json:"playbook,omitempty"`
	PlaybookYAML string `json:"playbook_yaml,omitempty"` // an unpublished playbook: admins only
	// StartDate (the customer's real start), Day (its journey day today)
	// or Phase (handoff, onboarding, adoption) begin the journey mid-playbook
	// for a customer already on its way: nothing of the days before is sent.
	// Left out, the journey starts at day 0 with the welcome.
	StartDate *Date  `json:"start_date,omitempty"`
	Day       *int   `json:"day,omitempty"`
	Phase     string `json:"phase,omitempty"`

	source string // where an import came from ("line 12"), for the timeline
}

// StartResponse is the same for the first start (201) and repeats (200).
type StartResponse struct {
	CustomerID string `json:"customer_id"`
	WorkflowID string `json:"workflow_id"`
}

func (s *Server) startCustomer(c *gin.Context) {
	var req StartRequest
	if !decode(c, &req) {
		return
	}
	s.start(c, req)
}

// start begins a journey; the workflow ID from the account id and the FAIL
// conflict policy make exactly one start win however many arrive at once.
// A deal starts one journey, ever: a deal id already used by a journey that
// is no longer running is refused (409), so a CRM replaying an old deal
// never starts a customer over; a new deal for an account whose journey
// ended (churned, offboarded) starts the account's next journey.
func (s *Server) start(c *gin.Context, req StartRequest) {
	in, ok := s.journeyInput(c, req)
	if ok {
		s.launch(c, in)
	}
}

// aside runs one start for a caller that answers many at once (a batch's
// row, a deal of a HubSpot delivery): on a context of its own with the
// request's keys, its answer kept instead of sent. It answers the status
// and, for a refusal, the error.
func (s *Server) aside(c *gin.Context, run func(sub *gin.Context)) (int, *ErrorDetail) {
	rec := httptest.NewRecorder()
	sub := gin.CreateTestContextOnly(rec, s.router)
	sub.Request = c.Request
	for k, v := range c.Keys {
		sub.Set(k, v)
	}
	run(sub)
	if rec.Code < 300 {
		return rec.Code, nil
	}
	var body ErrorBody
	if json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error.Code == "" {
		return rec.Code, &ErrorDetail{Code: "internal", Message: fmt.Sprintf("status %d", rec.Code)}
	}
	return rec.Code, &body.Error
}

// journeyInput turns a start request into the journey's input, checked as
// the journey will check it; a refusal is answered on c.
func (s *Server) journeyInput(c *gin.Context, req StartRequest) (workflows.JourneyInput, bool) {
	pb := s.opts.Playbook
	if req.Playbook != "" && req.PlaybookYAML != "" {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "give playbook (a published version) or playbook_yaml, not both", "playbook")
		return workflows.JourneyInput{}, false
	}
	if req.PlaybookYAML == "" {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
		k := s.catalogue()
		var ok bool
		pb, ok = s.lookup(c, func() (*playbooks.Playbook, error) {
			if req.Playbook != "" {
				return k.Load(ctx, req.Playbook)
			}
			return k.ForPlan(ctx, req.Account.Plan)
		}, "playbook", req.Account.ID)
		cancel()
		if !ok {
			return workflows.JourneyInput{}, false
		}
	}
	if req.PlaybookYAML != "" {
		// A playbook decides what customers are sent and when: an admin's
		// choice, not something a deal or a sales key may bring along.
		if role := c.GetString("role"); role != config.RoleAdmin {
			who := "the " + role + " role"
			if role == "" {
				who = "the deal webhook"
			}
			fail(c, http.StatusForbidden, "forbidden", who+" cannot choose a playbook: only an admin may pass playbook_yaml; leave it out for the default playbook", "playbook_yaml")
			return workflows.JourneyInput{}, false
		}
		custom, err := playbooks.Parse([]byte(req.PlaybookYAML))
		if err != nil {
			fail(c, http.StatusUnprocessableEntity, "invalid_playbook", err.Error(), "playbook_yaml")
			return workflows.JourneyInput{}, false
		}
		pb = custom
	}
	champion, contacts := startContacts(req)
	in := workflows.JourneyInput{
		Account:  workflows.Account{ID: req.Account.ID, Name: req.Account.Name, Plan: req.Account.Plan, RenewalDate: req.Account.RenewalDate.Time},
		Champion: champion, CSM: req.CSM, ManagerEmail: req.ManagerEmail, SponsorEmail: req.SponsorEmail,
		DealID: req.DealID, Playbook: pb, DayLength: s.opts.DayLength, Contacts: contacts,
	}
	var since time.Time
	if req.StartDate != nil {
		since = req.StartDate.Time
	}
	im, err := workflows.PlaceImport(pb, s.opts.Now(), since, req.Day, req.Phase)
	if err != nil {
		invalid(c, firstError(err))
		return workflows.JourneyInput{}, false
	}
	if im != nil {
		im.Source = req.source
		in.Import = im
	}
	if err := in.ValidateStart(s.opts.Now()); err != nil {
		invalid(c, firstError(err))
		return workflows.JourneyInput{}, false
	}
	return in, true
}

// launch starts the journey of a checked input.
func (s *Server) launch(c *gin.Context, in workflows.JourneyInput) {
	body := StartResponse{CustomerID: in.Account.ID, WorkflowID: workflows.WorkflowID(in.Account.ID)}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	if s.opts.Store != nil {
		d, used, err := s.opts.Store.Deal(ctx, in.DealID)
		if err != nil {
			s.storeError(c, err, "deal lookup", in.Account.ID)
			return
		}
		if used {
			s.usedDeal(c, ctx, d, in, body)
			return
		}
	}
	run, err := s.opts.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       body.WorkflowID,
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running journey as if it had
		// just started it; the API must tell 201 from 200.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAPhase.ValueSet(startPhase(in)), workflows.SACSMEmail.ValueSet(in.CSM.Email),
			workflows.SARenewalDate.ValueSet(in.Account.RenewalDate)),
		// What the Temporal Web UI shows of the journey (see README).
		StaticSummary: workflows.StartSummary(in), StaticDetails: workflows.StartDetails(in),
	}, workflows.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		// The account's journey runs: this deal joins it (today's duplicate,
		// or another deal of a customer already on their journey).
		s.joinJourney(c, ctx, in, body)
	case err != nil:
		s.temporalError(c, err, in.Account.ID)
	default:
		if !s.recordDeal(c, ctx, in, run.GetRunID()) {
			return
		}
		c.Header("Location", "/v1/customers/"+in.Account.ID)
		c.JSON(http.StatusCreated, body)
	}
}

// startPhase is the phase a journey starts in.
func startPhase(in workflows.JourneyInput) string {
	if in.Import != nil {
		return in.Import.Phase
	}
	return workflows.PhaseHandoff
}

// storeError answers 503 for a store that failed: the request may be retried.
func (s *Server) storeError(c *gin.Context, err error, what, customerID string) {
	s.log.Error("store failed", zap.String("what", what), zap.Error(err), zap.String("customer_id", customerID),
		zap.String("request_id", c.GetString("request_id")))
	fail(c, http.StatusServiceUnavailable, "store_unavailable", "the store did not answer; retry", "")
}

func firstError(err error) error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok && len(joined.Unwrap()) > 0 {
		return joined.Unwrap()[0]
	}
	return err
}

// customerID validates the path's id.
func customerID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if !workflows.ValidAccountID(id) {
		fail(c, http.StatusNotFound, "customer_not_found", fmt.Sprintf("no journey for customer %q", id), "")
		return "", false
	}
	return id, true
}

func (s *Server) query(c *gin.Context, name string, out any, args ...any) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	if err := s.queryInto(ctx, id, name, out, args...); err != nil {
		s.temporalError(c, err, id)
		return
	}
	c.JSON(http.StatusOK, out)
}

// queryInto runs a query of the customer's journey and decodes its answer.
func (s *Server) queryInto(ctx context.Context, id, name string, out any, args ...any) error {
	v, err := s.opts.Client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", name, args...)
	if err != nil {
		return err
	}
	return v.Get(out)
}

// getCustomer answers the state as of now, not as of the journey's last
// wake-up: day, decayed scores, health and overdue milestones are true when read.
func (s *Server) getCustomer(c *gin.Context) {
	s.query(c, workflows.QueryState, &workflows.State{}, workflows.StateQuery{At: s.opts.Now()})
}

func (s *Server) getTimeline(c *gin.Context) {
	s.query(c, workflows.QueryTimeline, &workflows.Timeline{})
}

// update sends an update and waits for its result. An Idempotency-Key
// header makes a retried request the same update.
func (s *Server) update(c *gin.Context, id, name string, arg, out any) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	updateID := ""
	if key := c.GetHeader("Idempotency-Key"); key != "" && len(key) <= 128 {
		updateID = name + ":" + key
	}
	return s.updateWorkflow(ctx, workflows.WorkflowID(id), name, updateID, arg, out)
}

// updateWorkflow sends an update and waits for its result; the same
// updateID within a run is the same update.
func (s *Server) updateWorkflow(ctx context.Context, workflowID, name, updateID string, arg, out any) error {
	h, err := s.opts.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateID: updateID, UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, out)
}

// EventQueued answers an engagement event sent with ?async=true.
type EventQueued struct {
	Queued bool `json:"queued"`
}

// EventResponse answers an engagement event.
type EventResponse struct {
	Duplicate  bool `json:"duplicate"`
	Engagement int  `json:"engagement,omitempty"`
	Happiness  int  `json:"happiness,omitempty"`
}

func (s *Server) postEvent(c *gin.Context) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	var ev workflows.EngagementEvent
	if !decode(c, &ev) {
		return
	}
	if err := workflows.ValidateEventShape(ev); err != nil {
		invalid(c, err)
		return
	}
	if c.Query("async") == "true" {
		// Applied later, maybe much later: it counts from when it came.
		if ev.Time.IsZero() {
			ev.Time = s.opts.Now().UTC()
		}
		s.queueEvent(c, id, ev)
		return
	}
	// Applied now: without a time of its own it happens at the journey's
	// now, so neither this server's clock running ahead nor a journey whose
	// first task has not run yet can make it "in the future" or "before the
	// journey began".
	var res workflows.EventResult
	err := s.update(c, id, workflows.UpdateEvent, ev, &res)
	switch {
	case workflows.IsDuplicateEvent(err):
		c.JSON(http.StatusOK, EventResponse{Duplicate: true})
	case err != nil:
		s.temporalError(c, err, id)
	default:
		c.JSON(http.StatusAccepted, EventResponse{Engagement: res.Engagement, Happiness: res.Happiness})
	}
}

// queueEvent hands the event to Temporal as a signal: accepted as soon as
// the server has it, applied in order when a worker runs the journey, even
// if no worker is up right now.
func (s *Server) queueEvent(c *gin.Context, id string, ev workflows.EngagementEvent) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	if err := s.opts.Client.SignalWorkflow(ctx, workflows.WorkflowID(id), "", workflows.SignalEvent, ev); err != nil {
		s.temporalError(c, err, id)
		return
	}
	c.JSON(http.StatusAccepted, EventQueued{Queued: true})
}

func (s *Server) postComplaint(c *gin.Context) {
	var req workflows.Complaint
	s.write(c, workflows.UpdateComplaint, &req, &workflows.ComplaintReceipt{}, http.StatusCreated,
		func() error { return workflows.ValidateComplaint(req) })
}

func (s *Server) postOutcome(c *gin.Context) {
	var req workflows.Outcome
	s.write(c, workflows.UpdateOutcome, &req, &workflows.State{}, http.StatusOK,
		func() error { return workflows.ValidateOutcomeFields(req, s.opts.Now()) })
}

func (s *Server) pause(c *gin.Context) {
	var req workflows.PauseRequest
	s.write(c, workflows.UpdatePause, &req, &workflows.State{}, http.StatusOK,
		func() error { return workflows.ValidatePause(req) })
}

func (s *Server) resume(c *gin.Context) {
	var req workflows.ResumeRequest
	s.write(c, workflows.UpdateResume, &req, &workflows.State{}, http.StatusOK,
		func() error { return workflows.ValidateResume(req) })
}

func (s *Server) reassign(c *gin.Context) {
	var req workflows.Reassignment
	s.write(c, workflows.UpdateReassign, &req, &workflows.State{}, http.StatusOK,
		func() error { return workflows.ValidateReassign(req) })
}

// putChampion replaces the customer's champion contact.
func (s *Server) putChampion(c *gin.Context) {
	var req workflows.ChampionChange
	s.write(c, workflows.UpdateChampion, &req, &workflows.State{}, http.StatusOK,
		func() error { return workflows.ValidateChampion(req) })
}

// write decodes req, checks its fields with check (422 naming the field,
// before anything reaches Temporal: the journey's history keeps what it is
// sent), sends it as an update and answers its result.
func (s *Server) write(c *gin.Context, update string, req, out any, status int, check func() error) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	if c.Request.ContentLength != 0 || update != workflows.UpdateResume {
		if !decode(c, req) {
			return
		}
	}
	signBy(c, req)
	if err := check(); err != nil {
		invalid(c, firstError(err))
		return
	}
	if err := s.update(c, id, update, req, out); err != nil {
		s.temporalError(c, err, id)
		return
	}
	c.JSON(status, out)
}
