package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// PublishedPlaybook is a playbook version as an admin published it: its
// text is kept as it was sent, and never changes.
type PublishedPlaybook struct {
	ID          string
	Version     int
	Name        string
	YAML        string
	SHA256      string // of YAML
	PublishedBy string
	PublishedAt time.Time
}

// ErrVersionTaken is a publish of a playbook id and version that is
// published already with other text.
var ErrVersionTaken = errors.New("this playbook version is published already with other content")

// MaxPlaybooks bounds the versions a store lists (and keeps: a publish
// past it is refused).
const MaxPlaybooks = 1000

// PublishPlaybook keeps p. Publishing the same text again returns the
// record that stands (created false); other text under a published id and
// version is ErrVersionTaken.
func (s *Store) PublishPlaybook(ctx context.Context, p PublishedPlaybook) (PublishedPlaybook, bool, error) {
	if err := required("playbook id", p.ID); err != nil {
		return PublishedPlaybook{}, false, err
	}
	if p.Version < 1 {
		return PublishedPlaybook{}, false, fmt.Errorf("store: playbook version %d", p.Version)
	}
	sum := sha256.Sum256([]byte(p.YAML))
	p.SHA256 = hex.EncodeToString(sum[:])
	var n int
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM playbooks`).Scan(&n); err != nil {
		return PublishedPlaybook{}, false, err
	}
	if n >= MaxPlaybooks {
		return PublishedPlaybook{}, false, fmt.Errorf("store: %d playbook versions are published, the most kept", n)
	}
	inserted, err := s.exec(ctx, `INSERT INTO playbooks (playbook_id, version, name, yaml, sha256, published_by, published_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (playbook_id, version) DO NOTHING`,
		p.ID, p.Version, p.Name, p.YAML, p.SHA256, p.PublishedBy, s.timeArg(p.PublishedAt))
	if err != nil {
		return PublishedPlaybook{}, false, err
	}
	if inserted == 1 {
		p.PublishedAt = p.PublishedAt.UTC().Truncate(time.Microsecond)
		return p, true, nil
	}
	got, ok, err := s.PublishedPlaybook(ctx, p.ID, p.Version)
	switch {
	case err != nil:
		return PublishedPlaybook{}, false, err
	case !ok:
		return PublishedPlaybook{}, false, fmt.Errorf("store: playbook %s@v%d neither inserted nor found", p.ID, p.Version)
	case got.SHA256 != p.SHA256:
		return got, false, ErrVersionTaken
	}
	return got, false, nil
}

// PublishedPlaybook returns a published version, and false when there is none.
func (s *Store) PublishedPlaybook(ctx context.Context, id string, version int) (PublishedPlaybook, bool, error) {
	p := PublishedPlaybook{ID: id, Version: version}
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT name, yaml, sha256, published_by, published_at FROM playbooks
		WHERE playbook_id = ? AND version = ?`), id, version).
		Scan(&p.Name, &p.YAML, &p.SHA256, &p.PublishedBy, timeCol{&p.PublishedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return PublishedPlaybook{}, false, nil
	}
	if err != nil {
		return PublishedPlaybook{}, false, err
	}
	return p, true, nil
}

// PublishedPlaybooks lists every published version (without their text),
// by id and version.
func (s *Store) PublishedPlaybooks(ctx context.Context) ([]PublishedPlaybook, error) {
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT playbook_id, version, name, sha256, published_by, published_at FROM playbooks
		ORDER BY playbook_id, version LIMIT ?`), MaxPlaybooks)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []PublishedPlaybook{}
	for rows.Next() {
		var p PublishedPlaybook
		if err := rows.Scan(&p.ID, &p.Version, &p.Name, &p.SHA256, &p.PublishedBy, timeCol{&p.PublishedAt}); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PlanPlaybook is the playbook version new customers of a plan start on.
type PlanPlaybook struct {
	Plan       string
	PlaybookID string
	Version    int
	SetBy      string
	SetAt      time.Time
}

// SetPlanPlaybook makes new customers of p.Plan start on p's version
// (the caller checks it is published).
func (s *Store) SetPlanPlaybook(ctx context.Context, p PlanPlaybook) error {
	if err := required("plan", p.Plan); err != nil {
		return err
	}
	if err := required("playbook id", p.PlaybookID); err != nil {
		return err
	}
	_, err := s.exec(ctx, `INSERT INTO plan_playbooks (plan, playbook_id, version, set_by, set_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (plan) DO UPDATE SET playbook_id = excluded.playbook_id, version = excluded.version,
			set_by = excluded.set_by, set_at = excluded.set_at`,
		p.Plan, p.PlaybookID, p.Version, p.SetBy, s.timeArg(p.SetAt))
	return err
}

// PlanPlaybookFor returns the version a plan's new customers start on, and
// false when the plan has none set.
func (s *Store) PlanPlaybookFor(ctx context.Context, plan string) (PlanPlaybook, bool, error) {
	p := PlanPlaybook{Plan: plan}
	err := s.rdb.QueryRowContext(ctx, s.q(`SELECT playbook_id, version, set_by, set_at FROM plan_playbooks WHERE plan = ?`), plan).
		Scan(&p.PlaybookID, &p.Version, &p.SetBy, timeCol{&p.SetAt})
	if errors.Is(err, sql.ErrNoRows) {
		return PlanPlaybook{}, false, nil
	}
	if err != nil {
		return PlanPlaybook{}, false, err
	}
	return p, true, nil
}

// PlanPlaybooks lists every plan's version, by plan.
func (s *Store) PlanPlaybooks(ctx context.Context) ([]PlanPlaybook, error) {
	rows, err := s.rdb.QueryContext(ctx, s.q(`SELECT plan, playbook_id, version, set_by, set_at FROM plan_playbooks ORDER BY plan LIMIT ?`), MaxPlaybooks)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []PlanPlaybook{}
	for rows.Next() {
		var p PlanPlaybook
		if err := rows.Scan(&p.Plan, &p.PlaybookID, &p.Version, &p.SetBy, timeCol{&p.SetAt}); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
