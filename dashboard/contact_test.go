package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The customer's contact forms: changing the champion, and an admin
// resuming customer email that a bounce or an unsubscribe stopped.

// formPost posts a dashboard form, as htmx does when hx is set.
func formPost(t *testing.T, hc *http.Client, u string, form url.Values, hx bool) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if hx {
		req.Header.Set("HX-Request", "true")
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header, readBody(resp)
}

func pageOf(t *testing.T, hc *http.Client, u string) string {
	t.Helper()
	resp, err := hc.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body := readBody(resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	return body
}

// stateOf reads the journey's state as the dashboard does, straight from
// the journey.
func stateOf(t *testing.T, e *env, id string) workflows.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := e.Client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QueryState)
	require.NoError(t, err)
	var st workflows.State
	require.NoError(t, v.Get(&st))
	return st
}

// TestChangeChampionForm: a CSM changes the champion through the form and
// the journey's champion is the new person (name, email, time zone), with
// the change and its reason on the timeline. An email over 254 characters
// is refused next to the form, naming champion.email, for htmx (a fragment
// for the form's error line) and without JavaScript (the page, the message
// in the form), and the champion stays who it was.
func TestChangeChampionForm(t *testing.T) {
	e := startEnv(t, true)
	e.startCustomer(t, "delta", "Delta plc", "grace@vendor.example")
	hc, csrf := browserless(t, e)
	page := pageOf(t, hc, e.URL+"/ui/customers/delta")
	assert.Contains(t, page, `<form id="champion"`)
	assert.Contains(t, page, "Change champion")
	path := e.URL + "/ui/customers/delta/champion"
	form := func(email string) url.Values {
		return url.Values{"csrf": {csrf}, "form": {"champion"}, "champion_name": {"Katherine Johnson"},
			"champion_email": {email}, "champion_time_zone": {"America/New_York"}, "reason": {"Ada moved to another team"}}
	}

	long := strings.Repeat("k", 245) + "@delta.example" // 259 characters
	code, hdr, body := formPost(t, hc, path, form(long), true)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Equal(t, "#err-champion", hdr.Get("HX-Retarget"))
	assert.Contains(t, body, "champion.email: at most 254 characters (got 259)")
	code, _, body = formPost(t, hc, path, form(long), false)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Contains(t, body, `id="err-champion" role="alert">champion.email: at most 254 characters (got 259)</p>`)
	assert.Equal(t, "ada@delta.example", stateOf(t, e, "delta").Champion.Email, "a refused change changes nothing")

	code, _, body = formPost(t, hc, path, form("katherine@delta.example"), true)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, "katherine@delta.example", "the refreshed page shows the new champion")
	st := stateOf(t, e, "delta")
	assert.Equal(t, workflows.Person{Name: "Katherine Johnson", Email: "katherine@delta.example", TimeZone: "America/New_York"}, st.Champion)
	code, _, body = formPost(t, hc, path, form("katherine@delta.example"), true)
	assert.Equal(t, http.StatusUnprocessableEntity, code, "the same champion again is the journey's refusal, shown inline")
	assert.Contains(t, body, "already the champion")
	var tl workflows.Timeline
	v, err := e.Client.QueryWorkflow(context.Background(), workflows.WorkflowID("delta"), "", workflows.QueryTimeline)
	require.NoError(t, err)
	require.NoError(t, v.Get(&tl))
	found := false
	for _, en := range tl.Entries {
		if strings.Contains(en.Summary, "Katherine Johnson") {
			found = true
			assert.Contains(t, en.Cause, "Ada moved to another team")
			assert.Contains(t, en.Cause, "dashboard:csm")
		}
	}
	assert.True(t, found, "the change is on the timeline: %+v", tl.Entries)
}

// TestResumeEmailForm: customer email stopped by a bounce (the store
// suppresses the address, the journey stops emailing it) is resumed by an
// admin through the form: the address is off the suppression list and the
// journey emails again. A CSM is not offered the form and is refused (403)
// if they post it anyway, with nothing changed; resuming again is refused
// inline.
func TestResumeEmailForm(t *testing.T) {
	e := startEnv(t, true)
	e.startCustomer(t, "omega", "Omega GmbH", "grace@vendor.example")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := "ada@omega.example"
	// What the SendGrid webhook does with a bounce.
	require.NoError(t, e.Store.Suppress(ctx, addr, "bounce", time.Now()))
	h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID("omega"), UpdateName: workflows.UpdateEmail, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: addr}},
	})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	require.Equal(t, "bounce", stateOf(t, e, "omega").EmailBlocked)
	path := e.URL + "/ui/customers/omega/email"
	suppressed := func() bool {
		_, ok, err := e.Store.Suppressed(ctx, addr)
		require.NoError(t, err)
		return ok
	}

	csm, csmCSRF := browserless(t, e)
	page := pageOf(t, csm, e.URL+"/ui/customers/omega")
	assert.Contains(t, page, "customer email stopped: bounce", "a CSM sees that email stopped")
	assert.NotContains(t, page, `<form id="email"`, "but is not offered to resume it")
	code, _, _ := formPost(t, csm, path, url.Values{"csrf": {csmCSRF}, "form": {"email"}}, true)
	assert.Equal(t, http.StatusForbidden, code)
	assert.True(t, suppressed(), "a refused resume leaves the suppression")
	assert.Equal(t, "bounce", stateOf(t, e, "omega").EmailBlocked)

	admin, csrf := browserlessAs(t, e, adminKey)
	page = pageOf(t, admin, e.URL+"/ui/customers/omega")
	assert.Contains(t, page, `<form id="email"`)
	assert.Contains(t, page, "Resume customer email")
	code, _, _ = formPost(t, admin, path, url.Values{"form": {"email"}}, true)
	assert.Equal(t, http.StatusForbidden, code, "without the CSRF token")
	assert.True(t, suppressed())

	code, _, body := formPost(t, admin, path, url.Values{"csrf": {csrf}, "form": {"email"}}, true)
	require.Equal(t, http.StatusOK, code, body)
	assert.NotContains(t, body, `<form id="email"`, "the form goes once email resumes")
	assert.False(t, suppressed(), "the address is off the suppression list")
	st := stateOf(t, e, "omega")
	assert.Empty(t, st.EmailBlocked, "the journey emails the champion again")
	assert.Contains(t, body, "Customer emails resumed")

	code, hdr, body := formPost(t, admin, path, url.Values{"csrf": {csrf}, "form": {"email"}}, true)
	assert.Equal(t, http.StatusUnprocessableEntity, code)
	assert.Equal(t, "#err-email", hdr.Get("HX-Retarget"))
	assert.Equal(t, "Customer email is not stopped.", body)
}

// TestCustomerPageListsContacts: every contact with its role and whether it
// can be emailed; a contact whose address bounced shows why it stopped.
func TestCustomerPageListsContacts(t *testing.T) {
	e := startEnv(t, true)
	e.startCustomer(t, "kappa", "Kappa Ltd", "grace@vendor.example")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, ch := range []workflows.ContactChange{
		{Op: workflows.ContactAdd, Contact: workflows.Contact{Role: workflows.ContactAdmin, Name: "Bob Admin", Email: "bob@kappa.example", TimeZone: "America/New_York"}},
		{Op: workflows.ContactAdd, Contact: workflows.Contact{Role: workflows.ContactUser, Name: "Cy User", Email: "cy@kappa.example"}},
	} {
		h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.WorkflowID("kappa"), UpdateName: workflows.UpdateContact,
			Args: []any{ch}, WaitForStage: client.WorkflowUpdateStageCompleted})
		require.NoError(t, err)
		require.NoError(t, h.Get(ctx, nil))
	}
	h, err := e.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: workflows.WorkflowID("kappa"), UpdateName: workflows.UpdateEmail,
		Args: []any{workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: "cy@kappa.example"}}, WaitForStage: client.WorkflowUpdateStageCompleted})
	require.NoError(t, err)
	require.NoError(t, h.Get(ctx, nil))
	hc, _ := browserless(t, e)
	page := pageOf(t, hc, e.URL+"/ui/customers/kappa")
	assert.Contains(t, page, "2 of 3 can be emailed")
	assert.Contains(t, page, `<tr data-contact="ct2">`)
	assert.Contains(t, page, "America/New_York")
	assert.Regexp(t, `(?s)data-contact="ct3".*Cy User.*stopped: bounce`, page)
}

// TestCustomerPageShowsAnImport: a customer imported in adoption says so,
// with its milestones due before the import marked as such, not late.
func TestCustomerPageShowsAnImport(t *testing.T) {
	e := startEnv(t, true)
	body := map[string]any{
		"account":       map[string]any{"id": "imported", "name": "Imported Co", "plan": "pro", "renewal_date": time.Now().AddDate(0, 6, 0).Format(time.DateOnly)},
		"champion":      map[string]any{"name": "Ada Lovelace", "email": "ada@imported.example"},
		"csm":           map[string]any{"name": "Grace Hopper", "email": "grace@vendor.example"},
		"manager_email": "manager@vendor.example",
		"deal_id":       "import:imported",
		"start_date":    time.Now().UTC().AddDate(0, 0, -200).Format(time.DateOnly),
	}
	require.Equal(t, http.StatusCreated, e.api(t, salesKey, "POST", "/v1/customers", body, nil))
	hc, _ := browserless(t, e)
	page := pageOf(t, hc, e.URL+"/ui/customers/imported")
	assert.Contains(t, page, "imported at day 200 (adoption), started ")
	assert.Contains(t, page, "0 late, 0 blocked, 5 due before the import")
	assert.Contains(t, page, `<span class="status status-imported">imported</span>`)
	assert.NotContains(t, page, "days late")
}
