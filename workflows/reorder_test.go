package workflows_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/seed-a80403e2/lifecycle/internal/histories"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// stepClass is a kind of step and how to find one in a history: find gives
// the key prefix of the messages to hold back, "" when the history has none.
type stepClass struct {
	name string
	find func(h *histories.History) string
}

func withPrefix(prefix string) func(h *histories.History) string {
	return func(h *histories.History) string {
		if slices.ContainsFunc(h.Sends, func(s histories.Send) bool { return strings.HasPrefix(s.Step, prefix) }) {
			return prefix
		}
		return ""
	}
}

// firstSend gives the step of the first message that ok accepts.
func firstSend(ok func(h *histories.History, s histories.Send) bool) func(h *histories.History) string {
	return func(h *histories.History) string {
		for _, s := range h.Sends {
			if ok(h, s) {
				return s.Step
			}
		}
		return ""
	}
}

// complaintSLA finds the SLA step of a complaint of the severity (its
// manager notice names the severity: "past SLA (high)").
func complaintSLA(severity string) func(h *histories.History) string {
	return firstSend(func(_ *histories.History, s histories.Send) bool {
		return strings.HasPrefix(s.Step, "complaint:") && strings.HasSuffix(s.Step, ":sla") && strings.Contains(s.Subject, "("+severity+")")
	})
}

// afterChampionChange finds the first customer email after a champion
// change: the step that writes to the new address.
func afterChampionChange(h *histories.History, s histories.Send) bool {
	i := slices.IndexFunc(h.Updates, func(u histories.Message) bool { return u.Name == workflows.UpdateChampion })
	return i >= 0 && s.Role == "customer" && s.EventID > h.Updates[i].EventID
}

// besideDeferral finds the CSM's handoff task of a journey whose welcome
// waits for business hours: the message issued in the same workflow task
// as the timer that defers the welcome.
func besideDeferral(h *histories.History, s histories.Send) bool {
	if s.Step != "handoff:csm-task" || len(h.SendsOf("handoff:welcome")) > 0 || len(h.Timers) == 0 {
		return false
	}
	// The timer and the send follow the same WorkflowTaskCompleted.
	task := func(id int64) int64 {
		last := int64(0)
		for _, ev := range h.Raw.GetEvents() {
			if ev.GetEventId() > id {
				break
			}
			if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
				last = ev.GetEventId()
			}
		}
		return last
	}
	return task(h.Timers[0].EventID) == task(s.EventID)
}

var stepClasses = []stepClass{
	{"handoff", withPrefix("handoff:")},
	{"milestone ladder", withPrefix("milestone:")},
	{"touchpoint", withPrefix("touchpoint:")},
	{"silence", withPrefix("silence:")},
	{"complaint SLA low", complaintSLA("low")},
	{"complaint SLA medium", complaintSLA("medium")},
	{"complaint SLA high", complaintSLA("high")},
	{"complaint SLA critical", complaintSLA("critical")},
	{"complaint sponsor", firstSend(func(_ *histories.History, s histories.Send) bool {
		return strings.HasPrefix(s.Step, "complaint:") && strings.HasSuffix(s.Step, ":sponsor")
	})},
	{"check-in", withPrefix("checkin:")},
	{"QBR", withPrefix("qbr:")},
	{"renewal reminder", withPrefix("renewal:")},
	{"term", withPrefix("term:")},
	{"reassign briefing", withPrefix("reassign:")},
	{"suppression notice (champion)", withPrefix("email:stopped:")},
	{"suppression notice (team address)", withPrefix("email:team:")},
	{"champion change", firstSend(afterChampionChange)},
	{"send failure", firstSend(func(_ *histories.History, s histories.Send) bool { return strings.HasSuffix(s.Step, ":failed") })},
	{"business-hours deferral", firstSend(besideDeferral)},
}

// TestReorderedStepsFailReplay shows that the corpus catches a change that
// reorders a step's commands: for every kind of step, the messages of that
// step are issued one workflow task late (workflows.DelaySends, a test-only
// hook) and the replay of a history holding the step must fail as
// nondeterministic. Every replay in which the hook did hold a message back
// must fail; with the hook set but holding nothing back, all replay.
func TestReorderedStepsFailReplay(t *testing.T) {
	var corpus []*histories.History
	for _, f := range historyFiles(t, filepath.Join("testdata", "corpus")) {
		h, err := histories.Load(f)
		require.NoError(t, err)
		corpus = append(corpus, h)
	}
	require.NotEmpty(t, corpus)

	t.Run("hook holding nothing back", func(t *testing.T) {
		defer workflows.DelaySends(func(string) bool { return false })()
		for _, h := range corpus {
			require.NoError(t, replay(h.Raw), h.Path)
		}
	})

	for _, class := range stepClasses {
		t.Run(class.name, func(t *testing.T) {
			caught := 0
			for _, h := range corpus {
				prefix := class.find(h)
				if prefix == "" {
					continue
				}
				held := 0
				restore := workflows.DelaySends(func(step string) bool {
					if strings.HasPrefix(step, prefix) {
						held++
						return true
					}
					return false
				})
				err := replay(h.Raw)
				restore()
				if held == 0 {
					continue // the step's messages were issued again after continue-as-new, not sent
				}
				if assert.Error(t, err, "%s: %d messages of %s* held back, and the replay passed", h.Path, held, prefix) {
					assert.Contains(t, err.Error(), nondeterminism, h.Path)
					caught++
					t.Logf("%s: %s* one task late: %s", filepath.Base(h.Path), prefix, firstLine(err.Error()))
				}
			}
			assert.Positive(t, caught, "no history holds a %s step", class.name)
		})
	}
}

// nondeterminism is the code the SDK gives every nondeterminism error: a
// command that does not match its history event, and an event for a
// command the replay did not issue.
const nondeterminism = "[TMPRL1100]"

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
