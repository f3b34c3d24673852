package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// idleQueue has no worker: the benchmark's journeys are started and stay
// Running with the journey's type and search attributes, so visibility holds
// exactly the rows 10,000 real customers would give the portfolio, without
// running 10,000 journeys on a laptop.
const idleQueue = "dashboard-bench-idle"

// BenchmarkPortfolio10k times GET /ui (the portfolio's first page) with
// 10,000 customers in visibility (LIFECYCLE_BENCH_CUSTOMERS changes the
// count). Run it with:
//
//	go test ./dashboard/ -run '^$' -bench Portfolio10k -benchtime 20x
//
// It reports the median and the worst page time besides ns/op.
func BenchmarkPortfolio10k(b *testing.B) {
	n := 10000
	if v := os.Getenv("LIFECYCLE_BENCH_CUSTOMERS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	e := startEnv(b, false)
	started := time.Now()
	startIdleJourneys(b, e.Client, n)
	b.Logf("started %d journeys in %s (%.0f/s)", n, time.Since(started).Round(time.Millisecond), float64(n)/time.Since(started).Seconds())
	waitUntil(b, "visibility to count every journey", 2*time.Minute, func() bool {
		res, err := e.Client.CountWorkflow(context.Background(), countRequest())
		return err == nil && res.GetCount() == int64(n)
	})
	b.Logf("visible after %s", time.Since(started).Round(time.Millisecond))

	hc := signedIn(b, e)
	get := func(path string) (time.Duration, string) {
		t0 := time.Now()
		resp, err := hc.Get(e.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		body := readBody(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return time.Since(t0), body
	}
	_, body := get("/ui")
	if rows := strings.Count(body, `<tr data-customer=`); rows != pageSize {
		b.Fatalf("first page has %d rows, want %d", rows, pageSize)
	}
	d, _ := get("/ui/quadrant.json")
	cached, _ := get("/ui/quadrant.json")
	b.Logf("quadrant chart data (%d points): %s, then %s from the cache", n, d.Round(time.Millisecond), cached.Round(time.Millisecond))
	d, _ = get("/ui?health=yellow&sort=happiness")
	b.Logf("filtered page (health=yellow): %s", d.Round(time.Millisecond))

	var times []time.Duration
	for b.Loop() {
		d, _ := get("/ui")
		times = append(times, d)
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
}

func countRequest() *workflowservice.CountWorkflowExecutionsRequest {
	return &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default", Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.WorkflowName)}
}

// startIdleJourneys starts n journeys with a spread of health, quadrant,
// phase and CSM, 32 at a time.
func startIdleJourneys(b *testing.B, c client.Client, n int) {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				health, quadrant := workflows.HealthGreen, workflows.QuadrantChampion
				switch {
				case i%10 == 0:
					health, quadrant = workflows.HealthRed, workflows.QuadrantAtRisk
				case i%10 < 4:
					health, quadrant = workflows.HealthYellow, workflows.QuadrantQuiet
				}
				phase := []string{workflows.PhaseHandoff, workflows.PhaseOnboarding, workflows.PhaseAdoption, workflows.PhaseAdoption}[i%4]
				_, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{
					ID: workflows.WorkflowID(fmt.Sprintf("bench-%05d", i)), TaskQueue: idleQueue,
					TypedSearchAttributes: temporal.NewSearchAttributes(
						workflows.SAHealth.ValueSet(health), workflows.SAQuadrant.ValueSet(quadrant),
						workflows.SAPhase.ValueSet(phase), workflows.SACSMEmail.ValueSet(fmt.Sprintf("csm%02d@vendor.example", i%20)),
						workflows.SAEngagement.ValueSet(int64(i*37%101)), workflows.SAHappiness.ValueSet(int64(i*53%101)),
						workflows.SARenewalDate.ValueSet(time.Now().AddDate(0, i%12+1, 0))),
				}, workflows.WorkflowName)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// signedIn is an HTTP client with a dashboard session (csm).
func signedIn(tb testing.TB, e *env) *http.Client {
	tb.Helper()
	return signedInAs(tb, e, csmKey)
}

// signedInAs is a client with a session for key's role.
func signedInAs(tb testing.TB, e *env, key string) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(e.URL + "/ui/signin")
	if err != nil {
		tb.Fatal(err)
	}
	token := hiddenCSRF.FindStringSubmatch(readBody(resp))[1]
	resp.Body.Close()
	resp, err = hc.PostForm(e.URL+"/ui/signin", url.Values{"csrf": {token}, "key": {key}})
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	return hc
}
