package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/seed-a80403e2/lifecycle/internal/config"
)

// User is a named person with a role and an API key of their own, so that
// what they do is recorded under their name instead of a shared role key's.
// Only the key's hash is kept: the key is shown once, when made.
type User struct {
	Email     string    // lower-cased; identifies the person
	Name      string    // as people call them, e.g. "Grace Hopper"
	Role      string    // one of config.Roles
	KeyHint   string    // the key's first characters, to tell keys apart
	CreatedAt time.Time // when the person was added
}

// Bounds of a user's fields.
const (
	MaxUserEmailLen = 254 // RFC 5321's path limit
	MaxUserNameLen  = 100
	// MaxUsers bounds the table, so a list is one bounded read.
	MaxUsers = 10000
	// MaxWhoLen is the longest "by" a journey records (workflows.MaxShortLen):
	// Who stays within it.
	MaxWhoLen = 200
)

// UserKeyPrefix starts every user's key: it tells a person's key from a
// configured role key at a glance, and lets the API skip the store for
// anything else.
const UserKeyPrefix = "lck_"

// A user key is the prefix and 20 random bytes in lower-case base32: 160
// bits, far past guessing, and no character that needs quoting in a shell
// or a header.
const (
	userKeyBytes = 20
	userKeyLen   = len(UserKeyPrefix) + 32
	keyHintLen   = len(UserKeyPrefix) + 4
)

var userKeyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Errors a caller tells apart.
var (
	ErrUserExists = errors.New("a user with this email exists already")
	ErrNoUser     = errors.New("no such user")
)

// Who is how records name the person ("by" of outcomes and timeline
// entries): "Grace Hopper <grace@example.com>", the name for people and the
// address to tell two Graces apart. It is the same for every record of the
// person, and within MaxWhoLen: a form that does not fit gives way to the
// address, then to the name alone.
func (u User) Who() string {
	for _, w := range []string{u.Name + " <" + u.Email + ">", u.Email} {
		if utf8.RuneCountInString(w) <= MaxWhoLen {
			return w
		}
	}
	return u.Name
}

// IsUserKey reports whether key has the shape of a user's key (the prefix,
// then 32 base32 characters); anything else is not looked up.
func IsUserKey(key string) bool {
	rest, ok := strings.CutPrefix(key, UserKeyPrefix)
	if !ok || len(key) != userKeyLen {
		return false
	}
	for _, r := range rest {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// HashUserKey is the form a user's key is stored and looked up in: hex
// SHA-256. The key is 160 random bits, so a plain hash cannot be reversed
// by guessing; no salt or slow hash is needed.
func HashUserKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newUserKey() string {
	b := make([]byte, userKeyBytes)
	_, _ = rand.Read(b) // never fails on supported platforms (Go 1.24+ panics instead)
	return UserKeyPrefix + userKeyEncoding.EncodeToString(b)
}

// NormalEmail is an address as the users table keys it (trimmed,
// lower-cased), or an error saying why it is not an address.
func NormalEmail(email string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(email))
	if e == "" {
		return "", errors.New("email: required")
	}
	if len(e) > MaxUserEmailLen {
		return "", fmt.Errorf("email: at most %d characters (got %d)", MaxUserEmailLen, len(e))
	}
	bad := fmt.Errorf("email: %q is not an address like grace@example.com", email)
	a, err := mail.ParseAddress(e)
	if err != nil || a.Name != "" || a.Address != e {
		return "", bad
	}
	// A domain with a dot and no literal: mail.ParseAddress also takes
	// "grace@localhost" and "grace@[10.0.0.1]", which no person has.
	domain := e[strings.LastIndexByte(e, '@')+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.ContainsAny(domain, "[]") {
		return "", bad
	}
	return e, nil
}

// validUser checks and normalizes what a person is added with.
func validUser(u User) (User, error) {
	var errs []error
	email, err := NormalEmail(u.Email)
	if err != nil {
		errs = append(errs, err)
	}
	u.Email = email
	u.Name = strings.TrimSpace(u.Name)
	if err := validUserName(u.Name); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(config.Roles, u.Role) {
		errs = append(errs, fmt.Errorf("role: %q is not a role (use %s)", u.Role, strings.Join(config.Roles, ", ")))
	}
	return u, errors.Join(errs...)
}

// validUserName: 1 to 100 characters of text. Control characters and
// direction overrides would garble or disguise the records that carry the
// name; angle brackets would make Who's "Name <email>" ambiguous.
func validUserName(name string) error {
	n := utf8.RuneCountInString(name)
	switch {
	case name == "":
		return errors.New("name: required")
	case !utf8.ValidString(name):
		return errors.New("name: not valid UTF-8")
	case n > MaxUserNameLen:
		return fmt.Errorf("name: at most %d characters (got %d)", MaxUserNameLen, n)
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("name: control character %U", r)
		case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
			return fmt.Errorf("name: text-direction character %U", r)
		case r == '<' || r == '>':
			return errors.New("name: no '<' or '>'")
		}
	}
	return nil
}

// CreateUser adds a person and makes their key, returned here and never
// again (the table keeps its hash and first characters). A zero CreatedAt
// is now. An email already in the table is ErrUserExists.
func (s *Store) CreateUser(ctx context.Context, u User) (User, string, error) {
	u, err := validUser(u)
	if err != nil {
		return User{}, "", err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = time.Now()
	}
	u.CreatedAt = u.CreatedAt.UTC().Truncate(time.Microsecond)
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return User{}, "", err
	}
	if n >= MaxUsers {
		return User{}, "", fmt.Errorf("store: %d users, the most kept; remove one first", n)
	}
	key := newUserKey()
	u.KeyHint = key[:keyHintLen]
	inserted, err := s.exec(ctx, `INSERT INTO users (email, name, role, key_hash, key_hint, created_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`,
		u.Email, u.Name, u.Role, HashUserKey(key), u.KeyHint, s.timeArg(u.CreatedAt))
	if err != nil {
		return User{}, "", err
	}
	if inserted == 0 {
		return User{}, "", fmt.Errorf("%w: %s", ErrUserExists, u.Email)
	}
	return u, key, nil
}

// UserByKeyHash returns the person whose key has hash (HashUserKey), and
// false when there is none: a key of no one, or of someone removed or
// given a new key.
func (s *Store) UserByKeyHash(ctx context.Context, hash string) (User, bool, error) {
	var u User
	err := s.rdb.QueryRowContext(ctx,
		s.q(`SELECT email, name, role, key_hint, created_at FROM users WHERE key_hash = ?`), hash,
	).Scan(&u.Email, &u.Name, &u.Role, &u.KeyHint, timeCol{&u.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, err
	}
	return u, true, nil
}

// Users lists every person, by email.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT email, name, role, key_hint, created_at FROM users ORDER BY email LIMIT ?`), MaxUsers)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var out []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.Email, &u.Name, &u.Role, &u.KeyHint, timeCol{&u.CreatedAt}); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// DeleteUser removes the person with email: their key stops working at
// once, and their dashboard sessions end. No such person is ErrNoUser.
func (s *Store) DeleteUser(ctx context.Context, email string) error {
	e, err := NormalEmail(email)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if err := s.endUserSessions(ctx, tx, e); err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, s.q(`DELETE FROM users WHERE email = ?`), e)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%w: %s", ErrNoUser, e)
	}
	return tx.Commit()
}

// RotateUserKey gives the person with email a new key, returned here and
// never again. The old key stops working at once, and the dashboard
// sessions it signed in end. No such person is ErrNoUser.
func (s *Store) RotateUserKey(ctx context.Context, email string) (User, string, error) {
	e, err := NormalEmail(email)
	if err != nil {
		return User{}, "", err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, "", err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if err := s.endUserSessions(ctx, tx, e); err != nil {
		return User{}, "", err
	}
	key := newUserKey()
	u := User{Email: e, KeyHint: key[:keyHintLen]}
	err = tx.QueryRowContext(ctx, s.q(`UPDATE users SET key_hash = ?, key_hint = ? WHERE email = ?
		RETURNING name, role, created_at`), HashUserKey(key), u.KeyHint, e).
		Scan(&u.Name, &u.Role, timeCol{&u.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", fmt.Errorf("%w: %s", ErrNoUser, e)
	}
	if err != nil {
		return User{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return User{}, "", err
	}
	return u, key, nil
}

// endUserSessions deletes the dashboard sessions signed in with the current
// key of the person with email (see UserSessionFingerprint).
func (s *Store) endUserSessions(ctx context.Context, tx *sql.Tx, email string) error {
	_, err := tx.ExecContext(ctx, s.q(`DELETE FROM dashboard_sessions WHERE key_fingerprint =
		(SELECT '`+userSessionPrefix+`' || key_hash FROM users WHERE email = ?)`), email)
	return err
}
