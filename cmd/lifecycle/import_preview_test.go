package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/bookimport"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// A dry run names the next steps as people read them (the id only from a
// server that gives no label).
func TestImportPreviewReadsLabels(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	row := bookimport.Row{Line: 7}
	row.Customer.Account.ID = "acme"
	got := preview(row, apiserver.BatchResult{Day: 40, Phase: workflows.PhaseOnboarding, Next: []workflows.Upcoming{
		{Step: "touchpoint:training-advanced", Label: "Training advanced", Day: 40, At: at},
		{Step: "checkin:d120", Day: 120, At: at.AddDate(0, 0, 80)},
	}})
	assert.Equal(t, "line 7: acme at day 40 (onboarding): next Training advanced on day 40 (2026-03-02 09:00 UTC), then checkin:d120 on day 120 (2026-05-21 09:00 UTC)", got)
}
