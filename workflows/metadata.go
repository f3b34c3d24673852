package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// What the Temporal Web UI shows of a journey, so that it reads like the
// dashboard: the start's static summary and details (who the customer is),
// the workflow's current details (phase, day, health, the next step) and a
// summary on the main loop's timer (what it waits for). None of it is a
// command: a replay matches timers by id, and current details are answered
// by the metadata query from memory.

// maxSummary bounds a one-line summary in runes: Temporal refuses a summary
// payload over 400 bytes, and a rune may take 4.
const maxSummary = 80

// StartSummary is the journey's one-line summary, given at its start:
// "Acme Corp · enterprise plan · CSM Grace Hopper".
func StartSummary(in JourneyInput) string {
	parts := []string{in.Account.Name}
	if in.Account.Plan != "" {
		parts = append(parts, in.Account.Plan+" plan")
	}
	if in.CSM.Name != "" {
		parts = append(parts, "CSM "+in.CSM.Name)
	}
	return clip(md(strings.Join(parts, " · ")), maxSummary)
}

// StartDetails is the journey's fixed details (markdown), given at its
// start: the deal, the renewal date, the champion, the CSM and the playbook.
func StartDetails(in JourneyInput) string {
	var b strings.Builder
	b.WriteString(fmt.Sprintf("**%s** (%s)\n\n", md(in.Account.Name), md(in.Account.ID)))
	line := func(k, v string) {
		if v != "" {
			b.WriteString(fmt.Sprintf("- %s: %s\n", k, v))
		}
	}
	line("Deal", md(in.DealID))
	line("Plan", md(in.Account.Plan))
	if !in.Account.RenewalDate.IsZero() {
		line("Renewal", in.Account.RenewalDate.UTC().Format("2006-01-02"))
	}
	line("Champion", person(in.Champion))
	line("CSM", person(in.CSM))
	if in.Playbook != nil {
		line("Playbook", md(in.Playbook.Ref()))
	}
	if im := in.Import; im != nil {
		line("Imported", fmt.Sprintf("at day %d (%s)", im.Day, md(im.Phase)))
	}
	return b.String()
}

func person(p Person) string {
	if p.Name == "" && p.Email == "" {
		return ""
	}
	s := md(p.Name) + " <" + md(p.Email) + ">"
	if p.TimeZone != "" {
		s += " (" + md(p.TimeZone) + ")"
	}
	return strings.TrimSpace(s)
}

// details is the journey's current details (markdown) as of now. The
// account's line comes first: a run after continue-as-new has no static
// summary of its own, as Temporal does not carry it over.
func (j *journey) details(now time.Time) string {
	var b strings.Builder
	in := j.in
	in.CSM = j.c.CSM
	b.WriteString(fmt.Sprintf("**%s**\n\n", StartSummary(in)))
	sc := j.scores(now)
	phase := j.phase(now)
	b.WriteString(fmt.Sprintf("Phase **%s**, day %d", phase, int(j.dayOf(now))))
	if j.c.Term > 1 {
		b.WriteString(fmt.Sprintf(" (term %d)", j.c.Term))
	}
	b.WriteString(fmt.Sprintf(" · health **%s**", sc.Health))
	if len(sc.Reasons) > 0 {
		b.WriteString(fmt.Sprintf(": %s", md(clip(strings.Join(sc.Reasons, "; "), 300))))
	}
	b.WriteString(fmt.Sprintf(" · engagement %d, happiness %d\n\n", sc.Engagement, sc.Happiness))
	switch {
	case j.c.Ended != nil:
		b.WriteString(fmt.Sprintf("Ended (%s) on %s\n\n", j.c.Ended.Kind, j.c.Ended.At.UTC().Format("2006-01-02 15:04 MST")))
	case !j.c.PausedAt.IsZero():
		b.WriteString(fmt.Sprintf("Paused: %s\n\n", md(clip(j.c.PauseReason, 200))))
	}
	if steps := j.steps(now); len(steps) > 0 {
		s := steps[0]
		b.WriteString(fmt.Sprintf("Next: **%s**, %s (day %d)\n\n", md(j.label(s.key)), s.due.UTC().Format("2006-01-02 15:04 MST"), int(j.dayOf(s.due))))
	} else if j.c.Ended == nil {
		b.WriteString("Next: nothing scheduled\n\n")
	}
	b.WriteString(fmt.Sprintf("As of %s", now.UTC().Format("2006-01-02 15:04 MST")))
	return b.String()
}

// describe sets the current details the Web UI shows.
func (j *journey) describe(ctx workflow.Context, now time.Time) {
	workflow.SetCurrentDetails(ctx, j.details(now))
}

// timerSummary says what the main loop's timer waits for: the next step,
// or a moment at which health or quadrant changes by time alone.
func (j *journey) timerSummary(now, at time.Time) string {
	if steps := j.steps(now); len(steps) > 0 && !steps[0].due.After(at) {
		return clip("next: "+oneLine(j.label(steps[0].key)), maxSummary)
	}
	return "next: scores change (health or quadrant)"
}

// md escapes text for Temporal's markdown, on one line.
func md(s string) string {
	return mdEscaper.Replace(oneLine(s))
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`,
	"<", `\<`, ">", `\>`, "#", `\#`, "|", `\|`, "~", `\~`)

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
