// Package workflows holds the CustomerLifecycle workflow. This file is its
// public contract: everything a caller (the API server, the worker, tests)
// may use. Callers never reach into the workflow's internals.
package workflows

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// TaskQueue is where lifecycle workflows and their activities run.
const TaskQueue = "customer-lifecycle"

// WorkflowName is the registered name of the journey workflow.
const WorkflowName = "CustomerLifecycle"

// Message names.
const (
	UpdateEvent     = "event"
	UpdateComplaint = "complaint"
	UpdateOutcome   = "outcome"
	UpdatePause     = "pause"
	UpdateResume    = "resume"
	UpdateReassign  = "reassign"
	UpdateEmail     = "email_status"
	UpdateChampion  = "champion"
	UpdateTask      = "task"
	UpdateContact   = "contact"
	// SignalEvent carries an engagement event when the caller cannot wait
	// for the journey's answer (a worker may be down): the server keeps it.
	SignalEvent = "event"

	QueryState    = "state"
	QueryTimeline = "timeline"
)

// DefaultDayLength is one journey day in real time.
const DefaultDayLength = 24 * time.Hour

var accountIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// WorkflowID derives the journey's workflow ID from the account id, so that a
// second start for the same account finds the first journey.
func WorkflowID(accountID string) string { return "customer:" + accountID }

// ValidAccountID reports whether id can name a customer.
func ValidAccountID(id string) bool { return accountIDPattern.MatchString(id) }

// Search attributes the journey keeps up to date for listing.
var (
	SAHealth      = temporal.NewSearchAttributeKeyKeyword("LifecycleHealth")
	SAQuadrant    = temporal.NewSearchAttributeKeyKeyword("LifecycleQuadrant")
	SAPhase       = temporal.NewSearchAttributeKeyKeyword("LifecyclePhase")
	SACSMEmail    = temporal.NewSearchAttributeKeyKeyword("LifecycleCSMEmail")
	SAEngagement  = temporal.NewSearchAttributeKeyInt64("LifecycleEngagement")
	SAHappiness   = temporal.NewSearchAttributeKeyInt64("LifecycleHappiness")
	SARenewalDate = temporal.NewSearchAttributeKeyTime("LifecycleRenewalDate")
	// Since revision 5: open tasks and the earliest due time among them.
	SAOpenTasks   = temporal.NewSearchAttributeKeyInt64("LifecycleOpenTasks")
	SANextTaskDue = temporal.NewSearchAttributeKeyTime("LifecycleNextTaskDue")
)

// SearchAttributeTypes is what a namespace must have registered before a
// journey starts (the dev server does it at start; see README for a cluster).
var SearchAttributeTypes = map[string]enumspb.IndexedValueType{
	SAHealth.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAQuadrant.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAPhase.GetName():       enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SACSMEmail.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAEngagement.GetName():  enumspb.INDEXED_VALUE_TYPE_INT,
	SAHappiness.GetName():   enumspb.INDEXED_VALUE_TYPE_INT,
	SARenewalDate.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
	SAOpenTasks.GetName():   enumspb.INDEXED_VALUE_TYPE_INT,
	SANextTaskDue.GetName(): enumspb.INDEXED_VALUE_TYPE_DATETIME,
}

// Phases of a journey.
const (
	PhaseHandoff    = "handoff"
	PhaseOnboarding = "onboarding"
	PhaseAdoption   = "adoption"
	PhasePaused     = "paused"
	PhaseEnded      = "ended"
)

// Health colours and quadrants.
const (
	HealthGreen  = "green"
	HealthYellow = "yellow"
	HealthRed    = "red"

	QuadrantChampion = "champion"
	QuadrantVocal    = "vocal"
	QuadrantQuiet    = "quiet"
	QuadrantAtRisk   = "at-risk"
)

// Person is someone on our side (CSM) or theirs (champion).
type Person struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	TimeZone string `json:"time_zone,omitempty"` // IANA zone; contacts only
}

// Account is the customer's company.
type Account struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Plan        string    `json:"plan"`
	RenewalDate time.Time `json:"renewal_date"`
}

// Revision is the journey code revision this worker runs new runs on. The
// worker decides, not the caller: every run records the revision it starts
// on once, with workflow.GetVersion("journey-revision"), so a run replays on
// the branches it took whatever worker replays it, and an API deployed ahead
// of the workers cannot make old workers take old branches for new journeys.
// Runs recorded before revision 2 have no such marker; they keep the
// JourneyInput.Revision their API set (0 or 1). A journey moves to the
// current revision at its next continue-as-new.
//
//  1. Search attributes carry scores rounded to 5 points ("sa-scores-rounded").
//  2. Sends run beside the schedule with a delivery deadline; calendar
//     renewals; booked calls expected; events count from their own time;
//     late customer email waits for business hours; wake-ups at score
//     changes; email keys and links scoped by journey (chapter).
//  3. The main loop waits for sends in its selector instead of a coroutine
//     per message (a step's commands in the order it gave them).
//  4. The journey keeps its facts for the insights job in its memo
//     (insights.MemoKey), upserted when they change.
//  5. Notices to our side are tasks with an owner, a due time and a status
//     (tasks.go), counted in search attributes and indexed in the store.
//  6. Every contact of the account (contacts.go): customer emails go to the
//     roles their touchpoint names, email status is per contact, and a
//     journey with nobody left to email tasks the CSM to find someone.
//  7. A journey may begin mid-playbook (JourneyInput.Import, imports.go),
//     and journey events go out to webhook subscribers (outbound.go).
//  8. Journey events are issued only when some subscription takes their
//     type (a local activity asks the store once per batch of events).
const Revision = 8

// JourneyInput starts (or, with Carry set, continues) a journey.
type JourneyInput struct {
	Account      Account `json:"account"`
	Champion     Person  `json:"champion"`
	CSM          Person  `json:"csm"`
	ManagerEmail string  `json:"manager_email"`
	SponsorEmail string  `json:"sponsor_email,omitempty"` // executive sponsor; the manager when empty
	// Contacts are the account's other contacts (since revision 6; not the
	// champion, who is Champion).
	Contacts []Contact `json:"contacts,omitempty"`
	DealID   string    `json:"deal_id"`
	// Import, when set, begins the journey at the day it gives (since
	// revision 7): a customer brought in mid-life.
	Import    *Import             `json:"import,omitempty"`
	Playbook  *playbooks.Playbook `json:"playbook"`
	DayLength time.Duration       `json:"day_length"`
	// MinDeliveryWindow is the least real time a message is tried for (0:
	// workflows.MinDeliveryWindow, enough to survive a lost worker). Tests
	// with short days set less, to see a give-up sooner.
	MinDeliveryWindow time.Duration `json:"min_delivery_window,omitempty"`
	// Revision is the code revision an API before revision 2 chose for the
	// journey (see Revision); newer callers leave it 0 and the worker decides.
	Revision int `json:"revision,omitempty"`

	// Carry is the state handed from one run to the next by continue-as-new.
	Carry *Carry `json:"carry,omitempty"`
}

// Validate checks a start request's fields (ValidateStart adds the checks
// that need today's date); the API calls it before starting anything.
func (in *JourneyInput) Validate() error {
	var c checker
	if !ValidAccountID(in.Account.ID) {
		c.fail("account.id", "must be 1-128 letters, digits, '.', '_' or '-'")
	}
	c.text("account.name", in.Account.Name, MaxNameLen, true)
	c.text("account.plan", in.Account.Plan, MaxShortLen, false)
	if in.Account.RenewalDate.IsZero() {
		c.fail("account.renewal_date", "is required")
	}
	c.person("champion", in.Champion)
	c.contacts(in)
	c.person("csm", in.CSM)
	c.email("manager_email", in.ManagerEmail, true)
	c.email("sponsor_email", in.SponsorEmail, false)
	c.text("deal_id", in.DealID, MaxShortLen, true)
	c.importFields(in.Import)
	if in.DayLength < 0 || (in.DayLength > 0 && in.DayLength < 100*time.Millisecond) {
		c.fail("day_length", "must be at least 100ms")
	}
	if in.MinDeliveryWindow < 0 {
		c.fail("min_delivery_window", "must not be negative")
	}
	if in.Playbook == nil {
		c.fail("playbook", "is required")
	} else if err := in.Playbook.Validate(); err != nil {
		c.fail("playbook", "%v", err)
	}
	return c.err()
}

// FieldError names the input field that is wrong.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-3 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, " \t\r\n<>,;\"")
}

// EngagementEvent is something the customer did. ID deduplicates it.
type EngagementEvent struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Time       time.Time         `json:"time,omitempty"`
	Source     string            `json:"source,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// EventResult answers an engagement event.
type EventResult struct {
	Duplicate  bool `json:"duplicate"`
	Engagement int  `json:"engagement"`
	Happiness  int  `json:"happiness"`
}

// Complaint is a customer's complaint as received.
type Complaint struct {
	// ID, when set, deduplicates the complaint like an event id (across
	// runs): an email link's "I need help" clicked again files nothing.
	ID       string `json:"id,omitempty"`
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Source   string `json:"source,omitempty"`
	// Journey, when set (a complaint from an email link), is the journey the
	// link was issued by: a link from a customer's earlier journey does not
	// act on the current one.
	Journey string `json:"journey,omitempty"`
}

// ComplaintReceipt answers a complaint.
type ComplaintReceipt struct {
	ComplaintID string    `json:"complaint_id"`
	SLADue      time.Time `json:"sla_due"`
}

// Outcome kinds a CSM records.
const (
	OutcomeHandoffHeld       = "handoff_held"
	OutcomeMilestoneDone     = "milestone_completed"
	OutcomeMilestoneBlocked  = "milestone_blocked"
	OutcomeComplaintResolved = "complaint_resolved"
	OutcomeMeetingHeld       = "meeting_held"
	OutcomeSentiment         = "sentiment"
	OutcomeRisk              = "risk"
	OutcomeRenewed           = "renewed"
	OutcomeChurned           = "churned"
	OutcomeOffboarded        = "offboarded"
)

// OutcomeKinds lists every outcome kind.
var OutcomeKinds = []string{
	OutcomeHandoffHeld, OutcomeMilestoneDone, OutcomeMilestoneBlocked, OutcomeComplaintResolved,
	OutcomeMeetingHeld, OutcomeSentiment, OutcomeRisk, OutcomeRenewed, OutcomeChurned, OutcomeOffboarded,
	OutcomeDesired,
}

// Outcome is what a CSM records. Fields beyond Kind depend on the kind.
type Outcome struct {
	Kind        string    `json:"kind"`
	MilestoneID string    `json:"milestone_id,omitempty"` // milestone_completed, milestone_blocked
	ComplaintID string    `json:"complaint_id,omitempty"` // complaint_resolved
	Sentiment   int       `json:"sentiment,omitempty"`    // sentiment: 1 (very unhappy) to 5 (delighted)
	Risk        string    `json:"risk,omitempty"`         // risk: "none", "low", "medium", "high"
	RenewalDate time.Time `json:"renewal_date,omitempty"` // renewed: the new renewal date (default +1 year)
	// desired_outcome: a choice of the playbook's outcomes ("other" with
	// DesiredText); Remove drops it instead.
	DesiredOutcome string `json:"desired_outcome,omitempty"`
	DesiredText    string `json:"desired_text,omitempty"`
	Remove         bool   `json:"remove,omitempty"`
	Note           string `json:"note,omitempty"`
	By             string `json:"by,omitempty"`
	// Source says where it came from ("email" for a customer's click);
	// empty for a CSM's record.
	Source string `json:"source,omitempty"`
}

// PauseRequest pauses a journey (holiday, legal hold, ...).
type PauseRequest struct {
	Reason string `json:"reason"`
	By     string `json:"by,omitempty"`
}

// ResumeRequest resumes a paused journey.
type ResumeRequest struct {
	By string `json:"by,omitempty"`
}

// Reassignment hands the customer to another CSM.
type Reassignment struct {
	CSM    Person `json:"csm"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// Email statuses of the champion's address.
const (
	EmailSuppressed = "suppressed" // bounced, dropped, unsubscribed, spam report: no more customer email
	EmailActive     = "active"     // mail again (e.g. the champion asked to resubscribe)
)

// EmailStatus reports an address's email status to the journey. Address is
// the address the report is about: only the champion's current address stops
// or resumes customer email; a team address (CSM, manager, sponsor) that
// bounced is put on the timeline and tasks someone to fix it; any other
// address (a former champion's) is only recorded. An empty Address means the
// champion's (callers before the field existed).
type EmailStatus struct {
	Status  string `json:"status"`
	Reason  string `json:"reason"`            // e.g. "bounce", "unsubscribe"
	Source  string `json:"source,omitempty"`  // e.g. "sendgrid", "email link"
	Address string `json:"address,omitempty"` // the address the report names
	By      string `json:"by,omitempty"`
}

// ChampionChange replaces the customer's champion contact. Customer email
// goes to the new address from the next step on; when emails had stopped
// for the old address, they resume for the new one.
type ChampionChange struct {
	Champion Person `json:"champion"`
	Reason   string `json:"reason,omitempty"`
	By       string `json:"by,omitempty"`
}

// Contact roles on the customer's side (playbooks.ContactRoles).
const (
	ContactChampion = playbooks.ContactChampion
	ContactAdmin    = playbooks.ContactAdmin
	ContactUser     = playbooks.ContactUser
	ContactSponsor  = playbooks.ContactSponsor
	ContactBilling  = playbooks.ContactBilling
)

// Contact is a person on the customer's side. The journey gives each an id
// ("ct1" is the champion the journey started with); a customer email goes
// to the contacts in the roles its touchpoint names, each with an email
// status of its own.
type Contact struct {
	ID       string `json:"id,omitempty"`
	Role     string `json:"role"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	TimeZone string `json:"time_zone,omitempty"` // IANA zone; empty: UTC
}

// ContactView is a contact and its email status.
type ContactView struct {
	Contact
	EmailStatus string    `json:"email_status"` // EmailActive or EmailSuppressed
	Stopped     string    `json:"stopped,omitempty"`
	StoppedAt   time.Time `json:"stopped_at,omitzero"`
}

// Contact changes (UpdateContact).
const (
	ContactAdd    = "add"
	ContactUpdate = "update"
	ContactRemove = "remove"
)

// ContactChange adds, updates or removes a contact (since revision 6). For
// an update, ID names the contact and the fields of Contact that are set
// change (a time zone of "UTC" sets UTC); a new email address starts with
// emails going out. Making a contact the champion makes the champion before
// it a user; the champion itself cannot be removed or given another role.
type ContactChange struct {
	Op      string  `json:"op"`
	ID      string  `json:"id,omitempty"`
	Contact Contact `json:"contact"`
	Reason  string  `json:"reason,omitempty"`
	By      string  `json:"by,omitempty"`
}

// StateQuery asks for the live state at a moment: the caller's clock, so the
// answer is true when read, not as old as the journey's last wake-up. A zero
// At (or one before the journey's own clock) means the journey's clock.
type StateQuery struct {
	At time.Time `json:"at,omitzero"`
	// Upcoming is how many pending steps State.Next lists: 0 means 5, at
	// most MaxUpcoming. A simulation asks for them all, to tell a step
	// that was skipped from one still to come.
	Upcoming int `json:"upcoming,omitempty"`
	// Brief leaves the score history out (a reader that samples every day
	// has it already).
	Brief bool `json:"brief,omitempty"`
}

// MaxUpcoming bounds StateQuery.Upcoming.
const MaxUpcoming = 500

// TimelineQuery asks for the timeline from an entry on: Since counts
// entries from the journey's first (folded ones included), so a reader that
// has seen n entries asks for Since n and gets only what came after. A zero
// query (or none) answers the whole bounded timeline.
type TimelineQuery struct {
	Since int `json:"since,omitempty"`
}

// EventAttrRecipient is the engagement-event attribute naming the address a
// message event (an open, a click) came from: such an event counts only when
// it is the champion's current address.
const EventAttrRecipient = "recipient"

// EventAttrJourney is the engagement-event attribute naming the journey an
// email link was issued by (State.Journey): a click on a link from the
// customer's earlier journey is refused, not counted on the current one.
const EventAttrJourney = "journey"

// IsValidationError tells the API that err came from an update validator (a
// 422), not from Temporal being unreachable.
func IsValidationError(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == validationErrorType
}

const validationErrorType = "ValidationError"

func rejectf(format string, args ...any) error {
	return temporal.NewApplicationError(fmt.Sprintf(format, args...), validationErrorType)
}

func oneOf(v string, options []string) bool { return slices.Contains(options, v) }
