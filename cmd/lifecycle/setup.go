package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/namespace"
	"github.com/seed-a80403e2/lifecycle/internal/tclient"
	"github.com/seed-a80403e2/lifecycle/worker"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

const setupHelp = `Prepares a Temporal namespace for journeys: creates it when asked and it
does not exist, and registers the search attributes a journey upserts
(LifecycleHealth, LifecyclePhase, ...), and keeps the Temporal Schedule that
runs the insights job nightly (LIFECYCLE_INSIGHTS_CRON). Idempotent: run it on every deploy;
it prints what it found and what it did. The worker and the API refuse to
start against a namespace it has not prepared.`

func setupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var create bool
	var retention time.Duration
	a, err := prepare("setup", setupHelp, args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&create, "create-namespace", false, "create the namespace when it does not exist")
		fs.DurationVar(&retention, "retention", 30*24*time.Hour, "how long a new namespace keeps closed histories (at least 24h)")
	})
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck
	// Connect to the server, not the namespace: it may not exist yet.
	c, err := tclient.Dial(ctx, a.cfg.Temporal, a.log, a.metrics, 60*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	say := func(format string, args ...any) { fmt.Fprintf(stdout, format+"\n", args...) }
	if err := namespace.Ensure(ctx, c, namespace.Options{
		Namespace: a.cfg.Temporal.Namespace, Create: create, Retention: retention,
		Attributes: workflows.SearchAttributeTypes,
	}, say); err != nil {
		return err
	}
	if err := worker.EnsureInsightsSchedule(ctx, c, a.cfg.InsightsCron, say); err != nil {
		return err
	}
	say("namespace %s at %s is ready for journeys", a.cfg.Temporal.Namespace, a.cfg.Temporal.Address)
	return nil
}

const deploymentHelp = `Shows or changes which build of the worker runs new journeys (Temporal
Worker Deployment LIFECYCLE_DEPLOYMENT_NAME).

  lifecycle deployment status            builds, which is current, and which still
                                         have journeys pinned to them (draining)
  lifecycle deployment promote BUILD_ID  make BUILD_ID current: new journeys start
                                         on it, running ones move to it at their
                                         next wake-up; its workers must be polling`

func deploymentCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	rest := flagArgs(args)
	a, err := prepare("deployment", deploymentHelp, args[len(rest):], stderr, nil)
	if err != nil {
		return err
	}
	defer a.log.Sync() //nolint:errcheck
	switch {
	case sub == "status" && len(rest) == 0:
	case sub == "promote" && len(rest) == 1:
	default:
		fmt.Fprintf(stderr, "Usage: lifecycle deployment status | promote BUILD_ID [flags]\n")
		return errUsage
	}
	c, err := tclient.Dial(ctx, a.cfg.Temporal, a.log, a.metrics, 30*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	h := c.WorkerDeploymentClient().GetHandle(a.cfg.Worker.DeploymentName)
	if sub == "promote" {
		build := rest[0]
		prev, err := promote(ctx, h, build)
		if err != nil {
			return err
		}
		if prev == "" {
			fmt.Fprintf(stdout, "build %s is current (there was none)\n", build)
		} else {
			fmt.Fprintf(stdout, "build %s is current (was %s): new journeys start on it; journeys on %s move to it at their next wake-up\n", build, prev, prev)
		}
		return nil
	}
	return printStatus(ctx, h, a.cfg.Worker.DeploymentName, stdout)
}

// flagArgs: the positional arguments before the first flag (a build id).
func flagArgs(args []string) []string {
	var rest []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		rest = append(rest, a)
	}
	return rest
}

func promote(ctx context.Context, h client.WorkerDeploymentHandle, build string) (previous string, err error) {
	desc, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return "", describeError(err)
	}
	known := false
	for _, v := range desc.Info.VersionSummaries {
		known = known || v.Version.BuildID == build
	}
	if !known {
		return "", fmt.Errorf("build %s has no worker polling deployment %s yet: start its workers first (lifecycle deployment status lists the builds)", build, desc.Info.Name)
	}
	resp, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: build, ConflictToken: desc.ConflictToken})
	if err != nil {
		return "", fmt.Errorf("making %s current: %w", build, err)
	}
	if resp.PreviousVersion != nil {
		previous = resp.PreviousVersion.BuildID
	}
	return previous, nil
}

func printStatus(ctx context.Context, h client.WorkerDeploymentHandle, name string, out io.Writer) error {
	desc, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	if err != nil {
		return describeError(err)
	}
	current := ""
	if v := desc.Info.RoutingConfig.CurrentVersion; v != nil {
		current = v.BuildID
	}
	fmt.Fprintf(out, "deployment %s\n", name)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BUILD\tROLE\tJOURNEYS PINNED\tSINCE")
	for _, v := range desc.Info.VersionSummaries {
		role := "-"
		switch {
		case v.Version.BuildID == current:
			role = "current"
		case v.DrainageStatus == client.WorkerDeploymentVersionDrainageStatusDraining:
			role = "draining"
		case v.DrainageStatus == client.WorkerDeploymentVersionDrainageStatusDrained:
			role = "drained: its workers can stop"
		}
		pinned := "-"
		switch v.DrainageStatus {
		case client.WorkerDeploymentVersionDrainageStatusDraining:
			pinned = "some"
		case client.WorkerDeploymentVersionDrainageStatusDrained:
			pinned = "none"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Version.BuildID, role, pinned, v.CreateTime.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if current == "" {
		fmt.Fprintln(out, "no build is current: new journeys wait until one is (lifecycle deployment promote BUILD_ID)")
	}
	return nil
}

func describeError(err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("no worker has joined this deployment yet (start lifecycle worker with LIFECYCLE_WORKER_VERSIONING=on): %w", err)
	}
	return fmt.Errorf("describing the worker deployment: %w", err)
}

// becomeCurrentIfNone makes the worker's build current when the deployment
// has no current build: the first deploy needs no extra step. A deployment
// with a current build is left alone: a new build becomes current only when
// an operator promotes it. The version exists once the server has seen the
// worker poll, hence the retries.
func becomeCurrentIfNone(ctx context.Context, c client.Client, v worker.Versioning, log *zap.Logger) error {
	h := c.WorkerDeploymentClient().GetHandle(v.DeploymentName)
	deadline := time.Now().Add(60 * time.Second)
	for {
		desc, err := h.Describe(ctx, client.WorkerDeploymentDescribeOptions{})
		if err == nil {
			if cur := desc.Info.RoutingConfig.CurrentVersion; cur != nil {
				if cur.BuildID != v.BuildID {
					log.Warn("another build is current: this worker serves the journeys pinned to its build only, until it is promoted",
						zap.String("current", cur.BuildID), zap.String("build_id", v.BuildID),
						zap.String("promote", "lifecycle deployment promote "+v.BuildID))
				}
				return nil
			}
			if hasVersion(desc.Info.VersionSummaries, v.Version()) {
				_, err = h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: v.BuildID, ConflictToken: desc.ConflictToken})
				if err == nil {
					log.Info("no build was current: this build is now", zap.String("build_id", v.BuildID))
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("worker deployment %s: could not make build %s current within 60 s (is Worker Deployment versioning enabled on the server?): %v", v.DeploymentName, v.BuildID, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func hasVersion(vs []client.WorkerDeploymentVersionSummary, want sdkworker.WorkerDeploymentVersion) bool {
	for _, v := range vs {
		if v.Version.BuildID == want.BuildID && v.Version.DeploymentName == want.DeploymentName {
			return true
		}
	}
	return false
}
