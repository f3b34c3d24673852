package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/worker"
)

// benchInsights: the nightly insights job over b.open running journeys:
// the listing from visibility (facts memo and search attributes), the
// comparison, and the store write, with the memory the job takes.
func benchInsights(ctx context.Context, b *bencher) (*section, error) {
	s := b.stack
	n := b.open
	progress("  insights: starting %d journeys (raw client, concurrency %d)", n, concurrency)
	t0 := time.Now()
	if _, err := parallel(ctx, n, concurrency, func(i int) error {
		return s.rawStart(ctx, fmt.Sprintf("portfolio-%d", i), apiDay)
	}); err != nil {
		return nil, fmt.Errorf("starting %d journeys: %w", n, err)
	}
	if _, _, err := s.drain(ctx, t0); err != nil {
		return nil, err
	}
	port := worker.Portfolio{Client: s.c, Namespace: s.ns}
	acts := &activities.Activities{Portfolio: port, Results: s.st}
	// Until every journey is listed with its facts (visibility trails the
	// first workflow tasks by a little).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		as, err := port.Accounts(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("listing: %w", err)
		}
		with := 0
		for _, a := range as {
			if a.Facts.V == insights.FactsVersion {
				with++
			}
		}
		if with >= n {
			break
		}
		progress("  insights: %d of %d journeys listed with facts", with, n)
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d journeys listed with their facts after 5 minutes", with, n)
		}
		time.Sleep(3 * time.Second)
	}

	var list, job, alloc, held []float64
	var journeys, reportBytes int
	for r := range b.runs {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		runtime.GC()
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		t := time.Now()
		as, err := port.Accounts(ctx, nil)
		if err != nil {
			return nil, fmt.Errorf("listing: %w", err)
		}
		list = append(list, time.Since(t).Seconds())
		runtime.GC()
		runtime.ReadMemStats(&m1)
		held = append(held, float64(m1.HeapAlloc)-float64(m0.HeapAlloc))
		runtime.KeepAlive(as)

		runtime.GC()
		runtime.ReadMemStats(&m0)
		t = time.Now()
		res, err := acts.ComputeInsights(ctx, activities.InsightsRequest{})
		if err != nil {
			return nil, err
		}
		job = append(job, time.Since(t).Seconds())
		runtime.ReadMemStats(&m1)
		alloc = append(alloc, float64(m1.TotalAlloc-m0.TotalAlloc))
		journeys = res.Journeys
		run, _, err := s.st.LatestInsights(ctx)
		if err != nil {
			return nil, err
		}
		reportBytes = len(run.Report)
		progress("  insights: round %d: %d journeys, listed in %s, job %s", r+1, res.Journeys, durMS(secs(list[r])), durMS(secs(job[r])))
	}

	// The comparison alone, over the same accounts spread over 20 plans and
	// 50 CSMs and aged 0 to 199 days with events and handoffs, so that
	// every difference has accounts to count.
	as, err := port.Accounts(ctx, nil)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for i := range as {
		a := &as[i]
		a.Health = []string{insights.Green, insights.Green, "yellow", "red"}[i%4]
		a.CSM = fmt.Sprintf("csm-%02d@vendor.example", i%50)
		a.Facts.Plan = fmt.Sprintf("plan-%02d", i%20)
		a.Facts.Start = now.Add(-time.Duration(i%200) * a.Facts.DayLength)
		a.Facts.Events[insights.Trainings] = [2]int{i % 3, i % 5}
		a.Facts.HandoffDay = float64(i % 9)
	}
	var compute []float64
	segments := 0
	for range b.runs {
		t := time.Now()
		rep := insights.Compute(as, now, 0)
		compute = append(compute, time.Since(t).Seconds())
		segments = len(rep.Segments)
	}
	return &section{
		title: fmt.Sprintf("10. The insights job at %d journeys", n),
		method: fmt.Sprintf("%d journeys started with the raw client on a fresh embedded server (24h days: they stay open); once each is "+
			"listed with its facts memo, the job's activity (`ComputeInsights`: the visibility listing in pages of 1,000, the comparison, "+
			"the insert of the report, the prune) is called in-process, %d rounds. Listing alone: `worker.Portfolio.Accounts`; held is the "+
			"live heap of the listed accounts after a GC; allocated is the process's total allocation during the job (Go's TotalAlloc: the embedded server answering the listing is in the same process and counted too); journeys read includes the probes that checked the worker had caught up. The comparison alone "+
			"runs over the same accounts spread over 20 plans and 50 CSMs (%d segments), aged 0-199 days with trainings and handoffs, so "+
			"every difference has accounts to count.", n, b.runs, segments),
		header: []string{"figure", "value (median)"},
		rows: [][]string{
			{"journeys read", fmt.Sprint(journeys)},
			{"the whole job (list, compare, store)", durMS(secs(median(job)))},
			{"the listing from visibility", durMS(secs(median(list)))},
			{fmt.Sprintf("the comparison alone, %d segments", segments), durMS(secs(median(compute)))},
			{"memory held by the listed accounts", fmt.Sprintf("%.1f MiB (%.1f KiB a journey)", median(held)/(1<<20), median(held)/1024/float64(n))},
			{"allocated by the job", fmt.Sprintf("%.0f MiB", median(alloc)/(1<<20))},
			{"stored report (one plan, one CSM: 3 segments)", fmt.Sprintf("%.1f KiB", float64(reportBytes)/1024)},
		},
	}, nil
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
