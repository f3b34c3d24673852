package main

import (
	"context"
	"fmt"
	"time"
)

// benchJourney: wall time of whole journeys in the time-skipping test suite,
// with the real activities and an outbox in a temp SQLite store.
func benchJourney(ctx context.Context, b *bencher) (*section, error) {
	env, err := newSimEnv(ctx)
	if err != nil {
		return nil, err
	}
	defer env.close()
	// One warm-up of each (code paths, template parsing, SQLite pages).
	if _, err := env.journey90("warm-90"); err != nil {
		return nil, fmt.Errorf("90-day warm-up: %w", err)
	}
	var t90, t3y []float64
	var last3y *sim
	rounds := b.runs
	for i := range rounds {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		t0 := time.Now()
		if _, err := env.journey90(fmt.Sprintf("j90-%d", i)); err != nil {
			return nil, fmt.Errorf("90-day journey: %w", err)
		}
		t90 = append(t90, time.Since(t0).Seconds())
		progress("  journey round %d/%d: 90 days %s", i+1, rounds, ms(t90[i]))
		if b.quick && i > 0 {
			continue
		}
		t0 = time.Now()
		s, err := env.journey3y(fmt.Sprintf("j3y-%d", i))
		if err != nil {
			return nil, fmt.Errorf("3-year journey: %w", err)
		}
		t3y = append(t3y, time.Since(t0).Seconds())
		last3y = s
		progress("  journey round %d/%d: 3 years %s (%d runs)", i+1, rounds, ms(t3y[len(t3y)-1]), len(s.runs))
	}
	m90, m3y := median(t90), median(t3y)
	sec := &section{
		title: "1. Journey simulation (time-skipping test suite)",
		method: "Wall time of one whole journey in `go.temporal.io/sdk/testsuite` (time skipping), the real activities " +
			"writing to an outbox in a temp SQLite store, continue-as-new handled by restarting the environment with the " +
			"decoded input. 90 days: the engaged customer (handoff held day 1, every milestone a day early, a webinar and a " +
			"login each week). 3 years: the same onboarding, then one `login` event every day to day 1,095, with the history " +
			"length estimated the server's way and fed to the workflow, so it continues as new at `HistoryBudget` and at each term.",
		header: []string{"journey", "median wall time", "range", "goal", ""},
		rows: [][]string{
			{"90 days, engaged", ms(m90), spread(t90, ms), "< 100 ms", met(m90 < 0.1)},
			{"3 years, a daily event", ms(m3y), spread(t3y, ms), "< 1 s", met(m3y < 1)},
		},
	}
	if last3y != nil {
		maxEv := 0
		for _, r := range last3y.runs {
			maxEv = max(maxEv, r.events)
		}
		sec.notes = append(sec.notes, fmt.Sprintf("The 3-year journey took %d runs (continue-as-new), %d updates, at most ~%d history events in a run.",
			len(last3y.runs), last3y.updates, maxEv))
	}
	return sec, nil
}
