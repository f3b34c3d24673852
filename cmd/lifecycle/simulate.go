package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.temporal.io/sdk/worker"

	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

const simulateHelp = `Usage: lifecycle simulate [flags]

Runs a customer's journey under a playbook in Temporal's time-skipping test
environment (the real workflow and activities, an in-memory outbox): months
in milliseconds, nothing sent. Prints the story day by day: what went out to
whom and why, what the customer did, health and phase changes with their
reasons, and what was not sent and why.

  lifecycle simulate --scenario silent
  lifecycle simulate --playbook mine.yaml --scenario my-customer.yaml --json
  lifecycle simulate --playbook new.yaml --compare old.yaml   (every built-in scenario)
  lifecycle simulate --customer acme --playbook new.yaml    (what new.yaml would have done for
                                                            acme, next to what happened; LIFECYCLE_API_URL, LIFECYCLE_API_KEY)
  lifecycle simulate --list
  lifecycle simulate --show engaged > my-customer.yaml        (a starting point)

A scenario is YAML: the customer, the start, the renewal date, and what
happens on which day (README: Simulate). Built-in scenarios: %s.

Flags:
`

func simulateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, simulateHelp, strings.Join(simulate.BuiltinNames(), ", "))
		fs.PrintDefaults()
	}
	playbookFile := fs.String("playbook", "", "the playbook `FILE` to simulate (default: the embedded playbook)")
	compareFile := fs.String("compare", "", "compare with this older playbook `FILE` (or \"default\" for the embedded one) on the same scenarios")
	var scenarios multiFlag
	fs.Var(&scenarios, "scenario", "a scenario `FILE or NAME` (repeat or comma-separate for several; with --compare, default: every built-in one)")
	asJSON := fs.Bool("json", false, "print the result as JSON instead of the story")
	until := fs.Float64("until", 0, "simulate to this journey `DAY` (default: the scenario's, else 30 days past the first renewal)")
	customer := fs.String("customer", "", "replay the recorded events, outcomes and complaints of the customer `ID` (from a running API) under --playbook, next to what actually happened")
	settings := config.Register(fs, config.CmdSimulate)
	list := fs.Bool("list", false, "list the built-in scenarios")
	show := fs.String("show", "", "print the built-in scenario `NAME` as YAML")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	switch {
	case *list:
		for _, name := range simulate.BuiltinNames() {
			sc, err := simulate.Builtin(name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%-16s %s\n", name, sc.Description)
		}
		return nil
	case *show != "":
		data, err := simulate.BuiltinYAML(*show)
		if err != nil {
			return err
		}
		_, err = stdout.Write(data)
		return err
	}
	if *until < 0 || *until > simulate.MaxDays {
		return fmt.Errorf("--until: a day from 1 to %d", simulate.MaxDays)
	}
	pb, err := loadPlaybook(*playbookFile, stderr)
	if err != nil {
		return err
	}
	nameSimulations()
	if *customer != "" {
		if len(scenarios) > 0 || *compareFile != "" {
			return fmt.Errorf("--customer replays the customer's own story: leave out --scenario and --compare")
		}
		cfg, err := config.Load(settings, config.CmdSimulate)
		if err != nil {
			return err
		}
		return replayCustomer(ctx, cfg.Client, *customer, pb, *playbookFile, *until, *asJSON, stdout)
	}
	if len(scenarios) == 0 {
		if *compareFile == "" {
			fs.Usage()
			fmt.Fprintf(stderr, "\nlifecycle simulate: say which --scenario (built in: %s)\n", strings.Join(simulate.BuiltinNames(), ", "))
			return errUsage
		}
		scenarios = simulate.BuiltinNames()
	}
	var scs []*simulate.Scenario
	for _, s := range scenarios {
		sc, err := loadScenario(s, stderr)
		if err != nil {
			return err
		}
		scs = append(scs, sc)
	}
	opts := simulate.Options{Until: *until}
	if *compareFile != "" {
		old, err := loadPlaybook(*compareFile, stderr)
		if err != nil {
			return err
		}
		var diffs []simulate.Diff
		for _, sc := range scs {
			newer, err := simulate.Simulate(ctx, pb, sc, opts)
			if err != nil {
				return scenarioErr(sc.Name, err, stderr)
			}
			older, err := simulate.Simulate(ctx, old, sc, opts)
			if err != nil {
				return scenarioErr(sc.Name, err, stderr)
			}
			diffs = append(diffs, simulate.Compare(newer, older))
		}
		if *asJSON {
			return writeJSON(stdout, map[string]any{"new": pb.Ref(), "old": old.Ref(), "scenarios": diffs})
		}
		return simulate.WriteComparison(stdout, describe(*playbookFile, pb), describe(*compareFile, old), diffs)
	}
	var results []*simulate.Result
	for i, sc := range scs {
		r, err := simulate.Simulate(ctx, pb, sc, opts)
		if err != nil {
			return scenarioErr(sc.Name, err, stderr)
		}
		if *asJSON {
			results = append(results, r)
			continue
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := simulate.WriteStory(stdout, r); err != nil {
			return err
		}
	}
	if *asJSON {
		if len(results) == 1 {
			return writeJSON(stdout, results[0])
		}
		return writeJSON(stdout, results)
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

func describe(file string, pb *playbooks.Playbook) string {
	if file == "" || file == "default" {
		return "the embedded playbook " + pb.Ref()
	}
	return fmt.Sprintf("%s (%s)", file, pb.Ref())
}

// loadPlaybook reads a playbook file; "" or "default" is the embedded one.
// Problems are printed with their lines, as `playbook validate` does.
func loadPlaybook(file string, stderr io.Writer) (*playbooks.Playbook, error) {
	if file == "" || file == "default" {
		return playbooks.Default(), nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pb, err := playbooks.Parse(data)
	var invalid *playbooks.InvalidError
	if errors.As(err, &invalid) {
		printProblems(stderr, file, invalid.Problems)
		return nil, fmt.Errorf("%s: %d problem(s) in the playbook", file, len(invalid.Problems))
	}
	return pb, err
}

// loadScenario reads a scenario file, or a built-in one by name.
func loadScenario(s string, stderr io.Writer) (*simulate.Scenario, error) {
	data, err := os.ReadFile(s)
	if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(s, "/.") {
		return simulate.Builtin(s)
	}
	if err != nil {
		return nil, err
	}
	sc, err := simulate.ParseScenario(data)
	var invalid *simulate.InvalidError
	if errors.As(err, &invalid) {
		printProblems(stderr, s, invalid.Problems)
		return nil, fmt.Errorf("%s: %d problem(s) in the scenario", s, len(invalid.Problems))
	}
	return sc, err
}

// scenarioErr prints a scenario's problems against the playbook with their lines.
func scenarioErr(name string, err error, stderr io.Writer) error {
	var invalid *simulate.InvalidError
	if errors.As(err, &invalid) {
		printProblems(stderr, "scenario "+name, invalid.Problems)
		return fmt.Errorf("scenario %s: %d problem(s)", name, len(invalid.Problems))
	}
	return fmt.Errorf("scenario %s: %w", name, err)
}

// printProblems prints each problem as where:line N: field: message.
func printProblems(stderr io.Writer, where string, problems []playbooks.Problem) {
	for _, p := range problems {
		fmt.Fprintf(stderr, "%s:%s\n", where, p)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// nameSimulations spares a process that runs no worker (simulate, api)
// the SDK's naming of the simulation environment's worker: without a build
// id it is an MD5 of the whole executable, read on first use, a third of a
// second for this binary and longer than most simulations.
func nameSimulations() {
	id, err := buildID()
	if err != nil {
		id = "lifecycle"
	}
	worker.SetBinaryChecksum(id)
}
