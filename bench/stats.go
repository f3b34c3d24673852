package main

import (
	"fmt"
	"slices"
	"time"
)

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile of durations (nearest rank).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d float64) string { // d in seconds
	switch {
	case d < 0.01:
		return fmt.Sprintf("%.2f ms", d*1000)
	case d < 1:
		return fmt.Sprintf("%.1f ms", d*1000)
	default:
		return fmt.Sprintf("%.2f s", d)
	}
}

func durMS(d time.Duration) string { return ms(d.Seconds()) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func spread(xs []float64, f func(float64) string) string {
	if len(xs) < 2 {
		return ""
	}
	return fmt.Sprintf("%s to %s", f(slices.Min(xs)), f(slices.Max(xs)))
}
