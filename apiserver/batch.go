package apiserver

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// batchPath is the batch route: a literal ':' in Google's API style, not
// a parameter (the router is given it escaped, `\:`).
const batchPath = "/v1/customers:batch"

// MaxBatch is the most customers one POST /v1/customers:batch may start.
const MaxBatch = 1000

// batchBudget is how long a batch tries new rows: well inside the API
// server's 60-second write timeout.
const batchBudget = 40 * time.Second

// batchWorkers is how many of a batch's starts run at once.
const batchWorkers = 8

// maxBatchBody bounds a batch's body: a thousand customers with contacts.
const maxBatchBody = 16 << 20

// BatchRequest starts many journeys at once: POST /v1/customers:batch.
type BatchRequest struct {
	Customers []BatchCustomer `json:"customers"`
	// DryRun checks every customer and answers what each would receive
	// next, starting nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// BatchCustomer is one start of a batch: a start request, and the line of
// the caller's file it came from (quoted back, and on the timeline).
type BatchCustomer struct {
	StartRequest
	Line int `json:"line,omitempty"`
}

// Results of a batch's customers.
const (
	BatchStarted    = "started"     // a new journey (201)
	BatchUnchanged  = "unchanged"   // the journey ran already (200): a re-run
	BatchWouldStart = "would_start" // dry run: it would start
	BatchFailed     = "failed"      // refused: Error says why
)

// BatchResult is what became of one customer of a batch.
type BatchResult struct {
	Index      int    `json:"index"`
	Line       int    `json:"line,omitempty"`
	CustomerID string `json:"customer_id"`
	// Status is what POST /v1/customers answered (or, in a dry run,
	// would answer) for this customer.
	Status int          `json:"status"`
	Result string       `json:"result"`
	Error  *ErrorDetail `json:"error,omitempty"`
	// Day and Phase are where the journey starts (dry run and started).
	Day   int    `json:"day"`
	Phase string `json:"phase,omitempty"`
	// Next is what the customer would receive next (dry run only).
	Next []workflows.Upcoming `json:"next,omitempty"`
}

// BatchResponse answers a batch: one result per customer, in order, and
// the counts of each result.
type BatchResponse struct {
	DryRun     bool          `json:"dry_run,omitempty"`
	Results    []BatchResult `json:"results"`
	Started    int           `json:"started"`
	Unchanged  int           `json:"unchanged"`
	WouldStart int           `json:"would_start,omitempty"`
	Failed     int           `json:"failed"`
}

// startBatch starts each customer as POST /v1/customers would, several at
// a time, and answers 200 with each one's result: a refusal of one row
// (a bad field, a deal used before) fails that row only. A customer whose
// journey already runs is "unchanged", so the same batch sent twice starts
// nothing the second time.
func (s *Server) startBatch(c *gin.Context) {
	var req BatchRequest
	if !decode(c, &req) {
		return
	}
	switch n := len(req.Customers); {
	case n == 0:
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "customers: give at least one customer", "customers")
		return
	case n > MaxBatch:
		fail(c, http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("customers: at most %d per batch (got %d); send the rest in another", MaxBatch, n), "customers")
		return
	}
	results := make([]BatchResult, len(req.Customers))
	// Once the engine or the store is down, or the batch has run for
	// batchBudget, the rows not yet tried are answered at once (not_tried,
	// safe to send again) instead of each waiting for its own timeout.
	var stop atomic.Bool
	deadline := time.Now().Add(batchBudget)
	first := map[string]int{} // account id -> index of its first row
	rows := make(chan int)
	var wg sync.WaitGroup
	for range min(batchWorkers, len(req.Customers)) {
		wg.Go(func() {
			for i := range rows {
				if stop.Load() || time.Now().After(deadline) {
					cu := req.Customers[i]
					results[i] = BatchResult{Index: i, Line: cu.Line, CustomerID: cu.Account.ID, Status: http.StatusServiceUnavailable, Result: BatchFailed,
						Error: &ErrorDetail{Code: "not_tried", Message: "not tried: an earlier customer of the batch found the journey engine or the store unavailable, or the batch ran out of time; send it again"}}
					continue
				}
				results[i] = s.batchOne(c, i, req.Customers[i], req.DryRun)
				if results[i].Status == http.StatusServiceUnavailable {
					stop.Store(true)
				}
			}
		})
	}
	for i, cu := range req.Customers {
		if at, dup := first[cu.Account.ID]; dup && cu.Account.ID != "" {
			where := fmt.Sprintf("customer %d", at)
			if l := req.Customers[at].Line; l > 0 {
				where = fmt.Sprintf("line %d", l)
			}
			results[i] = BatchResult{Index: i, Line: cu.Line, CustomerID: cu.Account.ID, Status: http.StatusUnprocessableEntity, Result: BatchFailed,
				Error: &ErrorDetail{Code: "duplicate", Message: fmt.Sprintf("account.id: %q is also on %s of this batch", cu.Account.ID, where), Field: "account.id"}}
			continue
		}
		first[cu.Account.ID] = i
		rows <- i
	}
	close(rows)
	wg.Wait()
	resp := BatchResponse{DryRun: req.DryRun, Results: results}
	for _, r := range results {
		switch r.Result {
		case BatchStarted:
			resp.Started++
		case BatchUnchanged:
			resp.Unchanged++
		case BatchWouldStart:
			resp.WouldStart++
		default:
			resp.Failed++
		}
	}
	c.JSON(http.StatusOK, resp)
}

// batchOne runs one customer of a batch through the single start's code,
// its answer kept for the batch's response.
func (s *Server) batchOne(c *gin.Context, i int, cu BatchCustomer, dryRun bool) BatchResult {
	res := BatchResult{Index: i, Line: cu.Line, CustomerID: cu.Account.ID}
	if cu.Line > 0 {
		cu.source = fmt.Sprintf("line %d", cu.Line)
	}
	status, detail := s.aside(c, func(sub *gin.Context) {
		in, ok := s.journeyInput(sub, cu.StartRequest)
		if !ok {
			return
		}
		res.Day, res.Phase = 0, workflows.PhaseHandoff
		if in.Import != nil {
			res.Day, res.Phase = in.Import.Day, in.Import.Phase
		}
		if dryRun {
			s.previewOne(sub, in, &res)
		} else {
			s.launch(sub, in)
		}
	})
	if res.Result != "" {
		return res // a dry run's answer
	}
	res.Status, res.Error = status, detail
	switch status {
	case http.StatusCreated:
		res.Result = BatchStarted
	case http.StatusOK:
		res.Result = BatchUnchanged
	default:
		res.Result = BatchFailed
	}
	return res
}

// previewOne answers what a customer of a dry run would receive next: an
// account whose journey runs would be unchanged; any other would start.
func (s *Server) previewOne(c *gin.Context, in workflows.JourneyInput, res *BatchResult) {
	if s.opts.Store != nil {
		if d, used, err := s.opts.Store.Deal(c.Request.Context(), in.DealID); err != nil {
			s.storeError(c, err, "deal lookup", in.Account.ID)
			return
		} else if used && d.AccountID != in.Account.ID {
			fail(c, http.StatusConflict, "deal_already_used", fmt.Sprintf("deal %q was used by a journey of customer %q", d.DealID, d.AccountID), "deal_id")
			return
		}
	}
	j, err := s.journeyOf(c.Request.Context(), in.Account.ID)
	if err != nil {
		s.temporalError(c, err, in.Account.ID)
		return
	}
	if j.open && !j.ended {
		res.Status, res.Result = http.StatusOK, BatchUnchanged
		return
	}
	st, err := workflows.Preview(in, s.opts.Now(), 3)
	if err != nil {
		invalid(c, firstError(err))
		return
	}
	now := s.opts.Now()
	for _, n := range st.Next {
		if n.At.Before(now) {
			n.At = now.UTC() // due already: it would run at once
		}
		res.Next = append(res.Next, n)
	}
	res.Status, res.Result = http.StatusCreated, BatchWouldStart
}
