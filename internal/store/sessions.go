package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// DashboardSession is one browser signed in to the dashboard. It is kept
// here, not in an API process's memory, so that every API replica knows it
// and a restart keeps it.
type DashboardSession struct {
	Role string
	// CSRF is the token every dashboard form of this session carries.
	CSRF string
	// KeyFingerprint identifies the API key that signed in (a hash, never
	// the key), so that a session ends when its key leaves the
	// configuration; for a person's own key it is UserSessionFingerprint,
	// so that the session ends when the person is removed or given a new
	// key.
	KeyFingerprint string
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// userSessionPrefix marks the fingerprint of a session a person signed in
// to with their own key.
const userSessionPrefix = "user:"

// UserSessionFingerprint is the KeyFingerprint of a session signed in with
// the user key of hash keyHash (HashUserKey). It names the person by their
// key's row in the users table rather than by a copy of their name, so the
// session shows them as the table does now, and lives only while that key
// does.
func UserSessionFingerprint(keyHash string) string { return userSessionPrefix + keyHash }

// UserKeyHash is the hash of the user key a session was signed in with, and
// false for a session of a configured role key.
func (ses DashboardSession) UserKeyHash() (string, bool) {
	return strings.CutPrefix(ses.KeyFingerprint, userSessionPrefix)
}

// sessionIDHash is the form a session id is stored in. The id itself stays
// in the browser's cookie: whoever reads the table (a backup, a replica)
// cannot sign in with what they find there. The id is 32 random bytes, so a
// plain SHA-256 is enough; nothing here is guessable to brute-force.
func sessionIDHash(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CreateDashboardSession stores ses under the session id id (hashed).
func (s *Store) CreateDashboardSession(ctx context.Context, id string, ses DashboardSession) error {
	for _, f := range [][2]string{{"session id", id}, {"session role", ses.Role}, {"session CSRF token", ses.CSRF}, {"session key fingerprint", ses.KeyFingerprint}} {
		if err := required(f[0], f[1]); err != nil {
			return err
		}
	}
	if !ses.ExpiresAt.After(ses.CreatedAt) {
		return errors.New("store: a dashboard session must expire after it is created")
	}
	_, err := s.exec(ctx, `INSERT INTO dashboard_sessions (id_hash, role, csrf, key_fingerprint, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		sessionIDHash(id), ses.Role, ses.CSRF, ses.KeyFingerprint, s.timeArg(ses.CreatedAt), s.timeArg(ses.ExpiresAt))
	return err
}

// DashboardSession returns the session with id, and false when there is
// none. An expired session is returned as it is: the caller's clock
// decides, and the caller deletes it.
func (s *Store) DashboardSession(ctx context.Context, id string) (DashboardSession, bool, error) {
	var ses DashboardSession
	err := s.rdb.QueryRowContext(ctx,
		s.q(`SELECT role, csrf, key_fingerprint, created_at, expires_at FROM dashboard_sessions WHERE id_hash = ?`), sessionIDHash(id),
	).Scan(&ses.Role, &ses.CSRF, &ses.KeyFingerprint, timeCol{&ses.CreatedAt}, timeCol{&ses.ExpiresAt})
	if errors.Is(err, sql.ErrNoRows) {
		return DashboardSession{}, false, nil
	}
	if err != nil {
		return DashboardSession{}, false, err
	}
	return ses, true, nil
}

// DeleteDashboardSession ends the session with id (sign-out, expiry); no
// error if there is none.
func (s *Store) DeleteDashboardSession(ctx context.Context, id string) error {
	_, err := s.exec(ctx, `DELETE FROM dashboard_sessions WHERE id_hash = ?`, sessionIDHash(id))
	return err
}

// PurgeDashboardSessions deletes at most limit sessions expired at now and
// says how many went. The bound keeps one call short however many expired
// sessions wait; called at each sign-in, it removes more than sign-ins add.
func (s *Store) PurgeDashboardSessions(ctx context.Context, now time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	// A subquery, since DELETE ... LIMIT is not in every SQLite build nor in
	// PostgreSQL.
	return s.exec(ctx, `DELETE FROM dashboard_sessions WHERE id_hash IN (
		SELECT id_hash FROM dashboard_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		s.timeArg(now), limit)
}
