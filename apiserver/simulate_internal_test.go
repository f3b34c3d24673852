package apiserver

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/zap"
)

// A simulation past its deadline answers 503; one beyond the cores busy
// answers 429 with Retry-After.
func TestSimulateBounds(t *testing.T) {
	s := New(Options{APIKeys: map[string]string{"csm-key-0123456789abcdefgh": "csm"}, Logger: zap.NewNop()})
	post := func(body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/playbooks/simulate", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer csm-key-0123456789abcdefgh")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		return w
	}
	old := simulateTimeout
	simulateTimeout = time.Millisecond
	w := post(`{"scenarios": ["three-years"]}`)
	simulateTimeout = old
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Contains(t, w.Body.String(), `"timeout"`)

	for range cap(simulations) {
		simulations <- struct{}{}
	}
	w = post(`{"scenarios": ["silent"], "until": 5}`)
	for range cap(simulations) {
		<-simulations
	}
	assert.Equal(t, http.StatusTooManyRequests, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	w = post(`{"scenarios": ["silent"], "until": 5}`)
	assert.Equal(t, http.StatusOK, w.Code)
}
