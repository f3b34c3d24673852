package apiserver

import (
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

// auth admits a bearer API key of one of the roles; admin is always in.
func (s *Server) auth(roles ...string) gin.HandlerFunc {
	return func(c *gin.Context) {
		key, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || key == "" {
			c.Header("WWW-Authenticate", `Bearer realm="lifecycle"`)
			fail(c, http.StatusUnauthorized, "unauthorized", "send an API key: Authorization: Bearer <key>", "")
			return
		}
		role := s.roleOf(key)
		if role == "" {
			fail(c, http.StatusUnauthorized, "unauthorized", "unknown API key", "")
			return
		}
		c.Set("role", role)
		c.Set("who", role) // what records say did it
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
