// Package hubspot reads what a closed-won deal needs from HubSpot's CRM API
// (v3 objects and owners), authenticated with a private app's access token.
// A webhook event carries only the deal's id; the deal's name, amount,
// company, contacts and owner come from here.
package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is HubSpot's API.
const DefaultBaseURL = "https://api.hubapi.com"

// Bounds on what is read from HubSpot: a response body, and how many
// associated records of each kind one deal brings along.
const (
	MaxResponseBytes = 1 << 20
	// MaxContacts associated contacts are read: twice what a journey keeps
	// (workflows.MaxContacts), so that a few without a usable address do
	// not crowd out the rest; one batch read (HubSpot's limit is 100).
	MaxContacts = 50
	MaxIDLen    = 64 // HubSpot ids are numbers; anything longer is refused
)

// Client calls HubSpot's CRM API.
type Client struct {
	BaseURL string // DefaultBaseURL when empty
	Token   string // private app access token
	HTTP    *http.Client
}

// Record is a CRM object: its id and the properties asked for (HubSpot
// sends every property value as a string, or null).
type Record struct {
	ID         string             `json:"id"`
	Properties map[string]*string `json:"properties"`
}

// Prop is a property's value, "" when missing or null.
func (r Record) Prop(name string) string {
	if v := r.Properties[name]; v != nil {
		return *v
	}
	return ""
}

// Owner is a HubSpot user who owns records (a deal's owner).
type Owner struct {
	ID        string `json:"id"`
	Email     string `json:"email"`
	FirstName string `json:"firstName"`
	LastName  string `json:"lastName"`
}

// Deal is a deal with the records associated with it.
type Deal struct {
	Record
	CompanyIDs []string // as HubSpot lists them, the primary company first when it says so
	ContactIDs []string
}

// APIError is HubSpot answering something other than success. Status 0:
// it did not answer (network, timeout, a body that is not HubSpot's).
type APIError struct {
	Status  int
	Path    string
	Message string
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("HubSpot %s: %s", e.Path, e.Message)
	}
	return fmt.Sprintf("HubSpot %s answered %d: %s", e.Path, e.Status, e.Message)
}

// NotFound reports whether HubSpot said the record does not exist.
func NotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Deal reads a deal, its properties named in props, and its associated
// companies and contacts.
func (c *Client) Deal(ctx context.Context, id string, props []string) (Deal, error) {
	if err := checkID(id); err != nil {
		return Deal{}, err
	}
	q := url.Values{}
	q.Set("properties", strings.Join(props, ","))
	q.Set("associations", "companies,contacts")
	var body struct {
		Record
		Associations map[string]struct {
			Results []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"results"`
		} `json:"associations"`
	}
	if err := c.do(ctx, http.MethodGet, "/crm/v3/objects/deals/"+url.PathEscape(id), q, nil, &body); err != nil {
		return Deal{}, err
	}
	d := Deal{Record: body.Record}
	// The v3 read lists an association once per type (the primary
	// "deal_to_company" and "deal_to_company_unlabeled"): keep each id once,
	// in HubSpot's order, the primary company first.
	primary := ""
	for _, r := range body.Associations["companies"].Results {
		if checkID(r.ID) != nil {
			continue
		}
		if r.Type == "deal_to_company" && primary == "" {
			primary = r.ID
		}
		if !contains(d.CompanyIDs, r.ID) {
			d.CompanyIDs = append(d.CompanyIDs, r.ID)
		}
	}
	if primary != "" {
		rest := []string{primary}
		for _, id := range d.CompanyIDs {
			if id != primary {
				rest = append(rest, id)
			}
		}
		d.CompanyIDs = rest
	}
	for _, r := range body.Associations["contacts"].Results {
		if checkID(r.ID) == nil && !contains(d.ContactIDs, r.ID) && len(d.ContactIDs) < MaxContacts {
			d.ContactIDs = append(d.ContactIDs, r.ID)
		}
	}
	return d, nil
}

// Company reads a company's properties named in props.
func (c *Client) Company(ctx context.Context, id string, props []string) (Record, error) {
	if err := checkID(id); err != nil {
		return Record{}, err
	}
	q := url.Values{}
	q.Set("properties", strings.Join(props, ","))
	var r Record
	err := c.do(ctx, http.MethodGet, "/crm/v3/objects/companies/"+url.PathEscape(id), q, nil, &r)
	return r, err
}

// Contacts reads up to MaxContacts contacts in one batch, in the order of
// ids; ids HubSpot does not find are left out.
func (c *Client) Contacts(ctx context.Context, ids []string, props []string) ([]Record, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxContacts {
		ids = ids[:MaxContacts]
	}
	type input struct {
		ID string `json:"id"`
	}
	req := struct {
		Properties []string `json:"properties"`
		Inputs     []input  `json:"inputs"`
	}{Properties: props}
	for _, id := range ids {
		if err := checkID(id); err != nil {
			return nil, err
		}
		req.Inputs = append(req.Inputs, input{id})
	}
	var body struct {
		Results []Record `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/crm/v3/objects/contacts/batch/read", nil, req, &body); err != nil {
		return nil, err
	}
	byID := map[string]Record{}
	for _, r := range body.Results {
		byID[r.ID] = r
	}
	out := make([]Record, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Owner reads a record owner (a deal's hubspot_owner_id).
func (c *Client) Owner(ctx context.Context, id string) (Owner, error) {
	if err := checkID(id); err != nil {
		return Owner{}, err
	}
	var o Owner
	err := c.do(ctx, http.MethodGet, "/crm/v3/owners/"+url.PathEscape(id), nil, nil, &o)
	return o, err
}

// do sends one request and decodes a success into out. Bodies are bounded;
// errors carry HubSpot's status and message, never the token.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := strings.TrimRight(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return &APIError{Path: path, Message: err.Error()}
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return &APIError{Path: path, Message: "no answer: " + err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	switch {
	case err != nil:
		return &APIError{Path: path, Message: "reading the answer: " + err.Error()}
	case len(data) > MaxResponseBytes:
		return &APIError{Path: path, Message: fmt.Sprintf("the answer is over %d bytes", MaxResponseBytes)}
	case resp.StatusCode/100 != 2:
		var e struct {
			Message  string `json:"message"`
			Category string `json:"category"`
		}
		msg := http.StatusText(resp.StatusCode)
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = clip(e.Message, 300)
		}
		return &APIError{Status: resp.StatusCode, Path: path, Message: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &APIError{Path: path, Message: "the answer is not HubSpot's JSON: " + clip(err.Error(), 200)}
	}
	return nil
}

func checkID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("HubSpot id %q: want 1-%d digits", clip(id, MaxIDLen), MaxIDLen)
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return fmt.Errorf("HubSpot id %q: want digits only", clip(id, MaxIDLen))
		}
	}
	return nil
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
