package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

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
	PlaybookYAML string           `json:"playbook_yaml,omitempty"` // a custom playbook; the default one otherwise
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
func (s *Server) start(c *gin.Context, req StartRequest) {
	pb := s.opts.Playbook
	if req.PlaybookYAML != "" {
		custom, err := playbooks.Parse([]byte(req.PlaybookYAML))
		if err != nil {
			fail(c, http.StatusUnprocessableEntity, "invalid_playbook", err.Error(), "playbook_yaml")
			return
		}
		pb = custom
	}
	in := workflows.JourneyInput{
		Account:  workflows.Account{ID: req.Account.ID, Name: req.Account.Name, Plan: req.Account.Plan, RenewalDate: req.Account.RenewalDate.Time},
		Champion: req.Champion, CSM: req.CSM, ManagerEmail: req.ManagerEmail, SponsorEmail: req.SponsorEmail,
		DealID: req.DealID, Playbook: pb, DayLength: s.opts.DayLength, Revision: workflows.Revision,
	}
	if err := in.Validate(); err != nil {
		invalid(c, firstError(err))
		return
	}
	if !in.Account.RenewalDate.After(s.opts.Now()) {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "account.renewal_date: must be in the future", "account.renewal_date")
		return
	}
	body := StartResponse{CustomerID: in.Account.ID, WorkflowID: workflows.WorkflowID(in.Account.ID)}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	_, err := s.opts.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       body.WorkflowID,
		TaskQueue:                workflows.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		// Without this the SDK hands back the running journey as if it had
		// just started it; the API must tell 201 from 200.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.SAPhase.ValueSet(workflows.PhaseHandoff), workflows.SACSMEmail.ValueSet(in.CSM.Email),
			workflows.SARenewalDate.ValueSet(in.Account.RenewalDate)),
	}, workflows.WorkflowName, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	switch {
	case errors.As(err, &started):
		c.JSON(http.StatusOK, body)
	case err != nil:
		s.temporalError(c, err, in.Account.ID)
	default:
		c.Header("Location", "/v1/customers/"+in.Account.ID)
		c.JSON(http.StatusCreated, body)
	}
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

func (s *Server) query(c *gin.Context, name string, out any) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	v, err := s.opts.Client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", name)
	if err == nil {
		err = v.Get(out)
	}
	if err != nil {
		s.temporalError(c, err, id)
		return
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getCustomer(c *gin.Context) { s.query(c, workflows.QueryState, &workflows.State{}) }

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
	if ev.Time.IsZero() {
		ev.Time = s.opts.Now().UTC()
	}
	if c.Query("async") == "true" {
		s.queueEvent(c, id, ev)
		return
	}
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
	c.JSON(http.StatusAccepted, gin.H{"queued": true})
}

func (s *Server) postComplaint(c *gin.Context) {
	var req workflows.Complaint
	s.write(c, workflows.UpdateComplaint, &req, &workflows.ComplaintReceipt{}, http.StatusCreated)
}

func (s *Server) postOutcome(c *gin.Context) {
	var req workflows.Outcome
	s.write(c, workflows.UpdateOutcome, &req, &workflows.State{}, http.StatusOK)
}

func (s *Server) pause(c *gin.Context) {
	var req workflows.PauseRequest
	s.write(c, workflows.UpdatePause, &req, &workflows.State{}, http.StatusOK)
}

func (s *Server) resume(c *gin.Context) {
	var req workflows.ResumeRequest
	s.write(c, workflows.UpdateResume, &req, &workflows.State{}, http.StatusOK)
}

func (s *Server) reassign(c *gin.Context) {
	var req workflows.Reassignment
	s.write(c, workflows.UpdateReassign, &req, &workflows.State{}, http.StatusOK)
}

// write decodes req, sends it as an update and answers its result.
func (s *Server) write(c *gin.Context, update string, req, out any, status int) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	if c.Request.ContentLength != 0 || update != workflows.UpdateResume {
		if !decode(c, req) {
			return
		}
	}
	if err := s.update(c, id, update, req, out); err != nil {
		s.temporalError(c, err, id)
		return
	}
	c.JSON(status, out)
}
