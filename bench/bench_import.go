package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/seed-a80403e2/lifecycle/apiserver"
)

// importBatch is a book of n customers at every phase, as `lifecycle import`
// sends it: a fifth new, the rest by start date, day or phase.
func importBatch(prefix string, n int) []apiserver.BatchCustomer {
	out := make([]apiserver.BatchCustomer, n)
	today := time.Now().UTC()
	for i := range out {
		r := startBody(fmt.Sprintf("%s-%d", prefix, i))
		switch i % 5 {
		case 1:
			r.StartDate = &apiserver.Date{Time: today.AddDate(0, 0, -(1 + (i*7)%700))}
		case 2:
			d := 1 + i%89
			r.Day = &d
		case 3:
			r.Phase = "adoption"
		case 4:
			r.Phase = "onboarding"
		}
		out[i] = apiserver.BatchCustomer{StartRequest: r, Line: i + 2}
	}
	return out
}

// postBatch sends one batch and checks that every row got the result want.
func (s *stack) postBatch(ctx context.Context, rows []apiserver.BatchCustomer, dry bool, want string) error {
	body, err := json.Marshal(apiserver.BatchRequest{Customers: rows, DryRun: dry})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+"/v1/customers:batch", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+salesKey)
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out apiserver.BatchResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("batch: status %d, unreadable answer: %w", resp.StatusCode, err)
	}
	for _, r := range out.Results {
		if r.Result != want {
			return fmt.Errorf("batch: line %d %s: %s, want %s (%+v)", r.Line, r.CustomerID, r.Result, want, r.Error)
		}
	}
	return nil
}

// benchImport: customers imported per second through POST
// /v1/customers:batch, a dry run of the same book, and a re-run of it.
func benchImport(ctx context.Context, b *bencher) (*section, error) {
	s := b.stack
	n, size := 1000, 250
	if b.quick {
		n = 200
	}
	var started, dry, rerun []float64
	for r := range b.runs {
		book := importBatch(fmt.Sprintf("imp-%d", r), n)
		timed := func(dryRun bool, want string) (float64, error) {
			t0 := time.Now()
			for i := 0; i < n; i += size {
				if err := s.postBatch(ctx, book[i:min(i+size, n)], dryRun, want); err != nil {
					return 0, err
				}
			}
			return float64(n) / time.Since(t0).Seconds(), nil
		}
		rate, err := timed(true, apiserver.BatchWouldStart)
		if err != nil {
			return nil, fmt.Errorf("dry run %d: %w", r, err)
		}
		dry = append(dry, rate)
		if rate, err = timed(false, apiserver.BatchStarted); err != nil {
			return nil, fmt.Errorf("import %d: %w", r, err)
		}
		started = append(started, rate)
		if err := b.settle(ctx); err != nil {
			return nil, err
		}
		if rate, err = timed(false, apiserver.BatchUnchanged); err != nil {
			return nil, fmt.Errorf("re-run %d: %w", r, err)
		}
		rerun = append(rerun, rate)
		progress("  import round %d/%d: %.0f started/s, dry run %.0f/s, re-run %.0f/s", r+1, b.runs, started[r], dry[r], rerun[r])
	}
	perS := func(x float64) string { return fmt.Sprintf("%.0f customers/s", x) }
	return &section{
		title: "12. Importing a book of business",
		method: fmt.Sprintf("`POST /v1/customers:batch` over loopback HTTP on the embedded Temporal server (SQLite in a temp dir) with the worker running: "+
			"%d customers per round in batches of %d (a fifth at day 0, the rest by start date, journey day or phase, as `lifecycle import` sends a CSV), "+
			"each batch's rows started 8 at a time by the API. The dry run checks each row and computes what it would receive next, starting nothing; "+
			"the import starts every journey (201 per row); the re-run sends the same book again after the worker has caught up and starts nothing "+
			"(every row unchanged). Rates are of the HTTP calls; each journey's first workflow task runs on the worker meanwhile.", n, size),
		header: []string{"what", "median", "range"},
		rows: [][]string{
			{"import (journeys started)", perS(median(started)), spread(started, perS)},
			{"dry run", perS(median(dry)), spread(dry, perS)},
			{"re-run of the same book", perS(median(rerun)), spread(rerun, perS)},
		},
	}, nil
}
