package main

import (
	"context"
	"fmt"
	"time"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// benchJourney: the simulation engine's wall time (what `lifecycle
// simulate` runs): a 90-day and a 3-year journey of the built-in
// scenarios, and a --compare of every built-in scenario under two playbooks.
func benchJourney(ctx context.Context, b *bencher) (*section, error) {
	tpl, err := activities.LoadTemplates("Lifecycle")
	if err != nil {
		return nil, err
	}
	engaged, err := simulate.Builtin("engaged")
	if err != nil {
		return nil, err
	}
	years, err := simulate.Builtin("three-years")
	if err != nil {
		return nil, err
	}
	var scenarios []*simulate.Scenario
	for _, name := range simulate.BuiltinNames() {
		sc, err := simulate.Builtin(name)
		if err != nil {
			return nil, err
		}
		scenarios = append(scenarios, sc)
	}
	old := playbooks.Default()
	newer := old.Clone()
	newer.Version++
	newer.Handoff.EscalateAfterDays--
	opts := simulate.Options{Templates: tpl}
	once := func(sc *simulate.Scenario, until float64) (*simulate.Result, time.Duration, error) {
		o := opts
		o.Until = until
		t0 := time.Now()
		r, err := simulate.Simulate(ctx, old, sc, o)
		return r, time.Since(t0), err
	}
	// One warm-up (code paths, time zones, the first environment).
	if _, _, err := once(engaged, 90); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	var t90, t3y, tcmp []float64
	var last3y *simulate.Result
	for i := range b.runs {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		_, el, err := once(engaged, 90)
		if err != nil {
			return nil, fmt.Errorf("90 days: %w", err)
		}
		t90 = append(t90, el.Seconds())
		r, el, err := once(years, 0)
		if err != nil {
			return nil, fmt.Errorf("3 years: %w", err)
		}
		t3y, last3y = append(t3y, el.Seconds()), r
		t0 := time.Now()
		for _, sc := range scenarios {
			a, err := simulate.Simulate(ctx, newer, sc, opts)
			if err != nil {
				return nil, fmt.Errorf("compare %s: %w", sc.Name, err)
			}
			z, err := simulate.Simulate(ctx, old, sc, opts)
			if err != nil {
				return nil, fmt.Errorf("compare %s: %w", sc.Name, err)
			}
			simulate.Compare(a, z)
		}
		tcmp = append(tcmp, time.Since(t0).Seconds())
		progress("  journey round %d/%d: 90 days %s, 3 years %s, compare %s", i+1, b.runs, ms(t90[i]), ms(t3y[i]), ms(tcmp[i]))
	}
	m90, m3y, mcmp := median(t90), median(t3y), median(tcmp)
	sec := &section{
		title: "1. Journey simulation (the `simulate` engine)",
		method: "Wall time of `internal/simulate`, what `lifecycle simulate` runs: the real workflow and activities in " +
			"`go.temporal.io/sdk/testsuite` (time skipping), messages to an in-memory outbox, continue-as-new followed, the journey's " +
			"state and new timeline entries read at the end of every day (for the day-by-day story, health curve and skipped steps), " +
			"the history length estimated the server's way and fed to the workflow. 24-hour days with business hours. 90 days: the " +
			"`engaged` scenario to day 90. 3 years: the `three-years` scenario (a login twice a week, a feature weekly, a webinar a " +
			"month, a meeting every 45 days, renewed each year) to day 1,100. Compare: every built-in scenario under the default " +
			"playbook and one whose handoff escalation comes a day sooner, to each scenario's end (`lifecycle simulate --playbook new.yaml --compare default`).",
		header: []string{"simulation", "median wall time", "range", "goal", ""},
		rows: [][]string{
			{"90 days, engaged", ms(m90), spread(t90, ms), "< 50 ms", met(m90 < 0.05)},
			{"3 years, steady use", ms(m3y), spread(t3y, ms), "< 1 s", met(m3y < 1)},
			{fmt.Sprintf("--compare, %d built-in scenarios, 2 playbooks", len(scenarios)), ms(mcmp), spread(tcmp, ms), "< 2 s", met(mcmp < 2)},
		},
	}
	if last3y != nil {
		sec.notes = append(sec.notes, fmt.Sprintf("The 3-year journey took %d runs (continue-as-new), %d happenings, at most ~%d history events in a run.",
			last3y.Totals.Runs, len(last3y.Happenings), last3y.Totals.MaxRunEvents))
	}
	return sec, nil
}
