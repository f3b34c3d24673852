// Package playbooks defines the playbook: the data that says what a customer's
// journey does and when. A journey keeps a full copy of the playbook it
// started with, so publishing a new version never changes a running journey.
package playbooks

import (
	_ "embed"
	"fmt"
	"sync"
)

// Touchpoint kinds.
const (
	KindTrainingInvite = "training_invite"
	KindWebinarInvite  = "webinar_invite"
	KindCheckin        = "checkin"
	KindHappinessPulse = "happiness_pulse"
	KindReview         = "review"
	// KindBestPractices shares what green accounts do: its email is filled
	// at send time from the latest insights that apply to the customer.
	KindBestPractices = "best_practices"
)

// Late-ladder actions.
const (
	ActionNudgeCustomer = "nudge_customer"
	ActionCSMTask       = "csm_task"
	ActionManager       = "manager"
)

// Complaint severities, mildest first.
var Severities = []string{"low", "medium", "high", "critical"}

// CustomerTemplates are the customer email templates a playbook may name.
// activities/templates holds one file per name; a test keeps the two in step.
var CustomerTemplates = []string{
	"welcome", "handoff_reminder", "training_invite", "webinar_invite",
	"checkin", "happiness_pulse", "review", "milestone_nudge", "reengage",
	"qbr_invite", "renewal_reminder", "best_practices",
}

var touchpointKinds = []string{KindTrainingInvite, KindWebinarInvite, KindCheckin, KindHappinessPulse, KindReview, KindBestPractices}

var milestoneOwners = []string{"customer", "csm", "joint"}

var ladderActions = []string{ActionNudgeCustomer, ActionCSMTask, ActionManager}

var weekdayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Playbook is one version of a journey's plan. Durations are in journey days.
type Playbook struct {
	ID             string        `yaml:"id" json:"id"`
	Version        int           `yaml:"version" json:"version"`
	Name           string        `yaml:"name" json:"name"`
	OnboardingDays int           `yaml:"onboarding_days" json:"onboarding_days"`
	BusinessHours  BusinessHours `yaml:"business_hours" json:"business_hours"`
	Handoff        Handoff       `yaml:"handoff" json:"handoff"`
	LateLadder     []LadderStep  `yaml:"late_ladder" json:"late_ladder"`
	Milestones     []Milestone   `yaml:"milestones" json:"milestones"`
	Touchpoints    []Touchpoint  `yaml:"touchpoints" json:"touchpoints"`
	Silence        Silence       `yaml:"silence" json:"silence"`
	Complaints     Complaints    `yaml:"complaints" json:"complaints"`
	Scoring        Scoring       `yaml:"scoring" json:"scoring"`
	Adoption       Adoption      `yaml:"adoption" json:"adoption"`
	Delivery       Delivery      `yaml:"delivery" json:"delivery,omitzero"`
	// Outcomes are the business outcomes the champion is asked to choose
	// from at handoff (the welcome email), "something else" added.
	Outcomes []OutcomeChoice `yaml:"outcomes" json:"outcomes,omitempty"`
}

// OutcomeChoice is one desired outcome a customer may choose.
type OutcomeChoice struct {
	ID    string `yaml:"id" json:"id"`
	Label string `yaml:"label" json:"label"`
}

// OutcomeOther is the choice id of "something else", with the customer's
// own words; a playbook may not use it for a choice of its own.
const OutcomeOther = "other"

// Outcome finds a desired-outcome choice by id; "other" is always one.
func (p *Playbook) Outcome(id string) (OutcomeChoice, bool) {
	if id == OutcomeOther {
		return OutcomeChoice{ID: OutcomeOther, Label: "Something else"}, true
	}
	for _, o := range p.Outcomes {
		if o.ID == id {
			return o, true
		}
	}
	return OutcomeChoice{}, false
}

// FirstValue is the milestone the playbook marks as first value.
func (p *Playbook) FirstValue() (Milestone, bool) {
	for _, m := range p.Milestones {
		if m.FirstValue {
			return m, true
		}
	}
	return Milestone{}, false
}

// Bounds on a playbook. A journey carries its playbook in every run's input
// and state, so no list or text may grow without limit, and no day count may
// be so large that a journey's schedule overflows (3650 days: ten years).
const (
	MaxMilestones       = 50
	MaxTouchpoints      = 100
	MaxLadderSteps      = 10 // per late ladder
	MaxRenewalReminders = 12
	MaxDeliverables     = 50 // per milestone
	MaxEventTypes       = 50
	MaxIDLen            = 64  // characters: playbook, milestone and touchpoint ids, event types
	MaxTextLen          = 200 // characters: names, titles, each deliverable
	MaxDays             = 3650
	MaxWeight           = 100
	MinSLADays          = 1.0 / 24 // an hour
	MaxSLADays          = 365
	MinGiveUpAfterDays  = 1.0 / 24 // an hour
	MaxGiveUpAfterDays  = 30
	MaxOutcomeChoices   = 10
	MaxOutcomeLabelLen  = 60 // characters: a choice is a button in an email
)

// DefaultGiveUpAfterDays is how long a message is retried when the playbook
// does not say.
const DefaultGiveUpAfterDays = 2.0

// Delivery says how long a message that cannot be delivered is retried
// before it is given up, recorded as failed and handed to a person.
type Delivery struct {
	GiveUpAfterDays float64 `yaml:"give_up_after_days" json:"give_up_after_days,omitempty"`
}

// GiveUpAfterDays is the delivery deadline in journey days.
func (p *Playbook) GiveUpAfterDays() float64 {
	if p.Delivery.GiveUpAfterDays > 0 {
		return p.Delivery.GiveUpAfterDays
	}
	return DefaultGiveUpAfterDays
}

// BusinessHours is the window customer emails wait for, in the contact's zone.
type BusinessHours struct {
	Start    string   `yaml:"start" json:"start"`
	End      string   `yaml:"end" json:"end"`
	Weekdays []string `yaml:"weekdays" json:"weekdays"`
}

// Handoff is the day-0 welcome and what happens when the call is not held.
type Handoff struct {
	Template          string `yaml:"template" json:"template"`
	RemindAfterDays   int    `yaml:"remind_after_days" json:"remind_after_days"`
	EscalateAfterDays int    `yaml:"escalate_after_days" json:"escalate_after_days"`
}

// LadderStep is one rung of a late milestone's ladder, counted from its due day.
type LadderStep struct {
	AfterDays int    `yaml:"after_days" json:"after_days"`
	Action    string `yaml:"action" json:"action"`
}

// Milestone is an onboarding goal with a due day and an owner.
type Milestone struct {
	ID           string       `yaml:"id" json:"id"`
	Name         string       `yaml:"name" json:"name"`
	DueDay       int          `yaml:"due_day" json:"due_day"`
	Owner        string       `yaml:"owner" json:"owner"`
	Deliverables []string     `yaml:"deliverables" json:"deliverables"`
	Late         []LadderStep `yaml:"late" json:"late,omitempty"`
	// FirstValue marks the milestone at which the customer first gets value
	// from the product: insights measure the time to it.
	FirstValue bool `yaml:"first_value" json:"first_value,omitempty"`
}

// Touchpoint is a customer email sent on a given onboarding day.
type Touchpoint struct {
	ID       string `yaml:"id" json:"id"`
	Day      int    `yaml:"day" json:"day"`
	Kind     string `yaml:"kind" json:"kind"`
	Template string `yaml:"template" json:"template"`
	Title    string `yaml:"title" json:"title,omitempty"` // shown in the email; a default per kind
	// To names the customer's contact roles the email goes to (see
	// ContactRoles); left out, the kind decides (Audience).
	To []string `yaml:"to,omitempty" json:"to,omitempty"`
}

// Contact roles on the customer's side: who a customer email goes to.
const (
	ContactChampion = "champion"
	ContactAdmin    = "admin"
	ContactUser     = "user"
	ContactSponsor  = "executive_sponsor" // the customer's executive sponsor
	ContactBilling  = "billing"
)

// ContactRoles lists every contact role.
var ContactRoles = []string{ContactChampion, ContactAdmin, ContactUser, ContactSponsor, ContactBilling}

// Audience is the roles a touchpoint's email goes to: its own To, else by
// kind (trainings and webinars to the admins and users, reviews to the
// champion and the executive sponsor, the rest to the champion). A journey
// whose account has nobody reachable in those roles writes to the champion.
func (t Touchpoint) Audience() []string {
	switch {
	case len(t.To) > 0:
		return t.To
	case t.Kind == KindTrainingInvite || t.Kind == KindWebinarInvite:
		return []string{ContactAdmin, ContactUser}
	case t.Kind == KindReview:
		return []string{ContactChampion, ContactSponsor}
	}
	return []string{ContactChampion}
}

// QBRAudience is who the QBR invitation goes to: QBRTo, else the champion
// and the executive sponsor.
func (a Adoption) QBRAudience() []string {
	if len(a.QBRTo) > 0 {
		return a.QBRTo
	}
	return []string{ContactChampion, ContactSponsor}
}

// RenewalAudience is who renewal reminders go to: RenewalTo, else the
// champion and billing.
func (a Adoption) RenewalAudience() []string {
	if len(a.RenewalTo) > 0 {
		return a.RenewalTo
	}
	return []string{ContactChampion, ContactBilling}
}

// Silence says when a customer with no engagement is chased, and by whom.
type Silence struct {
	ReengageAfterDays int `yaml:"reengage_after_days" json:"reengage_after_days"`
	ManagerAfterDays  int `yaml:"manager_after_days" json:"manager_after_days"`
}

// Complaints holds the SLA per severity, in (possibly fractional) days.
type Complaints struct {
	SLADays             map[string]float64 `yaml:"sla_days" json:"sla_days"`
	SponsorAfterSLADays float64            `yaml:"sponsor_after_sla_days" json:"sponsor_after_sla_days"`
}

// Scoring holds the weights and thresholds behind the scores.
type Scoring struct {
	HalfLifeDays     float64            `yaml:"half_life_days" json:"half_life_days"`
	Weights          map[string]float64 `yaml:"weights" json:"weights"`
	EngagedAt        int                `yaml:"engaged_at" json:"engaged_at"`
	HappyAt          int                `yaml:"happy_at" json:"happy_at"`
	InitialHappiness int                `yaml:"initial_happiness" json:"initial_happiness"`
	ComplaintPenalty map[string]int     `yaml:"complaint_penalty" json:"complaint_penalty"`
	ResolvedResidual float64            `yaml:"resolved_residual" json:"resolved_residual"`
	ResidualDays     int                `yaml:"residual_days" json:"residual_days"`
	SilencePenalty   int                `yaml:"silence_penalty" json:"silence_penalty"`
}

// Adoption is the cadence after onboarding, for as long as the customer stays.
type Adoption struct {
	CheckinEveryDays    int    `yaml:"checkin_every_days" json:"checkin_every_days"`
	CheckinTemplate     string `yaml:"checkin_template" json:"checkin_template"`
	QBREveryDays        int    `yaml:"qbr_every_days" json:"qbr_every_days"`
	QBRTemplate         string `yaml:"qbr_template" json:"qbr_template"`
	RenewalReminderDays []int  `yaml:"renewal_reminder_days" json:"renewal_reminder_days"`
	RenewalTemplate     string `yaml:"renewal_template" json:"renewal_template"`
	// QBRTo and RenewalTo name the contact roles of the QBR invitation and
	// the renewal reminders (QBRAudience, RenewalAudience).
	QBRTo     []string `yaml:"qbr_to,omitempty" json:"qbr_to,omitempty"`
	RenewalTo []string `yaml:"renewal_to,omitempty" json:"renewal_to,omitempty"`
}

// Ladder is the milestone's own late ladder, or the playbook's default one.
func (p *Playbook) Ladder(m Milestone) []LadderStep {
	if len(m.Late) > 0 {
		return m.Late
	}
	return p.LateLadder
}

// Milestone finds a milestone by id.
func (p *Playbook) Milestone(id string) (Milestone, bool) {
	for _, m := range p.Milestones {
		if m.ID == id {
			return m, true
		}
	}
	return Milestone{}, false
}

// Ref names the playbook version, e.g. "default@v1".
func (p *Playbook) Ref() string { return fmt.Sprintf("%s@v%d", p.ID, p.Version) }

//go:embed default.yaml
var defaultYAML []byte

var (
	defaultOnce sync.Once
	defaultPB   *Playbook
)

// Default returns a fresh copy of the playbook embedded in the binary.
func Default() *Playbook {
	defaultOnce.Do(func() {
		pb, err := Parse(defaultYAML)
		if err != nil {
			panic("embedded default playbook is invalid: " + err.Error())
		}
		defaultPB = pb
	})
	return defaultPB.Clone()
}

// DefaultYAML is the default playbook's source, comments included.
func DefaultYAML() []byte { return append([]byte(nil), defaultYAML...) }
