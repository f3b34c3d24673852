package apiserver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func contactsOf(t *testing.T, e *env, id string) ([]map[string]any, float64) {
	t.Helper()
	status, body := e.do("GET", "/v1/customers/"+id+"/contacts", csmKey, nil)
	require.Equal(t, http.StatusOK, status, body)
	var out []map[string]any
	for _, c := range body["contacts"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out, body["reachable"].(float64)
}

func emails(cs []map[string]any) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c["role"].(string)+":"+c["email"].(string)+":"+c["email_status"].(string))
	}
	return out
}

// TestContactsThroughTheAPI: a deal brings several contacts; a CSM adds,
// changes and removes them; a SendGrid bounce of one contact's address stops
// that contact's email only.
func TestContactsThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	deal := startBody("acme-ct")
	deal["contacts"] = []map[string]any{
		{"role": "admin", "name": "Bob Admin", "email": "bob@acme-ct.example"},
		{"role": "user", "name": "Cy User", "email": "cy@acme-ct.example", "time_zone": "America/Chicago"},
	}
	status, body := e.do("POST", "/v1/customers", salesKey, deal)
	require.Equal(t, http.StatusCreated, status, body)
	cs, reachable := contactsOf(t, e, "acme-ct")
	assert.Equal(t, []string{"champion:ada@acme-ct.example:active", "admin:bob@acme-ct.example:active", "user:cy@acme-ct.example:active"}, emails(cs))
	assert.Equal(t, []any{"ct1", "ct2", "ct3"}, []any{cs[0]["id"], cs[1]["id"], cs[2]["id"]})
	assert.Equal(t, 3.0, reachable)

	status, added := e.do("POST", "/v1/customers/acme-ct/contacts", csmKey, map[string]any{"role": "executive_sponsor", "name": "Eve Sponsor", "email": "eve@acme-ct.example", "reason": "met at the kickoff"})
	require.Equal(t, http.StatusCreated, status, added)
	assert.Equal(t, "ct4", added["id"])
	assert.Equal(t, "active", added["email_status"])

	status, changed := e.do("PATCH", "/v1/customers/acme-ct/contacts/ct3", csmKey, map[string]any{"role": "admin", "time_zone": "UTC"})
	require.Equal(t, http.StatusOK, status, changed)
	assert.Equal(t, "admin", changed["role"])
	assert.Nil(t, changed["time_zone"], "UTC: no zone")
	assert.Equal(t, "Cy User", changed["name"], "fields left out stay")

	status, removed := e.do("DELETE", "/v1/customers/acme-ct/contacts/ct2", csmKey, nil)
	require.Equal(t, http.StatusOK, status, removed)
	assert.Equal(t, "bob@acme-ct.example", removed["email"])

	// A bounce of Cy's address (SendGrid, signed): Cy stops, nobody else.
	at := time.Now().Unix() + 1
	batch, _ := json.Marshal([]map[string]any{
		{"email": "cy@acme-ct.example", "event": "bounce", "sg_event_id": "ev-ct-bounce", "timestamp": at, "customer_id": "acme-ct", "step": "touchpoint:training-basics", "kind": "customer", "reason": "550 mailbox unavailable"},
	})
	status, body = e.sendgridPost(e.sgKey, at, batch)
	require.Equal(t, http.StatusOK, status, body)
	cs, reachable = contactsOf(t, e, "acme-ct")
	assert.Equal(t, []string{"champion:ada@acme-ct.example:active", "admin:cy@acme-ct.example:suppressed", "executive_sponsor:eve@acme-ct.example:active"}, emails(cs))
	assert.Equal(t, 2.0, reachable)
	st := e.state("acme-ct")
	assert.Nil(t, st["email_blocked"], "the champion's email goes on")

	// Promoting Eve: Ada becomes a user; the champion follows.
	status, body = e.do("PATCH", "/v1/customers/acme-ct/contacts/ct4", csmKey, map[string]any{"role": "champion"})
	require.Equal(t, http.StatusOK, status, body)
	st = e.state("acme-ct")
	assert.Equal(t, "eve@acme-ct.example", st["champion"].(map[string]any)["email"])
	cs, _ = contactsOf(t, e, "acme-ct")
	assert.Equal(t, "user", cs[0]["role"])

	// Who did it is on the timeline.
	status, tl := e.do("GET", "/v1/customers/acme-ct/timeline", csmKey, nil)
	require.Equal(t, http.StatusOK, status)
	var lines []string
	for _, en := range tl["entries"].([]any) {
		en := en.(map[string]any)
		lines = append(lines, en["summary"].(string)+" | "+stringOr(en["cause"]))
	}
	all := strings.Join(lines, "\n")
	assert.Contains(t, all, "Contact added: Eve Sponsor (executive_sponsor) | met at the kickoff")
	assert.Contains(t, all, "Contact removed: Bob Admin (admin)")
	assert.Contains(t, all, "Emails stopped for Cy User <cy@acme-ct.example> (admin): bounce")
	assert.Contains(t, all, "Champion changed from Ada Lovelace to Eve Sponsor")
}

func stringOr(v any) string {
	s, _ := v.(string)
	return s
}

// TestContactRequestsAreChecked: each wrong request is refused with the
// field it is about, before or by the journey, and changes nothing.
func TestContactRequestsAreChecked(t *testing.T) {
	e := newEnv(t)
	status, body := e.do("POST", "/v1/customers", salesKey, startBody("acme-ck"))
	require.Equal(t, http.StatusCreated, status, body)
	cases := []struct {
		name, method, path string
		key                string
		body               any
		status             int
		code, field        string
	}{
		{"bad role", "POST", "/contacts", csmKey, map[string]any{"role": "owner", "name": "A", "email": "a@acme-ck.example"}, 422, "invalid_field", "role"},
		{"no email", "POST", "/contacts", csmKey, map[string]any{"role": "user", "name": "A"}, 422, "invalid_field", "email"},
		{"long name", "POST", "/contacts", csmKey, map[string]any{"role": "user", "name": strings.Repeat("n", 201), "email": "a@acme-ck.example"}, 422, "invalid_field", "name"},
		{"bad zone", "POST", "/contacts", csmKey, map[string]any{"role": "user", "name": "A", "email": "a@acme-ck.example", "time_zone": "Mars/Olympus"}, 422, "invalid_field", "time_zone"},
		{"champion's address", "POST", "/contacts", csmKey, map[string]any{"role": "user", "name": "A", "email": "ADA@acme-ck.example"}, 422, "invalid_field", "email"},
		{"CSM's address", "POST", "/contacts", csmKey, map[string]any{"role": "user", "name": "A", "email": "grace@vendor.example"}, 422, "invalid_field", "email"},
		{"unknown field", "POST", "/contacts", csmKey, map[string]any{"role": "user", "name": "A", "email": "a@acme-ck.example", "phone": "1"}, 400, "unknown_field", "phone"},
		{"integration key", "POST", "/contacts", integKey, map[string]any{"role": "user", "name": "A", "email": "a@acme-ck.example"}, 403, "forbidden", ""},
		{"unknown contact", "PATCH", "/contacts/ct9", csmKey, map[string]any{"name": "B"}, 404, "contact_not_found", "contact"},
		{"not a contact id", "PATCH", "/contacts/bob", csmKey, map[string]any{"name": "B"}, 404, "contact_not_found", "contact"},
		{"empty change", "PATCH", "/contacts/ct1", csmKey, map[string]any{}, 422, "invalid_field", "role"},
		{"demote the champion", "PATCH", "/contacts/ct1", csmKey, map[string]any{"role": "user"}, 422, "invalid_field", "role"},
		{"remove the champion", "DELETE", "/contacts/ct1", csmKey, nil, 422, "invalid_field", "id"},
		{"removal with fields", "DELETE", "/contacts/ct1", csmKey, map[string]any{"name": "x"}, 422, "invalid_field", "contact"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := e.do(tc.method, "/v1/customers/acme-ck"+tc.path, tc.key, tc.body)
			assert.Equal(t, tc.status, status, body)
			if tc.code != "" {
				assert.Equal(t, tc.code, errCode(body), body)
			}
			assert.Equal(t, tc.field, errField(body), body)
		})
	}
	cs, _ := contactsOf(t, e, "acme-ck")
	assert.Equal(t, []string{"champion:ada@acme-ck.example:active"}, emails(cs), "nothing changed")

	status, body = e.do("GET", "/v1/customers/nobody-here/contacts", csmKey, nil)
	assert.Equal(t, http.StatusNotFound, status, body)

	// A start's contacts are checked before a journey begins.
	deal := startBody("acme-ck2")
	deal["contacts"] = []map[string]any{{"role": "admin", "name": "Bob", "email": "bob@acme-ck2.example"}, {"role": "boss", "name": "X", "email": "x@acme-ck2.example"}}
	status, body = e.do("POST", "/v1/customers", salesKey, deal)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "contacts[1].role", errField(body))
}

// TestAChampionInTheContactList: a deal that lists every contact with their
// role, the champion among them, starts with that champion.
func TestAChampionInTheContactList(t *testing.T) {
	e := newEnv(t)
	deal := startBody("acme-cl")
	delete(deal, "champion")
	deal["contacts"] = []map[string]any{
		{"role": "user", "name": "Cy User", "email": "cy@acme-cl.example"},
		{"role": "champion", "name": "Ada Lovelace", "email": "ada@acme-cl.example", "time_zone": "Europe/London"},
	}
	status, body := e.do("POST", "/v1/customers", salesKey, deal)
	require.Equal(t, http.StatusCreated, status, body)
	cs, _ := contactsOf(t, e, "acme-cl")
	assert.Equal(t, []string{"champion:ada@acme-cl.example:active", "user:cy@acme-cl.example:active"}, emails(cs))
	assert.Equal(t, "Europe/London", cs[0]["time_zone"])

	two := startBody("acme-cl2")
	delete(two, "champion")
	two["contacts"] = []map[string]any{
		{"role": "champion", "name": "Ada", "email": "ada@acme-cl2.example"},
		{"role": "champion", "name": "Alan", "email": "alan@acme-cl2.example"},
	}
	status, body = e.do("POST", "/v1/customers", salesKey, two)
	assert.Equal(t, http.StatusUnprocessableEntity, status)
	assert.Equal(t, "contacts[0].role", errField(body), "the second champion is named")
}
