// Command lifecycle runs customer journeys on Temporal: everything in one
// process for local use (dev), or the worker and the API separately against
// a Temporal cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `lifecycle: customer lifecycle automation on Temporal

Usage:
  lifecycle dev [flags]                 everything in one process: an embedded Temporal
                                        server (data kept on disk), its Web UI, the worker
                                        and the API; prints the URLs and dev API keys
  lifecycle setup [flags]               prepare a Temporal namespace: search attributes
                                        (and the namespace, with --create-namespace)
  lifecycle worker [flags]              run journeys against a Temporal frontend
  lifecycle api [flags]                 serve the HTTP API against a Temporal frontend
  lifecycle deployment status           the worker builds and which one is current
  lifecycle deployment promote BUILD    make a worker build current (rolling upgrade)
  lifecycle playbook validate FILE      check a playbook; exit 1 with each line and problem
  lifecycle playbook default            print the default playbook (a starting point)
  lifecycle simulate [flags]            a journey under a playbook in milliseconds: the story
                                        of a scenario day by day, or --compare two playbooks
  lifecycle import FILE.csv [flags]     bring a book of business in: each customer's journey
                                        starts where it stands (start_date, day or phase);
                                        --dry-run shows what each would receive next
  lifecycle email preview TEMPLATE      render a customer email with sample data (--html)
  lifecycle email list                  list the email templates
  lifecycle users add|list|remove|rotate
                                        people with their own API key, so that what they
                                        do is recorded under their name (users --help)
  lifecycle probe URL                   exit 0 if URL (/healthz, /readyz) answers 2xx: a
                                        health check for images without curl
  lifecycle version                     this build's id, Go version, whether dev is in
  lifecycle help [COMMAND]              this text, or a command's flags

Every flag is also an environment variable; each command's --help lists the
settings it reads (README: Settings).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors that want the usage text, not just the message.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "dev":
		err = devCmd(ctx, rest, stdout, stderr)
	case "worker":
		err = workerCmd(ctx, rest, stderr)
	case "api":
		err = apiCmd(ctx, rest, stderr)
	case "setup":
		err = setupCmd(ctx, rest, stdout, stderr)
	case "deployment":
		err = deploymentCmd(ctx, rest, stdout, stderr)
	case "probe":
		err = probeCmd(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprint(stdout, versionText())
		return 0
	case "playbook":
		err = playbookCmd(rest, stdout, stderr)
	case "email":
		err = emailCmd(rest, stdout, stderr)
	case "import":
		err = importCmd(ctx, rest, stdout, stderr)
	case "simulate":
		err = simulateCmd(ctx, rest, stdout, stderr)
	case "users":
		err = usersCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != "help" {
			return run(ctx, []string{rest[0], "--help"}, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "lifecycle: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "lifecycle: %v\n", err)
		return 1
	}
}
