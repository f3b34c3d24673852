package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

const concurrency = 32

// settle waits until the worker has finished what a round started (first
// workflow tasks, welcome emails), so the backlog does not bill the next
// round or benchmark.
func (b *bencher) settle(ctx context.Context) error {
	t0 := time.Now()
	_, lag, err := b.stack.drain(ctx, t0)
	if err != nil {
		return err
	}
	if d := time.Since(t0); d > 2*time.Second {
		progress("  (the worker caught up in %s; a new journey's first task then ran %s after its start)", d.Round(100*time.Millisecond), lag.Round(time.Millisecond))
	}
	return nil
}

// benchStart: customers started per second, API versus the raw client.
func benchStart(ctx context.Context, b *bencher) (*section, error) {
	s := b.stack
	n := 300
	if b.quick {
		n = 60
	}
	apiSide := func(round string) func(i int) error {
		return func(i int) error {
			return s.do(ctx, "POST", "/v1/customers", salesKey, startBody(fmt.Sprintf("st-api-%s-%d", round, i)), http.StatusCreated)
		}
	}
	rawSide := func(round string) func(i int) error {
		return func(i int) error { return s.rawStart(ctx, fmt.Sprintf("st-raw-%s-%d", round, i), apiDay) }
	}
	// Warm-up: connections, caches, the first task-queue partitions.
	if _, err := parallel(ctx, n/3, concurrency, apiSide("warm")); err != nil {
		return nil, fmt.Errorf("warm-up (API): %w", err)
	}
	if _, err := parallel(ctx, n/3, concurrency, rawSide("warm")); err != nil {
		return nil, fmt.Errorf("warm-up (raw): %w", err)
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	var api, raw []float64
	for r := range b.runs {
		round := fmt.Sprint(r)
		el, err := parallel(ctx, n, concurrency, apiSide(round))
		if err != nil {
			return nil, fmt.Errorf("API round %d: %w", r, err)
		}
		api = append(api, float64(n)/el.Seconds())
		if err := b.settle(ctx); err != nil {
			return nil, err
		}
		el, err = parallel(ctx, n, concurrency, rawSide(round))
		if err != nil {
			return nil, fmt.Errorf("raw round %d: %w", r, err)
		}
		raw = append(raw, float64(n)/el.Seconds())
		if err := b.settle(ctx); err != nil {
			return nil, err
		}
		progress("  start round %d/%d: API %.0f/s, raw %.0f/s", r+1, b.runs, api[r], raw[r])
	}
	ma, mr := median(api), median(raw)
	ratio := ma / mr
	perS := func(x float64) string { return fmt.Sprintf("%.0f/s", x) }
	return &section{
		title: "2. Start throughput",
		method: fmt.Sprintf("Customers started per second, %d starts per round at concurrency %d, on the embedded Temporal server "+
			"(`internal/devserver`, SQLite in a temp dir) with the worker running. API: `POST /v1/customers` over loopback HTTP "+
			"(201 checked). Raw: the SDK client's `ExecuteWorkflow` of the same workflow with the same input and start options "+
			"(ID, conflict policy, search attributes). One client shared by API, worker and raw side, as in `lifecycle dev`. "+
			"Between rounds the run waits until the worker has caught up with the journeys the round started (a probe journey's "+
			"first task within 1 s of its start), so each round starts from an idle system; the rate is of the start calls only.", n, concurrency),
		header: []string{"side", "median starts/s", "range"},
		rows: [][]string{
			{"API `POST /v1/customers`", perS(ma), spread(api, perS)},
			{"raw `ExecuteWorkflow`", perS(mr), spread(raw, perS)},
			{fmt.Sprintf("**ratio API/raw: %.2f** (goal >= 0.9, %s)", ratio, met(ratio >= 0.9)), "", ""},
		},
	}, nil
}

// eventCustomers starts the customers the event and read benchmarks use.
func (b *bencher) eventCustomers(ctx context.Context) ([]string, error) {
	var ids []string
	for i := range 64 {
		ids = append(ids, fmt.Sprintf("ev-%d", i))
	}
	if b.stack.eventIDs != nil {
		return b.stack.eventIDs, nil
	}
	if _, err := parallel(ctx, len(ids), concurrency, func(i int) error { return b.stack.rawStart(ctx, ids[i], apiDay) }); err != nil {
		return nil, fmt.Errorf("starting the customers: %w", err)
	}
	if err := b.settle(ctx); err != nil {
		return nil, err
	}
	b.stack.eventIDs = ids
	return ids, nil
}

// benchEvents: engagement events per second, API versus the raw update and
// versus the raw signal.
func benchEvents(ctx context.Context, b *bencher) (*section, error) {
	s := b.stack
	ids, err := b.eventCustomers(ctx)
	if err != nil {
		return nil, err
	}
	// Rounds of about three seconds: at 400 a round (one second) the
	// rounds' spread (x2) hid the difference between the sides.
	n := 1200
	if b.quick {
		n = 160
	}
	// Updates: the API's default, answering with the journey's new scores.
	api, raw, err := b.alternate(ctx, "events", n, func(round string) func(i int) error {
		return func(i int) error {
			body := workflows.EngagementEvent{ID: fmt.Sprintf("api-%s-%d", round, i), Type: "login"}
			return s.do(ctx, "POST", "/v1/customers/"+ids[i%len(ids)]+"/events", integKey, body, http.StatusAccepted)
		}
	}, func(round string) func(i int) error {
		return func(i int) error { return s.rawEvent(ctx, ids[i%len(ids)], fmt.Sprintf("raw-%s-%d", round, i)) }
	})
	if err != nil {
		return nil, err
	}
	// Signals: `?async=true`, answered once Temporal has the event.
	apiSig, rawSig, err := b.alternate(ctx, "signals", n, func(round string) func(i int) error {
		return func(i int) error {
			body := workflows.EngagementEvent{ID: fmt.Sprintf("api-sig-%s-%d", round, i), Type: "login"}
			return s.do(ctx, "POST", "/v1/customers/"+ids[i%len(ids)]+"/events?async=true", integKey, body, http.StatusAccepted)
		}
	}, func(round string) func(i int) error {
		return func(i int) error {
			return s.rawSignal(ctx, ids[i%len(ids)], fmt.Sprintf("raw-sig-%s-%d", round, i))
		}
	})
	if err != nil {
		return nil, err
	}
	ma, mr := median(api), median(raw)
	ratio := ma / mr
	msa, msr := median(apiSig), median(rawSig)
	sigRatio := msa / msr
	perS := func(x float64) string { return fmt.Sprintf("%.0f/s", x) }
	return &section{
		title: "3. Event throughput",
		method: fmt.Sprintf("Engagement events (`login`, each a new id) per second, %d per round at concurrency %d, spread "+
			"round-robin over %d running customers, in two comparisons. Updates: API `POST /v1/customers/{id}/events` "+
			"(202 checked), which waits for the journey to apply the event and answers with its scores; raw: the client's "+
			"`UpdateWorkflow` with update `%s`, `WaitForStage: Completed`, and the result read, as the API does. Signals: "+
			"API `POST /v1/customers/{id}/events?async=true` (202 checked), answered once Temporal has the event; raw: the "+
			"client's `SignalWorkflow` with signal `%s` and the same event. The signal rounds run after the update rounds.",
			n, concurrency, len(ids), workflows.UpdateEvent, workflows.SignalEvent),
		header: []string{"side", "median events/s", "range"},
		rows: [][]string{
			{"API `POST /v1/customers/{id}/events`", perS(ma), spread(api, perS)},
			{"raw `UpdateWorkflow`", perS(mr), spread(raw, perS)},
			{fmt.Sprintf("**ratio API/raw, updates: %.2f** (goal >= 0.9, %s)", ratio, met(ratio >= 0.9)), "", ""},
			{"API `POST /v1/customers/{id}/events?async=true`", perS(msa), spread(apiSig, perS)},
			{"raw `SignalWorkflow`", perS(msr), spread(rawSig, perS)},
			{fmt.Sprintf("**ratio API/raw, signals: %.2f** (goal >= 0.9, %s)", sigRatio, met(sigRatio >= 0.9)), "", ""},
		},
	}, nil
}

// alternate warms both sides up, then runs b.runs rounds of n calls of
// each, alternating, and returns the rates per round.
func (b *bencher) alternate(ctx context.Context, name string, n int, apiSide, rawSide func(round string) func(i int) error) (api, raw []float64, err error) {
	if _, err := parallel(ctx, n/2, concurrency, apiSide("warm")); err != nil {
		return nil, nil, fmt.Errorf("%s warm-up (API): %w", name, err)
	}
	if _, err := parallel(ctx, n/2, concurrency, rawSide("warm")); err != nil {
		return nil, nil, fmt.Errorf("%s warm-up (raw): %w", name, err)
	}
	for r := range b.runs {
		round := fmt.Sprint(r)
		el, err := parallel(ctx, n, concurrency, apiSide(round))
		if err != nil {
			return nil, nil, fmt.Errorf("%s API round %d: %w", name, r, err)
		}
		api = append(api, float64(n)/el.Seconds())
		el, err = parallel(ctx, n, concurrency, rawSide(round))
		if err != nil {
			return nil, nil, fmt.Errorf("%s raw round %d: %w", name, r, err)
		}
		raw = append(raw, float64(n)/el.Seconds())
		progress("  %s round %d/%d: API %.0f/s, raw %.0f/s", name, r+1, b.runs, api[r], raw[r])
	}
	return api, raw, nil
}

// benchReads: state read latency, API versus a raw query, one at a time.
func benchReads(ctx context.Context, b *bencher) (*section, error) {
	s := b.stack
	ids, err := b.eventCustomers(ctx)
	if err != nil {
		return nil, err
	}
	n := 300
	if b.quick {
		n = 60
	}
	measure := func(fn func(id string) error) ([]time.Duration, error) {
		var ds []time.Duration
		for i := range n {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			t0 := time.Now()
			if err := fn(ids[i%len(ids)]); err != nil {
				return nil, err
			}
			ds = append(ds, time.Since(t0))
		}
		return ds, nil
	}
	apiRead := func(id string) error { return s.do(ctx, "GET", "/v1/customers/"+id, csmKey, nil, http.StatusOK) }
	rawRead := func(id string) error { return s.rawState(ctx, id) }
	if _, err := measure(apiRead); err != nil {
		return nil, fmt.Errorf("warm-up (API): %w", err)
	}
	if _, err := measure(rawRead); err != nil {
		return nil, fmt.Errorf("warm-up (raw): %w", err)
	}
	var a50, a99, r50, r99 []float64
	for r := range b.runs {
		ad, err := measure(apiRead)
		if err != nil {
			return nil, fmt.Errorf("API round %d: %w", r, err)
		}
		rd, err := measure(rawRead)
		if err != nil {
			return nil, fmt.Errorf("raw round %d: %w", r, err)
		}
		a50, a99 = append(a50, percentile(ad, 50).Seconds()), append(a99, percentile(ad, 99).Seconds())
		r50, r99 = append(r50, percentile(rd, 50).Seconds()), append(r99, percentile(rd, 99).Seconds())
		progress("  reads round %d/%d: API p50 %s p99 %s, raw p50 %s p99 %s", r+1, b.runs, ms(a50[r]), ms(a99[r]), ms(r50[r]), ms(r99[r]))
	}
	ratio50, ratio99 := median(a50)/median(r50), median(a99)/median(r99)
	return &section{
		title: "4. State read latency",
		method: fmt.Sprintf("`GET /v1/customers/{id}` (200 and JSON body checked) versus the client's `QueryWorkflow(..., %q)` "+
			"with the result decoded; %d sequential reads per round (one at a time, so this is latency, not throughput) "+
			"over the same %d customers; p50 and p99 per round, median over rounds.", workflows.QueryState, n, len(ids)),
		header: []string{"side", "p50", "p99"},
		rows: [][]string{
			{"API `GET /v1/customers/{id}`", ms(median(a50)), ms(median(a99))},
			{"raw `QueryWorkflow`", ms(median(r50)), ms(median(r99))},
			{"ratio API/raw", fmt.Sprintf("**%.2f** (goal <= 1.2, %s)", ratio50, met(ratio50 <= 1.2)), fmt.Sprintf("%.2f", ratio99)},
		},
	}, nil
}
