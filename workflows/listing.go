package workflows

import (
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
)

// Listing is a journey as Temporal visibility knows it: its search
// attributes, without asking the workflow. The API's list and the
// dashboard's portfolio both read it.
type Listing struct {
	CustomerID  string    `json:"customer_id"`
	WorkflowID  string    `json:"workflow_id"`
	Status      string    `json:"status"` // running, completed, continuedasnew, ...
	Health      string    `json:"health,omitempty"`
	Quadrant    string    `json:"quadrant,omitempty"`
	Phase       string    `json:"phase,omitempty"`
	CSMEmail    string    `json:"csm_email,omitempty"`
	Engagement  int64     `json:"engagement"`
	Happiness   int64     `json:"happiness"`
	RenewalDate time.Time `json:"renewal_date,omitzero"`
	StartedAt   time.Time `json:"started_at"`
}

// Running reports whether the listed run is still open.
func (l Listing) Running() bool { return l.Status == "running" }

// ListingOf reads a visibility row.
func ListingOf(ex *workflowpb.WorkflowExecutionInfo) Listing {
	wid := ex.GetExecution().GetWorkflowId()
	l := Listing{
		CustomerID: strings.TrimPrefix(wid, "customer:"), WorkflowID: wid, StartedAt: ex.GetStartTime().AsTime(),
		Status: strings.ToLower(strings.TrimPrefix(ex.GetStatus().String(), "WORKFLOW_EXECUTION_STATUS_")),
	}
	fields := ex.GetSearchAttributes().GetIndexedFields()
	decodeSA(fields, SAHealth.GetName(), &l.Health)
	decodeSA(fields, SAQuadrant.GetName(), &l.Quadrant)
	decodeSA(fields, SAPhase.GetName(), &l.Phase)
	decodeSA(fields, SACSMEmail.GetName(), &l.CSMEmail)
	decodeSA(fields, SAEngagement.GetName(), &l.Engagement)
	decodeSA(fields, SAHappiness.GetName(), &l.Happiness)
	decodeSA(fields, SARenewalDate.GetName(), &l.RenewalDate)
	return l
}

func decodeSA(fields map[string]*commonpb.Payload, name string, out any) {
	if p, ok := fields[name]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(p, out) // a missing or odd value stays zero
	}
}

// QuotableEmail admits an email address only of characters that cannot
// break out of a quoted value in a visibility query.
func QuotableEmail(s string) bool {
	if len(s) > 254 || strings.Count(s, "@") != 1 {
		return false
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@.+-_", r)
		if !ok {
			return false
		}
	}
	return true
}
