//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// api is one `lifecycle api` process, reached as a client would.
type api struct {
	name string
	base string
	keys map[string]string
	hc   *http.Client
}

func newAPI(name, base string, keys map[string]string) *api {
	return &api{name: name, base: base, keys: keys, hc: &http.Client{
		Timeout: 30 * time.Second,
		// The dashboard check looks at redirects itself.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
	}}
}

// apiError is an answer that is not 2xx.
type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// retryable: the request may succeed when sent again (to either API).
func retryable(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status >= 500 || ae.status == http.StatusTooManyRequests
	}
	return err != nil // no answer at all: a connection refused or a timeout
}

// call sends a JSON request with role's key and decodes a 2xx answer into
// out; it returns the status.
func (a *api) call(ctx context.Context, role, method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.keys[role])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s %s: %w", a.name, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s %s: reading the answer: %w", a.name, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, &apiError{status: resp.StatusCode, body: string(bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s %s: %w in %s", a.name, method, path, err, data)
		}
	}
	return resp.StatusCode, nil
}

// person and startBody are POST /v1/customers as a CRM sends it.
type person struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	TimeZone string `json:"time_zone,omitempty"`
}

type startBody struct {
	Account struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Plan        string `json:"plan"`
		RenewalDate string `json:"renewal_date"`
	} `json:"account"`
	Champion     person `json:"champion"`
	CSM          person `json:"csm"`
	ManagerEmail string `json:"manager_email"`
	DealID       string `json:"deal_id"`
}

func newStart(id string, renewal time.Time) startBody {
	var b startBody
	b.Account.ID, b.Account.Name, b.Account.Plan = id, "Account "+id, "enterprise"
	b.Account.RenewalDate = renewal.Format(time.DateOnly)
	b.Champion = person{Name: "Champion of " + id, Email: id + "@customer.example", TimeZone: "Europe/London"}
	b.CSM = person{Name: "Casey CSM", Email: "casey@vendor.example"}
	b.ManagerEmail = "morgan@vendor.example"
	b.DealID = "deal-" + id
	return b
}

// start begins a journey: 201, or 200 when a retry finds the journey that
// the lost first attempt started.
func (a *api) start(ctx context.Context, b startBody) (int, error) {
	return a.call(ctx, "sales", http.MethodPost, "/v1/customers", b, nil)
}

// event is the body of POST /v1/customers/{id}/events.
type event struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Source string `json:"source,omitempty"`
}

type eventAnswer struct {
	Duplicate bool `json:"duplicate"`
	Queued    bool `json:"queued"`
}

func (a *api) event(ctx context.Context, customer string, ev event, async bool) (int, eventAnswer, error) {
	path := "/v1/customers/" + customer + "/events"
	if async {
		path += "?async=true"
	}
	var ans eventAnswer
	status, err := a.call(ctx, "integration", http.MethodPost, path, ev, &ans)
	return status, ans, err
}

func (a *api) state(ctx context.Context, customer string) (workflows.State, error) {
	var st workflows.State
	_, err := a.call(ctx, "csm", http.MethodGet, "/v1/customers/"+customer, nil, &st)
	return st, err
}

func (a *api) timeline(ctx context.Context, customer string) (workflows.Timeline, error) {
	var tl workflows.Timeline
	_, err := a.call(ctx, "csm", http.MethodGet, "/v1/customers/"+customer+"/timeline", nil, &tl)
	return tl, err
}
