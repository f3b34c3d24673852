package hubspot_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/hubspot"
)

const token = "pat-na1-test-token"

// crm answers like HubSpot's CRM API and refuses a request that is not
// shaped as HubSpot documents it.
func crm(t *testing.T, status func(path string) int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
			return
		}
		if code := status(r.URL.Path); code != 0 {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, `{"status":"error","message":"internal error","category":"INTERNAL_ERROR"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/crm/v3/objects/deals/101":
			assert.Equal(t, "dealname,dealstage,closedate,amount,hubspot_owner_id,plan_tier", r.URL.Query().Get("properties"))
			assert.Equal(t, "companies,contacts", r.URL.Query().Get("associations"))
			_, _ = io.WriteString(w, `{"id":"101","properties":{"dealname":"Acme renewal","dealstage":"closedwon","amount":"12000","closedate":"2026-12-01T10:00:00Z","hubspot_owner_id":"77","plan_tier":null,"hs_object_id":"101"},
				"createdAt":"2026-11-01T10:00:00Z","updatedAt":"2026-12-01T10:00:00Z","archived":false,
				"associations":{"companies":{"results":[{"id":"302","type":"deal_to_company_unlabeled"},{"id":"301","type":"deal_to_company_unlabeled"},{"id":"301","type":"deal_to_company"}]},
				"contacts":{"results":[{"id":"401","type":"deal_to_contact"},{"id":"401","type":"deal_to_contact_unlabeled"},{"id":"402","type":"deal_to_contact"},{"id":"x9","type":"deal_to_contact"}]}}}`)
		case r.Method == "GET" && r.URL.Path == "/crm/v3/objects/companies/301":
			assert.Equal(t, "name,domain", r.URL.Query().Get("properties"))
			_, _ = io.WriteString(w, `{"id":"301","properties":{"name":"Acme Corp","domain":"acme.example"},"archived":false}`)
		case r.Method == "POST" && r.URL.Path == "/crm/v3/objects/contacts/batch/read":
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
			var req struct {
				Properties []string            `json:"properties"`
				Inputs     []map[string]string `json:"inputs"`
			}
			require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			assert.Equal(t, []string{"email", "firstname", "lastname", "hs_timezone"}, req.Properties)
			assert.Equal(t, []map[string]string{{"id": "401"}, {"id": "402"}}, req.Inputs)
			// HubSpot's batch answers in its own order.
			_, _ = io.WriteString(w, `{"status":"COMPLETE","results":[
				{"id":"402","properties":{"email":"bob@acme.example","firstname":"Bob","lastname":null,"hs_timezone":"america_slash_new_york"}},
				{"id":"401","properties":{"email":"ada@acme.example","firstname":"Ada","lastname":"Lovelace","hs_timezone":"europe_slash_london"}}],
				"startedAt":"2026-12-01T10:00:00Z","completedAt":"2026-12-01T10:00:01Z"}`)
		case r.Method == "GET" && r.URL.Path == "/crm/v3/owners/77":
			_, _ = io.WriteString(w, `{"id":"77","email":"grace@vendor.example","firstName":"Grace","lastName":"Hopper","userId":9,"archived":false}`)
		case r.URL.Path == "/crm/v3/objects/companies/999":
			_, _ = io.WriteString(w, `{"id":"999","properties":{"name":"`+strings.Repeat("x", hubspot.MaxResponseBytes)+`"}}`)
		case r.URL.Path == "/crm/v3/objects/companies/998":
			_, _ = io.WriteString(w, `<html>a proxy's page</html>`)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"status":"error","message":"resource not found","category":"OBJECT_NOT_FOUND"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func ok(string) int { return 0 }

// The client asks for exactly what HubSpot documents (paths, properties,
// associations, the bearer token) and reads HubSpot's answers: each
// association once, the primary company first, contacts in the deal's order.
func TestCRMReadsADealWithItsRecords(t *testing.T) {
	srv := crm(t, ok)
	c := &hubspot.Client{BaseURL: srv.URL, Token: token}
	m := hubspot.Mapping{Plan: hubspot.PropertyRef{Object: hubspot.ObjectDeal, Name: "plan_tier"}}
	ctx := context.Background()

	d, err := c.Deal(ctx, "101", m.DealProperties())
	require.NoError(t, err)
	assert.Equal(t, "Acme renewal", d.Prop("dealname"))
	assert.Equal(t, "", d.Prop("plan_tier"), "null reads as empty")
	assert.Equal(t, []string{"301", "302"}, d.CompanyIDs, "the primary company first, each once")
	assert.Equal(t, []string{"401", "402"}, d.ContactIDs, "each once; an id that is not HubSpot's left out")

	co, err := c.Company(ctx, d.CompanyIDs[0], m.CompanyProperties())
	require.NoError(t, err)
	assert.Equal(t, "Acme Corp", co.Prop("name"))

	cts, err := c.Contacts(ctx, d.ContactIDs, m.ContactProperties())
	require.NoError(t, err)
	require.Len(t, cts, 2)
	assert.Equal(t, "401", cts[0].ID, "in the deal's order, not the batch's")
	assert.Equal(t, "bob@acme.example", cts[1].Prop("email"))

	o, err := c.Owner(ctx, "77")
	require.NoError(t, err)
	assert.Equal(t, "grace@vendor.example", o.Email)
}

func TestCRMErrors(t *testing.T) {
	down := false
	srv := crm(t, func(string) int {
		if down {
			return http.StatusBadGateway
		}
		return 0
	})
	ctx := context.Background()
	c := &hubspot.Client{BaseURL: srv.URL, Token: token}

	_, err := c.Deal(ctx, "555", nil)
	assert.True(t, hubspot.NotFound(err), "%v", err)

	_, err = (&hubspot.Client{BaseURL: srv.URL, Token: "wrong"}).Deal(ctx, "101", nil)
	var ae *hubspot.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusUnauthorized, ae.Status)
	assert.Contains(t, err.Error(), "Authentication credentials not found")
	assert.NotContains(t, err.Error(), "wrong", "the token never shows in an error")

	down = true
	_, err = c.Deal(ctx, "101", nil)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, http.StatusBadGateway, ae.Status)
	assert.False(t, hubspot.NotFound(err))
	down = false

	_, err = c.Company(ctx, "999", nil)
	assert.ErrorContains(t, err, "over 1048576 bytes")
	_, err = c.Company(ctx, "998", nil)
	assert.ErrorContains(t, err, "not HubSpot's JSON")

	_, err = c.Deal(ctx, "../owners/77", nil)
	assert.ErrorContains(t, err, "digits only", "an id is never pasted into a path")

	srv.Close()
	_, err = c.Deal(ctx, "101", nil)
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 0, ae.Status, "no answer at all")
}
