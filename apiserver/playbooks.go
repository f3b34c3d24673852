package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
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

// PlanPlaybook answers PUT /v1/plans/{plan}/playbook.
type PlanPlaybook struct {
	Plan     string `json:"plan"`
	Playbook string `json:"playbook"` // id@vN
}

// problems answers 422 with every problem of a refused playbook or
// scenario, each with its line.
func problems(c *gin.Context, code, field string, err error, list []playbooks.Problem) {
	c.AbortWithStatusJSON(http.StatusUnprocessableEntity, PlaybookProblems{
		Error: ErrorDetail{Code: code, Message: err.Error(), Field: field}, Problems: list,
	})
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

// Catalogue is the playbooks customers can start on: the built-in one
// and the versions published in the store (nil: only the built-in one).
// The API and the dashboard both read and publish through it.
type Catalogue struct {
	Store   PlaybookStore
	BuiltIn *playbooks.Playbook
	Now     func() time.Time
}

// Errors of the catalogue; store errors come as they are.
var (
	ErrNoSuchPlaybook = errors.New("no such playbook")
	ErrBuiltIn        = errors.New("the built-in playbook")
	ErrNoStore        = errors.New("no store: published playbooks are off")
)

// Publish validates yaml and keeps it as a version (created false: the
// same text was published before). A refused playbook is a
// *playbooks.InvalidError; a version taken, store.ErrVersionTaken.
func (k Catalogue) Publish(ctx context.Context, yaml, who string) (store.PublishedPlaybook, bool, error) {
	pb, err := playbooks.Parse([]byte(yaml))
	if err != nil {
		return store.PublishedPlaybook{}, false, err
	}
	if pb.Ref() == k.BuiltIn.Ref() {
		return store.PublishedPlaybook{}, false, fmt.Errorf("%s is %w; publish it under a new version", pb.Ref(), ErrBuiltIn)
	}
	if k.Store == nil {
		return store.PublishedPlaybook{}, false, ErrNoStore
	}
	return k.Store.PublishPlaybook(ctx, store.PublishedPlaybook{
		ID: pb.ID, Version: pb.Version, Name: pb.Name, YAML: yaml, PublishedBy: who, PublishedAt: k.Now(),
	})
}

// Load finds a playbook by reference (id@vN): the built-in one or a
// published version; ErrNoSuchPlaybook (wrapped, with why) when neither.
func (k Catalogue) Load(ctx context.Context, ref string) (*playbooks.Playbook, error) {
	if ref == k.BuiltIn.Ref() {
		return k.BuiltIn, nil
	}
	p, err := k.Published(ctx, ref)
	if err != nil {
		return nil, err
	}
	pb, err := playbooks.Parse([]byte(p.YAML))
	if err != nil {
		// Published versions were valid when published; a rule added
		// since may refuse one. Say so instead of starting on another.
		return nil, fmt.Errorf("%w: published playbook %s no longer validates: %v", ErrNoSuchPlaybook, ref, err)
	}
	return pb, nil
}

// Published reads a published version with its text.
func (k Catalogue) Published(ctx context.Context, ref string) (store.PublishedPlaybook, error) {
	id, version, ok := parseRef(ref)
	switch {
	case !ok:
		return store.PublishedPlaybook{}, fmt.Errorf("%w: %q is not a playbook reference (id@vN, e.g. default@v2)", ErrNoSuchPlaybook, ref)
	case k.Store == nil:
		return store.PublishedPlaybook{}, fmt.Errorf("%w: no published playbook %s: this server has no store", ErrNoSuchPlaybook, ref)
	}
	p, found, err := k.Store.PublishedPlaybook(ctx, id, version)
	if err != nil {
		return store.PublishedPlaybook{}, err
	}
	if !found {
		return store.PublishedPlaybook{}, fmt.Errorf("%w: no published playbook %s (GET /v1/playbooks lists them)", ErrNoSuchPlaybook, ref)
	}
	return p, nil
}

// ForPlan is the playbook a new customer of plan starts on when the start
// names none: the plan's version, else the built-in one.
func (k Catalogue) ForPlan(ctx context.Context, plan string) (*playbooks.Playbook, error) {
	if k.Store == nil || plan == "" {
		return k.BuiltIn, nil
	}
	p, found, err := k.Store.PlanPlaybookFor(ctx, plan)
	if err != nil {
		return nil, err
	}
	if !found {
		return k.BuiltIn, nil
	}
	return k.Load(ctx, fmt.Sprintf("%s@v%d", p.PlaybookID, p.Version))
}

// List is every version, the built-in one first, with the plans on each.
func (k Catalogue) List(ctx context.Context) (PlaybookList, error) {
	builtIn := PlaybookInfo{Ref: k.BuiltIn.Ref(), ID: k.BuiltIn.ID, Version: k.BuiltIn.Version, Name: k.BuiltIn.Name, BuiltIn: true, Plans: []string{}}
	out := PlaybookList{Playbooks: []PlaybookInfo{builtIn}, Plans: map[string]string{}}
	if k.Store == nil {
		return out, nil
	}
	published, err := k.Store.PublishedPlaybooks(ctx)
	if err != nil {
		return PlaybookList{}, err
	}
	plans, err := k.Store.PlanPlaybooks(ctx)
	if err != nil {
		return PlaybookList{}, err
	}
	byRef := map[string][]string{}
	for _, p := range plans {
		ref := fmt.Sprintf("%s@v%d", p.PlaybookID, p.Version)
		out.Plans[p.Plan] = ref
		byRef[ref] = append(byRef[ref], p.Plan)
	}
	for _, p := range published {
		out.Playbooks = append(out.Playbooks, publishedInfo(p, byRef[fmt.Sprintf("%s@v%d", p.ID, p.Version)]))
	}
	if plans := byRef[builtIn.Ref]; plans != nil {
		out.Playbooks[0].Plans = plans
	}
	return out, nil
}

// catalogue is the server's.
func (s *Server) catalogue() Catalogue {
	ps, _ := s.opts.Store.(PlaybookStore)
	if s.opts.Store == nil {
		ps = nil
	}
	return Catalogue{Store: ps, BuiltIn: s.opts.Playbook, Now: s.opts.Now}
}

func (s *Server) playbookStore(c *gin.Context) (PlaybookStore, bool) {
	ps, ok := s.opts.Store.(PlaybookStore)
	if s.opts.Store == nil || !ok {
		fail(c, http.StatusServiceUnavailable, "no_store", "this server keeps no published playbooks (it has no store)", "")
		return nil, false
	}
	return ps, true
}

func (s *Server) publishPlaybook(c *gin.Context) {
	var req PublishRequest
	if !decode(c, &req) {
		return
	}
	if _, ok := s.playbookStore(c); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	got, created, err := s.catalogue().Publish(ctx, req.YAML, c.GetString("who"))
	var bad *playbooks.InvalidError
	switch {
	case errors.As(err, &bad):
		problems(c, "invalid_playbook", "yaml", err, bad.Problems)
		return
	case errors.Is(err, ErrBuiltIn):
		fail(c, http.StatusConflict, "version_taken", err.Error(), "yaml")
		return
	case errors.Is(err, store.ErrVersionTaken):
		fail(c, http.StatusConflict, "version_taken", fmt.Sprintf("%s@v%d is published already with other content: a published version never changes; raise version", got.ID, got.Version), "yaml")
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
	if _, ok := s.playbookStore(c); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	list, err := s.catalogue().List(ctx)
	if err != nil {
		s.storeError(c, err, "playbook list", "")
		return
	}
	c.JSON(http.StatusOK, list)
}

func (s *Server) getPlaybook(c *gin.Context) {
	ref := c.Param("ref")
	k := s.catalogue()
	if ref == k.BuiltIn.Ref() {
		info := PlaybookInfo{Ref: ref, ID: k.BuiltIn.ID, Version: k.BuiltIn.Version, Name: k.BuiltIn.Name, BuiltIn: true, Plans: []string{}}
		if ref == playbooks.Default().Ref() {
			info.YAML = string(playbooks.DefaultYAML())
		}
		c.JSON(http.StatusOK, info)
		return
	}
	if _, ok := s.playbookStore(c); !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	p, err := k.Published(ctx, ref)
	switch {
	case errors.Is(err, ErrNoSuchPlaybook):
		fail(c, http.StatusNotFound, "not_found", err.Error(), "ref")
		return
	case err != nil:
		s.storeError(c, err, "playbook read", "")
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
	pb, ok := s.lookup(c, func() (*playbooks.Playbook, error) { return s.catalogue().Load(ctx, req.Playbook) }, "playbook", "")
	if !ok {
		return
	}
	if err := ps.SetPlanPlaybook(ctx, store.PlanPlaybook{Plan: plan, PlaybookID: pb.ID, Version: pb.Version, SetBy: c.GetString("who"), SetAt: s.opts.Now()}); err != nil {
		s.storeError(c, err, "plan playbook", "")
		return
	}
	c.JSON(http.StatusOK, PlanPlaybook{Plan: plan, Playbook: pb.Ref()})
}

// lookup runs a catalogue read: an unknown playbook is a 422 naming field,
// a store that does not answer a 503.
func (s *Server) lookup(c *gin.Context, read func() (*playbooks.Playbook, error), field, customerID string) (*playbooks.Playbook, bool) {
	pb, err := read()
	switch {
	case errors.Is(err, ErrNoSuchPlaybook):
		fail(c, http.StatusUnprocessableEntity, "invalid_field", strings.TrimPrefix(err.Error(), ErrNoSuchPlaybook.Error()+": "), field)
		return nil, false
	case err != nil:
		s.storeError(c, err, "playbook lookup", customerID)
		return nil, false
	}
	return pb, true
}
