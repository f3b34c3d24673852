package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// PlaybookStore keeps published playbook versions and the version each
// plan's new customers start on.
type PlaybookStore interface {
	PublishPlaybook(ctx context.Context, p store.PublishedPlaybook) (store.PublishedPlaybook, bool, error)
	PublishedPlaybook(ctx context.Context, id string, version int) (store.PublishedPlaybook, bool, error)
	PublishedPlaybooks(ctx context.Context) ([]store.PublishedPlaybook, error)
	SetPlanPlaybook(ctx context.Context, p store.PlanPlaybook) error
	PlanPlaybookFor(ctx context.Context, plan string) (store.PlanPlaybook, bool, error)
	PlanPlaybooks(ctx context.Context) ([]store.PlanPlaybook, error)
}

// PublishRequest publishes a playbook version: its YAML, as `lifecycle
// playbook validate` checks it.
type PublishRequest struct {
	YAML string `json:"yaml"`
}

// PlaybookInfo is a playbook version: published, or built into the binary.
type PlaybookInfo struct {
	Ref         string     `json:"ref"` // id@vN, what POST /v1/customers takes as playbook
	ID          string     `json:"id"`
	Version     int        `json:"version"`
	Name        string     `json:"name"`
	BuiltIn     bool       `json:"built_in"`
	PublishedBy string     `json:"published_by,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	SHA256      string     `json:"sha256,omitempty"`
	// Plans are the plans whose new customers start on this version.
	Plans []string `json:"plans"`
	YAML  string   `json:"yaml,omitempty"` // GET /v1/playbooks/{ref} only
}

// PlaybookList answers GET /v1/playbooks.
type PlaybookList struct {
	Playbooks []PlaybookInfo `json:"playbooks"`
	// Plans maps a plan to the version its new customers start on; a plan
	// not named starts on the built-in playbook.
	Plans map[string]string `json:"plans"`
}

// PlanPlaybookRequest sets the version a plan's new customers start on.
type PlanPlaybookRequest struct {
	Playbook string `json:"playbook"`
}

// PlaybookProblems is a refused playbook's answer: every problem with its line.
type PlaybookProblems struct {
	Error    ErrorDetail         `json:"error"`
	Problems []playbooks.Problem `json:"problems"`
}

var refPattern = regexp.MustCompile(`^([a-z0-9][a-z0-9_-]{0,63})@v([1-9][0-9]{0,8})$`)

// parseRef reads "id@vN".
func parseRef(ref string) (id string, version int, ok bool) {
	m := refPattern.FindStringSubmatch(ref)
	if m == nil {
		return "", 0, false
	}
	v, err := strconv.Atoi(m[2])
	return m[1], v, err == nil
}

func (s *Server) playbookStore(c *gin.Context) (PlaybookStore, bool) {
	ps, ok := s.opts.Store.(PlaybookStore)
	if s.opts.Store == nil || !ok {
		fail(c, http.StatusServiceUnavailable, "no_store", "this server keeps no published playbooks (it has no store)", "")
		return nil, false
	}
	return ps, true
}

func (s *Server) builtIn() PlaybookInfo {
	pb := s.opts.Playbook
	return PlaybookInfo{Ref: pb.Ref(), ID: pb.ID, Version: pb.Version, Name: pb.Name, BuiltIn: true, Plans: []string{}}
}

func (s *Server) publishPlaybook(c *gin.Context) {
	var req PublishRequest
	if !decode(c, &req) {
		return
	}
	ps, ok := s.playbookStore(c)
	if !ok {
		return
	}
	pb, err := playbooks.Parse([]byte(req.YAML))
	var bad *playbooks.InvalidError
	if errors.As(err, &bad) {
		c.AbortWithStatusJSON(http.StatusUnprocessableEntity, PlaybookProblems{
			Error:    ErrorDetail{Code: "invalid_playbook", Message: err.Error(), Field: "yaml"},
			Problems: bad.Problems,
		})
		return
	}
	if err != nil {
		fail(c, http.StatusUnprocessableEntity, "invalid_playbook", err.Error(), "yaml")
		return
	}
	if pb.Ref() == s.opts.Playbook.Ref() {
		fail(c, http.StatusConflict, "version_taken", pb.Ref()+" is the built-in playbook; publish it under a new version", "yaml")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	got, created, err := ps.PublishPlaybook(ctx, store.PublishedPlaybook{
		ID: pb.ID, Version: pb.Version, Name: pb.Name, YAML: req.YAML, PublishedBy: c.GetString("who"), PublishedAt: s.opts.Now(),
	})
	switch {
	case errors.Is(err, store.ErrVersionTaken):
		fail(c, http.StatusConflict, "version_taken", pb.Ref()+" is published already with other content: a published version never changes; raise version", "yaml")
		return
	case err != nil:
		s.storeError(c, err, "playbook publish", "")
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, publishedInfo(got, nil))
}

func publishedInfo(p store.PublishedPlaybook, plans []string) PlaybookInfo {
	at := p.PublishedAt
	if plans == nil {
		plans = []string{}
	}
	return PlaybookInfo{Ref: fmt.Sprintf("%s@v%d", p.ID, p.Version), ID: p.ID, Version: p.Version, Name: p.Name,
		PublishedBy: p.PublishedBy, PublishedAt: &at, SHA256: p.SHA256, Plans: plans}
}

func (s *Server) listPlaybooks(c *gin.Context) {
	ps, ok := s.playbookStore(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	published, err := ps.PublishedPlaybooks(ctx)
	if err != nil {
		s.storeError(c, err, "playbook list", "")
		return
	}
	plans, err := ps.PlanPlaybooks(ctx)
	if err != nil {
		s.storeError(c, err, "plan playbooks", "")
		return
	}
	out := PlaybookList{Playbooks: []PlaybookInfo{s.builtIn()}, Plans: map[string]string{}}
	byRef := map[string][]string{}
	for _, p := range plans {
		ref := fmt.Sprintf("%s@v%d", p.PlaybookID, p.Version)
		out.Plans[p.Plan] = ref
		byRef[ref] = append(byRef[ref], p.Plan)
	}
	for _, p := range published {
		out.Playbooks = append(out.Playbooks, publishedInfo(p, byRef[fmt.Sprintf("%s@v%d", p.ID, p.Version)]))
	}
	if plans := byRef[out.Playbooks[0].Ref]; plans != nil {
		out.Playbooks[0].Plans = plans
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) getPlaybook(c *gin.Context) {
	ref := c.Param("ref")
	if ref == s.opts.Playbook.Ref() {
		info := s.builtIn()
		if s.opts.Playbook.Ref() == playbooks.Default().Ref() {
			info.YAML = string(playbooks.DefaultYAML())
		}
		c.JSON(http.StatusOK, info)
		return
	}
	ps, ok := s.playbookStore(c)
	if !ok {
		return
	}
	id, version, ok := parseRef(ref)
	if !ok {
		fail(c, http.StatusNotFound, "not_found", fmt.Sprintf("%q is not a playbook reference (id@vN, e.g. default@v2)", ref), "ref")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	p, found, err := ps.PublishedPlaybook(ctx, id, version)
	if err != nil {
		s.storeError(c, err, "playbook read", "")
		return
	}
	if !found {
		fail(c, http.StatusNotFound, "not_found", "no published playbook "+ref, "ref")
		return
	}
	info := publishedInfo(p, nil)
	info.YAML = p.YAML
	c.JSON(http.StatusOK, info)
}

func (s *Server) setPlanPlaybook(c *gin.Context) {
	var req PlanPlaybookRequest
	if !decode(c, &req) {
		return
	}
	plan := c.Param("plan")
	if plan == "" || len(plan) > 200 {
		fail(c, http.StatusUnprocessableEntity, "invalid_field", "the plan must be 1-200 characters", "plan")
		return
	}
	ps, ok := s.playbookStore(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	pb, status, err := s.loadPlaybook(ctx, req.Playbook)
	if err != nil {
		if status == http.StatusServiceUnavailable {
			s.storeError(c, err, "playbook read", "")
			return
		}
		fail(c, status, "invalid_field", err.Error(), "playbook")
		return
	}
	if err := ps.SetPlanPlaybook(ctx, store.PlanPlaybook{Plan: plan, PlaybookID: pb.ID, Version: pb.Version, SetBy: c.GetString("who"), SetAt: s.opts.Now()}); err != nil {
		s.storeError(c, err, "plan playbook", "")
		return
	}
	c.JSON(http.StatusOK, gin.H{"plan": plan, "playbook": pb.Ref()})
}

// loadPlaybook finds a playbook by reference: the built-in one, or a
// published version. The status says why not (422: no such version; 503:
// the store did not answer).
func (s *Server) loadPlaybook(ctx context.Context, ref string) (*playbooks.Playbook, int, error) {
	if ref == s.opts.Playbook.Ref() {
		return s.opts.Playbook, 0, nil
	}
	id, version, ok := parseRef(ref)
	if !ok {
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("%q is not a playbook reference (id@vN, e.g. default@v2)", ref)
	}
	ps, ok := s.opts.Store.(PlaybookStore)
	if s.opts.Store == nil || !ok {
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("no published playbook %s: this server has no store", ref)
	}
	p, found, err := ps.PublishedPlaybook(ctx, id, version)
	if err != nil {
		return nil, http.StatusServiceUnavailable, err
	}
	if !found {
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("no published playbook %s (GET /v1/playbooks lists them)", ref)
	}
	pb, err := playbooks.Parse([]byte(p.YAML))
	if err != nil {
		// Published versions were valid when published; a rule added
		// since may refuse one. Say so instead of starting on another.
		return nil, http.StatusUnprocessableEntity, fmt.Errorf("published playbook %s no longer validates: %w", ref, err)
	}
	return pb, 0, nil
}

// planPlaybook is the playbook a new customer of plan starts on when the
// start names none: the plan's published version, else the built-in one.
func (s *Server) planPlaybook(ctx context.Context, plan string) (*playbooks.Playbook, int, error) {
	ps, ok := s.opts.Store.(PlaybookStore)
	if s.opts.Store == nil || !ok || plan == "" {
		return s.opts.Playbook, 0, nil
	}
	p, found, err := ps.PlanPlaybookFor(ctx, plan)
	if err != nil {
		return nil, http.StatusServiceUnavailable, err
	}
	if !found {
		return s.opts.Playbook, 0, nil
	}
	return s.loadPlaybook(ctx, fmt.Sprintf("%s@v%d", p.PlaybookID, p.Version))
}
