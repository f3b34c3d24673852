package workflows

import "go.temporal.io/sdk/workflow"

// DelaySends makes the messages of the steps for which match is true go out
// one workflow task late: each waits in a coroutine of its own until the
// workflow's clock moves (a later task), then is issued. Every other message
// goes out as usual. The returned function removes the hook; the replays it
// affects must not run in parallel with others.
func DelaySends(match func(step string) bool) (restore func()) {
	sendHook = func(ctx workflow.Context, step string, issue func(workflow.Context)) {
		if !match(step) {
			issue(ctx)
			return
		}
		workflow.Go(ctx, func(ctx workflow.Context) {
			at := workflow.Now(ctx)
			if workflow.Await(ctx, func() bool { return workflow.Now(ctx).After(at) }) == nil {
				issue(ctx)
			}
		})
	}
	return func() { sendHook = nil }
}
