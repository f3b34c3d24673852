package worker

import (
	"context"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Portfolio reads every running journey from Temporal visibility: its facts
// from the memo and its health, quadrant, phase and CSM from the search
// attributes. One paged list, no message to any journey: 10,000 journeys
// are a few pages.
type Portfolio struct {
	Client    client.Client
	Namespace string
	PageSize  int32 // 0: 1,000
}

// Accounts implements activities.Portfolio.
func (p Portfolio) Accounts(ctx context.Context, progress func(read int)) ([]insights.Account, error) {
	size := p.PageSize
	if size <= 0 {
		size = 1000
	}
	req := &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: p.Namespace, PageSize: size,
		Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.WorkflowName),
	}
	dc := converter.GetDefaultDataConverter()
	var out []insights.Account
	for {
		resp, err := p.Client.ListWorkflow(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, e := range resp.GetExecutions() {
			a := insights.Account{CustomerID: e.GetExecution().GetWorkflowId()}
			sa := e.GetSearchAttributes().GetIndexedFields()
			keyword := func(name string) string {
				var s string
				if pl := sa[name]; pl != nil {
					_ = dc.FromPayload(pl, &s)
				}
				return s
			}
			a.Health = keyword(workflows.SAHealth.GetName())
			a.Quadrant = keyword(workflows.SAQuadrant.GetName())
			a.Phase = keyword(workflows.SAPhase.GetName())
			a.CSM = keyword(workflows.SACSMEmail.GetName())
			decodeFacts(dc, e.GetMemo(), &a.Facts)
			out = append(out, a)
		}
		if progress != nil {
			progress(len(out))
		}
		if len(resp.GetNextPageToken()) == 0 {
			return out, nil
		}
		req.NextPageToken = resp.GetNextPageToken()
	}
}

// decodeFacts reads the facts memo; a journey without one (it began before
// facts were kept) or with an unreadable one keeps zero facts, which the
// job counts as without facts.
func decodeFacts(dc converter.DataConverter, memo *commonpb.Memo, f *insights.Facts) {
	pl := memo.GetFields()[insights.MemoKey]
	if pl == nil || dc.FromPayload(pl, f) != nil || f.V != insights.FactsVersion {
		*f = insights.Facts{}
	}
}
