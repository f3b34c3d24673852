// Package store keeps what is not journey state: the sent-email ledger, the
// suppression list, used email-action tokens, processed webhook event ids,
// the deals journeys used, the dashboard's sessions and the local outbox. It
// is a SQLite file in the data directory by default and PostgreSQL when
// DATABASE_URL is set; both get the same schema, migrated at Open.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers driver "sqlite"
)

const (
	driverSQLite   = "sqlite"
	driverPostgres = "postgres"
)

// sqlitePragmas go on every connection. busy_timeout comes first (the driver
// applies it first anyway) so that switching to WAL waits for another process
// instead of failing. _txlock=immediate makes every transaction take the write
// lock at BEGIN: a read-then-write transaction that upgrades later can fail
// with SQLITE_BUSY that busy_timeout does not retry.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate"

// sqliteTimeLayout is fixed width, so stored times sort as text, and keeps
// microseconds, the precision PostgreSQL has.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// Store is safe for concurrent use.
type Store struct {
	db *sql.DB
	// rdb serves point reads (a deal, a suppression, a ledger entry, a
	// dashboard session). With SQLite, db is one connection that every
	// write queues on, and a lookup on the API's hot path (a start's deal
	// check, a dashboard request's session) would wait behind the worker's
	// outbox writes; WAL lets readers on other connections go on beside the
	// writer. With PostgreSQL it is db.
	rdb    *sql.DB
	driver string
}

// Open opens PostgreSQL when databaseURL is set ("postgres://..." or
// "postgresql://..."), else the SQLite file filepath.Join(dataDir,
// "lifecycle.db") (dataDir created if missing). It runs pending migrations
// before returning. Errors name the setting that led to them.
func Open(ctx context.Context, databaseURL, dataDir string) (*Store, error) {
	setting := "LIFECYCLE_DATA_DIR"
	var s *Store
	var err error
	if databaseURL != "" {
		setting = "DATABASE_URL"
		s, err = openPostgres(ctx, databaseURL)
	} else {
		s, err = openSQLite(ctx, dataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	if err := s.migrate(ctx, migrations); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("%s: %w", setting, err)
	}
	return s, nil
}

func openPostgres(ctx context.Context, databaseURL string) (*Store, error) {
	if !strings.HasPrefix(databaseURL, "postgres://") && !strings.HasPrefix(databaseURL, "postgresql://") {
		return nil, errors.New("want a postgres:// or postgresql:// URL")
	}
	// url.Parse's own error quotes the whole URL, password included; keep only
	// the reason.
	if _, err := url.Parse(databaseURL); err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("not a valid URL: %w", err)
	}
	cfg, err := pgx.ParseConfig(databaseURL) // its errors redact the password
	if err != nil {
		return nil, err
	}
	if cfg.ConnectTimeout == 0 {
		// Without one, an unreachable host hangs Open for minutes.
		cfg.ConnectTimeout = 10 * time.Second
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &Store{db: db, rdb: db, driver: driverPostgres}, nil
}

func openSQLite(ctx context.Context, dataDir string) (*Store, error) {
	if dataDir == "" {
		return nil, errors.New("empty, and DATABASE_URL is not set either")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(filepath.Join(dataDir, "lifecycle.db"))
	if err != nil {
		return nil, err
	}
	// A file: URI, escaped, so that '?', '#' or '%' in the path stay part of it.
	dsn := (&url.URL{Scheme: "file", Path: path}).String() + "?" + sqlitePragmas
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// One connection: SQLite has one writer at a time anyway, and queueing in
	// the pool instead of on the file lock means no "database is locked" from
	// this process; busy_timeout covers other processes.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := pingSQLite(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Readers: query_only, so a write sent here by mistake fails instead of
	// contending for the lock.
	rdb, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	return &Store{db: db, rdb: rdb, driver: driverSQLite}, nil
}

// pingSQLite connects, retrying while another process holds the lock:
// switching a new file to WAL needs an exclusive lock, and SQLite answers
// SQLITE_BUSY there without waiting for busy_timeout.
func pingSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Close closes the database.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// Driver is "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// q turns the ?-placeholders the queries here are written with into $1, $2...
// for PostgreSQL. No query here has a ? inside a literal.
func (s *Store) q(query string) string {
	if s.driver != driverPostgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// exec runs a statement and reports how many rows it changed.
func (s *Store) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// timeArg is how a time is passed to the database: UTC, microseconds, and for
// SQLite as sortable text.
func (s *Store) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	if s.driver == driverSQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// timeCol scans a time column of either backend into a UTC time.Time.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*c.t = v.UTC()
	case string:
		return c.parse(v)
	case []byte:
		return c.parse(string(v))
	case nil:
		*c.t = time.Time{}
	default:
		return fmt.Errorf("store: cannot scan %T as a time", src)
	}
	return nil
}

func (c timeCol) parse(v string) error {
	t, err := time.Parse(sqliteTimeLayout, v)
	if err != nil {
		return fmt.Errorf("store: stored time %q: %w", v, err)
	}
	*c.t = t
	return nil
}

// required rejects an empty key: it would be a caller's bug, and storing it
// would make every later empty key look like a repeat.
func required(what, v string) error {
	if v == "" {
		return fmt.Errorf("store: empty %s", what)
	}
	return nil
}
