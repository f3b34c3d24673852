// Package histories reads journey histories saved as JSON (the replay
// corpus in workflows/testdata) and says what the journey did in them: the
// messages its steps sent, the updates and signals it took, its markers and
// timers, and how the run ended. The corpus recorder checks with it that a
// history covers what it was recorded for; the replay tests find with it
// the histories that hold a given step.
package histories

import (
	"bytes"
	"fmt"
	"os"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/seed-a80403e2/lifecycle/activities"
)

// Send is a message a step sent: one scheduled activity.
type Send struct {
	EventID  int64
	Activity string // SendCustomerEmail or NotifyTeam
	Step     string
	Role     string // "customer" or the team role
	To       string
	Subject  string // team notices only
}

// Marker is a recorded marker; a version marker names its change.
type Marker struct {
	EventID  int64
	Name     string // "Version" for workflow.GetVersion
	ChangeID string
	Version  int
}

// Timer is a started timer.
type Timer struct {
	EventID int64
	After   time.Duration
}

// Message is an accepted update or a signal.
type Message struct {
	EventID int64
	Name    string
}

// History is one run's history and what it shows.
type History struct {
	Path    string
	Raw     *historypb.History
	Sends   []Send
	Updates []Message // accepted updates, in order
	Signals []Message
	Markers []Marker
	Timers  []Timer
	// End is the run's last event type when it closed (completed, continued
	// as new, terminated, ...); unspecified for a run still going.
	End enumspb.EventType
}

// Load reads and parses a history saved as JSON.
func Load(path string) (*History, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	h.Path = path
	return h, nil
}

// Parse parses a history in Temporal's JSON form.
func Parse(data []byte) (*History, error) {
	raw, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
	if err != nil {
		return nil, err
	}
	return Of(raw)
}

// Of reads what a history shows.
func Of(raw *historypb.History) (*History, error) {
	dc := converter.GetDefaultDataConverter()
	h := &History{Raw: raw}
	for _, ev := range raw.GetEvents() {
		id := ev.GetEventId()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			s := Send{EventID: id, Activity: a.GetActivityType().GetName()}
			switch s.Activity {
			case "SendCustomerEmail":
				var in activities.CustomerEmail
				if err := dc.FromPayloads(a.GetInput(), &in); err != nil {
					return nil, fmt.Errorf("event %d: %w", id, err)
				}
				s.Step, s.Role, s.To = in.Step, "customer", in.To.Email
			case "NotifyTeam":
				var in activities.TeamNotice
				if err := dc.FromPayloads(a.GetInput(), &in); err != nil {
					return nil, fmt.Errorf("event %d: %w", id, err)
				}
				s.Step, s.Role, s.To, s.Subject = in.Step, in.Role, in.To.Email, in.Subject
			case "DeliverWebhook":
				var in activities.WebhookEvent
				if err := dc.FromPayloads(a.GetInput(), &in); err != nil {
					return nil, fmt.Errorf("event %d: %w", id, err)
				}
				s.Step, s.Role, s.Subject = in.Data.Step, "webhook", in.Type
			}
			h.Sends = append(h.Sends, s)
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			name := ev.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName()
			h.Updates = append(h.Updates, Message{EventID: id, Name: name})
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			h.Signals = append(h.Signals, Message{EventID: id, Name: ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()})
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			a := ev.GetMarkerRecordedEventAttributes()
			m := Marker{EventID: id, Name: a.GetMarkerName()}
			if p := a.GetDetails()["change-id"]; p != nil {
				_ = dc.FromPayloads(p, &m.ChangeID) // a version marker's: a string
			}
			if p := a.GetDetails()["version"]; p != nil {
				_ = dc.FromPayloads(p, &m.Version)
			}
			h.Markers = append(h.Markers, m)
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			h.Timers = append(h.Timers, Timer{EventID: id, After: ev.GetTimerStartedEventAttributes().GetStartToFireTimeout().AsDuration()})
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
			h.End = ev.GetEventType()
		}
	}
	return h, nil
}

// SendsOf lists the messages of a step (exact key).
func (h *History) SendsOf(step string) []Send {
	var out []Send
	for _, s := range h.Sends {
		if s.Step == step {
			out = append(out, s)
		}
	}
	return out
}

// Updated reports whether the history accepted an update of that name.
func (h *History) Updated(name string) bool {
	for _, u := range h.Updates {
		if u.Name == name {
			return true
		}
	}
	return false
}

// Signaled reports whether the history received a signal of that name.
func (h *History) Signaled(name string) bool {
	for _, s := range h.Signals {
		if s.Name == name {
			return true
		}
	}
	return false
}
