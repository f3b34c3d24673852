//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// journeyEvents reads a journey's timeline and state through two different
// APIs and counts its event entries by id.
func (cl *cluster) journeyEvents(ctx context.Context, i int, id string) (map[string]int, workflows.State, error) {
	tl, err := cl.apis[i%len(cl.apis)].timeline(ctx, id)
	if err != nil {
		return nil, workflows.State{}, err
	}
	st, err := cl.apis[(i+1)%len(cl.apis)].state(ctx, id)
	if err != nil {
		return nil, workflows.State{}, err
	}
	if n := tl.Older.ByKind[workflows.EntryEvent]; n > 0 {
		return nil, st, fmt.Errorf("%s: %d event entries folded out of the timeline; the drill cannot check them one by one", id, n)
	}
	seen := map[string]int{}
	for _, e := range tl.Entries {
		if e.Kind == workflows.EntryEvent {
			seen[strings.TrimPrefix(e.Step, "event:")]++
		}
	}
	return seen, st, nil
}

// checkJourney compares one journey with the ledger; it returns what is
// wrong, or nothing, and whether waiting could change that (queued signals
// not applied yet).
func checkJourney(id string, fates map[string]fate, seen map[string]int, st workflows.State) (problems []string, waiting bool) {
	for ev, f := range fates {
		switch n := seen[ev]; {
		case f == fateAccepted && n == 0:
			problems = append(problems, fmt.Sprintf("%s: accepted event %s is not on the journey", id, ev))
			waiting = true
		case n > 1:
			problems = append(problems, fmt.Sprintf("%s: event %s is on the journey %d times", id, ev, n))
		}
	}
	for ev := range seen {
		if _, ok := fates[ev]; !ok {
			problems = append(problems, fmt.Sprintf("%s: event %s on the journey was never sent", id, ev))
		}
	}
	if st.EventsCounted != len(seen) {
		// Read a moment apart: a signal applied in between differs too.
		problems = append(problems, fmt.Sprintf("%s: the state counts %d events, the timeline has %d", id, st.EventsCounted, len(seen)))
		waiting = true
	}
	sort.Strings(problems)
	return problems, waiting
}

// verifyJourneys checks every journey against the ledger: every accepted
// event on its journey exactly once, nothing else. Signals are applied
// when a worker runs the journey, so a journey short of events is read
// again until the limit.
func (cl *cluster) verifyJourneys(ctx context.Context, l *ledger, ids []string, limit time.Duration) []string {
	l.mu.Lock()
	fates := map[string]map[string]fate{}
	for id, evs := range l.fates {
		fates[id] = evs
	}
	l.mu.Unlock()
	deadline := time.Now().Add(limit)
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		problems []string
	)
	jobs := make(chan int)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := ids[i]
				var found []string
				for {
					seen, st, err := cl.journeyEvents(ctx, i, id)
					if err != nil {
						found = []string{fmt.Sprintf("%s: %v", id, err)}
					} else {
						var waiting bool
						found, waiting = checkJourney(id, fates[id], seen, st)
						if !waiting {
							break
						}
					}
					if time.Now().After(deadline) {
						break
					}
					time.Sleep(time.Second)
				}
				mu.Lock()
				problems = append(problems, found...)
				mu.Unlock()
			}
		}()
	}
	for i := range ids {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	sort.Strings(problems)
	return problems
}

// emails is what the store's outbox shows.
type emails struct {
	total        int
	dupKeys      int // idempotency keys kept twice
	dupSteps     int // a journey's step sent twice to one address under different keys
	ledgerDups   int
	welcomes     int // journeys with exactly one welcome email
	welcomeExtra int // journeys with more than one
}

func (cl *cluster) checkEmails(ctx context.Context, journeys int) (emails, error) {
	var e emails
	queries := []struct {
		into *int
		sql  string
	}{
		{&e.total, `SELECT count(*) FROM outbox`},
		{&e.dupKeys, `SELECT count(*) FROM (SELECT idem_key FROM outbox GROUP BY idem_key HAVING count(*) > 1) d`},
		{&e.dupSteps, `SELECT count(*) FROM (SELECT customer_id, step, kind, lower(to_email) FROM outbox
			GROUP BY customer_id, step, kind, lower(to_email) HAVING count(*) > 1) d`},
		{&e.ledgerDups, `SELECT count(*) FROM (SELECT idem_key FROM email_ledger GROUP BY idem_key HAVING count(*) > 1) d`},
		{&e.welcomes, `SELECT count(*) FROM (SELECT customer_id FROM outbox WHERE step = 'handoff:welcome' AND kind = 'customer'
			GROUP BY customer_id HAVING count(*) = 1) d`},
		{&e.welcomeExtra, `SELECT count(*) FROM (SELECT customer_id FROM outbox WHERE step = 'handoff:welcome' AND kind = 'customer'
			GROUP BY customer_id HAVING count(*) > 1) d`},
	}
	for _, q := range queries {
		if err := cl.store.QueryRowContext(ctx, q.sql).Scan(q.into); err != nil {
			return e, fmt.Errorf("store: %s: %w", strings.Join(strings.Fields(q.sql), " "), err)
		}
	}
	return e, nil
}
