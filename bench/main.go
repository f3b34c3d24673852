// Command bench measures the lifecycle service against the raw Temporal
// engine and writes the results as Markdown (make bench).
//
//	go run ./bench -out BENCHMARKS.md [-runs 5] [-quick] [-only NAME] [-open N] [-cpuprofile FILE]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// section is one benchmark's part of the report.
type section struct {
	title  string
	method string
	header []string
	rows   [][]string
	notes  []string
}

type benchmark struct {
	name   string
	server bool // needs the embedded server
	run    func(ctx context.Context, b *bencher) (*section, error)
}

var benchmarks = []benchmark{
	{"journey", false, benchJourney},
	{"start", true, benchStart},
	{"events", true, benchEvents},
	{"reads", true, benchReads},
	{"cost", true, benchCost},
	{"scale", true, benchScale},
	{"cluster", false, benchCluster}, // its own cluster: serve.sh
	{"insights", true, benchInsights},
	{"tasks", false, benchTasks},
	{"import", true, benchImport},
}

// bencher holds the settings and what the benchmarks share.
type bencher struct {
	runs  int
	quick bool
	open  int    // journeys of the scale benchmark
	stack *stack // the embedded server, worker and API; started on first use
	// memprofile, when set, is where the scale benchmark writes a heap
	// profile once the worker has caught up with its open journeys.
	memprofile string
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	out := flag.String("out", "BENCHMARKS.md", "the Markdown report to write")
	runs := flag.Int("runs", 5, "rounds per side of each comparison; the report shows medians")
	quick := flag.Bool("quick", false, "fewer, smaller rounds: a smoke run")
	only := flag.String("only", "", "run one benchmark: "+names())
	open := flag.Int("open", 10000, "open journeys in the scale benchmark (-quick: 1000)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write a heap profile to this file once the scale benchmark's journeys are open and caught up")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if *only != "" && !slices.ContainsFunc(benchmarks, func(b benchmark) bool { return b.name == *only }) {
		fmt.Fprintf(os.Stderr, "bench: -only %q: no such benchmark (one of %s)\n", *only, names())
		os.Exit(2)
	}
	if *runs < 1 {
		fmt.Fprintln(os.Stderr, "bench: -runs must be at least 1")
		os.Exit(2)
	}
	if *open < 1 {
		fmt.Fprintln(os.Stderr, "bench: -open must be at least 1")
		os.Exit(2)
	}
	if *quick && !isFlagSet("runs") {
		*runs = 2
	}
	if *quick && !isFlagSet("open") {
		*open = 1000
	}
	if err := run(*out, *runs, *quick, *only, *cpuprofile, *memprofile, *open); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func names() string {
	var n []string
	for _, b := range benchmarks {
		n = append(n, b.name)
	}
	return strings.Join(n, ", ")
}

func run(out string, runs int, quick bool, only, cpuprofile, memprofile string, open int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	began := time.Now()
	b := &bencher{runs: runs, quick: quick, open: open, memprofile: memprofile}
	defer func() {
		if b.stack != nil {
			progress("stopping the embedded server")
			b.stack.close()
		}
	}()
	cmd := "go run ./bench " + strings.Join(os.Args[1:], " ")
	var sections []*section
	var failures []string
	for _, bm := range benchmarks {
		if only != "" && bm.name != only {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if bm.server && b.stack == nil {
			progress("starting the embedded Temporal server, worker and API")
			st, err := startStack(ctx)
			if err != nil {
				return fmt.Errorf("embedded server: %w", err)
			}
			b.stack = st
		}
		progress("benchmark %s", bm.name)
		t0 := time.Now()
		sec, err := bm.run(ctx, b)
		if b.stack != nil {
			// A fresh server for each benchmark: the journeys one leaves
			// behind (and their backlog) must not bill the next.
			progress("stopping the embedded server")
			b.stack.close()
			b.stack = nil
		}
		if err != nil {
			progress("benchmark %s FAILED: %v", bm.name, err)
			failures = append(failures, fmt.Sprintf("%s: %v", bm.name, err))
			continue
		}
		sec.notes = append(sec.notes, fmt.Sprintf("This benchmark took %s.", time.Since(t0).Round(time.Second)))
		sections = append(sections, sec)
		progress("benchmark %s done in %s", bm.name, time.Since(t0).Round(100*time.Millisecond))
		// Written after each benchmark, so an interrupted run keeps what it measured.
		if err := writeReport(out, cmd, began, time.Since(began), runs, quick, sections, failures, false); err != nil {
			return err
		}
	}
	total := time.Since(began)
	if err := writeReport(out, cmd, began, total, runs, quick, sections, failures, ctx.Err() == nil); err != nil {
		return err
	}
	progress("wrote %s (total %s)", out, total.Round(time.Second))
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d benchmark(s) failed: %s", len(failures), strings.Join(failures, "; "))
	}
	return nil
}

func writeReport(out, cmd string, began time.Time, total time.Duration, runs int, quick bool, sections []*section, failures []string, complete bool) error {
	var w strings.Builder
	fmt.Fprintf(&w, "# Benchmarks\n\n")
	fmt.Fprintf(&w, "Written by `make bench` (`bench/`); every figure is the median over the rounds, and each comparison runs both sides in the same process, alternating (A, B, A, B, ...). Each benchmark on the embedded Temporal server gets a fresh one (SQLite in a temp dir), so what one leaves behind does not bill the next.\n\n")
	fmt.Fprintf(&w, "| | |\n|---|---|\n")
	fmt.Fprintf(&w, "| command | `%s` |\n", cmd)
	fmt.Fprintf(&w, "| date | %s |\n", began.UTC().Format("2006-01-02 15:04 MST"))
	state := "complete"
	if !complete {
		state = "incomplete (written while running or interrupted)"
	}
	fmt.Fprintf(&w, "| total run time | %s (%s) |\n", total.Round(time.Second), state)
	fmt.Fprintf(&w, "| machine | %d cores (GOMAXPROCS %d), %s memory, %s %s/%s |\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), memTotal(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if m := cpuModel(); m != "" {
		fmt.Fprintf(&w, "| CPU | %s |\n", m)
	}
	mode := fmt.Sprintf("%d rounds per side", runs)
	if quick {
		mode += ", -quick (small rounds: a smoke run, not for comparing)"
	}
	fmt.Fprintf(&w, "| rounds | %s |\n\n", mode)
	for _, s := range sections {
		fmt.Fprintf(&w, "## %s\n\n%s\n\n", s.title, s.method)
		fmt.Fprintf(&w, "| %s |\n|%s\n", strings.Join(s.header, " | "), strings.Repeat("---|", len(s.header)))
		for _, r := range s.rows {
			fmt.Fprintf(&w, "| %s |\n", strings.Join(r, " | "))
		}
		w.WriteString("\n")
		for _, n := range s.notes {
			fmt.Fprintf(&w, "%s\n\n", n)
		}
	}
	if len(failures) > 0 {
		fmt.Fprintf(&w, "## Failed\n\n")
		for _, f := range failures {
			fmt.Fprintf(&w, "- %s\n", f)
		}
		w.WriteString("\n")
	}
	w.WriteString(analysis)
	return os.WriteFile(out, []byte(w.String()), 0o644)
}

// analysis is the hand-written part of the report (bench/analysis.go).
var analysis = ""

func memTotal() string {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rssKB is the process's resident set (VmRSS) in kB.
func rssKB() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			return kb
		}
	}
	return 0
}
