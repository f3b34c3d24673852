package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// ErrorBody is every error's JSON shape.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail has a stable machine code and a human message.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func fail(c *gin.Context, status int, code, message, field string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, Field: field}})
}

// decode reads a JSON body strictly: one object, no unknown fields.
func decode(c *gin.Context, v any) bool {
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Only whitespace may follow the object (dec.More misses "}" and "]").
		var tooBig *http.MaxBytesError
		switch _, next := dec.Token(); {
		case errors.As(next, &tooBig):
			err = next
		case !errors.Is(next, io.EOF):
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		// Read the rest, so a body over the limit is refused even when the
		// excess is whitespace.
		_, err = io.Copy(io.Discard, c.Request.Body)
	}
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		fail(c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is over %d bytes", tooBig.Limit), "")
	case errors.Is(err, io.EOF):
		fail(c, http.StatusBadRequest, "invalid_json", "the body is empty; send a JSON object", "")
	case errors.As(err, &typeErr) && typeErr.Field == "":
		fail(c, http.StatusBadRequest, "invalid_json", "the body must be a JSON object", "")
	case errors.As(err, &typeErr):
		fail(c, http.StatusBadRequest, "invalid_json", fmt.Sprintf("%s must be %s", typeErr.Field, typeErr.Type), typeErr.Field)
	case errors.As(err, &syntaxErr):
		fail(c, http.StatusBadRequest, "invalid_json", fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, err), "")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		fail(c, http.StatusBadRequest, "unknown_field", fmt.Sprintf("unknown field %q", field), field)
	default:
		fail(c, http.StatusBadRequest, "invalid_json", err.Error(), "")
	}
	return false
}

var fieldPrefix = regexp.MustCompile(`^([a-z_]+(?:[.\[][a-z0-9_\]]+)*): (.+)$`)

// rejectionMessage is a validator's message without Temporal's wrapping.
func rejectionMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// clipText shortens what a caller sent before it is quoted back.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// invalid answers 422, naming the field when the message starts with one.
func invalid(c *gin.Context, err error) {
	msg := rejectionMessage(err)
	var fe *workflows.FieldError
	if errors.As(err, &fe) {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", msg, fe.Field)
		return
	}
	field := ""
	if m := fieldPrefix.FindStringSubmatch(msg); m != nil {
		field = m[1]
	}
	fail(c, http.StatusUnprocessableEntity, "invalid_field", msg, field)
}

// temporalError maps a Temporal call's error to an HTTP answer.
func (s *Server) temporalError(c *gin.Context, err error, customerID string) {
	var notFound *serviceerror.NotFound
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	var updateWait *client.WorkflowUpdateServiceTimeoutOrCanceledError
	var canceled *serviceerror.Canceled
	switch {
	case workflows.IsValidationError(err):
		invalid(c, err)
	case workflows.IsJourneyEnded(err), isCompleted(err):
		fail(c, http.StatusConflict, "journey_ended", fmt.Sprintf("the journey of customer %q has ended", customerID), "")
	case errors.As(err, &notFound):
		fail(c, http.StatusNotFound, "customer_not_found", fmt.Sprintf("no journey for customer %q", customerID), "")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &unavailable), errors.As(err, &deadline):
		s.log.Warn("Temporal unavailable", zap.Error(err), zap.String("customer_id", customerID))
		fail(c, http.StatusServiceUnavailable, "temporal_unavailable", "the journey engine did not answer in time; retry", "")
	case errors.Is(err, context.Canceled), errors.As(err, &updateWait), errors.As(err, &canceled):
		if c.Request.Context().Err() != nil {
			fail(c, 499, "canceled", "request canceled", "")
			return
		}
		// The caller is still waiting: Temporal gave up waiting for the
		// journey (its worker was busy or went away). Retrying is safe: an
		// update carries its id, and a journey applies an event once.
		s.log.Warn("Temporal stopped waiting for the journey", zap.Error(err), zap.String("customer_id", customerID))
		fail(c, http.StatusServiceUnavailable, "temporal_unavailable", "the journey engine did not answer in time; retry", "")
	default:
		s.log.Error("Temporal call failed", zap.Error(err), zap.String("customer_id", customerID),
			zap.String("request_id", c.GetString("request_id")))
		fail(c, http.StatusInternalServerError, "internal", fmt.Sprintf("internal error (request %s)", c.GetString("request_id")), "")
	}
}

// isCompleted: the workflow had completed, or completed while the update
// was on its way (Temporal then aborts it with NotFound).
func isCompleted(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "workflow execution already completed") ||
		strings.Contains(err.Error(), "update was aborted by closing workflow"))
}
