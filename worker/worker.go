// Package worker runs the journey workflow and its activities. Workers are
// stateless: run as many as the load needs against one task queue.
package worker

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Product is the product name customers see in emails.
const Product = "Lifecycle"

// Activities builds the journey's activities from the settings: SendGrid
// when SENDGRID_API_KEY is set, else the local outbox in the store; Slack
// task notices when a Slack webhook is set.
func Activities(cfg *config.Config, st *store.Store) (*activities.Activities, error) {
	tpl, err := activities.LoadTemplates(Product)
	if err != nil {
		return nil, err
	}
	acts := &activities.Activities{
		Templates: tpl, Mailer: activities.NewOutbox(st),
		Insights: &activities.StoreInsights{Store: st}, Results: st, Tasks: st, Webhooks: st,
	}
	if cfg.LinkSecret == "" {
		return nil, errors.New("LIFECYCLE_LINK_SECRET: the worker signs the action links in emails; set a secret of 16+ characters")
	}
	signer, err := links.NewSigner(cfg.LinkSecret, cfg.PublicURL, links.DefaultTTL, nil)
	if err != nil {
		return nil, err
	}
	acts.Links = signer
	if cfg.SendGrid.APIKey != "" {
		from, err := mail.ParseAddress(cfg.SendGrid.From)
		if err != nil {
			return nil, fmt.Errorf("SENDGRID_FROM: %w", err)
		}
		acts.Mailer = &activities.SendGrid{
			APIKey: cfg.SendGrid.APIKey, BaseURL: cfg.SendGrid.BaseURL, Timeout: 10 * time.Second,
			From:   activities.Recipient{Name: from.Name, Email: from.Address},
			Ledger: activities.StoreLedger{Store: st}, Suppressions: st,
		}
	}
	if cfg.Slack.Team != "" || len(cfg.Slack.People) > 0 || len(cfg.Slack.Roles) > 0 {
		// The task notices' button opens the customer page on the dashboard.
		acts.Slack = &activities.Slack{
			Team: cfg.Slack.Team, People: cfg.Slack.People, Roles: cfg.Slack.Roles, PublicURL: cfg.PublicURL,
			Client: &http.Client{Timeout: activities.DefaultSlackTimeout}, Ledger: activities.StoreLedger{Store: st},
		}
	}
	return acts, nil
}

// New creates an unversioned worker on the journey task queue with
// everything registered: `lifecycle dev` and the tests, where one build runs
// at a time and the replay corpus guards changes.
func New(c client.Client, acts *activities.Activities) sdkworker.Worker {
	return NewVersioned(c, acts, Versioning{})
}

// Versioning places a worker in a Worker Deployment.
type Versioning struct {
	On             bool
	DeploymentName string
	BuildID        string
}

// Version is the deployment version the worker runs, as Temporal names it.
func (v Versioning) Version() sdkworker.WorkerDeploymentVersion {
	return sdkworker.WorkerDeploymentVersion{DeploymentName: v.DeploymentName, BuildID: v.BuildID}
}

// NewVersioned creates a worker; with versioning on it joins the Worker
// Deployment as its build, and journeys are Pinned: a journey runs on the
// build that started its run, whatever build becomes current meanwhile, and
// moves to the current build at its next continue-as-new (the journey does
// that at its next wake-up once Temporal says the target changed). A
// journey lives for years; pinning means no running journey ever meets code
// it was not recorded with, so upgrades need no patching.
// maxPollers bounds a worker's workflow-task pollers on each of its two
// queues (shared and sticky).
const maxPollers = 8

func NewVersioned(c client.Client, acts *activities.Activities, v Versioning) sdkworker.Worker {
	opts := sdkworker.Options{
		// Autoscaling pollers keep pollers on both the shared task queue and
		// the worker's sticky queue. With the SDK's default fixed pollers, a
		// worker with a backlog on its sticky queue moved every poller there
		// and left the shared queue unpolled: on the cluster test, a worker
		// completed nothing for 45 s while 430 journeys pinned to its build
		// waited for their next task after a promotion. At most
		// maxPollers on each: with the SDK's 100 a queue, 200 long polls
		// stayed open after a burst (each a goroutine and a stream here and
		// in the server): in the all-in-one scale benchmark at 3,000
		// journeys, 1.28 goroutines and 224 KiB of RSS per open journey
		// against 1.05 and 192 KiB with 8 (the catch-up 59 s against 64 s).
		// Events and signals ran no slower with 8 (make bench -only events).
		WorkflowTaskPollerBehavior: sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{
			InitialNumberOfPollers: 2, MaximumNumberOfPollers: maxPollers,
		}),
	}
	if v.On {
		opts.DeploymentOptions = sdkworker.DeploymentOptions{
			UseVersioning:             true,
			Version:                   v.Version(),
			DefaultVersioningBehavior: workflow.VersioningBehaviorPinned,
		}
	}
	w := sdkworker.New(c, workflows.TaskQueue, opts)
	Register(w, acts)
	return w
}

// Register registers the workflow and activities on any registry (a worker,
// a replayer, a test environment).
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.CustomerLifecycle, workflow.RegisterOptions{Name: workflows.WorkflowName})
	// A run of the insights job lasts seconds: whichever build is current
	// runs it, nothing is pinned.
	r.RegisterWorkflowWithOptions(workflows.Insights, workflow.RegisterOptions{
		Name: workflows.InsightsWorkflowName, VersioningBehavior: workflow.VersioningBehaviorAutoUpgrade,
	})
	r.RegisterActivity(acts)
}
