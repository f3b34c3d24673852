//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestClusterDrill is the cluster test: journeys through two APIs, events
// with concurrency, a worker killed with SIGKILL, a rolling upgrade, and
// then every journey and the store checked against what the APIs accepted.
// Each check reports and the drill goes on, so one run shows them all; the
// summary at the end has the figures.
func TestClusterDrill(t *testing.T) {
	cl := loadCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()
	began := time.Now()
	phase := func(format string, args ...any) {
		t.Logf("[%5.1fs] %s", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
	}
	sum := &summary{}
	defer func() { sum.print(t) }()

	phase("dashboard: a session made on %s, used on %s", cl.apis[0].name, cl.apis[1].name)
	if err := cl.dashboardSession(ctx, cl.apis[0], cl.apis[1]); err != nil {
		sum.dashboard = "FAIL: " + err.Error()
		t.Errorf("dashboard session: %v", err)
	} else {
		sum.dashboard = "ok: signed in on " + cl.apis[0].name + ", GET /ui on " + cl.apis[1].name + " answered 200"
	}

	// Journeys: the first ones before the upgrade, a tenth more after it.
	old := customerIDs(0, cl.customers)
	fresh := customerIDs(cl.customers, max(cl.customers/10, 1))
	phase("starting %d journeys alternately through both APIs", len(old))
	t0 := time.Now()
	if err := cl.startCustomers(ctx, old, 0, 8); err != nil {
		t.Fatalf("%v", err)
	}
	sum.started = len(old)
	phase("%d journeys started in %.1f s; waiting for their first days to be done", len(old), time.Since(t0).Seconds())
	vs, left, err := cl.settle(ctx, old, 4*time.Minute)
	if err != nil {
		t.Fatalf("the cluster did not settle after the starts (%s): %v", tally(vs), err)
	}
	sum.settle = fmt.Sprintf("%.1f s from the first start to every first day done (%s; backlog %d)", time.Since(t0).Seconds(), tally(vs), left)
	phase("settled: %s", sum.settle)

	l := newLedger()
	rate := envInt(t, "LIFECYCLE_CLUSTER_EVENT_RATE", 5)
	ld := cl.startLoad(ctx, l, old, rate, 16)
	phase("events: %d a second through both APIs (a quarter as signals, a fifth sent twice)", rate)
	loadStopped := false
	defer func() {
		if !loadStopped {
			ld.stop()
		}
	}()
	time.Sleep(5 * time.Second)

	victim := cl.workers[0]
	phase("SIGKILL %s (pid %d) with journeys and events in flight; a signal to every journey", victim.name, victim.pid)
	killed := time.Now()
	if err := syscall.Kill(victim.pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", victim.name, err)
	}
	cl.poke(ctx, l, old, "after-kill")
	kill := cl.waitServed(ctx, old, killed, 150*time.Second)
	if len(kill.pending) > 0 {
		sum.kill = "FAIL: " + kill.String()
		t.Errorf("after the kill: %s", kill)
	} else {
		prefix := fmt.Sprintf("%d@", victim.pid)
		n, p50, p90, worst := kill.spread(prefix)
		sum.kill = fmt.Sprintf("%.1f s until every journey had run a new workflow task (the last: %s; by %s); "+
			"the %d journeys last served by %s: median %.1f s, 90%% %.1f s, max %.1f s",
			kill.seconds, kill.slowest, kill.byWorker(cl.workers), n, victim.name, p50, p90, worst)
	}
	phase("after the kill: %s", kill)

	phase("rolling upgrade: build b joins, is promoted, build a stops")
	up := cl.rollingUpgrade(ctx, t, l, ld, old, fresh)
	sum.upgrade = up.String()
	sum.started += up.newTotal
	for _, p := range up.problems[:min(20, len(up.problems))] {
		t.Errorf("upgrade: %s", p)
	}
	phase("upgrade: %s", sum.upgrade)

	time.Sleep(5 * time.Second) // events to every journey on b alone
	ld.stop()
	loadStopped = true
	sum.accepted, sum.unknown = l.counts()
	sum.sent, sum.retries, sum.dupSent = l.sent.Load(), l.retries.Load(), l.dupSent.Load()
	phase("load stopped: %d events accepted, %d of unknown fate, %d requests (%d retries, %d intended duplicates)",
		sum.accepted, sum.unknown, sum.sent, sum.retries, sum.dupSent)
	for _, u := range l.unanswered[:min(10, len(l.unanswered))] {
		t.Logf("no answer: %s", u)
	}

	all := append(append([]string(nil), old...), fresh...)
	phase("checking %d journeys' timelines and states against the accepted events", len(all))
	problems := append(append([]string(nil), l.mismatches...), cl.verifyJourneys(ctx, l, all, 60*time.Second)...)
	sum.mismatches = len(problems)
	for _, p := range problems[:min(30, len(problems))] {
		t.Errorf("mismatch: %s", p)
	}

	em, err := cl.checkEmails(ctx, len(all))
	if err != nil {
		t.Errorf("%v", err)
	}
	sum.emails = em
	sum.journeys = len(all)
	if em.dupKeys+em.dupSteps+em.ledgerDups+em.welcomeExtra > 0 {
		t.Errorf("email sent twice: %d idempotency keys twice, %d steps twice under other keys, %d ledger keys twice, %d journeys welcomed twice",
			em.dupKeys, em.dupSteps, em.ledgerDups, em.welcomeExtra)
	}
	if em.welcomes != len(all) {
		t.Errorf("%d of %d journeys have their welcome email exactly once", em.welcomes, len(all))
	}
	phase("done")
}

func customerIDs(from, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("cust-%04d", from+i+1)
	}
	return ids
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s: %q is not a positive number", name, v)
	}
	return n
}

// summary is the drill's report, printed whatever happened.
type summary struct {
	started, journeys      int
	accepted, unknown      int
	sent, retries, dupSent int64
	mismatches             int
	emails                 emails
	settle, kill           string
	dashboard, upgrade     string
}

func (s *summary) print(t *testing.T) {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	lines := []string{
		"",
		"cluster drill summary",
		fmt.Sprintf("  journeys started         %d", s.started),
		fmt.Sprintf("  start-up                 %s", or(s.settle, "not reached")),
		fmt.Sprintf("  events accepted          %d (%d of unknown fate; %d requests, %d retries, %d intended duplicates)", s.accepted, s.unknown, s.sent, s.retries, s.dupSent),
		fmt.Sprintf("  mismatches               %d", s.mismatches),
		fmt.Sprintf("  duplicate email keys     %d (outbox: %d emails, %d steps twice under other keys, ledger %d; welcome once for %d of %d journeys)",
			s.emails.dupKeys, s.emails.total, s.emails.dupSteps, s.emails.ledgerDups, s.emails.welcomes, s.journeys),
		fmt.Sprintf("  worker killed (SIGKILL)  %s", or(s.kill, "not reached")),
		fmt.Sprintf("  dashboard session        %s", or(s.dashboard, "not reached")),
		fmt.Sprintf("  rolling upgrade          %s", or(s.upgrade, "not reached")),
	}
	t.Log(strings.Join(lines, "\n"))
}
