//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// eventTypes are event types the default playbook scores, none with side
// effects beyond the score (no handoff booking, no pulse).
var eventTypes = []string{"meeting_held", "webinar_attended", "training_completed", "ticket_opened", "reply", "login", "feature_used"}

// fate is what the drill knows of one event it sent.
type fate int

const (
	fateAccepted fate = iota + 1 // an API answered 202 (or a retry answered duplicate: an earlier attempt was applied)
	fateUnknown                  // no attempt got an answer: applied or not, it may be on the journey once
)

// ledger records every event the drill sent, by customer and event id, and
// what went wrong on the way.
type ledger struct {
	mu         sync.Mutex
	fates      map[string]map[string]fate
	mismatches []string
	unanswered []string     // events no attempt got an answer for, and why
	sent       atomic.Int64 // requests, retries and intended duplicates included
	retries    atomic.Int64
	dupSent    atomic.Int64 // intended duplicates sent
}

func newLedger() *ledger { return &ledger{fates: map[string]map[string]fate{}} }

func (l *ledger) record(customer, id string, f fate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fates[customer] == nil {
		l.fates[customer] = map[string]fate{}
	}
	l.fates[customer][id] = f
}

func (l *ledger) mismatch(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mismatches = append(l.mismatches, fmt.Sprintf(format, args...))
}

// counts returns the accepted and unknown events.
func (l *ledger) counts() (accepted, unknown int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ids := range l.fates {
		for _, f := range ids {
			switch f {
			case fateAccepted:
				accepted++
			case fateUnknown:
				unknown++
			}
		}
	}
	return accepted, unknown
}

// send delivers one event, first through api i, and on a failure that a
// retry can fix through the other API (as a load balancer would), with the
// same id: the journey deduplicates by id, so a retry of an attempt that
// was applied answers "duplicate", which means accepted.
func (cl *cluster) send(ctx context.Context, l *ledger, i int, customer string, ev event, async bool) {
	failedBefore := false
	for attempt := 0; ; attempt++ {
		a := cl.apis[(i+attempt)%len(cl.apis)]
		l.sent.Add(1)
		status, ans, err := a.event(ctx, customer, ev, async)
		switch {
		case err == nil && status == http.StatusAccepted && (!async || ans.Queued):
			l.record(customer, ev.ID, fateAccepted)
			return
		case err == nil && status == http.StatusOK && ans.Duplicate && failedBefore:
			l.record(customer, ev.ID, fateAccepted)
			return
		case err == nil:
			// A new id answered "duplicate", or an answer the API does not give.
			l.record(customer, ev.ID, fateUnknown)
			l.mismatch("%s: event %s (new) answered %d %+v through %s", customer, ev.ID, status, ans, a.name)
			return
		case !retryable(err):
			l.record(customer, ev.ID, fateUnknown)
			l.mismatch("%s: event %s refused through %s: %v", customer, ev.ID, a.name, err)
			return
		case ctx.Err() != nil || attempt >= 40:
			l.record(customer, ev.ID, fateUnknown)
			l.mu.Lock()
			l.unanswered = append(l.unanswered, fmt.Sprintf("%s: event %s, %d attempts, the last through %s: %v", customer, ev.ID, attempt+1, a.name, err))
			l.mu.Unlock()
			return
		}
		failedBefore = true
		l.retries.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(250*(attempt+1)) * time.Millisecond):
		}
	}
}

// resendDuplicate sends an accepted event again through the other API: it
// must answer duplicate (an update) or be queued (a signal the journey
// drops), never be counted twice.
func (cl *cluster) resendDuplicate(ctx context.Context, l *ledger, i int, customer string, ev event, async bool) {
	a := cl.apis[(i+1)%len(cl.apis)]
	l.sent.Add(1)
	l.dupSent.Add(1)
	status, ans, err := a.event(ctx, customer, ev, async)
	switch {
	case err != nil:
		// Lost duplicates prove nothing either way; the journey check
		// still counts the event once.
	case async && status == http.StatusAccepted && ans.Queued:
	case !async && status == http.StatusOK && ans.Duplicate:
	default:
		l.mismatch("%s: duplicate of event %s answered %d %+v through %s", customer, ev.ID, status, ans, a.name)
	}
}

// load sends events to the journeys through both APIs until stopped, at a
// steady rate, each journey in turn, so that every journey gets events
// throughout the drill. Every fourth is a signal (?async=true), every fifth
// is sent twice.
type load struct {
	cl     *cluster
	l      *ledger
	rate   int
	mu     sync.Mutex
	ids    []string
	next   atomic.Int64
	cancel context.CancelFunc
	done   sync.WaitGroup
}

func (cl *cluster) startLoad(ctx context.Context, l *ledger, customers []string, rate, workers int) *load {
	ctx, cancel := context.WithCancel(ctx)
	ld := &load{cl: cl, l: l, rate: rate, ids: append([]string(nil), customers...), cancel: cancel}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	jobs := make(chan int64)
	ld.done.Add(1)
	go func() {
		defer ld.done.Done()
		defer tick.Stop()
		defer close(jobs)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case jobs <- ld.next.Add(1):
				case <-ctx.Done():
					return
				default: // every sender busy: skip the tick rather than queue a burst
				}
			}
		}
	}()
	for w := 0; w < workers; w++ {
		ld.done.Add(1)
		go func() {
			defer ld.done.Done()
			for n := range jobs {
				ld.one(ctx, n)
			}
		}()
	}
	return ld
}

// add makes the load include more journeys.
func (ld *load) add(customers ...string) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	ld.ids = append(ld.ids, customers...)
}

func (ld *load) one(ctx context.Context, n int64) {
	ld.mu.Lock()
	customer := ld.ids[int(n)%len(ld.ids)]
	ld.mu.Unlock()
	ev := event{ID: fmt.Sprintf("ev-%06d", n), Type: eventTypes[int(n)%len(eventTypes)], Source: "cluster-drill"}
	async := n%4 == 0
	// A request that was under way when the drill stopped the load is
	// finished with a context of its own, so its fate is known.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
	defer cancel()
	ld.cl.send(sendCtx, ld.l, int(n), customer, ev, async)
	if n%5 == 0 && ctx.Err() == nil {
		ld.cl.resendDuplicate(sendCtx, ld.l, int(n), customer, ev, async)
	}
}

// stop ends the load and waits for the requests under way.
func (ld *load) stop() {
	ld.cancel()
	ld.done.Wait()
}

// startCustomers starts a journey per id, alternately through each API,
// with concurrency; each start is retried (the same deal: a retry that
// finds the journey answers 200) until it is answered.
func (cl *cluster) startCustomers(ctx context.Context, ids []string, offset, workers int) error {
	renewal := time.Now().AddDate(2, 0, 0)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	jobs := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := cl.startOne(ctx, offset+i, ids[i], renewal); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range ids {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d starts failed, the first: %w", len(errs), len(ids), errs[0])
	}
	return nil
}

func (cl *cluster) startOne(ctx context.Context, i int, id string, renewal time.Time) error {
	body := newStart(id, renewal)
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		a := cl.apis[(i+attempt)%len(cl.apis)]
		var status int
		status, err = a.start(ctx, body)
		switch {
		case err == nil && (status == http.StatusCreated || (status == http.StatusOK && attempt > 0)):
			return nil
		case err == nil:
			return fmt.Errorf("%s: start answered %d through %s, want 201", id, status, a.name)
		case !retryable(err):
			return fmt.Errorf("%s: start refused through %s: %w", id, a.name, err)
		}
		time.Sleep(time.Duration(250*(attempt+1)) * time.Millisecond)
	}
	return fmt.Errorf("%s: start not answered after 20 attempts: %w", id, err)
}

// poke sends every journey one event as a signal (?async=true), through
// both APIs in turn: accepted at once whatever the workers are doing, it
// gives every journey a workflow task to run, so that "every journey was
// served again" measures the cluster, not when the load next reaches each.
func (cl *cluster) poke(ctx context.Context, l *ledger, ids []string, tag string) {
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				cl.send(ctx, l, i, ids[i], event{ID: tag + "-" + ids[i], Type: "login", Source: "cluster-drill"}, true)
			}
		}()
	}
	for i := range ids {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}
