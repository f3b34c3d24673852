package workflows

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// Step keys ("touchpoint:review-30", "complaint:c1:sla") are for machines:
// email idempotency keys, link scopes, the API. People read labels: the
// playbook's own words where it has them (a touchpoint's title, a
// milestone's name), else words from the step's kind and day.

// MaxLabel bounds a label: a playbook title or milestone name is at most
// 200 characters, and a label adds a few words to it.
const MaxLabel = 240

// StepLabel is the words people read for a step key of a journey on the
// playbook pb: "Day 14 check-in", "Handoff call reminder", "Complaint c1:
// SLA escalation". A key it does not know reads as its words, never as the
// raw key. pb may be nil (then touchpoints and milestones read by id).
func StepLabel(pb *playbooks.Playbook, key string) string {
	return clip(stepLabel(pb, key), MaxLabel)
}

func stepLabel(pb *playbooks.Playbook, key string) string {
	// Messages about a step: its delivery given up, its Slack post, a send
	// held back.
	for _, sx := range labelSuffixes {
		if base, ok := strings.CutSuffix(key, sx.key); ok && base != "" {
			return stepLabel(pb, base) + sx.words
		}
	}
	p := strings.Split(key, ":")
	arg := func(i int) string {
		if i < len(p) {
			return p[i]
		}
		return ""
	}
	switch p[0] {
	case "handoff":
		return handoffLabel(arg(1), arg(2))
	case "milestone":
		return milestoneLabel(pb, arg(1), arg(2))
	case "touchpoint":
		name := touchpointName(pb, arg(1))
		if arg(2) == "csm" {
			return "Prepare the " + lowerFirst(name)
		}
		return name
	case "silence":
		switch {
		case arg(2) == "reengage" && arg(3) == "csm":
			return "Re-engagement call"
		case arg(2) == "reengage":
			return "Re-engagement email"
		case arg(2) == "manager":
			return "Silence escalation to the manager"
		}
	case "complaint":
		c := "Complaint " + arg(1)
		switch arg(2) + ":" + arg(3) {
		case ":":
			return c + " received"
		case "csm:":
			return c + ": CSM task"
		case "sla:":
			return c + ": SLA escalation"
		case "sla:csm":
			return c + ": past its SLA"
		case "sponsor:":
			return c + ": sponsor escalation"
		}
	case "checkin":
		if d, ok := dayOfKey(arg(1)); ok {
			return fmt.Sprintf("Day %d check-in", d)
		}
	case "qbr":
		if d, ok := dayOfKey(arg(1)); ok {
			if arg(2) == "csm" {
				return fmt.Sprintf("Prepare the day %d QBR", d)
			}
			return fmt.Sprintf("Day %d QBR", d)
		}
	case "renewal":
		if n, ok := strings.CutSuffix(arg(2), "d"); ok {
			if arg(3) == "csm" {
				return fmt.Sprintf("Renewal in %s days", n)
			}
			return fmt.Sprintf("Renewal reminder (%s days)", n)
		}
	case "term":
		if _, err := strconv.Atoi(arg(1)); err == nil {
			return "Term " + arg(1) + " began"
		}
		return "Renewal date " + arg(1)
	case "phase":
		if arg(1) == PhaseAdoption {
			return "Adoption phase begins"
		}
	case "reassign":
		return "Handover brief for the new CSM"
	case "email":
		switch {
		case arg(1) == "stopped" && arg(3) == "csm":
			return "Customer email stopped: CSM told"
		case arg(1) == "stopped":
			return "Customer email stopped"
		case arg(1) == "team" && arg(3) == "notice":
			return "Team address undeliverable: notice"
		case arg(1) == "team":
			return "Team address undeliverable"
		case arg(1) == "active":
			return "Customer email resumed"
		}
	case "contacts":
		if arg(1) == "none" {
			return "Nobody at the account can be emailed"
		}
	case "task":
		t := "Task " + arg(1)
		switch arg(2) {
		case "overdue":
			return t + " overdue"
		case "back":
			return t + " back from snooze"
		case "opened", "climbed", "snoozed", TaskDone, TaskExpired:
			return t + " " + arg(2)
		}
		return t
	case "journey":
		switch arg(1) {
		case "start":
			return "Journey started"
		case "import":
			return "Journey imported mid-playbook"
		}
	}
	return words(key)
}

// labelSuffixes are the messages about a step, by the suffix of their key.
var labelSuffixes = []struct{ key, words string }{
	{":failed", ": not delivered"}, {":slack", " (Slack)"}, {":not-sent", ": not sent"}, {":no-task", ": no task opened"},
}

func handoffLabel(what, rebooking string) string {
	var l string
	switch what {
	case "welcome":
		l = "Welcome email"
	case "csm-task":
		l = "Handoff call brief for the CSM"
	case "reminder":
		l = "Handoff call reminder"
	case "reminder-csm":
		l = "Handoff call reminder to the CSM"
	case "escalation":
		l = "Handoff call escalation"
	case "booked-reminder":
		l = "Booked handoff call: was it held?"
	case "booked-escalation":
		l = "Booked handoff call escalation"
	default:
		l = words("handoff " + what)
	}
	if rebooking != "" {
		l += " (booking " + rebooking + ")"
	}
	return l
}

func milestoneLabel(pb *playbooks.Playbook, id, stage string) string {
	name := words(id)
	var ladder []playbooks.LadderStep
	if pb != nil {
		if m, ok := pb.Milestone(id); ok {
			name, ladder = m.Name, pb.Ladder(m)
		}
	}
	n, err := strconv.Atoi(strings.TrimPrefix(stage, "late-"))
	if !strings.HasPrefix(stage, "late-") || err != nil {
		return name
	}
	if n >= 1 && n <= len(ladder) {
		switch ladder[n-1].Action {
		case playbooks.ActionNudgeCustomer:
			return name + ": late nudge"
		case playbooks.ActionCSMTask:
			return name + ": late, CSM task"
		case playbooks.ActionManager:
			return name + ": late, manager told"
		}
	}
	return fmt.Sprintf("%s: late (%d)", name, n)
}

// touchpointName is the title of the playbook's touchpoint id.
func touchpointName(pb *playbooks.Playbook, id string) string {
	if pb != nil {
		for _, tp := range pb.Touchpoints {
			if tp.ID == id {
				return TouchpointTitle(tp)
			}
		}
	}
	return words(id)
}

// TouchpointTitle is a touchpoint's title: the playbook's, else a default
// from its kind and day, else its id in words ("Training basics").
func TouchpointTitle(tp playbooks.Touchpoint) string {
	if tp.Title != "" {
		return tp.Title
	}
	switch tp.Kind {
	case playbooks.KindReview:
		return fmt.Sprintf("%d-day review", tp.Day)
	case playbooks.KindHappinessPulse:
		return "How is it going?"
	case playbooks.KindCheckin:
		return fmt.Sprintf("Day %d check-in", tp.Day)
	case playbooks.KindBestPractices:
		return "Best practices"
	default:
		return words(tp.ID)
	}
}

// dayOfKey reads "d180" as 180.
func dayOfKey(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "d"))
	return n, err == nil && strings.HasPrefix(s, "d")
}

// words turns an id into words: "training-basics" reads "Training basics".
func words(id string) string {
	s := strings.Join(strings.Fields(strings.NewReplacer(":", " ", "-", " ", "_", " ").Replace(id)), " ")
	return upperFirst(s)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func lowerFirst(s string) string {
	if s == "" || (len(s) > 1 && strings.ToUpper(s[:2]) == s[:2]) {
		return s // an acronym ("QBR") stays as it is
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// label is a step's label in this journey: a task's steps read with the
// task's title.
func (j *journey) label(key string) string {
	p := strings.Split(key, ":")
	if len(p) >= 3 && p[0] == "task" && (p[2] == "overdue" || p[2] == "back") {
		if t := j.taskByID(p[1]); t != nil {
			what := "Overdue task: "
			if p[2] == "back" {
				what = "Task back from snooze: "
			}
			return clip(what+t.Title, MaxLabel)
		}
	}
	return StepLabel(j.pb, key)
}
