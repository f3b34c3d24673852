package apiserver

import (
	"context"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Users is where named people's keys are looked up: the store's users
// table (lifecycle users add).
type Users interface {
	// UserByKeyHash returns the person whose key hashes (store.HashUserKey)
	// to hash, and false when no one's does.
	UserByKeyHash(ctx context.Context, hash string) (store.User, bool, error)
}

var _ Users = (*store.Store)(nil)

// userLookupTimeout bounds the store read that admits a person's key.
const userLookupTimeout = 5 * time.Second

// auth admits a bearer API key of one of the roles; admin is always in. A
// configured role key is recorded as its role; a person's own key (the
// users table) as the person (store.User.Who), and the request knows their
// email and name. A person's key is looked up on every request, uncached:
// once removed, or rotated, it is refused at the next request.
func (s *Server) auth(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || key == "" {
			c.Header("WWW-Authenticate", `Bearer realm="lifecycle"`)
			fail(c, http.StatusUnauthorized, "unauthorized", "send an API key: Authorization: Bearer <key>", "")
			return
		}
		role, who := s.roleOf(key), ""
		if role != "" {
			who = role
		} else if s.opts.Users != nil && store.IsUserKey(key) {
			ctx, cancel := context.WithTimeout(c.Request.Context(), userLookupTimeout)
			u, found, err := s.opts.Users.UserByKeyHash(ctx, store.HashUserKey(key))
			cancel()
			if err != nil {
				s.storeError(c, err, "user key lookup", "")
				return
			}
			if found {
				role, who = u.Role, u.Who()
				c.Set("user_email", u.Email)
				c.Set("user_name", u.Name)
			}
		}
		if role == "" {
			fail(c, http.StatusUnauthorized, "unauthorized", "unknown API key", "")
			return
		}
		c.Set("role", role)
		c.Set("who", who) // what records say did it
		if role != config.RoleAdmin && !slices.Contains(roles, role) {
			fail(c, http.StatusForbidden, "forbidden", "the "+role+" role cannot do this (needs "+strings.Join(roles, " or ")+")", "")
			return
		}
		c.Next()
	}
}

// roleOf compares the key with every configured key in constant time.
func (s *Server) roleOf(key string) string {
	role := ""
	for k, r := range s.opts.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			role = r
		}
	}
	return role
}

// signBy makes a person's request say who sent it: the "by" of what they
// record is their own name (c's "who"), whatever the body says, so no one
// records in another's name. A role key's request keeps the body's "by",
// as before people had keys: an integration names its own source there.
func signBy(c *gin.Context, req any) {
	if c.GetString("user_email") == "" {
		return
	}
	who := c.GetString("who")
	switch r := req.(type) {
	case *workflows.Outcome:
		r.By = who
	case *workflows.PauseRequest:
		r.By = who
	case *workflows.ResumeRequest:
		r.By = who
	case *workflows.Reassignment:
		r.By = who
	case *workflows.ChampionChange:
		r.By = who
	case *workflows.ContactChange:
		r.By = who
	}
}
