package workflows

import "go.temporal.io/sdk/workflow"

// sendHook is for tests only: nil in production, where send issues every
// message at once. When set, send hands it the message's step and the
// function that issues the message, and the hook calls that function now or
// later. The replay tests use it to issue a step's messages one workflow
// task late, as a change that reordered a step's commands would, and check
// that the saved histories catch it (see TestReorderedStepsFailReplay).
var sendHook func(ctx workflow.Context, step string, issue func(workflow.Context))
