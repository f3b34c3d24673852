package simulate

import (
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Label is a step's id in words: "handoff:reminder" is "handoff reminder".
func Label(step string) string {
	s := strings.NewReplacer(":", " ", "_", " ").Replace(step)
	s = strings.TrimPrefix(s, "touchpoint ")
	return s
}

// WriteStory prints the result day by day: what went out to whom and why,
// what the customer did, health and phase changes with their reasons, and
// what was not sent and why.
func WriteStory(w io.Writer, r *Result) error {
	p := &printer{w: w}
	p.f("Scenario %s", r.Scenario)
	if r.Description != "" {
		p.f(": %s", r.Description)
	}
	p.f("\n")
	p.f("Playbook %s, customer %s, deal closed %s; simulated to day %g in %.0f ms\n",
		r.Playbook, r.Customer, r.Start.Format("Mon 2006-01-02 15:04 MST"), r.Until, r.ElapsedMS)

	type line struct {
		order int // within a day: happenings, skips, steps, health
		text  string
	}
	byDay := map[int][]line{}
	add := func(day float64, order int, format string, args ...any) {
		d := int(math.Floor(day + 1e-9))
		byDay[d] = append(byDay[d], line{order, fmt.Sprintf(format, args...)})
	}
	for _, a := range r.Happenings {
		where := ""
		if a.Line > 0 {
			where = fmt.Sprintf(" (line %d)", a.Line)
		}
		switch a.Result {
		case "accepted":
			add(a.Day, 0, "  <- %s%s", a.What, where)
		default:
			add(a.Day, 0, "  <- %s%s: %s, %s", a.What, where, a.Result, a.Error)
		}
	}
	for _, s := range r.Steps {
		switch {
		case s.Message():
			to := s.Role
			if to == "" {
				to = "(not delivered)"
			}
			text := s.Subject
			if text == "" {
				text = s.Summary
			}
			add(s.Day, 2, "  -> %-9s %s  [%s]\n       why: %s", to, text, s.Step, s.Cause)
		case s.Kind == workflows.EntrySystem && !strings.HasSuffix(s.Step, ":not-sent"):
			if s.Step == "journey:start" {
				continue
			}
			add(s.Day, 2, "  ** %s  (%s)", s.Summary, s.Cause)
		}
	}
	moved := 0
	for _, k := range r.Skipped {
		if k.Moved {
			moved++
			continue
		}
		what := Label(k.Step)
		if k.Cause != "" {
			what = k.Cause
		}
		add(k.Day, 1, "  xx %s not sent (due day %g): %s", what, math.Floor(k.Due), k.Reason)
	}
	for i, c := range r.HealthChanges {
		why := strings.Join(c.Reasons, "; ")
		if why == "" {
			why = "no concerns"
		}
		if i == 0 {
			add(float64(c.Day), 3, "  ~~ health %s: %s", c.To, why)
			continue
		}
		add(float64(c.Day), 3, "  ~~ health %s -> %s: %s", c.From, c.To, why)
	}
	for _, c := range r.PhaseChanges[min(1, len(r.PhaseChanges)):] {
		add(float64(c.Day), 3, "  ~~ phase %s -> %s", c.From, c.To)
	}
	for d := 0; float64(d) <= r.Until; d++ {
		lines := byDay[d]
		if len(lines) == 0 {
			continue
		}
		p.f("\nDay %d (%s)\n", d, r.Start.AddDate(0, 0, d).Format("Mon 2006-01-02"))
		for order := 0; order <= 3; order++ {
			for _, l := range lines {
				if l.order == order {
					p.f("%s\n", l.text)
				}
			}
		}
	}
	t := r.Totals
	p.f("\nIn %s: %s (%.1f a month), %s, %s to a manager or sponsor",
		days(r.Until), plural(t.CustomerEmails, "customer email"), t.EmailsPerMonth, plural(t.Tasks, "CSM task"), plural(t.Escalations, "escalation"))
	if t.NotSent > 0 {
		p.f(", %s not sent", plural(t.NotSent, "email"))
	}
	p.f(".\n")
	if moved > 0 {
		p.f("%s moved by the customer's engagement or a pause (silence clocks restarting) not listed.\n", plural(moved, "planned step"))
	}
	if n := len(r.Days); n > 0 {
		last := r.Days[n-1]
		p.f("On day %d: %s, engagement %d, happiness %d, %s (%s).\n", last.Day, last.Health, last.Engagement, last.Happiness, last.Quadrant, last.Phase)
	}
	if r.Ended != "" {
		p.f("The journey ended by itself (%s).\n", r.Ended)
	}
	p.f("History: %s, about %d events (at most %d in a run).\n", plural(t.Runs, "run"), t.HistoryEvents, t.MaxRunEvents)
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
