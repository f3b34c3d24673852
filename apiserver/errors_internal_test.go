package apiserver

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
)

// A Temporal call that was cancelled while the caller still waits is
// Temporal giving up on a busy or lost worker: 503, to be retried. Only a
// caller that went away gets 499.
func TestCancelledTemporalCallsAnswer503UnlessTheCallerLeft(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Server{log: zap.NewNop()}
	answer := func(reqCtx context.Context, err error) int {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/v1/customers/acme/events", nil).WithContext(reqCtx)
		s.temporalError(c, err, "acme")
		return w.Code
	}
	live := context.Background()
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for name, err := range map[string]error{
		"update wait cancelled by the server": client.NewWorkflowUpdateServiceTimeoutOrCanceledError(serviceerror.NewCanceled("context canceled")),
		"update wait, context cancelled":      client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.Canceled),
		"a cancelled call":                    serviceerror.NewCanceled("canceled"),
		"a deadline":                          context.DeadlineExceeded,
		"unavailable":                         serviceerror.NewUnavailable("shutting down"),
	} {
		assert.Equal(t, http.StatusServiceUnavailable, answer(live, err), name)
	}
	assert.Equal(t, 499, answer(gone, client.NewWorkflowUpdateServiceTimeoutOrCanceledError(context.Canceled)), "the caller left")
	assert.Equal(t, 499, answer(gone, context.Canceled))
	assert.Equal(t, http.StatusInternalServerError, answer(live, errors.New("something else")))
}
