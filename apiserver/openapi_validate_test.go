package apiserver_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/apiserver"
)

// The API tests serve the API through openAPICheck: every request they
// make and every answer they get is validated against openapi.yaml, and a
// difference fails the test that made the request, naming the route.

func init() {
	// The email action pages are HTML; the validator reads them as text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

var (
	openAPIRouter     routers.Router
	openAPIRouterOnce sync.Once
	openAPIRouterErr  error
)

// documentRouter finds a request's operation in openapi.yaml, whatever
// the test server's host and port.
func documentRouter() (routers.Router, error) {
	openAPIRouterOnce.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(apiserver.OpenAPIDocument())
		if err != nil {
			openAPIRouterErr = err
			return
		}
		doc.Servers = nil
		openAPIRouter, openAPIRouterErr = gorillamux.NewRouter(doc)
	})
	return openAPIRouter, openAPIRouterErr
}

// undocumented are paths the document leaves out on purpose: the local
// outbox of `lifecycle dev` and the dashboard, which are pages, not API.
var undocumented = []string{"/dev/", "/ui"}

// notYetDocumented are routes being added in changes of their own, which
// document them there: the check and TestOpenAPIMatchesRoutes pass them
// by. Documenting a route means removing it from this list.
var notYetDocumented = []string{}

// isNotYetDocumented reports whether a request is for one of
// notYetDocumented ({param} matches any one path segment).
func isNotYetDocumented(method, path string) bool {
	got := strings.Split(path, "/")
	return slices.ContainsFunc(notYetDocumented, func(route string) bool {
		m, template, _ := strings.Cut(route, " ")
		want := strings.Split(template, "/")
		if m != method || len(want) != len(got) {
			return false
		}
		for i, w := range want {
			if w != got[i] && !strings.HasPrefix(w, "{") {
				return false
			}
		}
		return true
	})
}

// openAPICheck wraps h; each difference from the document goes to report.
func openAPICheck(t testing.TB, h http.Handler, report func(format string, args ...any)) http.Handler {
	router, err := documentRouter()
	require.NoError(t, err)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		checksInFlight.Add(1) // before the client can have its answer
		defer checksInFlight.Done()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		// The whole answer reaches the client before the check runs, so
		// that checking adds nothing to the latency the tests see.
		w.Header().Set("Content-Length", strconv.Itoa(rec.Body.Len()))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}

		if msg := checkExchange(router, r, body, rec); msg != "" {
			report("%s", msg)
		}
	})
}

// checkExchange validates one request and its answer; "" when both agree
// with the document.
func checkExchange(router routers.Router, r *http.Request, body []byte, rec *httptest.ResponseRecorder) string {
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json") // as the API reads it
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		for _, p := range undocumented {
			if strings.HasPrefix(r.URL.Path, p) {
				return ""
			}
		}
		if isNotYetDocumented(r.Method, r.URL.Path) {
			return ""
		}
		// The router's own answers to a path or method it has not.
		if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
			return ""
		}
		return fmt.Sprintf("openapi: %s %s answered %d but is not in openapi.yaml: %v", r.Method, r.URL.Path, rec.Code, err)
	}
	name := route.Method + " " + route.Path
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: bearerKey, IncludeResponseStatus: true},
	}
	reqErr := openapi3filter.ValidateRequest(r.Context(), in)
	// A request the document refuses must be refused (or fail on the
	// server's side before the API looked at it).
	if reqErr != nil && rec.Code < 400 {
		return fmt.Sprintf("openapi: %s: a request the document refuses was answered %d: %v", name, rec.Code, reqErr)
	}
	if rec.Code == 499 {
		return "" // the client went away; nothing was answered to anyone
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Body: io.NopCloser(bytes.NewReader(rec.Body.Bytes())), Options: in.Options,
	}
	if err := openapi3filter.ValidateResponse(r.Context(), out); err != nil {
		return fmt.Sprintf("openapi: %s: the %d answer differs from the document: %v\nbody: %s", name, rec.Code, err, clip(rec.Body.String(), 600))
	}
	return ""
}

// bearerKey is the document's apiKey scheme: some bearer key is sent
// (whether the API knows it is the API's business, answered 401).
func bearerKey(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if key, ok := strings.CutPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer "); !ok || key == "" {
		return fmt.Errorf("no bearer key")
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// checksInFlight counts the checks still running after their answer went
// out; a test's end waits for them, so none is reported to the next test.
var checksInFlight sync.WaitGroup

// sharedCheck reports the shared environment's differences to the test
// that is running (the API tests do not run in parallel).
var sharedCheck struct {
	mu   sync.Mutex
	t    testing.TB
	lost []string // differences seen while no test was running
}

func setCheckedTest(t testing.TB) {
	sharedCheck.mu.Lock()
	defer sharedCheck.mu.Unlock()
	sharedCheck.t = t
	if len(sharedCheck.lost) > 0 {
		t.Errorf("openapi differences seen between tests:\n%s", strings.Join(sharedCheck.lost, "\n"))
		sharedCheck.lost = nil
	}
	t.Cleanup(func() {
		checksInFlight.Wait()
		sharedCheck.mu.Lock()
		defer sharedCheck.mu.Unlock()
		if sharedCheck.t == t {
			sharedCheck.t = nil
		}
	})
}

func reportShared(format string, args ...any) {
	sharedCheck.mu.Lock()
	defer sharedCheck.mu.Unlock()
	if sharedCheck.t == nil {
		sharedCheck.lost = append(sharedCheck.lost, fmt.Sprintf(format, args...))
		return
	}
	sharedCheck.t.Errorf(format, args...)
}
