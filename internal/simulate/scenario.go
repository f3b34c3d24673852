package simulate

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Limits of a scenario, so that one file (or one API request) cannot ask
// for a simulation that runs for minutes.
const (
	MaxDays       = 3*366 + 60 // how far a scenario may run: three years and a renewal
	MaxHappenings = 5000       // happenings after repeats are expanded
	MaxScenario   = 256 << 10  // bytes of scenario YAML
)

// Scenario is a customer and what happens to it on which day.
type Scenario struct {
	Name        string   `yaml:"name" json:"name"`
	Description string   `yaml:"description,omitempty" json:"description,omitempty"`
	Customer    Customer `yaml:"customer,omitempty" json:"customer"`
	// Start is when the deal closes: a date (09:00 in the champion's time
	// zone) or an RFC 3339 time. Default 2026-01-05, a Monday.
	Start string `yaml:"start,omitempty" json:"start,omitempty"`
	// RenewalDate is the first renewal (a date); default a year after the start.
	RenewalDate string `yaml:"renewal_date,omitempty" json:"renewal_date,omitempty"`
	// Until is the journey day the simulation stops at; default 30 days
	// past the first renewal.
	Until float64 `yaml:"until,omitempty" json:"until,omitempty"`
	// DayLength shortens the journey's days (e.g. "1h"); a full day when
	// empty. Business hours apply only to full days.
	DayLength string      `yaml:"day_length,omitempty" json:"day_length,omitempty"`
	Happens   []Happening `yaml:"happens" json:"happens"`
}

// Customer is the simulated account and the people around it.
type Customer struct {
	ID       string  `yaml:"id,omitempty" json:"id,omitempty"`
	Name     string  `yaml:"name,omitempty" json:"name,omitempty"`
	Plan     string  `yaml:"plan,omitempty" json:"plan,omitempty"`
	Champion Contact `yaml:"champion,omitempty" json:"champion"`
	CSM      Contact `yaml:"csm,omitempty" json:"csm"`
	Manager  string  `yaml:"manager,omitempty" json:"manager,omitempty"`
	Sponsor  string  `yaml:"sponsor,omitempty" json:"sponsor,omitempty"`
}

// Contact is a person with an address.
type Contact struct {
	Name     string `yaml:"name,omitempty" json:"name,omitempty"`
	Email    string `yaml:"email,omitempty" json:"email,omitempty"`
	TimeZone string `yaml:"time_zone,omitempty" json:"time_zone,omitempty"`
}

// Happening is one thing that happens on a day (or every few days from it
// through a last day): exactly one of an event, an outcome, a complaint, a
// pause, a resume, a reassignment or an email status report.
type Happening struct {
	Day     float64 `yaml:"day" json:"day"`
	Every   float64 `yaml:"every,omitempty" json:"every,omitempty"`
	Through float64 `yaml:"through,omitempty" json:"through,omitempty"`

	Event     string   `yaml:"event,omitempty" json:"event,omitempty"`         // an engagement event type of the playbook
	Outcome   string   `yaml:"outcome,omitempty" json:"outcome,omitempty"`     // an outcome kind, as a CSM records it
	Complaint string   `yaml:"complaint,omitempty" json:"complaint,omitempty"` // a severity: low, medium, high, critical
	Pause     string   `yaml:"pause,omitempty" json:"pause,omitempty"`         // the reason
	Resume    bool     `yaml:"resume,omitempty" json:"resume,omitempty"`
	Reassign  *Contact `yaml:"reassign,omitempty" json:"reassign,omitempty"` // the new CSM
	// Email reports the champion's address: bounce, unsubscribe,
	// spam_report (customer email stops) or active (it resumes).
	Email string `yaml:"email,omitempty" json:"email,omitempty"`

	Milestone string `yaml:"milestone,omitempty" json:"milestone,omitempty"` // milestone_completed, milestone_blocked
	// ID names a complaint so that a later complaint_resolved can name it.
	ID        string  `yaml:"id,omitempty" json:"id,omitempty"`
	Summary   string  `yaml:"summary,omitempty" json:"summary,omitempty"`     // a complaint's
	Sentiment int     `yaml:"sentiment,omitempty" json:"sentiment,omitempty"` // sentiment: 1-5
	Risk      string  `yaml:"risk,omitempty" json:"risk,omitempty"`           // risk: none, low, medium, high
	CallDay   float64 `yaml:"call_day,omitempty" json:"call_day,omitempty"`   // handoff_booked: the day the call is booked for
	Score     int     `yaml:"score,omitempty" json:"score,omitempty"`         // pulse: the answer, 1-5
	Note      string  `yaml:"note,omitempty" json:"note,omitempty"`

	line int
}

// Line is the scenario line the happening was written on (0 when built in code).
func (h Happening) Line() int { return h.line }

// What says what the happening is, in a few words.
func (h Happening) What() string {
	switch {
	case h.Event != "":
		return "event " + h.Event
	case h.Outcome != "":
		s := "outcome " + h.Outcome
		switch {
		case h.Milestone != "":
			s += " (" + h.Milestone + ")"
		case h.Outcome == workflows.OutcomeSentiment:
			s += fmt.Sprintf(" %d/5", h.Sentiment)
		case h.Outcome == workflows.OutcomeRisk:
			s += " " + h.Risk
		case h.ID != "":
			s += " (" + h.ID + ")"
		}
		return s
	case h.Complaint != "":
		s := h.Complaint + " complaint"
		if h.Summary != "" {
			s += ": " + h.Summary
		}
		return s
	case h.Pause != "":
		return "paused: " + h.Pause
	case h.Resume:
		return "resumed"
	case h.Reassign != nil:
		return "reassigned to " + h.Reassign.Name
	case h.Email != "":
		return "champion's email: " + h.Email
	}
	return "nothing"
}

// InvalidError lists every problem found in a scenario, each with its line.
type InvalidError struct {
	Name     string // the file or scenario
	Problems []playbooks.Problem
}

func (e *InvalidError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	name := "scenario"
	if e.Name != "" {
		name = "scenario " + e.Name
	}
	return "invalid " + name + ": " + strings.Join(lines, "; ")
}

// ParseScenario reads a scenario from YAML and checks what it can without
// a playbook (Check checks the rest). Errors name the line.
func ParseScenario(data []byte) (*Scenario, error) {
	if len(data) > MaxScenario {
		return nil, &InvalidError{Problems: []playbooks.Problem{{Line: 1, Message: fmt.Sprintf("the scenario is %d bytes; at most %d", len(data), MaxScenario)}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &InvalidError{Problems: []playbooks.Problem{playbooks.YAMLProblem(err)}}
	}
	if len(root.Content) == 0 {
		return nil, &InvalidError{Problems: []playbooks.Problem{{Line: 1, Message: "the scenario is empty"}}}
	}
	var sc Scenario
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, &InvalidError{Problems: []playbooks.Problem{playbooks.YAMLProblem(err)}}
	}
	doc := root.Content[0]
	if hs := mapValue(doc, "happens"); hs != nil && hs.Kind == yaml.SequenceNode {
		for i, n := range hs.Content {
			if i < len(sc.Happens) {
				sc.Happens[i].line = n.Line
			}
		}
	}
	c := checker{doc: doc}
	c.scenario(&sc)
	if len(c.problems) > 0 {
		return nil, &InvalidError{Name: sc.Name, Problems: c.problems}
	}
	return &sc, nil
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

type checker struct {
	doc      *yaml.Node // nil for a scenario built in code
	problems []playbooks.Problem
}

// line is where a top-level field (or a dotted path of mapping keys) is.
func (c *checker) line(path string) int {
	n := c.doc
	if n == nil {
		return 0
	}
	line := n.Line
	for part := range strings.SplitSeq(path, ".") {
		v := mapValue(n, part)
		if v == nil {
			return line
		}
		n, line = v, v.Line
	}
	return line
}

func (c *checker) add(line int, field, format string, args ...any) {
	c.problems = append(c.problems, playbooks.Problem{Line: line, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) scenario(sc *Scenario) {
	if strings.TrimSpace(sc.Name) == "" {
		c.add(c.line("name"), "name", "is required")
	} else if len(sc.Name) > 100 {
		c.add(c.line("name"), "name", "at most 100 characters")
	}
	if _, err := sc.startTime(); err != nil {
		c.add(c.line("start"), "start", "%v", err)
	}
	if sc.Customer.Champion.TimeZone != "" {
		if _, err := time.LoadLocation(sc.Customer.Champion.TimeZone); err != nil {
			c.add(c.line("customer.champion.time_zone"), "customer.champion.time_zone", "unknown time zone %q", sc.Customer.Champion.TimeZone)
		}
	}
	if _, err := sc.renewal(); err != nil {
		c.add(c.line("renewal_date"), "renewal_date", "%v", err)
	}
	if _, err := sc.dayLength(); err != nil {
		c.add(c.line("day_length"), "day_length", "%v", err)
	}
	if sc.Until < 0 || sc.Until > MaxDays || math.IsNaN(sc.Until) {
		c.add(c.line("until"), "until", "must be 1 to %d days", MaxDays)
	}
	if len(c.problems) == 0 {
		in, err := sc.input(playbooks.Default())
		if err == nil {
			err = in.Validate()
		}
		if err != nil {
			c.add(c.line("customer"), "customer", "%v", err)
		}
	}
	ids := map[string]bool{}
	total := 0
	for i := range sc.Happens {
		h := &sc.Happens[i]
		c.happening(i, h, ids)
		if h.Every > 0 && h.Through >= h.Day {
			total += int((h.Through-h.Day)/h.Every) + 1
		} else {
			total++
		}
	}
	if total > MaxHappenings {
		c.add(c.line("happens"), "happens", "%d happenings once repeats are counted; at most %d", total, MaxHappenings)
	}
}

func (c *checker) happening(i int, h *Happening, ids map[string]bool) {
	field := fmt.Sprintf("happens[%d]", i)
	line := h.line
	n := 0
	for _, set := range []bool{h.Event != "", h.Outcome != "", h.Complaint != "", h.Pause != "", h.Resume, h.Reassign != nil, h.Email != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		c.add(line, field, "say exactly one of event, outcome, complaint, pause, resume, reassign or email (found %d)", n)
	}
	if math.IsNaN(h.Day) || h.Day < 0 || h.Day > MaxDays {
		c.add(line, field+".day", "must be 0 to %d", MaxDays)
	}
	if h.Every != 0 || h.Through != 0 {
		switch {
		case math.IsNaN(h.Every) || h.Every < 0.01:
			c.add(line, field+".every", "a repeat needs every (at least 0.01 days) and through")
		case math.IsNaN(h.Through) || h.Through < h.Day || h.Through > MaxDays:
			c.add(line, field+".through", "must be from day (%g) to %d", h.Day, MaxDays)
		}
	}
	text := func(name, s string, most int) {
		if len(s) > most {
			c.add(line, field+"."+name, "at most %d characters", most)
		}
	}
	text("summary", h.Summary, workflows.MaxTextLen)
	text("note", h.Note, workflows.MaxTextLen)
	text("pause", h.Pause, workflows.MaxShortLen)
	text("id", h.ID, 64)
	switch {
	case h.Outcome != "":
		if !slices.Contains(workflows.OutcomeKinds, h.Outcome) {
			c.add(line, field+".outcome", "unknown outcome %q (use %s)", h.Outcome, strings.Join(workflows.OutcomeKinds, ", "))
		}
		switch h.Outcome {
		case workflows.OutcomeMilestoneDone, workflows.OutcomeMilestoneBlocked:
			if h.Milestone == "" {
				c.add(line, field+".milestone", "%s needs the milestone's id", h.Outcome)
			}
		case workflows.OutcomeComplaintResolved:
			if !ids[h.ID] {
				c.add(line, field+".id", "names no complaint filed before it (give the complaint an id)")
			}
		case workflows.OutcomeSentiment:
			if h.Sentiment < 1 || h.Sentiment > 5 {
				c.add(line, field+".sentiment", "must be 1 (very unhappy) to 5 (delighted)")
			}
		case workflows.OutcomeRisk:
			if !slices.Contains([]string{"none", "low", "medium", "high"}, h.Risk) {
				c.add(line, field+".risk", "must be none, low, medium or high")
			}
		}
	case h.Complaint != "":
		if !slices.Contains(playbooks.Severities, h.Complaint) {
			c.add(line, field+".complaint", "the severity must be one of %s", strings.Join(playbooks.Severities, ", "))
		}
		if h.ID != "" {
			ids[h.ID] = true
		}
	case h.Event == "pulse" && (h.Score < 1 || h.Score > 5):
		c.add(line, field+".score", "a pulse needs a score from 1 to 5")
	case h.Email != "":
		if !slices.Contains([]string{"bounce", "unsubscribe", "spam_report", workflows.EmailActive}, h.Email) {
			c.add(line, field+".email", "must be bounce, unsubscribe, spam_report or active")
		}
	case h.Reassign != nil:
		if h.Reassign.Name == "" || h.Reassign.Email == "" {
			c.add(line, field+".reassign", "the new CSM needs a name and an email")
		}
	}
}

// Check checks the scenario against the playbook it runs under: event
// types and milestone ids must be the playbook's.
func (sc *Scenario) Check(pb *playbooks.Playbook) error {
	var c checker
	for i, h := range sc.Happens {
		field := fmt.Sprintf("happens[%d]", i)
		if h.Event != "" {
			if _, ok := pb.Scoring.Weights[h.Event]; !ok {
				c.add(h.line, field+".event", "the playbook %s has no event type %q", pb.Ref(), h.Event)
			}
		}
		if h.Milestone != "" {
			if _, ok := pb.Milestone(h.Milestone); !ok {
				c.add(h.line, field+".milestone", "the playbook %s has no milestone %q", pb.Ref(), h.Milestone)
			}
		}
	}
	if len(c.problems) > 0 {
		return &InvalidError{Name: sc.Name, Problems: c.problems}
	}
	return nil
}

// DefaultStart is when a scenario's deal closes unless it says: a Monday.
const DefaultStart = "2026-01-05"

func (sc *Scenario) zone() *time.Location {
	if sc.Customer.Champion.TimeZone != "" {
		if loc, err := time.LoadLocation(sc.Customer.Champion.TimeZone); err == nil {
			return loc
		}
	}
	return time.UTC
}

func (sc *Scenario) startTime() (time.Time, error) {
	s := cmp.Or(sc.Start, DefaultStart)
	if t, err := time.ParseInLocation("2006-01-02", s, sc.zone()); err == nil {
		return t.Add(9 * time.Hour), nil // the deal closes at 09:00, champion's time
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a date (2006-01-02) nor an RFC 3339 time", s)
	}
	if t.Year() < 2000 || t.Year() > 2100 {
		return time.Time{}, fmt.Errorf("%q: the year must be 2000 to 2100", s)
	}
	return t, nil
}

func (sc *Scenario) renewal() (time.Time, error) {
	start, err := sc.startTime()
	if err != nil {
		return time.Time{}, nil // said for start
	}
	if sc.RenewalDate == "" {
		return start.AddDate(1, 0, 0), nil
	}
	t, err := time.ParseInLocation("2006-01-02", sc.RenewalDate, sc.zone())
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (2006-01-02)", sc.RenewalDate)
	}
	if !t.After(start) || t.After(start.AddDate(workflows.MaxRenewalYears, 0, 0)) {
		return time.Time{}, fmt.Errorf("must be after the start and at most %d years later", workflows.MaxRenewalYears)
	}
	return t, nil
}

func (sc *Scenario) dayLength() (time.Duration, error) {
	if sc.DayLength == "" {
		return 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(sc.DayLength)
	if err != nil || d < 100*time.Millisecond || d > 24*time.Hour {
		return 0, fmt.Errorf("%q: a duration from 100ms to 24h", sc.DayLength)
	}
	return d, nil
}

// until is the day the simulation stops: the scenario's, or 30 days past
// the first renewal.
func (sc *Scenario) until() float64 {
	if sc.Until > 0 {
		return sc.Until
	}
	start, _ := sc.startTime()
	renewal, _ := sc.renewal()
	day, _ := sc.dayLength()
	return min(MaxDays, math.Ceil(float64(renewal.Sub(start))/float64(day))+30)
}

// input is the journey's start: the customer, with defaults for what the
// scenario leaves out.
func (sc *Scenario) input(pb *playbooks.Playbook) (workflows.JourneyInput, error) {
	renewal, err := sc.renewal()
	if err != nil {
		return workflows.JourneyInput{}, err
	}
	day, err := sc.dayLength()
	if err != nil {
		return workflows.JourneyInput{}, err
	}
	cu := sc.Customer
	id := cu.ID
	if id == "" {
		id = "sim-" + slug(sc.Name)
	}
	return workflows.JourneyInput{
		Account: workflows.Account{ID: id, Name: cmp.Or(cu.Name, "Acme Corp"), Plan: cmp.Or(cu.Plan, "enterprise"), RenewalDate: renewal},
		Champion: workflows.Person{Name: cmp.Or(cu.Champion.Name, "Ada Lovelace"), Email: cmp.Or(cu.Champion.Email, "ada@acme.example"),
			TimeZone: cmp.Or(cu.Champion.TimeZone, "UTC")},
		CSM:          workflows.Person{Name: cmp.Or(cu.CSM.Name, "Grace Hopper"), Email: cmp.Or(cu.CSM.Email, "grace@vendor.example")},
		ManagerEmail: cmp.Or(cu.Manager, "manager@vendor.example"),
		SponsorEmail: cmp.Or(cu.Sponsor, "vp@vendor.example"),
		DealID:       "sim-deal-" + slug(sc.Name),
		Playbook:     pb,
		DayLength:    day,
		Revision:     workflows.Revision,
	}, nil
}

var notSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slug(s string) string {
	s = strings.Trim(notSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		s = "scenario"
	}
	return s[:min(len(s), 60)]
}

//go:embed scenarios/*.yaml
var builtins embed.FS

// Builtin is a scenario of the built-in library, by name.
func Builtin(name string) (*Scenario, error) {
	data, err := builtins.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (there are: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("built-in scenario %s: %w", name, err)
	}
	return sc, nil
}

// BuiltinNames lists the built-in scenarios, in the library's order.
func BuiltinNames() []string {
	entries, _ := builtins.ReadDir("scenarios")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), path.Ext(e.Name())))
	}
	order := map[string]int{"engaged": 0, "silent": 1, "complainer": 2, "quiet-and-happy": 3, "booked-no-show": 4, "churn-risk": 5, "three-years": 6}
	slices.SortStableFunc(names, func(a, b string) int {
		oa, ok := order[a]
		if !ok {
			oa = len(order)
		}
		ob, ok := order[b]
		if !ok {
			ob = len(order)
		}
		if oa != ob {
			return oa - ob
		}
		return strings.Compare(a, b)
	})
	return names
}

// BuiltinYAML is a built-in scenario's text: a starting point for one's own.
func BuiltinYAML(name string) ([]byte, error) {
	data, err := builtins.ReadFile("scenarios/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (there are: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	return data, nil
}
