package playbooks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a playbook, located by line and field.
type Problem struct {
	Line    int    `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Field == "" {
		return fmt.Sprintf("line %d: %s", p.Line, p.Message)
	}
	return fmt.Sprintf("line %d: %s: %s", p.Line, p.Field, p.Message)
}

// InvalidError lists every problem found in a playbook.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid playbook: " + strings.Join(lines, "; ")
}

// Parse reads a playbook from YAML and validates it. Errors name the line.
func Parse(data []byte) (*Playbook, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &InvalidError{Problems: []Problem{YAMLProblem(err)}}
	}
	if len(root.Content) == 0 {
		return nil, &InvalidError{Problems: []Problem{{Line: 1, Message: "the playbook is empty"}}}
	}
	var pb Playbook
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pb); err != nil && !errors.Is(err, io.EOF) {
		return nil, &InvalidError{Problems: []Problem{YAMLProblem(err)}}
	}
	v := validator{doc: root.Content[0]}
	v.check(&pb)
	if len(v.problems) > 0 {
		return nil, &InvalidError{Problems: v.problems}
	}
	return &pb, nil
}

// Clone returns a deep copy.
func (p *Playbook) Clone() *Playbook {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	var c Playbook
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}

// Validate checks a playbook that did not come from YAML (e.g. a journey's
// snapshot in JSON). Lines are 0 there.
func (p *Playbook) Validate() error {
	v := validator{}
	v.check(p)
	if len(v.problems) > 0 {
		return &InvalidError{Problems: v.problems}
	}
	return nil
}

type validator struct {
	doc      *yaml.Node
	problems []Problem
}

// add records a problem at path, a dotted field path with [i] indices.
func (v *validator) add(path string, format string, args ...any) {
	v.problems = append(v.problems, Problem{Line: v.line(path), Field: path, Message: fmt.Sprintf(format, args...)})
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
var clockPattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)

// finite refuses NaN and infinities, which YAML allows (.nan, .inf) and
// every comparison below would let through.
func (v *validator) finite(path string, f float64) bool {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		v.add(path, "must be a finite number")
		return false
	}
	return true
}

// id checks an id's length and characters, and reports whether it is well
// formed (duplicates are looked for among those only).
func (v *validator) id(path, s string) bool {
	if n := utf8.RuneCountInString(s); n > MaxIDLen {
		v.add(path, "must be at most %d characters, got %d", MaxIDLen, n)
		return false
	}
	if !idPattern.MatchString(s) {
		v.add(path, "must be 1-%d lower-case letters, digits, '-' or '_', got %q", MaxIDLen, s)
		return false
	}
	return true
}

// text checks a name, a title or a deliverable: required or not, and at
// most MaxTextLen characters.
func (v *validator) text(path, s string, required bool) {
	if n := utf8.RuneCountInString(s); n > MaxTextLen {
		v.add(path, "must be at most %d characters, got %d", MaxTextLen, n)
	} else if required && strings.TrimSpace(s) == "" {
		v.add(path, "is required")
	}
}

// most checks a list's length against its bound.
func (v *validator) most(path string, n, max int, what string) {
	if n > max {
		v.add(path, "must have at most %d %s, got %d", max, what, n)
	}
}

// days checks the upper bound of a day count; callers check the lower one,
// which differs from field to field.
func (v *validator) days(path string, d int) {
	if d > MaxDays {
		v.add(path, "must be at most %d days, got %d", MaxDays, d)
	}
}

func (v *validator) check(p *Playbook) {
	v.id("id", p.ID)
	if p.Version < 1 {
		v.add("version", "must be 1 or more")
	}
	v.text("name", p.Name, true)
	if p.OnboardingDays < 1 || p.OnboardingDays > 365 {
		v.add("onboarding_days", "must be between 1 and 365, got %d", p.OnboardingDays)
	}
	v.checkBusinessHours(p.BusinessHours)
	v.checkHandoff(p)
	v.checkLadder("late_ladder", p.LateLadder, true)
	v.checkMilestones(p)
	v.checkTouchpoints(p)
	v.checkSilence(p.Silence)
	v.checkComplaints(p.Complaints)
	v.checkScoring(p.Scoring)
	v.checkAdoption(p.Adoption)
	v.checkDelivery(p.Delivery)
	v.checkOutcomes(p.Outcomes)
}

func (v *validator) checkOutcomes(choices []OutcomeChoice) {
	v.most("outcomes", len(choices), MaxOutcomeChoices, "outcomes")
	seen := map[string]int{}
	for i, o := range choices {
		at := fmt.Sprintf("outcomes[%d]", i)
		if v.id(at+".id", o.ID) {
			switch first, dup := seen[o.ID]; {
			case o.ID == OutcomeOther:
				v.add(at+".id", "%q is the built-in \"something else\" choice; use another id", OutcomeOther)
			case dup:
				v.add(at+".id", "duplicate id %q (first at outcomes[%d])", o.ID, first)
			default:
				seen[o.ID] = i
			}
		}
		if n := utf8.RuneCountInString(o.Label); n > MaxOutcomeLabelLen {
			v.add(at+".label", "must be at most %d characters, got %d", MaxOutcomeLabelLen, n)
		} else if strings.TrimSpace(o.Label) == "" {
			v.add(at+".label", "is required")
		}
	}
}

func (v *validator) checkBusinessHours(b BusinessHours) {
	if !clockPattern.MatchString(b.Start) {
		v.add("business_hours.start", "must be a time like \"09:00\", got %q", b.Start)
	}
	if !clockPattern.MatchString(b.End) {
		v.add("business_hours.end", "must be a time like \"17:00\", got %q", b.End)
	}
	if clockPattern.MatchString(b.Start) && clockPattern.MatchString(b.End) && b.End <= b.Start {
		v.add("business_hours.end", "must be after start (%s)", b.Start)
	}
	if len(b.Weekdays) == 0 {
		v.add("business_hours.weekdays", "name at least one day (mon, tue, ...)")
	}
	for i, d := range b.Weekdays {
		if !slices.Contains(weekdayNames, d) {
			v.add(fmt.Sprintf("business_hours.weekdays[%d]", i), "unknown day %q (use %s)", d, strings.Join(weekdayNames, ", "))
		}
	}
}

func (v *validator) checkHandoff(p *Playbook) {
	h := p.Handoff
	v.template("handoff.template", h.Template)
	if h.RemindAfterDays < 1 {
		v.add("handoff.remind_after_days", "must be 1 or more, got %d", h.RemindAfterDays)
	}
	v.days("handoff.remind_after_days", h.RemindAfterDays)
	switch {
	case h.EscalateAfterDays <= h.RemindAfterDays:
		v.add("handoff.escalate_after_days", "must be after remind_after_days (%d), got %d", h.RemindAfterDays, h.EscalateAfterDays)
	case p.OnboardingDays > 0 && h.EscalateAfterDays > p.OnboardingDays:
		v.add("handoff.escalate_after_days", "day %d is after onboarding ends (day %d)", h.EscalateAfterDays, p.OnboardingDays)
	default:
		v.days("handoff.escalate_after_days", h.EscalateAfterDays)
	}
}

func (v *validator) checkLadder(path string, steps []LadderStep, required bool) {
	if required && len(steps) == 0 {
		v.add(path, "needs at least one step")
	}
	v.most(path, len(steps), MaxLadderSteps, "steps")
	for i, s := range steps {
		at := fmt.Sprintf("%s[%d]", path, i)
		if s.AfterDays < 0 {
			v.add(at+".after_days", "must not be negative, got %d", s.AfterDays)
		}
		v.days(at+".after_days", s.AfterDays)
		if i > 0 && s.AfterDays <= steps[i-1].AfterDays {
			v.add(at+".after_days", "must be later than the step before (%d)", steps[i-1].AfterDays)
		}
		if !slices.Contains(ladderActions, s.Action) {
			v.add(at+".action", "unknown action %q (use %s)", s.Action, strings.Join(ladderActions, ", "))
		}
	}
}

func (v *validator) checkMilestones(p *Playbook) {
	if len(p.Milestones) == 0 {
		v.add("milestones", "needs at least one milestone")
	}
	v.most("milestones", len(p.Milestones), MaxMilestones, "milestones")
	seen := map[string]int{}
	firstValue := -1
	for i, m := range p.Milestones {
		at := fmt.Sprintf("milestones[%d]", i)
		if v.id(at+".id", m.ID) {
			if first, dup := seen[m.ID]; dup {
				v.add(at+".id", "duplicate id %q (first at milestones[%d])", m.ID, first)
			} else {
				seen[m.ID] = i
			}
		}
		v.text(at+".name", m.Name, true)
		switch {
		case m.DueDay < 0:
			v.add(at+".due_day", "must not be negative, got %d", m.DueDay)
		case p.OnboardingDays > 0 && m.DueDay > p.OnboardingDays:
			v.add(at+".due_day", "day %d is after onboarding ends (day %d)", m.DueDay, p.OnboardingDays)
		default:
			v.days(at+".due_day", m.DueDay)
		}
		if !slices.Contains(milestoneOwners, m.Owner) {
			v.add(at+".owner", "unknown owner %q (use %s)", m.Owner, strings.Join(milestoneOwners, ", "))
		}
		v.most(at+".deliverables", len(m.Deliverables), MaxDeliverables, "deliverables")
		for j, d := range m.Deliverables {
			v.text(fmt.Sprintf("%s.deliverables[%d]", at, j), d, false)
		}
		v.checkLadder(at+".late", m.Late, false)
		if m.FirstValue {
			if firstValue >= 0 {
				v.add(at+".first_value", "only one milestone can be first value (already milestones[%d])", firstValue)
			} else {
				firstValue = i
			}
		}
	}
}

func (v *validator) checkTouchpoints(p *Playbook) {
	v.most("touchpoints", len(p.Touchpoints), MaxTouchpoints, "touchpoints")
	seen := map[string]int{}
	for i, t := range p.Touchpoints {
		at := fmt.Sprintf("touchpoints[%d]", i)
		if v.id(at+".id", t.ID) {
			if first, dup := seen[t.ID]; dup {
				v.add(at+".id", "duplicate id %q (first at touchpoints[%d])", t.ID, first)
			} else {
				seen[t.ID] = i
			}
		}
		switch {
		case t.Day < 0:
			v.add(at+".day", "must not be negative, got %d", t.Day)
		case p.OnboardingDays > 0 && t.Day > p.OnboardingDays:
			v.add(at+".day", "day %d is after onboarding ends (day %d)", t.Day, p.OnboardingDays)
		default:
			v.days(at+".day", t.Day)
		}
		v.text(at+".title", t.Title, false)
		if !slices.Contains(touchpointKinds, t.Kind) {
			v.add(at+".kind", "unknown kind %q (use %s)", t.Kind, strings.Join(touchpointKinds, ", "))
		}
		v.template(at+".template", t.Template)
		v.roles(at+".to", t.To)
	}
}

// roles checks a list of contact roles: known, each once.
func (v *validator) roles(field string, roles []string) {
	for i, r := range roles {
		switch {
		case !slices.Contains(ContactRoles, r):
			v.add(fmt.Sprintf("%s[%d]", field, i), "unknown contact role %q (use %s)", r, strings.Join(ContactRoles, ", "))
		case slices.Index(roles, r) < i:
			v.add(fmt.Sprintf("%s[%d]", field, i), "role %q given twice", r)
		}
	}
}

func (v *validator) checkSilence(s Silence) {
	if s.ReengageAfterDays < 1 {
		v.add("silence.reengage_after_days", "must be 1 or more, got %d", s.ReengageAfterDays)
	}
	v.days("silence.reengage_after_days", s.ReengageAfterDays)
	if s.ManagerAfterDays <= s.ReengageAfterDays {
		v.add("silence.manager_after_days", "must be after reengage_after_days (%d), got %d", s.ReengageAfterDays, s.ManagerAfterDays)
	} else {
		v.days("silence.manager_after_days", s.ManagerAfterDays)
	}
}

func (v *validator) checkComplaints(c Complaints) {
	for _, sev := range Severities {
		d, ok := c.SLADays[sev]
		switch {
		case ok && !v.finite("complaints.sla_days."+sev, d):
		case !ok:
			v.add("complaints.sla_days", "missing severity %q", sev)
		case d <= 0:
			v.add("complaints.sla_days."+sev, "must be more than 0 days, got %g", d)
		case d < MinSLADays:
			v.add("complaints.sla_days."+sev, "must be at least 1 hour (1/24 day, about 0.0417), got %g", d)
		case d > MaxSLADays:
			v.add("complaints.sla_days."+sev, "must be at most %d days, got %g", MaxSLADays, d)
		}
	}
	for _, sev := range sortedKeys(c.SLADays) {
		if !slices.Contains(Severities, sev) {
			v.add("complaints.sla_days."+sev, "unknown severity %q (use %s)", sev, strings.Join(Severities, ", "))
		}
	}
	switch f := c.SponsorAfterSLADays; {
	case !v.finite("complaints.sponsor_after_sla_days", f):
	case f < 0:
		v.add("complaints.sponsor_after_sla_days", "must not be negative, got %g", f)
	case f > MaxSLADays:
		v.add("complaints.sponsor_after_sla_days", "must be at most %d days, got %g", MaxSLADays, f)
	}
}

func (v *validator) checkScoring(s Scoring) {
	switch f := s.HalfLifeDays; {
	case !v.finite("scoring.half_life_days", f):
	case f <= 0:
		v.add("scoring.half_life_days", "must be more than 0, got %g", f)
	case f > MaxDays:
		v.add("scoring.half_life_days", "must be at most %d days, got %g", MaxDays, f)
	}
	if len(s.Weights) == 0 {
		v.add("scoring.weights", "name at least one event type")
	}
	if len(s.Weights) > MaxEventTypes {
		v.add("scoring.weights", "must name at most %d event types, got %d", MaxEventTypes, len(s.Weights))
	}
	for _, k := range sortedKeys(s.Weights) {
		if n := utf8.RuneCountInString(k); n > MaxIDLen {
			v.add("scoring.weights", "event type %.20q... must be at most %d characters, got %d", k, MaxIDLen, n)
			continue // its path would repeat the long name
		}
		if !idPattern.MatchString(k) {
			v.add("scoring.weights", "event type %q must be lower-case letters, digits, '-' or '_'", k)
		}
		switch w := s.Weights[k]; {
		case !v.finite("scoring.weights."+k, w):
		case w < 0:
			v.add("scoring.weights."+k, "must not be negative, got %g", w)
		case w > MaxWeight:
			v.add("scoring.weights."+k, "must be at most %d, got %g", MaxWeight, w)
		}
	}
	if _, ok := s.Weights["pulse"]; !ok {
		v.add("scoring.weights", "needs a weight for \"pulse\" (happiness pulse answers)")
	}
	for _, f := range []struct {
		path string
		val  int
	}{{"scoring.engaged_at", s.EngagedAt}, {"scoring.happy_at", s.HappyAt}, {"scoring.initial_happiness", s.InitialHappiness}} {
		if f.val < 1 || f.val > 100 {
			v.add(f.path, "must be between 1 and 100, got %d", f.val)
		}
	}
	for _, sev := range Severities {
		if pen, ok := s.ComplaintPenalty[sev]; !ok || pen < 0 || pen > 100 {
			v.add("scoring.complaint_penalty", "needs a penalty between 0 and 100 for %q", sev)
		}
	}
	if v.finite("scoring.resolved_residual", s.ResolvedResidual) && (s.ResolvedResidual < 0 || s.ResolvedResidual > 1) {
		v.add("scoring.resolved_residual", "must be a fraction between 0 and 1, got %g", s.ResolvedResidual)
	}
	if s.ResidualDays < 0 {
		v.add("scoring.residual_days", "must not be negative, got %d", s.ResidualDays)
	}
	v.days("scoring.residual_days", s.ResidualDays)
	if s.SilencePenalty < 0 || s.SilencePenalty > 50 {
		v.add("scoring.silence_penalty", "must be between 0 and 50, got %d", s.SilencePenalty)
	}
}

func (v *validator) checkAdoption(a Adoption) {
	if a.CheckinEveryDays < 1 {
		v.add("adoption.checkin_every_days", "must be 1 or more, got %d", a.CheckinEveryDays)
	}
	v.days("adoption.checkin_every_days", a.CheckinEveryDays)
	v.days("adoption.qbr_every_days", a.QBREveryDays)
	if a.QBREveryDays < 1 {
		v.add("adoption.qbr_every_days", "must be 1 or more, got %d", a.QBREveryDays)
	} else if a.CheckinEveryDays >= 1 && a.CheckinEveryDays%a.QBREveryDays == 0 {
		v.add("adoption.checkin_every_days", "every check-in would fall on a QBR day (QBRs every %d days)", a.QBREveryDays)
	}
	v.template("adoption.checkin_template", a.CheckinTemplate)
	v.template("adoption.qbr_template", a.QBRTemplate)
	v.template("adoption.renewal_template", a.RenewalTemplate)
	v.roles("adoption.qbr_to", a.QBRTo)
	v.roles("adoption.renewal_to", a.RenewalTo)
	v.most("adoption.renewal_reminder_days", len(a.RenewalReminderDays), MaxRenewalReminders, "reminders")
	for i, d := range a.RenewalReminderDays {
		at := fmt.Sprintf("adoption.renewal_reminder_days[%d]", i)
		if d < 1 || d > 365 {
			v.add(at, "must be between 1 and 365 days before renewal, got %d", d)
		}
		if i > 0 && d >= a.RenewalReminderDays[i-1] {
			v.add(at, "must be fewer days than the reminder before (%d): list them furthest first", a.RenewalReminderDays[i-1])
		}
	}
}

// checkDelivery checks the delivery deadline. It is optional (absent or 0:
// DefaultGiveUpAfterDays), but a 0 written in the YAML is refused: it reads
// as "give up at once" or "never", and would silently mean two days.
func (v *validator) checkDelivery(d Delivery) {
	const path = "delivery.give_up_after_days"
	f := d.GiveUpAfterDays
	if f == 0 && !v.written(path) {
		return
	}
	if v.finite(path, f) && (f < MinGiveUpAfterDays || f > MaxGiveUpAfterDays) {
		v.add(path, "must be between 1 hour (1/24 day, about 0.0417) and %d days, got %g; leave it out for %g days",
			MaxGiveUpAfterDays, f, DefaultGiveUpAfterDays)
	}
}

func (v *validator) template(path, name string) {
	if name == "" {
		v.add(path, "is required")
	} else if !slices.Contains(CustomerTemplates, name) {
		v.add(path, "unknown template %q (use %s)", name, strings.Join(CustomerTemplates, ", "))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	// Sorted below.
	//workflowcheck:ignore
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
