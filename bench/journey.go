package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The simulation uses a one-hour journey day (business hours apply only to
// 24h days); time skipping makes the length irrelevant to the wall time.
const simDay = time.Hour

var simStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

func simInput(id string, pb *playbooks.Playbook) workflows.JourneyInput {
	return workflows.JourneyInput{
		Account:      workflows.Account{ID: id, Name: "Acme Corp", Plan: "enterprise", RenewalDate: simStart.AddDate(1, 0, 0)},
		Champion:     workflows.Person{Name: "Ada Lovelace", Email: "ada@acme.example", TimeZone: "Europe/London"},
		CSM:          workflows.Person{Name: "Grace Hopper", Email: "grace@vendor.example"},
		ManagerEmail: "manager@vendor.example",
		SponsorEmail: "vp@vendor.example",
		DealID:       "deal-42",
		Playbook:     pb,
		DayLength:    simDay,
		Revision:     workflows.Revision,
	}
}

// sim runs one journey with the simulation engine (internal/simulate)
// across every continue-as-new, with a script of updates at given days and
// the history length estimated the server's way.
type sim struct {
	j        *simulate.Journey
	updates  int
	rejected int
	failed   int
}

func newSim(in workflows.JourneyInput, box *activities.Outbox, tpl *activities.Templates) *sim {
	return &sim{j: &simulate.Journey{In: in, Start: simStart, Day: simDay, Mailer: box, Templates: tpl, CountHistory: true}}
}

func (s *sim) at(day float64, name string, arg any) {
	s.j.At(day, func(c *simulate.Call) {
		s.updates++
		c.Update(name, fmt.Sprint("u", s.updates), arg, func(_ any, rejected, err error) {
			switch {
			case rejected != nil:
				s.rejected++
			case err != nil:
				s.failed++
			}
		})
	})
}

// run executes the journey until untilDay (then cancels it) or until it ends.
func (s *sim) run(untilDay float64) error {
	if _, err := s.j.Run(untilDay); err != nil {
		return err
	}
	if s.failed > 0 {
		return fmt.Errorf("%d of %d updates failed", s.failed, s.updates)
	}
	return nil
}

// simEnv is the shared part of every simulation: a SQLite store in a temp dir.
type simEnv struct {
	dir string
	st  *store.Store
	box *activities.Outbox
	tpl *activities.Templates
}

func newSimEnv(ctx context.Context) (*simEnv, error) {
	dir, err := os.MkdirTemp("", "lifecycle-bench-sim-")
	if err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, "", dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("store: %w", err)
	}
	tpl, err := activities.LoadTemplates("Lifecycle")
	if err != nil {
		st.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	return &simEnv{dir: dir, st: st, box: activities.NewOutbox(st), tpl: tpl}, nil
}

func (e *simEnv) close() {
	e.st.Close()
	os.RemoveAll(e.dir)
}
