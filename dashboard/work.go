package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// The "My work" page: the signed-in person's tasks across the portfolio,
// overdue first, then due today, then later and snoozed, grouped by
// customer, each done or snoozed in place. It reads the store's index of
// every journey's tasks (the same as GET /v1/tasks); an action goes to the
// journey, and the page comes back once the index has it.

// workPageSize bounds the tasks one page shows.
const workPageSize = 200

// indexWait is how long an action waits for the store's index to show it
// before the page is shown again (the journey writes it in milliseconds).
const indexWait = 3 * time.Second

type workData struct {
	Owner   string // whose work ("" everyone's)
	Me      string // the signed-in person's email, when a named person
	Groups  []workGroup
	Total   int
	More    bool // more than a page
	Message string
	Error   string
	Now     time.Time
	// SnoozeMin and SnoozeMax bound the snooze form's date.
	SnoozeMin, SnoozeMax string
}

// workGroup is overdue, due today, later or snoozed, by customer.
type workGroup struct {
	ID, Title string
	Customers []workCustomer
	Count     int
}

type workCustomer struct {
	ID, Name string
	Tasks    []store.ListedTask
}

// workOwner is whose work the page shows: ?owner=, else the signed-in
// person, else everyone's ("" with a role key).
func workOwner(c *gin.Context) (owner string, ok bool) {
	if q, set := c.GetQuery("owner"); set {
		q = strings.TrimSpace(q)
		return q, q == "" || workflows.QuotableEmail(q)
	}
	return signedInEmail(c), true
}

func (d *Dashboard) work(c *gin.Context) {
	now := d.opts.Now().UTC()
	data := workData{Me: signedInEmail(c), Now: now, Message: workMessage(c),
		SnoozeMin: now.Add(time.Hour).Format("2006-01-02T15:04"), SnoozeMax: now.Add(workflows.MaxSnooze).Format("2006-01-02T15:04")}
	owner, ok := workOwner(c)
	data.Owner = owner
	if !ok {
		data.Error = "The owner must be an email address."
		d.render(c, http.StatusBadRequest, "work", "", d.page(c, "My work", "work", data))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	rows, err := d.opts.Tasks.Tasks(ctx, store.TaskFilter{Owner: owner, Limit: workPageSize + 1})
	if err != nil {
		d.log.Error("work list", zap.Error(err))
		data.Error = "The store did not answer; reload the page in a moment."
		d.render(c, http.StatusServiceUnavailable, "work", "", d.page(c, "My work", "work", data))
		return
	}
	if len(rows) > workPageSize {
		rows, data.More = rows[:workPageSize], true
	}
	data.Groups, data.Total = groupWork(rows, now), len(rows)
	d.render(c, http.StatusOK, "work", "", d.page(c, "My work", "work", data))
}

// groupWork sorts tasks into overdue, due today (UTC), later and snoozed,
// each by customer in the order of its earliest task.
func groupWork(rows []store.ListedTask, now time.Time) []workGroup {
	y, m, dd := now.Date()
	tomorrow := time.Date(y, m, dd+1, 0, 0, 0, 0, time.UTC)
	groups := []workGroup{{ID: "overdue", Title: "Overdue"}, {ID: "today", Title: "Due today"}, {ID: "later", Title: "Later"}, {ID: "snoozed", Title: "Snoozed"}}
	for _, t := range rows {
		g := &groups[2]
		switch {
		case t.Status == workflows.TaskSnoozed:
			g = &groups[3]
		case t.Due.Before(now):
			g = &groups[0]
		case t.Due.Before(tomorrow):
			g = &groups[1]
		}
		g.Count++
		i := len(g.Customers) - 1
		for ; i >= 0 && g.Customers[i].ID != t.CustomerID; i-- {
		}
		if i < 0 {
			g.Customers = append(g.Customers, workCustomer{ID: t.CustomerID, Name: t.AccountName})
			i = len(g.Customers) - 1
		}
		g.Customers[i].Tasks = append(g.Customers[i].Tasks, t)
	}
	return groups
}

func workMessage(c *gin.Context) string {
	switch c.Query("did") {
	case "done":
		return "Task " + clipForm(c.Query("task"), 12) + " of " + clipForm(c.Query("customer"), 80) + " marked done."
	case "snooze":
		return "Task " + clipForm(c.Query("task"), 12) + " of " + clipForm(c.Query("customer"), 80) + " snoozed."
	}
	return ""
}

func clipForm(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// workAct marks a task done or snoozes it, as the signed-in person, then
// shows the list again once the store's index has the change.
func (d *Dashboard) workAct(c *gin.Context) {
	action := c.Param("action")
	id, task := c.PostForm("customer"), c.PostForm("task")
	back := "/ui/work?owner=" + url.QueryEscape(c.PostForm("owner"))
	if o := c.PostForm("owner"); o != "" && !workflows.QuotableEmail(o) {
		back = "/ui/work?owner="
	}
	fail := func(status int, msg string) {
		d.fail(c, status, msg)
	}
	if !workflows.ValidAccountID(id) || !workflows.ValidTaskID(task) {
		fail(http.StatusNotFound, "No such task.")
		return
	}
	now := d.opts.Now()
	a := workflows.TaskAction{Task: task, By: actor(c)}
	switch action {
	case "done":
		a.Action, a.Reason = workflows.TaskActionDone, strings.TrimSpace(c.PostForm("note"))
	case "snooze":
		a.Action, a.Reason = workflows.TaskActionSnooze, strings.TrimSpace(c.PostForm("reason"))
		if v := strings.TrimSpace(c.PostForm("until")); v != "" {
			t, err := time.ParseInLocation("2006-01-02T15:04", v, time.UTC)
			if err != nil {
				fail(http.StatusUnprocessableEntity, "until: a date and time such as 2026-12-24T09:00 (UTC)")
				return
			}
			a.Until = t
		}
	default:
		fail(http.StatusNotFound, "No such action.")
		return
	}
	if err := workflows.ValidateTaskAction(a, now); err != nil {
		fail(http.StatusUnprocessableEntity, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 15*time.Second)
	defer cancel()
	h, err := d.opts.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflows.WorkflowID(id), UpdateName: workflows.UpdateTask, Args: []any{a},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		switch {
		case workflows.IsValidationError(err):
			fail(http.StatusUnprocessableEntity, rejection(err))
		case workflows.IsJourneyEnded(err):
			fail(http.StatusConflict, "The journey of "+id+" has ended.")
		case errors.As(err, new(*serviceerror.NotFound)):
			fail(http.StatusNotFound, "No journey for "+id+".")
		default:
			d.log.Warn("task action", zap.String("customer_id", id), zap.Error(err))
			fail(http.StatusServiceUnavailable, "The journey did not answer in time; try again.")
		}
		return
	}
	d.awaitIndex(ctx, id, task, a.Action)
	if c.PostForm("return") == "customer" {
		c.Redirect(http.StatusSeeOther, "/ui/customers/"+url.PathEscape(id))
		return
	}
	c.Redirect(http.StatusSeeOther, back+"&did="+action+"&customer="+url.QueryEscape(id)+"&task="+task)
}

// awaitIndex waits, a little, for the store's index to show the action:
// the task gone (done) or snoozed.
func (d *Dashboard) awaitIndex(ctx context.Context, id, task, action string) {
	deadline := time.Now().Add(indexWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		rows, err := d.opts.Tasks.Tasks(ctx, store.TaskFilter{CustomerID: id})
		if err != nil {
			return
		}
		shown := false
		for _, t := range rows {
			if t.ID == task && (action == workflows.TaskActionDone || t.Status != workflows.TaskSnoozed) {
				shown = true
			}
		}
		if !shown {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rejection is a journey's refusal in a line.
func rejection(err error) string {
	msg := err.Error()
	var ve interface{ Message() string }
	if errors.As(err, &ve) {
		msg = ve.Message()
	}
	return fmt.Sprint(msg)
}

// signedInEmail is the signed-in person's email, "" for a role key.
func signedInEmail(c *gin.Context) string {
	email, _, _ := currentUser(c)
	return email
}

// actor is who the records say acted: the person, else the role.
func actor(c *gin.Context) string { return recordedBy(c) }
