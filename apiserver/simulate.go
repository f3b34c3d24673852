package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// Bounds of POST /v1/playbooks/simulate: what one request may ask for.
const MaxSimulatedScenarios = 10

// simulateTimeout bounds a simulation request's run (a variable for tests).
var simulateTimeout = 20 * time.Second

// SimulateRequest asks how a playbook treats scenarios (lifecycle
// simulate, over HTTP).
type SimulateRequest struct {
	// Playbook is a published or built-in version (id@vN); PlaybookYAML an
	// unpublished one. Neither: the built-in playbook.
	Playbook     string `json:"playbook,omitempty"`
	PlaybookYAML string `json:"playbook_yaml,omitempty"`
	// Compare, or CompareYAML, is the older playbook to diff with.
	Compare     string `json:"compare,omitempty"`
	CompareYAML string `json:"compare_yaml,omitempty"`
	// Scenarios are built-in scenario names, ScenarioYAML scenarios of
	// one's own; neither: every built-in scenario.
	Scenarios    []string `json:"scenarios,omitempty"`
	ScenarioYAML []string `json:"scenario_yaml,omitempty"`
	Until        float64  `json:"until,omitempty"`
}

// SimulateResponse answers a simulation: Results without compare, Diffs
// (with New and Old) with it.
type SimulateResponse struct {
	Playbook string             `json:"playbook"`
	Results  []*simulate.Result `json:"results,omitempty"`
	Old      string             `json:"old,omitempty"`
	Diffs    []simulate.Diff    `json:"scenarios,omitempty"`
}

// simulations bounds the simulations running at once: each keeps a core busy.
var simulations = make(chan struct{}, max(1, runtime.NumCPU()))

func (s *Server) simulate(c *gin.Context) {
	var req SimulateRequest
	if !decode(c, &req) {
		return
	}
	if req.Until < 0 || req.Until > simulate.MaxDays {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("until: at most %d days", simulate.MaxDays), "until")
		return
	}
	if n := len(req.Scenarios) + len(req.ScenarioYAML); n > MaxSimulatedScenarios {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", fmt.Sprintf("%d scenarios; at most %d a request", n, MaxSimulatedScenarios), "scenarios")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), simulateTimeout)
	defer cancel()
	pb, ok := s.simulatedPlaybook(c, ctx, req.Playbook, req.PlaybookYAML, "playbook")
	if !ok {
		return
	}
	var old *playbooks.Playbook
	if req.Compare != "" || req.CompareYAML != "" {
		if old, ok = s.simulatedPlaybook(c, ctx, req.Compare, req.CompareYAML, "compare"); !ok {
			return
		}
	}
	var scs []*simulate.Scenario
	names := req.Scenarios
	if len(names) == 0 && len(req.ScenarioYAML) == 0 {
		names = simulate.BuiltinNames()
	}
	for _, name := range names {
		sc, err := simulate.Builtin(name)
		if err != nil {
			fail(c, http.StatusUnprocessableEntity, "invalid_field", err.Error(), "scenarios")
			return
		}
		scs = append(scs, sc)
	}
	for i, src := range req.ScenarioYAML {
		sc, err := simulate.ParseScenario([]byte(src))
		if err != nil {
			scenarioProblems(c, fmt.Sprintf("scenario_yaml[%d]", i), err)
			return
		}
		scs = append(scs, sc)
	}
	select {
	case simulations <- struct{}{}:
		defer func() { <-simulations }()
	default:
		c.Header("Retry-After", "1")
		fail(c, http.StatusTooManyRequests, "busy", "every core is simulating; retry in a second", "")
		return
	}
	opts := simulate.Options{Until: req.Until}
	resp := SimulateResponse{Playbook: pb.Ref()}
	for _, sc := range scs {
		r, err := simulate.Simulate(ctx, pb, sc, opts)
		if err != nil {
			s.simulationFailed(c, sc.Name, err)
			return
		}
		if old == nil {
			resp.Results = append(resp.Results, r)
			continue
		}
		o, err := simulate.Simulate(ctx, old, sc, opts)
		if err != nil {
			s.simulationFailed(c, sc.Name, err)
			return
		}
		resp.Old = old.Ref()
		resp.Diffs = append(resp.Diffs, simulate.Compare(r, o))
	}
	c.JSON(http.StatusOK, resp)
}

// simulatedPlaybook reads the playbook of a simulation: a reference, YAML
// (refused with its lines), or the built-in one.
func (s *Server) simulatedPlaybook(c *gin.Context, ctx context.Context, ref, src, field string) (*playbooks.Playbook, bool) {
	switch {
	case ref != "" && src != "":
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "give "+field+" (a version) or "+field+"_yaml, not both", field)
		return nil, false
	case src != "":
		pb, err := playbooks.Parse([]byte(src))
		var bad *playbooks.InvalidError
		if errors.As(err, &bad) {
			problems(c, "invalid_playbook", field+"_yaml", err, bad.Problems)
			return nil, false
		}
		if err != nil {
			fail(c, http.StatusUnprocessableEntity, "invalid_playbook", err.Error(), field+"_yaml")
			return nil, false
		}
		return pb, true
	case ref != "":
		return s.lookup(c, func() (*playbooks.Playbook, error) { return s.catalogue().Load(ctx, ref) }, field, "")
	}
	return s.opts.Playbook, true
}

func scenarioProblems(c *gin.Context, field string, err error) {
	var bad *simulate.InvalidError
	if errors.As(err, &bad) {
		problems(c, "invalid_scenario", field, err, bad.Problems)
		return
	}
	fail(c, http.StatusUnprocessableEntity, "invalid_scenario", err.Error(), field)
}

func (s *Server) simulationFailed(c *gin.Context, scenario string, err error) {
	var bad *simulate.InvalidError
	switch {
	case errors.As(err, &bad):
		scenarioProblems(c, "scenario "+scenario, err)
	case errors.Is(err, context.DeadlineExceeded):
		fail(c, http.StatusServiceUnavailable, "timeout", fmt.Sprintf("the simulation ran past %s; ask for fewer scenarios or days", simulateTimeout), "")
	case errors.Is(err, context.Canceled):
		c.Abort()
	default:
		s.log.Sugar().Errorw("simulation failed", "scenario", scenario, "error", err)
		fail(c, http.StatusInternalServerError, "simulation_failed", fmt.Sprintf("scenario %s: %v", scenario, err), "")
	}
}
