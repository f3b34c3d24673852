package apiserver

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/links"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Store is what the email pages, the webhooks, the suppression routes and
// journey starts need of the store (*store.Store).
type Store interface {
	ClaimToken(ctx context.Context, tokenID string, at time.Time, takeOverAfter time.Duration) (claimed bool, result string, err error)
	FinishToken(ctx context.Context, tokenID, result string) error
	ReleaseToken(ctx context.Context, tokenID string) error
	TokenResult(ctx context.Context, tokenID string) (string, bool, error)
	Suppress(ctx context.Context, email, reason string, at time.Time) error
	Suppressed(ctx context.Context, email string) (reason string, ok bool, err error)
	Unsuppress(ctx context.Context, email string) error
	ClaimWebhookEvent(ctx context.Context, eventID string, at time.Time) (done bool, err error)
	WebhookEventDone(ctx context.Context, eventID string, at time.Time) error
	RecordDeal(ctx context.Context, d store.Deal) (store.Deal, error)
	Deal(ctx context.Context, dealID string) (store.Deal, bool, error)
}

// actionTakeOver is how long a use being applied stays its clicker's: a
// server that died mid-way leaves it pending, and a click after this long
// applies it again (the journey deduplicates). Well over applyTimeout.
const (
	applyTimeout   = 15 * time.Second
	actionTakeOver = 2 * time.Minute
)

// action describes what an email button does, in the customer's words.
type action struct {
	question string // the confirmation page asks this
	done     string // and says this afterwards
}

var actions = map[string]action{
	"book_handoff":   {"Book your handoff call?", "Thank you! Your CSM will confirm a time for the handoff call."},
	"on_track":       {"Tell us you are on track?", "Great to hear. Thank you for letting us know."},
	"need_help":      {"Ask your CSM for help?", "Your CSM has been asked to get in touch."},
	"report_problem": {"Tell us that something is wrong?", "Thank you for telling us. Your CSM will get in touch."},
	"register":       {"Save your seat?", "Your seat is saved."},
	"show_me_how":    {"Ask your CSM to show you how?", "Your CSM will get in touch to show you how."},
	"book_review":    {"Book the review?", "Your CSM will confirm a time."},
	"unsubscribe":    {"Stop these emails?", "You will not get these emails any more."},
	"pulse_1":        {"How is it going? 😞 Bad", "Thank you for your answer."},
	"pulse_2":        {"How is it going? 🙁 Not great", "Thank you for your answer."},
	"pulse_3":        {"How is it going? 😐 Okay", "Thank you for your answer."},
	"pulse_4":        {"How is it going? 🙂 Good", "Thank you for your answer."},
	"pulse_5":        {"How is it going? 😀 Great", "Thank you for your answer."},
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{{.Title}}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;background:#f4f5f7;color:#1f2933;margin:0;padding:40px 16px}
main{max-width:480px;margin:0 auto;background:#fff;border-radius:8px;padding:28px}
button{font-size:16px;padding:10px 18px;border:0;border-radius:6px;background:#2457d6;color:#fff;cursor:pointer}</style>
</head><body><main>
<h1>{{.Title}}</h1>
<p>{{.Message}}</p>
{{if .Confirm}}<form method="post">{{if .TextField}}<p><label for="text">{{.TextField}}</label><br>
<input id="text" name="text" maxlength="{{.TextMax}}" required style="width:100%;font-size:16px;padding:8px;box-sizing:border-box"></p>{{end}}
<button type="submit">{{.Confirm}}</button></form>{{end}}
</main></body></html>
`))

type pageData struct {
	Title, Message, Confirm string
	// TextField, when set, asks for a line of the customer's own words
	// (at most TextMax characters) with the confirmation.
	TextField string
	TextMax   int
}

func showPage(c *gin.Context, status int, d pageData) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Header("Cache-Control", "no-store")
	c.Header("Referrer-Policy", "no-referrer")
	c.Status(status)
	if err := page.Execute(c.Writer, d); err != nil {
		_ = c.Error(err)
	}
}

// claims checks the token and shows the right page when it is no good.
func (s *Server) claims(c *gin.Context) (links.Claims, action, bool) {
	if s.opts.Links == nil || s.opts.Store == nil {
		showPage(c, http.StatusNotFound, pageData{Title: "Not available", Message: "Email actions are not set up on this server."})
		return links.Claims{}, action{}, false
	}
	cl, err := s.opts.Links.Parse(c.Param("token"))
	switch {
	case errors.Is(err, links.ErrExpired):
		showPage(c, http.StatusGone, pageData{Title: "This link has expired", Message: err.Error() + ". Reply to the email or write to your CSM instead."})
		return cl, action{}, false
	case err != nil:
		showPage(c, http.StatusBadRequest, pageData{Title: "This link does not work", Message: err.Error() + ". Nothing was recorded."})
		return cl, action{}, false
	}
	a, ok := actions[cl.Action]
	if choice, found := strings.CutPrefix(cl.Action, workflows.OutcomeActionPrefix); found && choice != "" {
		a, ok = outcomeAction(), true
	}
	if !ok {
		showPage(c, http.StatusBadRequest, pageData{Title: "This link does not work", Message: "We do not know this action. Nothing was recorded."})
		return cl, action{}, false
	}
	return cl, a, true
}

// actionPage (GET) only asks: mail scanners open links, so GET never acts.
func (s *Server) actionPage(c *gin.Context) {
	cl, a, ok := s.claims(c)
	if !ok {
		return
	}
	result, used, err := s.opts.Store.TokenResult(c.Request.Context(), cl.UseID())
	switch {
	case err == nil && used && result == store.TokenPending:
		showPage(c, http.StatusOK, beingRecorded)
	case err == nil && used:
		showPage(c, http.StatusOK, pageData{Title: "Already recorded", Message: "We already have your answer: " + result + "."})
	default:
		showPage(c, http.StatusOK, askPage(cl, a, s.outcomeLabel(c.Request.Context(), cl)))
	}
}

// askPage is the confirmation page of an action.
func askPage(cl links.Claims, a action, label string) pageData {
	d := pageData{Title: a.question, Message: "One click confirms it.", Confirm: "Yes, confirm"}
	switch choice, ok := strings.CutPrefix(cl.Action, workflows.OutcomeActionPrefix); {
	case ok && choice == playbooks.OutcomeOther:
		d.Title, d.Message = "Which outcome matters most to you?", "In a few words, so your CSM can plan around it."
		d.TextField, d.TextMax, d.Confirm = "The outcome you want", workflows.MaxDesiredText, "Send"
	case ok:
		d.Title = "Is “" + label + "” the outcome that matters most to you?"
	}
	return d
}

// outcomeAction is the page text of a desired-outcome button.
func outcomeAction() action {
	return action{question: "Is this the outcome that matters most to you?", done: "Thank you! Your CSM will plan around it."}
}

// outcomeLabel is the label of a desired-outcome choice as the customer's
// playbook words it, read from the journey; the id made readable when the
// journey cannot be asked (the page still works).
func (s *Server) outcomeLabel(ctx context.Context, cl links.Claims) string {
	choice, ok := strings.CutPrefix(cl.Action, workflows.OutcomeActionPrefix)
	if !ok || choice == playbooks.OutcomeOther {
		return ""
	}
	if s.opts.Client != nil {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if v, err := s.opts.Client.QueryWorkflow(ctx, workflows.WorkflowID(cl.CustomerID), "", workflows.QueryState, workflows.StateQuery{Brief: true}); err == nil {
			var st workflows.State
			if v.Get(&st) == nil {
				for _, o := range st.OutcomeChoices {
					if o.ID == choice {
						return o.Label
					}
				}
			}
		}
	}
	words := strings.ReplaceAll(strings.ReplaceAll(choice, "-", " "), "_", " ")
	return strings.ToUpper(words[:1]) + words[1:]
}

var beingRecorded = pageData{Title: "Being recorded", Message: "We are recording your answer from another click. Open the link again in a minute to see it."}

// act (POST) records the action once. The use is claimed in the store
// first, and only the request that claimed it updates the journey: a
// second click, a sibling answer of the same email (another face of the
// pulse) or twenty at once find the claim and change nothing. A failed
// update releases the claim, so the customer can try again; a successful
// one stores its result.
func (s *Server) act(c *gin.Context) {
	cl, a, ok := s.claims(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if cl.Action == workflows.OutcomeActionPrefix+playbooks.OutcomeOther {
		// The customer's own words: required, and bounded before anything
		// is claimed, so a too-long answer can be corrected and sent again.
		text := strings.TrimSpace(c.PostForm("text"))
		if text == "" || utf8.RuneCountInString(text) > workflows.MaxDesiredText {
			d := askPage(cl, a, "")
			d.Message = fmt.Sprintf("Please write the outcome in 1 to %d characters. Nothing was recorded yet.", workflows.MaxDesiredText)
			showPage(c, http.StatusUnprocessableEntity, d)
			return
		}
	}
	useID := cl.UseID()
	log := s.log.With(zap.String("customer_id", cl.CustomerID), zap.String("action", cl.Action), zap.String("step", cl.Step),
		zap.String("use_id", useID), zap.String("request_id", c.GetString("request_id")))
	claimed, result, err := s.opts.Store.ClaimToken(ctx, useID, s.opts.Now(), actionTakeOver)
	switch {
	case err != nil:
		log.Error("email action: the use could not be claimed", zap.Error(err))
		showPage(c, http.StatusServiceUnavailable, tryAgain)
		return
	case !claimed && result == store.TokenPending:
		showPage(c, http.StatusAccepted, beingRecorded)
		return
	case !claimed:
		showPage(c, http.StatusOK, pageData{Title: "Already recorded", Message: "We already have your answer: " + result + "."})
		return
	}
	err = s.apply(c, cl, useID)
	// What the update did must be stored even if the customer has closed
	// the page by now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err == nil || workflows.IsDuplicateEvent(err) {
		if err := s.opts.Store.FinishToken(ctx, useID, strings.ToLower(strings.TrimSuffix(a.question, "?"))); err != nil {
			// Applied; the use stays pending (every click answers "being
			// recorded") until a click after actionTakeOver applies it again.
			log.Error("email action applied but its result not stored", zap.Error(err))
		}
		showPage(c, http.StatusOK, pageData{Title: "Recorded", Message: a.done})
		return
	}
	// Nothing was recorded: the use is not spent.
	if err := s.opts.Store.ReleaseToken(ctx, useID); err != nil {
		log.Error("email action failed and its use not released", zap.Error(err))
	}
	switch {
	case workflows.IsJourneyEnded(err), isCompleted(err), isNotFound(err):
		showPage(c, http.StatusGone, pageData{Title: "Nothing to record", Message: "This customer journey is no longer active. Nothing was recorded."})
	case workflows.IsValidationError(err):
		showPage(c, http.StatusConflict, pageData{Title: "Nothing to record", Message: "This answer no longer applies. Nothing was recorded."})
	default:
		log.Error("email action failed", zap.Error(err))
		showPage(c, http.StatusServiceUnavailable, tryAgain)
	}
}

var tryAgain = pageData{Title: "Please try again", Message: "We could not record your answer just now. Please try again in a minute."}

// apply turns an action into the journey's message.
func (s *Server) apply(c *gin.Context, cl links.Claims, useID string) error {
	// Not the request's context: a customer who closes the tab mid-click
	// must not leave an update half sent and its use released.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), applyTimeout)
	defer cancel()
	id := workflows.WorkflowID(cl.CustomerID)
	send := func(name string, arg any) error {
		return s.updateWorkflow(ctx, id, name, "action:"+useID, arg, nil)
	}
	// No time of its own: the click happens at the journey's now.
	event := workflows.EngagementEvent{ID: "action-" + useID, Source: "email:" + cl.Step, Attributes: map[string]string{"action": cl.Action}}
	if cl.Journey != "" {
		// The journey refuses a link of the customer's earlier journey.
		event.Attributes[workflows.EventAttrJourney] = cl.Journey
	}
	if choice, ok := strings.CutPrefix(cl.Action, workflows.OutcomeActionPrefix); ok {
		return send(workflows.UpdateOutcome, workflows.Outcome{
			Kind: workflows.OutcomeDesired, DesiredOutcome: choice, DesiredText: strings.TrimSpace(c.PostForm("text")),
			Source: "email", By: "customer",
		})
	}
	switch cl.Action {
	case "book_handoff":
		event.Type = "handoff_booked"
		return send(workflows.UpdateEvent, event)
	case "on_track", "register", "book_review", "show_me_how":
		event.Type = "email_click"
		return send(workflows.UpdateEvent, event)
	case "need_help":
		return send(workflows.UpdateComplaint, workflows.Complaint{ID: event.ID, Severity: "low", Summary: fmt.Sprintf("The customer asked for help (answering %s).", cl.Step), Source: "email", Journey: cl.Journey})
	case "report_problem":
		return send(workflows.UpdateComplaint, workflows.Complaint{ID: event.ID, Severity: "medium", Summary: fmt.Sprintf("The customer says something is wrong (from %s).", cl.Step), Source: "email", Journey: cl.Journey})
	case "unsubscribe":
		if err := s.opts.Store.Suppress(ctx, cl.Email, "unsubscribe", s.opts.Now()); err != nil {
			return err
		}
		// The journey decides what the address means: the champion's stops
		// customer email; a former champion's is only recorded.
		err := send(workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "unsubscribe", Source: "email link", Address: cl.Email})
		if workflows.IsValidationError(err) {
			return nil // already stopped
		}
		return err
	default: // pulse_1 .. pulse_5
		event.Type = "pulse"
		event.Attributes["score"] = strconv.Itoa(int(cl.Action[len(cl.Action)-1] - '0'))
		return send(workflows.UpdateEvent, event)
	}
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "not found") || strings.Contains(err.Error(), "NotFound"))
}
