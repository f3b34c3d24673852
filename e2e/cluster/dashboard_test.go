//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// dashboardSession signs in on one API with the csm key, following the
// form's CSRF double submit (the token in the form and in the lc_signin
// cookie), then opens /ui on the other API with the session cookie: behind
// a load balancer the next request lands anywhere, so a session must be
// the store's, not one process's.
func (cl *cluster) dashboardSession(ctx context.Context, signIn, other *api) error {
	get := func(a *api, path string, cookies ...*http.Cookie) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := a.hc.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("%s GET %s: %w", a.name, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, string(body), err
	}
	resp, page, err := get(signIn, "/ui/signin")
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s GET /ui/signin: %d, want 200", signIn.name, resp.StatusCode)
	}
	m := csrfInput.FindStringSubmatch(page)
	pre := cookieNamed(resp, "lc_signin")
	if m == nil || pre == nil {
		return fmt.Errorf("%s GET /ui/signin: no csrf field or no lc_signin cookie", signIn.name)
	}
	form := url.Values{"csrf": {m[1]}, "key": {cl.keys["csm"]}, "next": {"/ui"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, signIn.base+"/ui/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(pre)
	resp, err = signIn.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s POST /ui/signin: %w", signIn.name, err)
	}
	resp.Body.Close()
	session := cookieNamed(resp, "lc_session")
	if resp.StatusCode != http.StatusSeeOther || session == nil || session.Value == "" {
		return fmt.Errorf("%s POST /ui/signin: %d (session cookie %v), want 303 with lc_session", signIn.name, resp.StatusCode, session != nil)
	}
	for _, a := range []*api{signIn, other} {
		resp, _, err := get(a, "/ui", session)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("a session made on %s: GET /ui on %s answered %d (Location %q), want 200",
				signIn.name, a.name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	return nil
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}
