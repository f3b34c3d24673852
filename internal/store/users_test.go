package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsers(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		grace, key, err := s.CreateUser(ctx, User{Email: "  Grace@Example.COM ", Name: " Grace Hopper ", Role: "csm", CreatedAt: at(1)})
		require.NoError(t, err)
		assert.Equal(t, User{Email: "grace@example.com", Name: "Grace Hopper", Role: "csm", KeyHint: key[:8], CreatedAt: same(at(1))}, grace)
		assert.True(t, strings.HasPrefix(key, "lck_"), key)
		assert.Len(t, key, 36)
		assert.True(t, IsUserKey(key))

		// The table holds the key's SHA-256 and its first characters, never the key.
		var hash, hint string
		require.NoError(t, s.db.QueryRowContext(ctx, `SELECT key_hash, key_hint FROM users`).Scan(&hash, &hint))
		sum := sha256.Sum256([]byte(key))
		assert.Equal(t, hex.EncodeToString(sum[:]), hash)
		assert.Equal(t, key[:8], hint)
		var n int
		require.NoError(t, s.db.QueryRowContext(ctx, s.q(`SELECT count(*) FROM users WHERE key_hash = ? OR key_hint = ? OR name = ?`), key, key, key).Scan(&n))
		assert.Zero(t, n, "the key is stored in clear")

		got, ok, err := s.UserByKeyHash(ctx, HashUserKey(key))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, grace, got)
		_, ok, err = s.UserByKeyHash(ctx, HashUserKey(key+"x"))
		require.NoError(t, err)
		assert.False(t, ok, "another key")

		// The same address again, in any case, is refused and changes nothing.
		_, _, err = s.CreateUser(ctx, User{Email: "GRACE@example.com", Name: "Impostor", Role: "admin"})
		require.ErrorIs(t, err, ErrUserExists)
		assert.Contains(t, err.Error(), "grace@example.com")
		got, _, err = s.UserByKeyHash(ctx, HashUserKey(key))
		require.NoError(t, err)
		assert.Equal(t, "csm", got.Role)

		alan, alanKey, err := s.CreateUser(ctx, User{Email: "alan@example.com", Name: "Alan Turing", Role: "admin", CreatedAt: at(2)})
		require.NoError(t, err)
		assert.NotEqual(t, key, alanKey)
		list, err := s.Users(ctx)
		require.NoError(t, err)
		assert.Equal(t, []User{alan, grace}, list, "by email")

		// A new key: the old one no longer finds her, the new one does.
		rotated, newKey, err := s.RotateUserKey(ctx, "Grace@example.com")
		require.NoError(t, err)
		assert.NotEqual(t, key, newKey)
		assert.Equal(t, User{Email: "grace@example.com", Name: "Grace Hopper", Role: "csm", KeyHint: newKey[:8], CreatedAt: same(at(1))}, rotated)
		_, ok, err = s.UserByKeyHash(ctx, HashUserKey(key))
		require.NoError(t, err)
		assert.False(t, ok, "the old key after a rotation")
		got, ok, err = s.UserByKeyHash(ctx, HashUserKey(newKey))
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, rotated, got)

		require.NoError(t, s.DeleteUser(ctx, "GRACE@example.com"))
		_, ok, err = s.UserByKeyHash(ctx, HashUserKey(newKey))
		require.NoError(t, err)
		assert.False(t, ok, "a removed user's key")
		assert.ErrorIs(t, s.DeleteUser(ctx, "grace@example.com"), ErrNoUser)
		_, _, err = s.RotateUserKey(ctx, "grace@example.com")
		assert.ErrorIs(t, err, ErrNoUser)
		list, err = s.Users(ctx)
		require.NoError(t, err)
		assert.Equal(t, []User{alan}, list)

		// Removed, the address may be added again, with a new key.
		_, again, err := s.CreateUser(ctx, User{Email: "grace@example.com", Name: "Grace Hopper", Role: "admin"})
		require.NoError(t, err)
		assert.NotEqual(t, newKey, again)
	})
}

// TestUserChangesEndTheirSessions: removing a person or rotating their key
// ends the dashboard sessions that key signed in, and no one else's.
func TestUserChangesEndTheirSessions(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, graceKey, err := s.CreateUser(ctx, User{Email: "grace@example.com", Name: "Grace Hopper", Role: "csm"})
		require.NoError(t, err)
		_, alanKey, err := s.CreateUser(ctx, User{Email: "alan@example.com", Name: "Alan Turing", Role: "csm"})
		require.NoError(t, err)
		session := func(id, fingerprint string) {
			require.NoError(t, s.CreateDashboardSession(ctx, id, DashboardSession{Role: "csm", CSRF: "c", KeyFingerprint: fingerprint, CreatedAt: at(0), ExpiresAt: at(30)}))
		}
		live := func(id string) bool {
			_, ok, err := s.DashboardSession(ctx, id)
			require.NoError(t, err)
			return ok
		}
		session("grace-1", UserSessionFingerprint(HashUserKey(graceKey)))
		session("grace-2", UserSessionFingerprint(HashUserKey(graceKey)))
		session("alan", UserSessionFingerprint(HashUserKey(alanKey)))
		session("role-key", "0123abcd")

		ses, _, err := s.DashboardSession(ctx, "grace-1")
		require.NoError(t, err)
		h, ok := ses.UserKeyHash()
		assert.True(t, ok)
		assert.Equal(t, HashUserKey(graceKey), h)
		ses, _, err = s.DashboardSession(ctx, "role-key")
		require.NoError(t, err)
		_, ok = ses.UserKeyHash()
		assert.False(t, ok, "a role key's session names no person")

		_, newKey, err := s.RotateUserKey(ctx, "grace@example.com")
		require.NoError(t, err)
		assert.False(t, live("grace-1"))
		assert.False(t, live("grace-2"))
		assert.True(t, live("alan"))
		assert.True(t, live("role-key"))

		session("grace-3", UserSessionFingerprint(HashUserKey(newKey)))
		require.NoError(t, s.DeleteUser(ctx, "grace@example.com"))
		assert.False(t, live("grace-3"))
		assert.True(t, live("alan"))
		assert.True(t, live("role-key"))
	})
}

func TestUserValidation(t *testing.T) {
	eachBackend(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ok := User{Email: "grace@example.com", Name: "Grace Hopper", Role: "csm"}
		for name, tc := range map[string]struct {
			change func(*User)
			want   string
		}{
			"no email":         {func(u *User) { u.Email = " " }, "email: required"},
			"no at":            {func(u *User) { u.Email = "grace.example.com" }, "not an address"},
			"with a name":      {func(u *User) { u.Email = "Grace <grace@example.com>" }, "not an address"},
			"two addresses":    {func(u *User) { u.Email = "a@example.com, b@example.com" }, "not an address"},
			"no dot":           {func(u *User) { u.Email = "grace@localhost" }, "not an address"},
			"literal":          {func(u *User) { u.Email = "grace@[10.0.0.1]" }, "not an address"},
			"too long":         {func(u *User) { u.Email = strings.Repeat("g", 255-len("@example.com")) + "@example.com" }, "at most 254"},
			"no name":          {func(u *User) { u.Name = "  " }, "name: required"},
			"long name":        {func(u *User) { u.Name = strings.Repeat("é", 101) }, "at most 100"},
			"control":          {func(u *User) { u.Name = "Grace\nHopper" }, "control character"},
			"nul":              {func(u *User) { u.Name = "Grace\x00" }, "control character"},
			"direction":        {func(u *User) { u.Name = "Grace \u202eHopper" }, "text-direction"},
			"brackets":         {func(u *User) { u.Name = "Eve <admin@example.com>" }, "'<'"},
			"invalid utf8":     {func(u *User) { u.Name = "Grace \xff" }, "UTF-8"},
			"unknown role":     {func(u *User) { u.Role = "root" }, `"root" is not a role (use sales, csm, integration, admin)`},
			"empty role":       {func(u *User) { u.Role = "" }, "is not a role"},
			"role in capitals": {func(u *User) { u.Role = "CSM" }, "is not a role"},
		} {
			u := ok
			tc.change(&u)
			_, _, err := s.CreateUser(ctx, u)
			require.Error(t, err, name)
			assert.Contains(t, err.Error(), tc.want, name)
		}
		list, err := s.Users(ctx)
		require.NoError(t, err)
		assert.Empty(t, list, "nothing invalid was added")

		// At the bounds: 254 characters of address, 100 of name.
		u := User{Email: strings.Repeat("g", 254-len("@example.com")) + "@example.com", Name: strings.Repeat("é", 100), Role: "admin"}
		got, _, err := s.CreateUser(ctx, u)
		require.NoError(t, err)
		assert.Equal(t, u.Email, got.Email)
		assert.Equal(t, u.Name, got.Name)
		assert.WithinDuration(t, time.Now(), got.CreatedAt, time.Minute, "a zero CreatedAt is now")
		_, err = NormalEmail("not an address")
		assert.Error(t, err)
		assert.Error(t, s.DeleteUser(ctx, "not an address"))
	})
}

func TestUserKeysAndWho(t *testing.T) {
	for key, want := range map[string]bool{
		"lck_" + strings.Repeat("a", 32):       true,
		"lck_abcdefghijklmnopqrstuvwxyz234567": true,
		"lck_" + strings.Repeat("a", 31):       false,
		"lck_" + strings.Repeat("a", 33):       false,
		"lck_" + strings.Repeat("A", 32):       false, // keys are lower-case
		"lck_" + strings.Repeat("1", 32):       false, // not base32
		"xyz_" + strings.Repeat("a", 32):       false,
		"csm-key-00001-0123456789ab":           false,
		"":                                     false,
	} {
		assert.Equal(t, want, IsUserKey(key), key)
	}
	seen := map[string]bool{}
	for range 100 {
		k := newUserKey()
		require.True(t, IsUserKey(k), k)
		require.False(t, seen[k])
		seen[k] = true
	}

	assert.Equal(t, "Grace Hopper <grace@example.com>", User{Email: "grace@example.com", Name: "Grace Hopper"}.Who())
	// Past MaxWhoLen the address alone, then the name alone: always within it.
	longName := strings.Repeat("n", 100)
	email150 := strings.Repeat("e", 150-len("@example.com")) + "@example.com"
	assert.Equal(t, email150, User{Email: email150, Name: longName}.Who())
	email254 := strings.Repeat("e", 254-len("@example.com")) + "@example.com"
	assert.Equal(t, longName, User{Email: email254, Name: longName}.Who())
}
