package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/config"
	"github.com/seed-a80403e2/lifecycle/internal/story"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// customerData is the customer page: the live state and timeline (both
// queries) and the chart's data.
type customerData struct {
	ID       string
	State    workflows.State
	Timeline workflows.Timeline
	Entries  []timelineRow // newest first
	// Story is the account's story at the top of the page; each sentence
	// links to its timeline row (#entry-N).
	Story     story.Story
	Overdue   int
	ChartJSON string
	ScoreJSON string
	Ended     bool
	Form      formResult
	OOB       bool // the record section is an out-of-band swap
	// ResumeEmail offers "Resume customer email" when email is stopped: to
	// admins, when the dashboard can reach the suppression list.
	ResumeEmail bool
	// MaxDesiredText bounds "something else" in the desired-outcome form.
	MaxDesiredText int
	// Gaps is the customer against green accounts (the insights job's
	// latest run), on the whole page only; nil without an insights store.
	Gaps *customerGaps
}

// timelineRow is a timeline entry with its number (story.EntryNumber),
// the row's anchor that the story's sentences link to.
type timelineRow struct {
	workflows.Entry
	Number int
}

// customerGaps is the customer page's "Gaps against green accounts".
type customerGaps struct {
	View    apiserver.CustomerInsightsView
	Segment string // the segment it is judged in, in words
	Error   string
}

// formResult is the outcome of a form posted without JavaScript.
type formResult struct {
	Form, Error, Done string
}

func (d *Dashboard) load(ctx context.Context, id string) (customerData, error) {
	data := customerData{ID: id, MaxDesiredText: workflows.MaxDesiredText}
	wid := workflows.WorkflowID(id)
	v, err := d.opts.Client.QueryWorkflow(ctx, wid, "", workflows.QueryState, workflows.StateQuery{At: d.opts.Now()})
	if err == nil {
		err = v.Get(&data.State)
	}
	if err != nil {
		return data, err
	}
	v, err = d.opts.Client.QueryWorkflow(ctx, wid, "", workflows.QueryTimeline)
	if err == nil {
		err = v.Get(&data.Timeline)
	}
	if err != nil {
		return data, err
	}
	data.Entries = make([]timelineRow, 0, len(data.Timeline.Entries))
	for i := len(data.Timeline.Entries) - 1; i >= 0; i-- {
		data.Entries = append(data.Entries, timelineRow{Entry: data.Timeline.Entries[i], Number: story.EntryNumber(data.Timeline, i)})
	}
	data.Story = story.Compose(data.State, data.Timeline, d.opts.Now())
	data.Overdue = overdue(data.State)
	data.Ended = data.State.Phase == workflows.PhaseEnded
	data.ChartJSON = chartJSON(data.State, data.Timeline)
	data.ScoreJSON = scoreJSON(data.State)
	return data, nil
}

func overdue(s workflows.State) int {
	n := 0
	for _, m := range s.Milestones {
		if m.Status == "late" {
			n++
		}
	}
	return n
}

// scoreJSON is engagement and happiness per journey day, from the daily
// score points the journey keeps.
func scoreJSON(s workflows.State) string {
	days := make([]int, 0, len(s.ScoreHistory))
	eng := make([]int, 0, len(s.ScoreHistory))
	hap := make([]int, 0, len(s.ScoreHistory))
	for _, p := range s.ScoreHistory {
		days, eng, hap = append(days, p.Day), append(eng, p.Engagement), append(hap, p.Happiness)
	}
	b, _ := json.Marshal(map[string]any{"days": days, "engagement": eng, "happiness": hap})
	return string(b)
}

// chartJSON is what happened on each journey day, by kind.
func chartJSON(s workflows.State, tl workflows.Timeline) string {
	kinds := []string{workflows.EntryEvent, workflows.EntryOutcome, workflows.EntryComplaint, workflows.EntryTouchpoint, workflows.EntryTask, workflows.EntryEscalation}
	last := s.Day
	for _, e := range tl.Entries {
		last = max(last, int(e.Day))
	}
	first := 0
	if len(tl.Entries) > 0 && tl.Older.Count > 0 {
		first = int(tl.Entries[0].Day)
	}
	days := make([]int, 0, last-first+1)
	for d := first; d <= last; d++ {
		days = append(days, d)
	}
	counts := map[string][]int{}
	for _, k := range kinds {
		counts[k] = make([]int, len(days))
	}
	for _, e := range tl.Entries {
		if c, ok := counts[e.Kind]; ok && int(e.Day) >= first {
			c[int(e.Day)-first]++
		}
	}
	series := []map[string]any{}
	for _, k := range kinds {
		series = append(series, map[string]any{"kind": k, "counts": counts[k]})
	}
	b, _ := json.Marshal(map[string]any{"days": days, "series": series,
		"engagement": s.Scores.Engagement, "happiness": s.Scores.Happiness})
	return string(b) // html/template escapes it into the data-chart attribute
}

func (d *Dashboard) customerID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if !workflows.ValidAccountID(id) {
		d.fail(c, http.StatusNotFound, "No such customer.")
		return "", false
	}
	return id, true
}

func (d *Dashboard) customer(c *gin.Context) {
	d.showCustomer(c, http.StatusOK, formResult{})
}

func (d *Dashboard) showCustomer(c *gin.Context, status int, form formResult) {
	id, ok := d.customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	data, err := d.load(ctx, id)
	if err != nil {
		d.temporalFail(c, err)
		return
	}
	data.Form = form
	data.ResumeEmail = d.canResumeEmail(c)
	data.Gaps = d.gaps(ctx, data.State)
	title := data.State.AccountName
	if title == "" {
		title = id
	}
	d.render(c, status, "customer", "", d.page(c, title, "customer", data))
}

// gaps judges the customer against the latest insights run. It is read
// for the whole page only, not for every poll of the live part: a run
// changes nightly, and a report can be large.
func (d *Dashboard) gaps(ctx context.Context, st workflows.State) *customerGaps {
	if d.opts.Insights == nil {
		return nil
	}
	v, err := apiserver.CustomerInsights(ctx, d.opts.Insights, st, st.Facts.Plan, d.opts.Now())
	if err != nil {
		d.log.Warn("dashboard: reading the insights failed", zap.Error(err), zap.String("customer_id", st.CustomerID))
		return &customerGaps{Error: "The insights could not be read from the store just now; reload the page to try again."}
	}
	return &customerGaps{View: v, Segment: segmentWords(v.Segment)}
}

// customerLive is the part of the customer page htmx polls.
func (d *Dashboard) customerLive(c *gin.Context) {
	id, ok := d.customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	data, err := d.load(ctx, id)
	if err != nil {
		d.temporalFail(c, err)
		return
	}
	d.render(c, http.StatusOK, "customer", "live", d.page(c, "", "", data))
}

// row is one portfolio row with the live columns (a state query), loaded
// when the row scrolls into view.
func (d *Dashboard) row(c *gin.Context) {
	id, ok := d.customerID(c)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	var st workflows.State
	v, err := d.opts.Client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QueryState, workflows.StateQuery{At: d.opts.Now()})
	if err == nil {
		err = v.Get(&st)
	}
	if err != nil {
		// The row keeps what visibility knew; one slow journey must not
		// break the page.
		c.Data(http.StatusOK, "text/html; charset=utf-8", []byte(`<td colspan="5" class="muted">live state unavailable</td>`))
		return
	}
	d.render(c, http.StatusOK, "portfolio", "liverow", struct {
		State   workflows.State
		Overdue int
	}{st, overdue(st)})
}

// act turns a dashboard form into the same Temporal update as the API's
// routes. With htmx the answer is a fragment: the refreshed live part, or
// the validator's message next to the form; without JavaScript, the page.
func (d *Dashboard) act(c *gin.Context) {
	id, ok := d.customerID(c)
	if !ok {
		return
	}
	form := c.Param("action")
	formID := c.DefaultPostForm("form", form)
	by := recordedBy(c)
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	var name string
	var arg any
	switch form {
	case "outcome":
		o := workflows.Outcome{Kind: c.PostForm("kind"), MilestoneID: c.PostForm("milestone_id"), ComplaintID: c.PostForm("complaint_id"),
			Risk: c.PostForm("risk"), Note: strings.TrimSpace(c.PostForm("note")), By: by,
			DesiredOutcome: c.PostForm("desired_outcome"), Remove: c.PostForm("remove") == "true"}
		if o.DesiredOutcome == playbooks.OutcomeOther && !o.Remove {
			o.DesiredText = strings.TrimSpace(c.PostForm("desired_text")) // the customer's words are for "something else" only
		}
		if v := c.PostForm("sentiment"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				d.formError(c, id, c.DefaultPostForm("form", form), "sentiment: must be 1 to 5")
				return
			}
			o.Sentiment = n
		}
		name, arg = workflows.UpdateOutcome, o
	case "pause":
		name, arg = workflows.UpdatePause, workflows.PauseRequest{Reason: strings.TrimSpace(c.PostForm("reason")), By: by}
	case "resume":
		name, arg = workflows.UpdateResume, workflows.ResumeRequest{By: by}
	case "reassign":
		name, arg = workflows.UpdateReassign, workflows.Reassignment{
			CSM:    workflows.Person{Name: strings.TrimSpace(c.PostForm("csm_name")), Email: strings.TrimSpace(c.PostForm("csm_email"))},
			Reason: strings.TrimSpace(c.PostForm("reason")), By: by}
	case "champion":
		ch := workflows.ChampionChange{
			Champion: workflows.Person{Name: strings.TrimSpace(c.PostForm("champion_name")), Email: strings.TrimSpace(c.PostForm("champion_email")),
				TimeZone: strings.TrimSpace(c.PostForm("champion_time_zone"))},
			Reason: strings.TrimSpace(c.PostForm("reason")), By: by}
		// The contract's checks, as the journey's validator runs them: the
		// same message, without a round trip for a mistyped field.
		if err := workflows.ValidateChampion(ch); err != nil {
			d.formError(c, id, formID, strings.ReplaceAll(err.Error(), "\n", "; "))
			return
		}
		name, arg = workflows.UpdateChampion, ch
	case "email":
		st, ok := d.liftSuppression(ctx, c, id, formID, by)
		if !ok {
			return
		}
		name, arg = workflows.UpdateEmail, st
	default:
		d.fail(c, http.StatusNotFound, "No such action.")
		return
	}
	h, err := d.opts.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(id), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &workflows.State{})
	}
	switch {
	case workflows.IsValidationError(err):
		d.formError(c, id, formID, validationMessage(err))
		return
	case isEnded(err):
		d.formError(c, id, formID, "This journey has ended; nothing more can be recorded.")
		return
	case err != nil:
		d.temporalFail(c, err)
		return
	}
	if !isHTMX(c) {
		c.Redirect(http.StatusSeeOther, "/ui/customers/"+id+"#"+formID)
		return
	}
	data, err := d.load(ctx, id)
	if err != nil {
		d.temporalFail(c, err)
		return
	}
	data.Form = formResult{Form: formID, Done: "Recorded."}
	data.OOB = true
	data.ResumeEmail = d.canResumeEmail(c)
	c.Header("HX-Retarget", "#live")
	c.Header("HX-Reswap", "outerHTML")
	d.render(c, http.StatusOK, "customer", "acted", d.page(c, "", "", data))
}

func (d *Dashboard) canResumeEmail(c *gin.Context) bool {
	s := sessionOf(c)
	return d.opts.Suppressions != nil && s != nil && s.role == config.RoleAdmin
}

// liftSuppression is the first half of "Resume customer email": it takes
// the champion's address off the store's suppression list and answers the
// report that tells the journey. The store goes first: a journey told first
// would send to an address the mailer still refuses. Admins only, as the
// suppression came from the customer (an unsubscribe) or their mail server
// (a bounce). On false it has answered.
func (d *Dashboard) liftSuppression(ctx context.Context, c *gin.Context, id, formID, by string) (workflows.EmailStatus, bool) {
	if d.opts.Suppressions == nil {
		d.fail(c, http.StatusNotFound, "No such action.")
		return workflows.EmailStatus{}, false
	}
	if !d.canResumeEmail(c) {
		d.fail(c, http.StatusForbidden, "Only an admin may resume customer email.")
		return workflows.EmailStatus{}, false
	}
	var st workflows.State
	v, err := d.opts.Client.QueryWorkflow(ctx, workflows.WorkflowID(id), "", workflows.QueryState, workflows.StateQuery{At: d.opts.Now()})
	if err == nil {
		err = v.Get(&st)
	}
	switch {
	case err != nil:
		d.temporalFail(c, err)
		return workflows.EmailStatus{}, false
	case st.Phase == workflows.PhaseEnded:
		d.formError(c, id, formID, "This journey has ended; nothing more can be recorded.")
		return workflows.EmailStatus{}, false
	case st.EmailBlocked == "":
		d.formError(c, id, formID, "Customer email is not stopped.")
		return workflows.EmailStatus{}, false
	}
	address := st.Champion.Email
	if err := d.opts.Suppressions.Unsuppress(ctx, address); err != nil {
		d.log.Warn("dashboard: lifting a suppression failed", zap.Error(err), zap.String("customer_id", id))
		d.fail(c, http.StatusServiceUnavailable, "The suppression list could not be changed. Try again in a moment.")
		return workflows.EmailStatus{}, false
	}
	d.log.Info("dashboard: suppression lifted", zap.String("customer_id", id), zap.String("by", by))
	return workflows.EmailStatus{Status: workflows.EmailActive, Address: address, Reason: "suppression lifted", Source: "dashboard", By: by}, true
}

// formError shows the validator's message next to the form (422).
func (d *Dashboard) formError(c *gin.Context, id, formID, msg string) {
	if !isHTMX(c) {
		d.showCustomer(c, http.StatusUnprocessableEntity, formResult{Form: formID, Error: msg})
		return
	}
	c.Header("HX-Retarget", "#err-"+formID)
	c.Header("HX-Reswap", "innerHTML")
	c.Data(http.StatusUnprocessableEntity, "text/html; charset=utf-8", []byte(template.HTMLEscapeString(msg)))
}

func validationMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// isEnded is the API's test for an update to a completed journey.
func isEnded(err error) bool {
	return err != nil && strings.Contains(err.Error(), "workflow execution already completed")
}

// temporalFail maps a Temporal error to a page: unknown customer 404,
// anything else 503 (logged).
func (d *Dashboard) temporalFail(c *gin.Context, err error) {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		d.fail(c, http.StatusNotFound, "No journey for this customer.")
		return
	}
	d.log.Warn("dashboard: Temporal call failed", zap.Error(err), zap.String("path", c.Request.URL.Path))
	d.fail(c, http.StatusServiceUnavailable, "The journey engine did not answer in time. Try again in a moment.")
}
