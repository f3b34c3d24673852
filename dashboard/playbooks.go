package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// The playbook lab: pick or paste a playbook, run it on scenarios, see the
// story and the curves next to another version's, publish it (admins).

const labTimeout = 20 * time.Second

// labRuns bounds the lab's simulations running at once (each keeps a core busy).
var labRuns = make(chan struct{}, 2)

type labData struct {
	Versions   []apiserver.PlaybookInfo
	Plans      map[string]string
	A, B       string // the versions picked: the new one, the one to compare with
	YAML       string // a pasted playbook (used instead of A)
	Scenarios  []labScenario
	Problems   []playbooks.Problem // of the pasted playbook
	Error      string
	Message    string
	CanPublish bool
	NewRef     string // what ran as the new playbook
	OldRef     string
	Results    []labResult
}

type labScenario struct {
	Name, Description string
	Checked           bool
}

type labResult struct {
	Name, Description string
	Diff              *simulate.Diff // nil without a comparison
	New               simulate.Totals
	ChartJSON         string
	Story, OldStory   string
	ElapsedMS         float64
}

func (d *Dashboard) labBase(c *gin.Context) (labData, bool) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	list, err := d.opts.Playbooks.List(ctx)
	if err != nil {
		d.log.Error("playbook list", zap.Error(err))
		d.fail(c, http.StatusServiceUnavailable, "Could not read the published playbooks; try again.")
		return labData{}, false
	}
	data := labData{Versions: list.Playbooks, Plans: list.Plans, A: d.opts.Playbooks.BuiltIn.Ref(),
		CanPublish: sessionOf(c) != nil && sessionOf(c).role == config.RoleAdmin}
	for _, name := range simulate.BuiltinNames() {
		sc, err := simulate.Builtin(name)
		if err != nil {
			continue
		}
		data.Scenarios = append(data.Scenarios, labScenario{Name: name, Description: sc.Description, Checked: name != "three-years"})
	}
	return data, true
}

// lab shows the lab; ?edit=REF fills the editor with that version's YAML.
func (d *Dashboard) lab(c *gin.Context) {
	data, ok := d.labBase(c)
	if !ok {
		return
	}
	if ref := c.Query("edit"); ref != "" {
		yaml, err := d.versionYAML(c.Request.Context(), ref)
		if err != nil {
			data.Error = err.Error()
		}
		data.YAML = yaml
	}
	if ref := c.Query("published"); ref != "" {
		data.Message = "Published " + ref + ". New customers start on it when a start names it, or when a plan is set to it."
	}
	d.render(c, http.StatusOK, "playbooks", "", d.page(c, "Playbooks", "playbooks", data))
}

func (d *Dashboard) versionYAML(ctx context.Context, ref string) (string, error) {
	k := d.opts.Playbooks
	if ref == k.BuiltIn.Ref() && ref == playbooks.Default().Ref() {
		return string(playbooks.DefaultYAML()), nil
	}
	p, err := k.Published(ctx, ref)
	if err != nil {
		return "", errors.New(strings.TrimPrefix(err.Error(), apiserver.ErrNoSuchPlaybook.Error()+": "))
	}
	return p.YAML, nil
}

// labPost simulates or publishes what the form holds.
func (d *Dashboard) labPost(c *gin.Context) {
	data, ok := d.labBase(c)
	if !ok {
		return
	}
	data.A, data.B = c.PostForm("a"), c.PostForm("b")
	data.YAML = c.PostForm("yaml")
	if len(data.YAML) > apiserver.DefaultMaxBody {
		d.fail(c, http.StatusRequestEntityTooLarge, "That playbook is too long.")
		return
	}
	picked := c.PostFormArray("scenario")
	for i := range data.Scenarios {
		data.Scenarios[i].Checked = slices.Contains(picked, data.Scenarios[i].Name)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), labTimeout)
	defer cancel()
	status := http.StatusOK
	switch c.PostForm("do") {
	case "publish":
		status = d.labPublish(c, ctx, &data)
	default:
		status = d.labSimulate(ctx, &data, picked)
	}
	d.render(c, status, "playbooks", "", d.page(c, "Playbooks", "playbooks", data))
}

func (d *Dashboard) labPublish(c *gin.Context, ctx context.Context, data *labData) int {
	if !data.CanPublish {
		data.Error = "Only an admin may publish a playbook."
		return http.StatusForbidden
	}
	if strings.TrimSpace(data.YAML) == "" {
		data.Error = "Paste the playbook to publish into the editor first."
		return http.StatusUnprocessableEntity
	}
	got, created, err := d.opts.Playbooks.Publish(ctx, data.YAML, recordedBy(c))
	var bad *playbooks.InvalidError
	switch {
	case errors.As(err, &bad):
		data.Problems = bad.Problems
		return http.StatusUnprocessableEntity
	case errors.Is(err, apiserver.ErrBuiltIn):
		data.Error = err.Error()
		return http.StatusConflict
	case errors.Is(err, store.ErrVersionTaken):
		data.Error = "This version is published already with other content: a published version never changes. Raise version: and publish again."
		return http.StatusConflict
	case err != nil:
		d.log.Error("playbook publish", zap.Error(err))
		data.Error = "The store did not answer; try again."
		return http.StatusServiceUnavailable
	}
	ref := got.ID + "@v" + strconv.Itoa(got.Version)
	if !created {
		data.Message = ref + " was published before with this text; nothing changed."
		return http.StatusOK
	}
	c.Redirect(http.StatusSeeOther, "/ui/playbooks?published="+ref)
	c.Abort()
	return http.StatusSeeOther
}

func (d *Dashboard) labPlaybook(ctx context.Context, data *labData, ref, yaml string) (*playbooks.Playbook, int) {
	if strings.TrimSpace(yaml) != "" {
		pb, err := playbooks.Parse([]byte(yaml))
		var bad *playbooks.InvalidError
		if errors.As(err, &bad) {
			data.Problems = bad.Problems
			return nil, http.StatusUnprocessableEntity
		}
		if err != nil {
			data.Error = err.Error()
			return nil, http.StatusUnprocessableEntity
		}
		return pb, 0
	}
	pb, err := d.opts.Playbooks.Load(ctx, ref)
	switch {
	case errors.Is(err, apiserver.ErrNoSuchPlaybook):
		data.Error = strings.TrimPrefix(err.Error(), apiserver.ErrNoSuchPlaybook.Error()+": ")
		return nil, http.StatusUnprocessableEntity
	case err != nil:
		d.log.Error("playbook read", zap.Error(err))
		data.Error = "The store did not answer; try again."
		return nil, http.StatusServiceUnavailable
	}
	return pb, 0
}

func (d *Dashboard) labSimulate(ctx context.Context, data *labData, picked []string) int {
	pb, status := d.labPlaybook(ctx, data, data.A, data.YAML)
	if pb == nil {
		return status
	}
	var old *playbooks.Playbook
	if data.B != "" {
		if old, status = d.labPlaybook(ctx, data, data.B, ""); old == nil {
			return status
		}
	}
	if len(picked) == 0 {
		data.Error = "Pick at least one scenario."
		return http.StatusUnprocessableEntity
	}
	select {
	case labRuns <- struct{}{}:
		defer func() { <-labRuns }()
	default:
		data.Error = "The lab is busy with other simulations; try again in a moment."
		return http.StatusTooManyRequests
	}
	data.NewRef = pb.Ref()
	if old != nil {
		data.OldRef = old.Ref()
	}
	for _, name := range picked {
		sc, err := simulate.Builtin(name)
		if err != nil {
			data.Error = err.Error()
			return http.StatusUnprocessableEntity
		}
		r, err := simulate.Simulate(ctx, pb, sc, simulate.Options{})
		if err == nil && old != nil {
			var o *simulate.Result
			if o, err = simulate.Simulate(ctx, old, sc, simulate.Options{}); err == nil {
				diff := simulate.Compare(r, o)
				data.Results = append(data.Results, labResultOf(sc, r, o, &diff))
				continue
			}
		}
		if err != nil {
			data.Error = "Scenario " + name + ": " + err.Error()
			if errors.Is(err, context.DeadlineExceeded) {
				data.Error = "The simulations ran past " + labTimeout.String() + "; pick fewer scenarios."
				return http.StatusServiceUnavailable
			}
			return http.StatusUnprocessableEntity
		}
		data.Results = append(data.Results, labResultOf(sc, r, nil, nil))
	}
	return http.StatusOK
}

func labResultOf(sc *simulate.Scenario, r, old *simulate.Result, diff *simulate.Diff) labResult {
	var story bytes.Buffer
	_ = simulate.WriteStory(&story, r)
	type curve struct {
		Days          []int `json:"days"`
		Engagement    []int `json:"engagement"`
		Happiness     []int `json:"happiness"`
		OldEngagement []int `json:"old_engagement,omitempty"`
		OldHappiness  []int `json:"old_happiness,omitempty"`
	}
	c := curve{}
	for _, day := range r.Days {
		c.Days = append(c.Days, day.Day)
		c.Engagement = append(c.Engagement, day.Engagement)
		c.Happiness = append(c.Happiness, day.Happiness)
	}
	if old != nil {
		for _, day := range old.Days {
			c.OldEngagement = append(c.OldEngagement, day.Engagement)
			c.OldHappiness = append(c.OldHappiness, day.Happiness)
		}
	}
	js, _ := json.Marshal(c)
	res := labResult{Name: sc.Name, Description: sc.Description, Diff: diff, New: r.Totals, ChartJSON: string(js),
		Story: story.String(), ElapsedMS: r.ElapsedMS}
	if old != nil {
		var b bytes.Buffer
		_ = simulate.WriteStory(&b, old)
		res.OldStory = b.String()
	}
	return res
}
