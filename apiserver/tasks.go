package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// TaskLister reads the work lists across the portfolio; the store is one.
// Each journey writes its active tasks there beside its schedule.
type TaskLister interface {
	Tasks(ctx context.Context, f store.TaskFilter) ([]store.ListedTask, error)
}

// TaskItem is one task of GET /v1/tasks.
type TaskItem struct {
	store.ListedTask
	Overdue bool `json:"overdue"`
}

// TaskList is a page of tasks, the earliest due first.
type TaskList struct {
	Tasks         []TaskItem `json:"tasks"`
	NextPageToken string     `json:"next_page_token,omitempty"`
	AsOf          time.Time  `json:"as_of"`
}

// CustomerTasks is one journey's tasks, from the journey itself.
type CustomerTasks struct {
	CustomerID string               `json:"customer_id"`
	Tasks      []workflows.TaskView `json:"tasks"`
	Open       int                  `json:"open"`
	Overdue    int                  `json:"overdue"`
}

// taskStatuses are the statuses the work lists hold; done and expired
// tasks are in each customer's own list.
var taskStatuses = map[string][]string{
	"active":              {workflows.TaskOpen, workflows.TaskSnoozed},
	workflows.TaskOpen:    {workflows.TaskOpen},
	workflows.TaskSnoozed: {workflows.TaskSnoozed},
}

var taskRoles = []string{"csm", "manager", "sponsor"}

// taskFilter reads GET /v1/tasks's parameters, each checked.
func (s *Server) taskFilter(c *gin.Context) (store.TaskFilter, bool) {
	f := store.TaskFilter{Limit: 50}
	bad := func(field, msg string) (store.TaskFilter, bool) {
		fail(c, http.StatusBadRequest, "invalid_parameter", msg, field)
		return f, false
	}
	switch owner := c.Query("owner"); {
	case owner == "me":
		f.Owner = c.GetString("user_email")
		if f.Owner == "" {
			return bad("owner", "owner=me needs a named person's key (lifecycle users add); this key is a role key")
		}
	case owner != "" && !workflows.QuotableEmail(owner):
		return bad("owner", "owner must be an email address or me")
	default:
		f.Owner = owner
	}
	if role := c.Query("role"); role != "" {
		if !slices.Contains(taskRoles, role) {
			return bad("role", "role must be one of "+strings.Join(taskRoles, ", "))
		}
		f.Role = role
	}
	if id := c.Query("customer"); id != "" {
		if !workflows.ValidAccountID(id) {
			return bad("customer", "customer must be a customer id")
		}
		f.CustomerID = id
	}
	status := c.DefaultQuery("status", "active")
	statuses, ok := taskStatuses[status]
	if !ok {
		return bad("status", "status must be open, snoozed or active (both); done and expired tasks are in GET /v1/customers/{id}/tasks")
	}
	f.Statuses = statuses
	if v := c.Query("due_before"); v != "" {
		t, err := parseDueBefore(v, s.opts.Now())
		if err != nil {
			return bad("due_before", err.Error())
		}
		f.DueBefore = t
	}
	if v := c.Query("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxTaskPage {
			return bad("page_size", fmt.Sprintf("page_size must be 1 to %d", store.MaxTaskPage))
		}
		f.Limit = n
	}
	if v := c.Query("page_token"); v != "" {
		cur, err := decodeTaskCursor(v)
		if err != nil {
			return bad("page_token", "page_token is not one this server gave")
		}
		f.After = cur
	}
	return f, true
}

// parseDueBefore takes an RFC 3339 time, a date (its midnight UTC), "now"
// or "tomorrow" (the next midnight UTC: everything due today and before).
func parseDueBefore(v string, now time.Time) (time.Time, error) {
	switch v {
	case "now":
		return now, nil
	case "tomorrow":
		y, m, d := now.UTC().Date()
		return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC), nil
	}
	if len(v) > 40 {
		return time.Time{}, fmt.Errorf("due_before is at most 40 characters")
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("due_before must be an RFC 3339 time, a date (YYYY-MM-DD), now or tomorrow")
}

type taskCursorJSON struct {
	Due time.Time `json:"d"`
	C   string    `json:"c"`
	ID  string    `json:"i"`
}

func encodeTaskCursor(t store.ListedTask) string {
	b, _ := json.Marshal(taskCursorJSON{Due: t.Due, C: t.CustomerID, ID: t.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeTaskCursor(v string) (*store.TaskCursor, error) {
	if len(v) > 400 {
		return nil, fmt.Errorf("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, err
	}
	var j taskCursorJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	if !workflows.ValidAccountID(j.C) || !workflows.ValidTaskID(j.ID) {
		return nil, fmt.Errorf("bad cursor")
	}
	return &store.TaskCursor{Due: j.Due, CustomerID: j.C, ID: j.ID}, nil
}

func (s *Server) taskLister(c *gin.Context) (TaskLister, bool) {
	if l, ok := s.opts.Store.(TaskLister); ok && l != nil {
		return l, true
	}
	fail(c, http.StatusNotFound, "tasks_off", "the work lists need the store, and this server has none", "")
	return nil, false
}

// listTasks answers GET /v1/tasks: the portfolio's active tasks, the
// earliest due first, from the store's index of every journey's tasks.
func (s *Server) listTasks(c *gin.Context) {
	lister, ok := s.taskLister(c)
	if !ok {
		return
	}
	f, ok := s.taskFilter(c)
	if !ok {
		return
	}
	size := f.Limit
	f.Limit = size + 1 // one more says whether there is a next page
	rows, err := lister.Tasks(c.Request.Context(), f)
	if err != nil {
		s.storeError(c, err, "tasks", "")
		return
	}
	now := s.opts.Now()
	out := TaskList{Tasks: []TaskItem{}, AsOf: now.UTC()}
	for i, t := range rows {
		if i == size {
			out.NextPageToken = encodeTaskCursor(rows[size-1])
			break
		}
		out.Tasks = append(out.Tasks, TaskItem{ListedTask: t, Overdue: t.Status == workflows.TaskOpen && t.Due.Before(now)})
	}
	c.JSON(http.StatusOK, out)
}

// customerTasks answers GET /v1/customers/{id}/tasks from the journey:
// its active tasks and the latest closed ones.
func (s *Server) customerTasks(c *gin.Context) {
	if id, st, ok := s.briefState(c); ok {
		c.JSON(http.StatusOK, CustomerTasks{CustomerID: id, Tasks: st.Tasks, Open: st.OpenTasks, Overdue: st.OverdueTasks})
	}
}

// briefState reads the path's journey's state as of now, without its score
// history; a failure is answered.
func (s *Server) briefState(c *gin.Context) (string, workflows.State, bool) {
	var st workflows.State
	id, ok := customerID(c)
	if !ok {
		return "", st, false
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 10*time.Second)
	defer cancel()
	if err := s.queryInto(ctx, id, workflows.QueryState, &st, workflows.StateQuery{At: s.opts.Now(), Brief: true}); err != nil {
		s.temporalError(c, err, id)
		return id, st, false
	}
	return id, st, true
}

// TaskDoneRequest is POST /v1/customers/{id}/tasks/{task}/done's body
// (optional).
type TaskDoneRequest struct {
	Note string `json:"note,omitempty"`
	By   string `json:"by,omitempty"`
}

// TaskSnoozeRequest is POST /v1/customers/{id}/tasks/{task}/snooze's body.
type TaskSnoozeRequest struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
	By     string    `json:"by,omitempty"`
}

func (s *Server) taskDone(c *gin.Context) {
	var req TaskDoneRequest
	if c.Request.ContentLength != 0 && !decode(c, &req) {
		return
	}
	s.taskAction(c, workflows.TaskAction{Action: workflows.TaskActionDone, Reason: req.Note, By: req.By})
}

func (s *Server) taskSnooze(c *gin.Context) {
	var req TaskSnoozeRequest
	if !decode(c, &req) {
		return
	}
	s.taskAction(c, workflows.TaskAction{Action: workflows.TaskActionSnooze, Until: req.Until, Reason: req.Reason, By: req.By})
}

// taskAction sends a task action to the journey, checked first; the
// journey answers its state.
func (s *Server) taskAction(c *gin.Context, a workflows.TaskAction) {
	id, ok := customerID(c)
	if !ok {
		return
	}
	a.Task = c.Param("task")
	if !workflows.ValidTaskID(a.Task) {
		fail(c, http.StatusNotFound, "task_not_found", fmt.Sprintf("no task %q", clipText(a.Task, 40)), "task")
		return
	}
	// A named person's action is theirs, whatever the body says; a role
	// key's (an integration) may name who acted.
	if c.GetString("user_email") != "" || a.By == "" {
		a.By = c.GetString("who")
	}
	if err := workflows.ValidateTaskAction(a, s.opts.Now()); err != nil {
		invalid(c, firstError(err))
		return
	}
	var st workflows.State
	if err := s.update(c, id, workflows.UpdateTask, a, &st); err != nil {
		if workflows.IsValidationError(err) && strings.Contains(err.Error(), "is not a task of this journey") {
			fail(c, http.StatusNotFound, "task_not_found", rejectionMessage(err), "task")
			return
		}
		s.temporalError(c, err, id)
		return
	}
	c.JSON(http.StatusOK, st)
}
