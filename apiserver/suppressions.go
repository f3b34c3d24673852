package apiserver

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// SuppressionResponse says whether an address is on the suppression list.
type SuppressionResponse struct {
	Email      string `json:"email"`
	Suppressed bool   `json:"suppressed"`
	Reason     string `json:"reason,omitempty"` // bounce, unsubscribe, ...
}

// LiftResponse answers DELETE /v1/suppressions/{email}.
type LiftResponse struct {
	Email string `json:"email"`
	// WasSuppressed: the address was on the list (lifting is idempotent).
	WasSuppressed bool   `json:"was_suppressed"`
	CustomerID    string `json:"customer_id,omitempty"`
	// Journey is what the customer's journey made of it, with customer_id:
	// "updated", or why nothing changed (emails to it had not stopped, ...).
	Journey string `json:"journey,omitempty"`
}

// suppressionEmail checks an address given in the path or the query.
func (s *Server) suppressionEmail(c *gin.Context, email string) bool {
	if s.opts.Store == nil {
		fail(c, http.StatusNotFound, "not_configured", "the store is not set up on this server", "")
		return false
	}
	if err := workflows.ValidateEmailStatusFields(workflows.EmailStatus{Address: email}); err != nil || email == "" {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("email: %q is not an email address", clipText(email, 80)), "email")
		return false
	}
	return true
}

func (s *Server) getSuppression(c *gin.Context) {
	email := c.Query("email")
	if !s.suppressionEmail(c, email) {
		return
	}
	reason, ok, err := s.opts.Store.Suppressed(c.Request.Context(), email)
	if err != nil {
		s.storeError(c, err, "suppression lookup", "")
		return
	}
	c.JSON(http.StatusOK, SuppressionResponse{Email: email, Suppressed: ok, Reason: reason})
}

// liftSuppression takes an address off the suppression list, so mail to it
// goes out again; with ?customer_id= the customer's journey is told as well
// (its champion's address: customer email resumes).
func (s *Server) liftSuppression(c *gin.Context) {
	email := c.Param("email")
	if !s.suppressionEmail(c, email) {
		return
	}
	customer := c.Query("customer_id")
	if customer != "" && !workflows.ValidAccountID(customer) {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "customer_id: not a customer id", "customer_id")
		return
	}
	ctx := c.Request.Context()
	_, was, err := s.opts.Store.Suppressed(ctx, email)
	if err == nil {
		err = s.opts.Store.Unsuppress(ctx, email)
	}
	if err != nil {
		s.storeError(c, err, "suppression lift", customer)
		return
	}
	resp := LiftResponse{Email: email, WasSuppressed: was}
	if customer != "" {
		resp.CustomerID, resp.Journey = customer, "updated"
		status := workflows.EmailStatus{Status: workflows.EmailActive, Address: email, Reason: "suppression lifted",
			Source: "admin", By: c.GetString("who")}
		err := s.update(c, customer, workflows.UpdateEmail, status, &workflows.State{})
		switch {
		case workflows.IsValidationError(err):
			resp.Journey = rejectionMessage(err) // emails to it had not stopped: nothing to resume
		case err != nil:
			s.temporalError(c, err, customer)
			return
		}
	}
	c.JSON(http.StatusOK, resp)
}
