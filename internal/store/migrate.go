package store

import (
	"context"
	"fmt"
	"time"
)

// A migration is applied once, in one transaction, and recorded in
// schema_migrations. Each dialect has its own statements: the column types
// differ, and later changes (ALTER TABLE in SQLite) will differ more.
type migration struct {
	version  int
	name     string
	sqlite   []string
	postgres []string
}

// migrations, in version order. Never edit one that has shipped; add another.
var migrations = []migration{
	{
		version: 1,
		name:    "ledger, suppressions, tokens, webhook events, outbox",
		sqlite: []string{
			`CREATE TABLE email_ledger (
				idem_key    TEXT PRIMARY KEY,
				status      TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
				provider_id TEXT NOT NULL DEFAULT '',
				reason      TEXT NOT NULL DEFAULT '',
				updated_at  TEXT NOT NULL
			)`,
			`CREATE TABLE suppressions (
				email         TEXT PRIMARY KEY, -- lower-cased
				reason        TEXT NOT NULL,
				suppressed_at TEXT NOT NULL
			)`,
			`CREATE TABLE used_tokens (
				token_id TEXT PRIMARY KEY,
				result   TEXT NOT NULL,
				used_at  TEXT NOT NULL
			)`,
			`CREATE TABLE webhook_events (
				event_id TEXT PRIMARY KEY,
				seen_at  TEXT NOT NULL
			)`,
			// AUTOINCREMENT so that a seq is never reused, even after deletes.
			`CREATE TABLE outbox (
				seq           INTEGER PRIMARY KEY AUTOINCREMENT,
				idem_key      TEXT NOT NULL UNIQUE,
				customer_id   TEXT NOT NULL,
				step          TEXT NOT NULL,
				kind          TEXT NOT NULL,
				template      TEXT NOT NULL,
				to_name       TEXT NOT NULL,
				to_email      TEXT NOT NULL,
				subject       TEXT NOT NULL,
				text_body     TEXT NOT NULL,
				html_body     TEXT NOT NULL,
				actions_json  TEXT NOT NULL,
				scheduled_for TEXT NOT NULL,
				created_at    TEXT NOT NULL
			)`,
			`CREATE INDEX outbox_customer_seq ON outbox (customer_id, seq)`,
		},
		postgres: []string{
			`CREATE TABLE email_ledger (
				idem_key    TEXT PRIMARY KEY,
				status      TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
				provider_id TEXT NOT NULL DEFAULT '',
				reason      TEXT NOT NULL DEFAULT '',
				updated_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE suppressions (
				email         TEXT PRIMARY KEY, -- lower-cased
				reason        TEXT NOT NULL,
				suppressed_at TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE used_tokens (
				token_id TEXT PRIMARY KEY,
				result   TEXT NOT NULL,
				used_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE webhook_events (
				event_id TEXT PRIMARY KEY,
				seen_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE outbox (
				seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				idem_key      TEXT NOT NULL UNIQUE,
				customer_id   TEXT NOT NULL,
				step          TEXT NOT NULL,
				kind          TEXT NOT NULL,
				template      TEXT NOT NULL,
				to_name       TEXT NOT NULL,
				to_email      TEXT NOT NULL,
				subject       TEXT NOT NULL,
				text_body     TEXT NOT NULL,
				html_body     TEXT NOT NULL,
				actions_json  TEXT NOT NULL,
				scheduled_for TIMESTAMPTZ NOT NULL,
				created_at    TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX outbox_customer_seq ON outbox (customer_id, seq)`,
		},
	},
	{
		version: 2,
		name:    "webhook events claimed before their effects, deals used by journeys",
		// Rows already there were recorded after their effects: done.
		sqlite: []string{
			`ALTER TABLE webhook_events ADD COLUMN state TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('claimed', 'done'))`,
			`CREATE TABLE deals (
				deal_id    TEXT PRIMARY KEY,
				account_id TEXT NOT NULL,
				run_id     TEXT NOT NULL DEFAULT '', -- the journey's first run
				started_at TEXT NOT NULL
			)`,
		},
		postgres: []string{
			`ALTER TABLE webhook_events ADD COLUMN state TEXT NOT NULL DEFAULT 'done' CHECK (state IN ('claimed', 'done'))`,
			`CREATE TABLE deals (
				deal_id    TEXT PRIMARY KEY,
				account_id TEXT NOT NULL,
				run_id     TEXT NOT NULL DEFAULT '', -- the journey's first run
				started_at TIMESTAMPTZ NOT NULL
			)`,
		},
	},
	{
		version: 3,
		name:    "dashboard sessions, shared by every API replica",
		// id_hash is the SHA-256 of the session id (hex); the id itself is
		// only in the browser's cookie. The index serves the purge of
		// expired sessions.
		sqlite: []string{
			`CREATE TABLE dashboard_sessions (
				id_hash         TEXT PRIMARY KEY,
				role            TEXT NOT NULL,
				csrf            TEXT NOT NULL,
				key_fingerprint TEXT NOT NULL,
				created_at      TEXT NOT NULL,
				expires_at      TEXT NOT NULL
			)`,
			`CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at)`,
		},
		postgres: []string{
			`CREATE TABLE dashboard_sessions (
				id_hash         TEXT PRIMARY KEY,
				role            TEXT NOT NULL,
				csrf            TEXT NOT NULL,
				key_fingerprint TEXT NOT NULL,
				created_at      TIMESTAMPTZ NOT NULL,
				expires_at      TIMESTAMPTZ NOT NULL
			)`,
			`CREATE INDEX dashboard_sessions_expires ON dashboard_sessions (expires_at)`,
		},
	},
	{
		version: 4,
		name:    "published playbooks, and the one each plan's new customers start on",
		// A published version is immutable: (playbook_id, version) is the
		// key, yaml the text as published, sha256 its digest (a publish of
		// the same text again is the same publish).
		sqlite: []string{
			`CREATE TABLE playbooks (
				playbook_id  TEXT NOT NULL,
				version      INTEGER NOT NULL,
				name         TEXT NOT NULL,
				yaml         TEXT NOT NULL,
				sha256       TEXT NOT NULL,
				published_by TEXT NOT NULL,
				published_at TEXT NOT NULL,
				PRIMARY KEY (playbook_id, version)
			)`,
			`CREATE TABLE plan_playbooks (
				plan        TEXT PRIMARY KEY,
				playbook_id TEXT NOT NULL,
				version     INTEGER NOT NULL,
				set_by      TEXT NOT NULL,
				set_at      TEXT NOT NULL
			)`,
		},
		postgres: []string{
			`CREATE TABLE playbooks (
				playbook_id  TEXT NOT NULL,
				version      INTEGER NOT NULL,
				name         TEXT NOT NULL,
				yaml         TEXT NOT NULL,
				sha256       TEXT NOT NULL,
				published_by TEXT NOT NULL,
				published_at TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (playbook_id, version)
			)`,
			`CREATE TABLE plan_playbooks (
				plan        TEXT PRIMARY KEY,
				playbook_id TEXT NOT NULL,
				version     INTEGER NOT NULL,
				set_by      TEXT NOT NULL,
				set_at      TIMESTAMPTZ NOT NULL
			)`,
		},
	},
	{
		version: 5,
		name:    "insight runs: what green accounts do, kept with their date for trends",
		// summary is the small part a trend reads (quadrant counts); report
		// the whole comparison, read only for the latest run.
		sqlite: []string{
			`CREATE TABLE insight_runs (
				id          INTEGER PRIMARY KEY AUTOINCREMENT,
				computed_at TEXT NOT NULL,
				journeys    INTEGER NOT NULL,
				summary     TEXT NOT NULL,
				report      TEXT NOT NULL
			)`,
			`CREATE INDEX insight_runs_computed ON insight_runs (computed_at)`,
		},
		postgres: []string{
			`CREATE TABLE insight_runs (
				id          BIGSERIAL PRIMARY KEY,
				computed_at TIMESTAMPTZ NOT NULL,
				journeys    INTEGER NOT NULL,
				summary     TEXT NOT NULL,
				report      TEXT NOT NULL
			)`,
			`CREATE INDEX insight_runs_computed ON insight_runs (computed_at)`,
		},
	},
	{
		version: 6,
		name:    "users: named people with a role and their own API key",
		sqlite: []string{
			`CREATE TABLE users (
				email      TEXT PRIMARY KEY, -- lower-cased
				name       TEXT NOT NULL,
				role       TEXT NOT NULL,
				key_hash   TEXT NOT NULL UNIQUE, -- hex SHA-256 of the API key
				key_hint   TEXT NOT NULL,        -- the key's first characters, to tell keys apart
				created_at TEXT NOT NULL
			)`,
		},
		postgres: []string{
			`CREATE TABLE users (
				email      TEXT PRIMARY KEY, -- lower-cased
				name       TEXT NOT NULL,
				role       TEXT NOT NULL,
				key_hash   TEXT NOT NULL UNIQUE, -- hex SHA-256 of the API key
				key_hint   TEXT NOT NULL,        -- the key's first characters, to tell keys apart
				created_at TIMESTAMPTZ NOT NULL
			)`,
		},
	},
	{
		version: 7,
		name:    "tasks: every journey's open and recent tasks, for the work lists",
		sqlite: []string{
			`CREATE TABLE tasks (
				customer_id   TEXT NOT NULL,
				task_id       TEXT NOT NULL,
				journey       TEXT NOT NULL,
				account_name  TEXT NOT NULL,
				kind          TEXT NOT NULL,
				title         TEXT NOT NULL,
				cause         TEXT NOT NULL,
				step          TEXT NOT NULL,
				owner_role    TEXT NOT NULL,
				owner_email   TEXT NOT NULL, -- lower-cased
				status        TEXT NOT NULL,
				due_at        TEXT NOT NULL,
				snoozed_until TEXT,
				opened_at     TEXT NOT NULL,
				PRIMARY KEY (customer_id, task_id)
			)`,
			`CREATE INDEX tasks_owner_due ON tasks (owner_email, status, due_at)`,
			`CREATE INDEX tasks_status_due ON tasks (status, due_at)`,
			// What each customer's journey last wrote: a sync replaces the
			// customer's rows only when it is newer (a later journey, or a
			// later version of the same one), so a retried old write loses.
			`CREATE TABLE task_syncs (
				customer_id TEXT PRIMARY KEY,
				journey     TEXT NOT NULL,
				started_at  TEXT NOT NULL,
				version     INTEGER NOT NULL
			)`,
		},
		postgres: []string{
			`CREATE TABLE tasks (
				customer_id   TEXT NOT NULL,
				task_id       TEXT NOT NULL,
				journey       TEXT NOT NULL,
				account_name  TEXT NOT NULL,
				kind          TEXT NOT NULL,
				title         TEXT NOT NULL,
				cause         TEXT NOT NULL,
				step          TEXT NOT NULL,
				owner_role    TEXT NOT NULL,
				owner_email   TEXT NOT NULL, -- lower-cased
				status        TEXT NOT NULL,
				due_at        TIMESTAMPTZ NOT NULL,
				snoozed_until TIMESTAMPTZ,
				opened_at     TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (customer_id, task_id)
			)`,
			`CREATE INDEX tasks_owner_due ON tasks (owner_email, status, due_at)`,
			`CREATE INDEX tasks_status_due ON tasks (status, due_at)`,
			// What each customer's journey last wrote: a sync replaces the
			// customer's rows only when it is newer (a later journey, or a
			// later version of the same one), so a retried old write loses.
			`CREATE TABLE task_syncs (
				customer_id TEXT PRIMARY KEY,
				journey     TEXT NOT NULL,
				started_at  TIMESTAMPTZ NOT NULL,
				version     INTEGER NOT NULL
			)`,
		},
	},
	{
		version: 8,
		name:    "webhooks out: subscriptions, each delivery attempt, and the events each subscriber took",
		sqlite: []string{
			`CREATE TABLE webhook_subscriptions (
				id          TEXT PRIMARY KEY,
				url         TEXT NOT NULL,
				secret      TEXT NOT NULL, -- whsec_..., shown once at creation
				events      TEXT NOT NULL, -- comma-separated event types; "*" for all
				description TEXT NOT NULL,
				created_at  TEXT NOT NULL
			)`,
			`CREATE TABLE webhook_deliveries (
				subscription_id TEXT NOT NULL,
				event_id        TEXT NOT NULL,
				attempt         INTEGER NOT NULL,
				event_type      TEXT NOT NULL,
				customer_id     TEXT NOT NULL,
				status          TEXT NOT NULL, -- delivered or failed
				http_status     INTEGER NOT NULL,
				error           TEXT NOT NULL,
				duration_ms     INTEGER NOT NULL,
				at              TEXT NOT NULL,
				PRIMARY KEY (subscription_id, event_id, attempt)
			)`,
			`CREATE INDEX webhook_deliveries_at ON webhook_deliveries (subscription_id, at)`,
			// One row per event a subscriber took (2xx): exactly once.
			`CREATE TABLE webhook_delivered (
				subscription_id TEXT NOT NULL,
				event_id        TEXT NOT NULL,
				PRIMARY KEY (subscription_id, event_id)
			)`,
		},
		postgres: []string{
			`CREATE TABLE webhook_subscriptions (
				id          TEXT PRIMARY KEY,
				url         TEXT NOT NULL,
				secret      TEXT NOT NULL, -- whsec_..., shown once at creation
				events      TEXT NOT NULL, -- comma-separated event types; "*" for all
				description TEXT NOT NULL,
				created_at  TIMESTAMPTZ NOT NULL
			)`,
			`CREATE TABLE webhook_deliveries (
				subscription_id TEXT NOT NULL,
				event_id        TEXT NOT NULL,
				attempt         INTEGER NOT NULL,
				event_type      TEXT NOT NULL,
				customer_id     TEXT NOT NULL,
				status          TEXT NOT NULL, -- delivered or failed
				http_status     INTEGER NOT NULL,
				error           TEXT NOT NULL,
				duration_ms     INTEGER NOT NULL,
				at              TIMESTAMPTZ NOT NULL,
				PRIMARY KEY (subscription_id, event_id, attempt)
			)`,
			`CREATE INDEX webhook_deliveries_at ON webhook_deliveries (subscription_id, at)`,
			// One row per event a subscriber took (2xx): exactly once.
			`CREATE TABLE webhook_delivered (
				subscription_id TEXT NOT NULL,
				event_id        TEXT NOT NULL,
				PRIMARY KEY (subscription_id, event_id)
			)`,
		},
	},
}

var createSchemaMigrations = map[string]string{
	driverSQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL
	)`,
	driverPostgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL
	)`,
}

// migrateLockKey is this store's PostgreSQL advisory lock: any constant that
// other users of the same database do not pick.
const migrateLockKey int64 = 0x6c6966656379 // "lifecy"

// migrate applies the pending migrations of list, one transaction each.
func (s *Store) migrate(ctx context.Context, list []migration) error {
	for {
		done, err := s.migrateNext(ctx, list)
		if err != nil || done {
			return err
		}
	}
}

// migrateNext applies the first migration of list not yet recorded, and says
// when there was none. The lock and the check are inside the transaction, so
// processes opening at once apply each migration exactly once: PostgreSQL
// serializes on the advisory lock, SQLite on BEGIN IMMEDIATE (_txlock).
func (s *Store) migrateNext(ctx context.Context, list []migration) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit

	if s.driver == driverPostgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, createSchemaMigrations[s.driver]); err != nil {
		return false, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return false, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			_ = rows.Close()
			return false, fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return false, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}

	for _, m := range list {
		if applied[m.version] {
			continue
		}
		stmts := m.sqlite
		if s.driver == driverPostgres {
			stmts = m.postgres
		}
		for _, stmt := range stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return false, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx,
			s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`),
			m.version, m.name, s.timeArg(time.Now())); err != nil {
			return false, fmt.Errorf("migration %d (%s): record: %w", m.version, m.name, err)
		}
		if err := tx.Commit(); err != nil {
			return false, fmt.Errorf("migration %d (%s): commit: %w", m.version, m.name, err)
		}
		return false, nil
	}
	return true, tx.Commit()
}
