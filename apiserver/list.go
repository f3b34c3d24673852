package apiserver

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// CustomerSummary is one row of GET /v1/customers, from search attributes.
type CustomerSummary = workflows.Listing

// CustomerList is a page of customers.
type CustomerList struct {
	Customers     []CustomerSummary `json:"customers"`
	NextPageToken string            `json:"next_page_token,omitempty"`
}

var filterValues = map[string][]string{
	"health":   {workflows.HealthGreen, workflows.HealthYellow, workflows.HealthRed},
	"phase":    {workflows.PhaseHandoff, workflows.PhaseOnboarding, workflows.PhaseAdoption, workflows.PhasePaused, workflows.PhaseEnded},
	"quadrant": {workflows.QuadrantChampion, workflows.QuadrantVocal, workflows.QuadrantQuiet, workflows.QuadrantAtRisk},
}

// listQuery builds the visibility query from validated parameters only;
// every value is checked against a closed set or a strict pattern, then
// quoted, so nothing a caller sends can change the query's shape.
func listQuery(c *gin.Context) (string, bool) {
	parts := []string{fmt.Sprintf("WorkflowType = '%s'", workflows.WorkflowName)}
	status := c.DefaultQuery("status", "running")
	switch status {
	case "running":
		parts = append(parts, "ExecutionStatus = 'Running'")
	case "all":
	default:
		fail(c, http.StatusBadRequest, "invalid_parameter", "status must be running or all", "status")
		return "", false
	}
	keys := map[string]string{"health": workflows.SAHealth.GetName(), "phase": workflows.SAPhase.GetName(), "quadrant": workflows.SAQuadrant.GetName()}
	for _, name := range []string{"health", "phase", "quadrant"} {
		v := c.Query(name)
		if v == "" {
			continue
		}
		if !slices.Contains(filterValues[name], v) {
			fail(c, http.StatusBadRequest, "invalid_parameter", fmt.Sprintf("%s must be one of %s", name, strings.Join(filterValues[name], ", ")), name)
			return "", false
		}
		parts = append(parts, fmt.Sprintf("%s = '%s'", keys[name], v))
	}
	if csm := c.Query("csm"); csm != "" {
		if !workflows.QuotableEmail(csm) {
			fail(c, http.StatusBadRequest, "invalid_parameter", "csm must be an email address", "csm")
			return "", false
		}
		parts = append(parts, fmt.Sprintf("%s = '%s'", workflows.SACSMEmail.GetName(), csm))
	}
	return strings.Join(parts, " AND "), true
}

func (s *Server) listCustomers(c *gin.Context) {
	query, ok := listQuery(c)
	if !ok {
		return
	}
	size := 50
	if v := c.Query("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			fail(c, http.StatusBadRequest, "invalid_parameter", "page_size must be 1 to 500", "page_size")
			return
		}
		size = n
	}
	var token []byte
	if v := c.Query("page_token"); v != "" {
		t, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			fail(c, http.StatusBadRequest, "invalid_parameter", "page_token is not a token from a previous page", "page_token")
			return
		}
		token = t
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	resp, err := s.opts.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: s.opts.Namespace, PageSize: int32(size), NextPageToken: token, Query: query,
	})
	if err != nil {
		s.temporalError(c, err, "")
		return
	}
	out := CustomerList{Customers: []CustomerSummary{}}
	for _, ex := range resp.GetExecutions() {
		out.Customers = append(out.Customers, workflows.ListingOf(ex))
	}
	if len(resp.GetNextPageToken()) > 0 {
		out.NextPageToken = base64.RawURLEncoding.EncodeToString(resp.GetNextPageToken())
	}
	c.JSON(http.StatusOK, out)
}
