package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/internal/store/storetest"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func addUser(t *testing.T, st *store.Store, email, name, role string) string {
	t.Helper()
	_, key, err := st.CreateUser(context.Background(), store.User{Email: email, Name: name, Role: role})
	require.NoError(t, err)
	return key
}

// TestPersonSignsInAsThemselves: a person's own key signs in as them (the
// header names them), a role key as its role, as before; a person whose
// role may not use the dashboard, or a key of no one, is refused.
func TestPersonSignsInAsThemselves(t *testing.T) {
	o := newOffline(t)
	grace := addUser(t, o.store, "grace@vendor.example", "Grace Hopper", "csm")
	alan := addUser(t, o.store, "alan@vendor.example", "Alan Turing", "admin")
	sally := addUser(t, o.store, "sally@vendor.example", "Sally Sales", "sales")
	header := func(ses *http.Cookie) string {
		t.Helper()
		resp := o.do("GET", "/ui/outbox", nil, []*http.Cookie{ses}, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return readBody(resp)
	}

	ses, _ := o.signIn(t, grace)
	assert.Contains(t, header(ses), "Signed in as Grace Hopper (csm)")
	ses, _ = o.signIn(t, alan)
	assert.Contains(t, header(ses), "Signed in as Alan Turing (admin)")
	ses, _ = o.signIn(t, csmKey)
	page := header(ses)
	assert.Contains(t, page, "Signed in (csm)")
	assert.NotContains(t, page, "Signed in as")

	pageResp := o.do("GET", "/ui/signin", nil, nil, nil)
	pre := cookieNamed(pageResp, preCookie)
	token := hiddenCSRF.FindStringSubmatch(readBody(pageResp))[1]
	for what, key := range map[string]string{"a sales person": sally, "no one's key": "lck_" + strings.Repeat("a", 32)} {
		resp := o.do("POST", "/ui/signin", url.Values{"key": {key}, "csrf": {token}}, []*http.Cookie{pre}, nil)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, what)
		assert.Contains(t, readBody(resp), "not a CSM or admin API key", what)
		assert.Nil(t, cookieNamed(resp, sessionCookie), what)
	}

	// The stored session names the person by their key's hash, never the
	// key, and not by a copy of their name.
	ses, _ = o.signIn(t, grace)
	stored, ok, err := o.store.DashboardSession(context.Background(), ses.Value)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, store.UserSessionFingerprint(store.HashUserKey(grace)), stored.KeyFingerprint)
	assert.Equal(t, "csm", stored.Role)
	assert.NotContains(t, stored.KeyFingerprint+stored.CSRF, grace)
}

// TestRemovedPersonIsSignedOut: removing a person, or rotating their key,
// ends their sessions at the next request, on every replica.
func TestRemovedPersonIsSignedOut(t *testing.T) {
	st := storetest.Open(t, "", t.TempDir())
	clk := newClock()
	a, b := newReplica(t, st, clk, nil), newReplica(t, st, clk, nil)
	grace := addUser(t, st, "grace@vendor.example", "Grace Hopper", "csm")
	alan := addUser(t, st, "alan@vendor.example", "Alan Turing", "admin")
	graceSes, _ := a.signIn(t, grace)
	alanSes, _ := a.signIn(t, alan)
	roleSes, _ := a.signIn(t, csmKey)
	live := func(o *offline, ses *http.Cookie) bool {
		return o.do("GET", "/ui/outbox", nil, []*http.Cookie{ses}, nil).StatusCode == http.StatusOK
	}
	require.True(t, live(b, graceSes), "a person's session works on another replica")

	_, newKey, err := st.RotateUserKey(context.Background(), "grace@vendor.example")
	require.NoError(t, err)
	assert.False(t, live(a, graceSes), "a session of the key before a rotation")
	assert.False(t, live(b, graceSes))
	graceSes, _ = b.signIn(t, newKey)
	assert.True(t, live(a, graceSes), "the new key signs in")

	require.NoError(t, st.DeleteUser(context.Background(), "grace@vendor.example"))
	assert.False(t, live(a, graceSes), "a removed person's session")
	assert.False(t, live(b, graceSes))
	assert.True(t, live(a, alanSes), "others stay signed in")
	assert.True(t, live(a, roleSes))

	// The lookup itself checks the person, whatever rows the table holds: a
	// session of a key no one has, or with a role the person does not have,
	// is refused.
	now := clk.Now()
	for id, ses := range map[string]store.DashboardSession{
		"of-no-one":  {Role: "csm", KeyFingerprint: store.UserSessionFingerprint(store.HashUserKey(newKey))},
		"other-role": {Role: "csm", KeyFingerprint: store.UserSessionFingerprint(store.HashUserKey(alan))},
	} {
		ses.CSRF, ses.CreatedAt, ses.ExpiresAt = "c", now, now.Add(time.Hour)
		require.NoError(t, st.CreateDashboardSession(context.Background(), id, ses))
		assert.False(t, live(a, &http.Cookie{Name: sessionCookie, Value: id}), id)
	}
}

// TestMyWorkIsThePersonsOwn: the work page of a person's session is their
// own tasks (by their email); a role key's is everyone's.
func TestMyWorkIsThePersonsOwn(t *testing.T) {
	st := storetest.Open(t, "", t.TempDir())
	clk := newClock()
	o := newReplica(t, st, clk, func(opts *Options) { opts.Tasks = st })
	seedWork(t, st, clk.Now())
	grace := addUser(t, st, "Grace@Vendor.example", "Grace Hopper", "csm")
	ses, _ := o.signIn(t, grace)
	resp := o.do("GET", "/ui/work", nil, []*http.Cookie{ses}, nil)
	page := readBody(resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	assert.Contains(t, page, `data-task="acme/t1"`)
	assert.Contains(t, page, `data-task="beta/t1"`)
	assert.NotContains(t, page, `data-task="gamma/t3"`, "another owner's task")

	ses, _ = o.signIn(t, csmKey)
	page = readBody(o.do("GET", "/ui/work", nil, []*http.Cookie{ses}, nil))
	assert.Contains(t, page, `data-task="gamma/t3"`, "a role key sees everyone's")
}

// TestCurrentUserAndRecordedBy: what handlers read of the session.
func TestCurrentUserAndRecordedBy(t *testing.T) {
	ctx := func(s *session) *gin.Context {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		if s != nil {
			c.Set("dashboard_session", s)
		}
		return c
	}
	person := ctx(&session{role: "csm", email: "grace@vendor.example", name: "Grace Hopper", who: "Grace Hopper <grace@vendor.example>"})
	email, name, role := currentUser(person)
	assert.Equal(t, []string{"grace@vendor.example", "Grace Hopper", "csm"}, []string{email, name, role})
	assert.Equal(t, "Grace Hopper <grace@vendor.example>", recordedBy(person))

	roleKey := ctx(&session{role: "admin"})
	email, name, role = currentUser(roleKey)
	assert.Equal(t, []string{"", "", "admin"}, []string{email, name, role})
	assert.Equal(t, "dashboard:admin", recordedBy(roleKey), "as before people had keys")

	email, name, role = currentUser(ctx(nil))
	assert.Equal(t, []string{"", "", ""}, []string{email, name, role})
}

// TestDashboardRecordsThePerson: on a real journey, an outcome recorded
// from the dashboard by a person names them on the timeline, and one by a
// role key's session names the role, as before.
func TestDashboardRecordsThePerson(t *testing.T) {
	e := startEnv(t, true)
	grace := addUser(t, e.Store, "grace@vendor.example", "Grace Hopper", "csm")
	e.startCustomer(t, "acme", "Acme Corp", "grace@vendor.example")
	e.startCustomer(t, "beta", "Beta Ltd", "grace@vendor.example")

	record := func(key, customer string) {
		t.Helper()
		hc, csrf := browserlessAs(t, e, key)
		form := url.Values{"csrf": {csrf}, "kind": {"handoff_held"}, "form": {"handoff"}}
		req, _ := http.NewRequest("POST", e.URL+"/ui/customers/"+customer+"/outcome", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("HX-Request", "true")
		resp, err := hc.Do(req)
		require.NoError(t, err)
		body := readBody(resp)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
	}
	causes := func(customer string) []string {
		t.Helper()
		var tl workflows.Timeline
		require.Equal(t, http.StatusOK, e.api(t, csmKey, "GET", "/v1/customers/"+customer+"/timeline", nil, &tl))
		var out []string
		for _, en := range tl.Entries {
			if en.Kind == workflows.EntryOutcome {
				out = append(out, en.Cause)
			}
		}
		return out
	}
	record(grace, "acme")
	assert.Contains(t, causes("acme"), "recorded by Grace Hopper <grace@vendor.example>")
	record(csmKey, "beta")
	assert.Contains(t, causes("beta"), "recorded by dashboard:csm")

	// The header of a page names her.
	hc, _ := browserlessAs(t, e, grace)
	resp, err := hc.Get(e.URL + "/ui/customers/acme")
	require.NoError(t, err)
	page := readBody(resp)
	resp.Body.Close()
	assert.Contains(t, page, "Signed in as Grace Hopper (csm)")
}
