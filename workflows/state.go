package workflows

import (
	"time"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// Carry is the journey's whole state. It is carried across continue-as-new
// unchanged, so nothing a customer did or was sent is forgotten.
type Carry struct {
	Start       time.Time      `json:"start"`        // journey day 0
	PausedTotal time.Duration  `json:"paused_total"` // shifts every journey day
	PausedAt    time.Time      `json:"paused_at,omitzero"`
	PauseReason string         `json:"pause_reason,omitempty"`
	Term        int            `json:"term"`
	RenewalDate time.Time      `json:"renewal_date"`
	CSM         Person         `json:"csm"`
	Ended       *Ending        `json:"ended,omitempty"`
	Handoff     HandoffState   `json:"handoff"`
	Milestones  []MilestoneRun `json:"milestones"`
	// TouchpointsSent marks playbook touchpoints already sent, by index.
	TouchpointsSent []bool         `json:"touchpoints_sent"`
	Silence         SilenceState   `json:"silence"`
	Engagement      EngagementCalc `json:"engagement"`
	Happiness       HappinessCalc  `json:"happiness"`
	Complaints      []ComplaintRun `json:"complaints"`
	NextComplaint   int            `json:"next_complaint"`
	Adoption        AdoptionState  `json:"adoption"`
	Timeline        TimelineLog    `json:"timeline"`
	Scores          []ScorePoint   `json:"scores"`
	// Seen holds the most recent engagement event ids, oldest first.
	Seen []string `json:"seen"`
	Runs int      `json:"runs"`
	// Reassignments counts CSM changes; HandoversSent the notes sent for them.
	Reassignments int `json:"reassignments"`
	// EmailBlocked is why customer emails stop ("" while they go out);
	// EmailNotices counts suppressions the CSM was told about.
	EmailBlocked  string   `json:"email_blocked,omitempty"`
	Suppressions  int      `json:"suppressions"`
	EmailNotices  int      `json:"email_notices"`
	HandoversSent int      `json:"handovers_sent"`
	Upserted      SAValues `json:"upserted"`

	// Since revision 2.

	// Chapter names this journey among the account's journeys (a customer
	// who churned and came back has a second one): it scopes email keys and
	// link uses, so the new journey's messages are its own.
	Chapter string `json:"chapter,omitempty"`
	// Champion is the current champion contact; nil until it first changes
	// (the start's champion applies).
	Champion *Person `json:"champion,omitempty"`
	// EmailBlockedAddr is the champion address whose suppression stopped
	// customer email; a new champion address resumes it.
	EmailBlockedAddr string `json:"email_blocked_addr,omitempty"`
	// TeamBounces counts team addresses reported undeliverable; TeamNotices
	// the notices sent about them. TeamBounce is the latest report.
	TeamBounces int    `json:"team_bounces,omitempty"`
	TeamNotices int    `json:"team_notices,omitempty"`
	TeamBounce  string `json:"team_bounce,omitempty"`
	// Sending holds the messages in flight. Sends run beside the schedule;
	// each is issued once per step (its key), and one still in flight at
	// continue-as-new is issued again by the next run under the same key.
	Sending []SendRun `json:"sending,omitempty"`
	// Failures counts messages given up after the delivery deadline.
	Failures int `json:"failures,omitempty"`

	// Outcomes are the business outcomes the customer wants, the most
	// important first. Insight is what the insights job is told.
	Outcomes []DesiredOutcome `json:"outcomes,omitempty"`
	Insight  InsightCounts    `json:"insight,omitzero"`

	// Since revision 5: the tasks of our side (tasks.go). NextTask numbers
	// them; TasksVersion counts their changes, TasksSynced the last version
	// the store's index has.
	Tasks        []TaskRun `json:"tasks,omitempty"`
	NextTask     int       `json:"next_task,omitempty"`
	TasksVersion int       `json:"tasks_version,omitempty"`
	TasksSynced  int       `json:"tasks_synced,omitempty"`

	// Since revision 6: every contact of the account, the champion among
	// them (contacts.go); NextContact numbers them. Champion and
	// EmailBlocked mirror the champion contact. Unreachable counts the
	// times nobody was left to email, UnreachableTold the tasks made of it.
	Contacts        []ContactRun `json:"contacts,omitempty"`
	NextContact     int          `json:"next_contact,omitempty"`
	Unreachable     int          `json:"unreachable,omitempty"`
	UnreachableTold int          `json:"unreachable_told,omitempty"`

	// Since revision 7: the import that placed the journey mid-playbook
	// (imports.go); nil for a journey that began at day 0.
	Imported *Import `json:"imported,omitempty"`
	// EventSeq numbers the journey's events for webhooks out (outbound.go);
	// Outgoing holds those not yet issued, Published the health last told.
	EventSeq  int                       `json:"event_seq,omitempty"`
	Outgoing  []activities.WebhookEvent `json:"outgoing,omitempty"`
	Published string                    `json:"published,omitempty"`
}

// ContactRun is a contact and why emails to it stopped ("" while they go
// out).
type ContactRun struct {
	Contact
	Stopped   string    `json:"stopped,omitempty"`
	StoppedAt time.Time `json:"stopped_at,omitzero"`
}

// SendRun is a message in flight: exactly one of Customer, Notice, (since
// revision 5) Slack and (since revision 7) Webhook is set.
type SendRun struct {
	Key      string                    `json:"key"`
	Step     string                    `json:"step"`
	Role     string                    `json:"role"` // "customer" or the team role
	Since    time.Time                 `json:"since"`
	Customer *activities.CustomerEmail `json:"customer,omitempty"`
	Notice   *activities.TeamNotice    `json:"notice,omitempty"`
	Slack    *activities.SlackNotice   `json:"slack,omitempty"`
	// Webhook is a journey event for the webhook subscribers (since
	// revision 7).
	Webhook *activities.WebhookEvent `json:"webhook,omitempty"`
}

// Ending records how a journey ended.
type Ending struct {
	Kind string    `json:"kind"` // churned or offboarded
	At   time.Time `json:"at"`
	Note string    `json:"note,omitempty"`
}

// HandoffState tracks the day-0 handoff.
type HandoffState struct {
	WelcomeSent  bool      `json:"welcome_sent"`
	CSMTaskSent  bool      `json:"csm_task_sent"`
	ReminderSent bool      `json:"reminder_sent"`
	Escalated    bool      `json:"escalated"`
	BookedAt     time.Time `json:"booked_at,omitzero"`
	HeldAt       time.Time `json:"held_at,omitzero"`
	// Since revision 2: a booked call is expected by CallAt (when the
	// booking said when) or by the playbook's window, then reminded and
	// escalated like one never booked.
	CallAt          time.Time `json:"call_at,omitzero"`
	BookedReminded  bool      `json:"booked_reminded,omitempty"`
	BookedEscalated bool      `json:"booked_escalated,omitempty"`
	Rebookings      int       `json:"rebookings,omitempty"` // bookings with a time after the first
}

// Milestone statuses.
const (
	MilestonePending = "pending"
	MilestoneDone    = "done"
	MilestoneBlocked = "blocked"
	// MilestoneImported: due before the journey was imported (since
	// revision 7); neither late nor chased, and still recordable as done.
	MilestoneImported = "imported"
	// MilestoneLate is a view status: pending past its due day.
	MilestoneLate = "late"
)

// MilestoneRun is a playbook milestone's progress in this journey.
type MilestoneRun struct {
	ID          string    `json:"id"`
	Status      string    `json:"status"`
	LateStage   int       `json:"late_stage"` // ladder steps already taken
	CompletedAt time.Time `json:"completed_at,omitzero"`
	CompletedOn float64   `json:"completed_day,omitempty"`
	Blocker     string    `json:"blocker,omitempty"`
}

// SilenceState tracks the re-engagement cycle. Anchor is the journey time
// the silence is counted from: the last engagement, or the last manager
// escalation, which starts a new cycle.
type SilenceState struct {
	Anchor time.Duration `json:"anchor"`
	Stage  int           `json:"stage"` // 0 none, 1 re-engagement sent
	Cycle  int           `json:"cycle"` // numbers the cycles, for step keys
}

// EngagementCalc is a decaying sum: Raw points at journey time At.
type EngagementCalc struct {
	Raw         float64       `json:"raw"`
	At          time.Duration `json:"at"`
	LastEvent   time.Time     `json:"last_event,omitzero"`
	LastEventJT time.Duration `json:"last_event_jt"`
	Events      int           `json:"events"`
}

// HappinessCalc holds what the happiness quotient is made of.
type HappinessCalc struct {
	PulseAvg  float64 `json:"pulse_avg"` // 0..100, moving average of pulses
	Pulses    int     `json:"pulses"`
	Sentiment int     `json:"sentiment"` // CSM's last 1..5, 0 when none
	Risk      string  `json:"risk,omitempty"`
}

// Complaint statuses.
const (
	ComplaintOpen     = "open"
	ComplaintResolved = "resolved"
)

// ComplaintRun is a complaint and its escalation.
type ComplaintRun struct {
	ID         string    `json:"id"`
	Severity   string    `json:"severity"`
	Summary    string    `json:"summary"`
	Source     string    `json:"source,omitempty"`
	Status     string    `json:"status"`
	ReceivedAt time.Time `json:"received_at"`
	SLADue     time.Time `json:"sla_due"`
	Stage      int       `json:"stage"` // a ComplaintStage
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Resolution string    `json:"resolution,omitempty"`
}

// Complaint ladder stages: what the complaint has reached so far.
const (
	ComplaintReceived = 0 // nobody told yet
	ComplaintCSMTold  = 1 // the CSM has the task
	ComplaintManager  = 2 // past SLA: the manager was told
	ComplaintSponsor  = 3 // critical and still open: the sponsor was told
)

// AdoptionState is the post-onboarding cadence and the renewal reminders.
type AdoptionState struct {
	Started        bool `json:"started"` // onboarding is over
	NextCheckinDay int  `json:"next_checkin_day"`
	NextQBRDay     int  `json:"next_qbr_day"`
	// RemindersSent counts the renewal reminders sent for RenewalDate.
	RemindersSent int `json:"reminders_sent"`
}

// ScorePoint is the scores on one journey day, for charts. The journey
// stores one when it wakes; the days between are derived from the stored
// point's makings (Raw, At, Quiet, Base: since revision 2), so the history
// has a point for every journey day without a wake-up per day.
type ScorePoint struct {
	Day        int           `json:"day"`
	Engagement int           `json:"engagement"`
	Happiness  int           `json:"happiness"`
	Raw        float64       `json:"raw,omitempty"`   // engagement before decay, at At
	At         time.Duration `json:"at,omitempty"`    // journey time of the point
	Quiet      time.Duration `json:"quiet,omitempty"` // journey time of the last engagement
	Base       float64       `json:"base,omitempty"`  // happiness before the silence penalty
	Derived    bool          `json:"derived,omitempty"`
}

// SAValues is what was last written to the search attributes.
type SAValues struct {
	Health      string    `json:"health"`
	Quadrant    string    `json:"quadrant"`
	Phase       string    `json:"phase"`
	CSMEmail    string    `json:"csm_email"`
	Engagement  int       `json:"engagement"`
	Happiness   int       `json:"happiness"`
	RenewalDate time.Time `json:"renewal_date"`
	// Since revision 5.
	OpenTasks   int       `json:"open_tasks,omitempty"`
	NextTaskDue time.Time `json:"next_task_due,omitzero"`
}

// State is the live view of a journey, answered by the state query.
type State struct {
	CustomerID  string `json:"customer_id"`
	AccountName string `json:"account_name"`
	Playbook    string `json:"playbook"`
	// Imported is the import that placed the journey mid-playbook.
	Imported       *Import         `json:"imported,omitempty"`
	Phase          string          `json:"phase"`
	Day            int             `json:"day"`
	Term           int             `json:"term"`
	RenewalDate    time.Time       `json:"renewal_date"`
	CSM            Person          `json:"csm"`
	Champion       Person          `json:"champion"`
	Paused         bool            `json:"paused"`
	PauseReason    string          `json:"pause_reason,omitempty"`
	Ended          *Ending         `json:"ended,omitempty"`
	Scores         Scores          `json:"scores"`
	Handoff        HandoffState    `json:"handoff"`
	Milestones     []MilestoneView `json:"milestones"`
	Progress       Progress        `json:"milestone_progress"`
	Next           []Upcoming      `json:"next_touchpoints"`
	OpenComplaints []ComplaintRun  `json:"open_complaints"`
	Escalations    int             `json:"escalations"`
	EventsCounted  int             `json:"events_counted"` // engagement events applied, duplicates not
	ScoreHistory   []ScorePoint    `json:"score_history"`  // one point per journey day, the last 400
	EmailBlocked   string          `json:"email_blocked,omitempty"`
	Runs           int             `json:"runs"`
	// Journey names this journey among the account's journeys (empty for
	// journeys before revision 2): a returning customer's is another.
	Journey string `json:"journey,omitempty"`
	// AsOf is the moment the state describes: the reader's clock.
	AsOf time.Time `json:"as_of"`
	// Sending counts messages in flight; Failures those given up.
	Sending  int `json:"sending"`
	Failures int `json:"failures"`
	Revision int `json:"revision"`
	// Started is the journey's day 0 (this journey's, for a returning
	// customer); DayLength the length of its days.
	Started   time.Time     `json:"started"`
	DayLength time.Duration `json:"day_length"`
	// DesiredOutcomes are the outcomes the customer wants, most important
	// first; OutcomeChoices what the playbook offers ("other" included).
	DesiredOutcomes []DesiredOutcome          `json:"desired_outcomes"`
	OutcomeChoices  []playbooks.OutcomeChoice `json:"outcome_choices"`
	// Facts is what the insights job reads of this journey.
	Facts insights.Facts `json:"facts"`
	// Tasks are our side's tasks: the active ones, the earliest due first,
	// then the latest closed (since revision 5). OpenTasks counts the open
	// ones (not snoozed), OverdueTasks those past their due time.
	Tasks        []TaskView `json:"tasks"`
	OpenTasks    int        `json:"open_tasks"`
	OverdueTasks int        `json:"overdue_tasks"`
	// Contacts are the account's contacts, the champion first, each with its
	// email status; Reachable counts those emails go out to.
	Contacts  []ContactView `json:"contacts"`
	Reachable int           `json:"reachable_contacts"`
}

// Scores are the four numbers the product explains.
type Scores struct {
	Engagement int      `json:"engagement"`
	Happiness  int      `json:"happiness"`
	Health     string   `json:"health"`
	Reasons    []string `json:"reasons"`
	Quadrant   string   `json:"quadrant"`
}

// MilestoneView is a milestone with its plan and progress.
type MilestoneView struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Owner        string   `json:"owner"`
	DueDay       int      `json:"due_day"`
	Deliverables []string `json:"deliverables"`
	Status       string   `json:"status"` // pending, done, blocked, late
	DaysLate     int      `json:"days_late,omitempty"`
	CompletedDay float64  `json:"completed_day,omitempty"`
	Blocker      string   `json:"blocker,omitempty"`
}

// Progress counts milestones.
type Progress struct {
	Total   int `json:"total"`
	Done    int `json:"done"`
	OnTime  int `json:"on_time"` // done by the due day, or pending and not yet due
	Late    int `json:"late"`
	Blocked int `json:"blocked"`
	// Imported counts milestones due before the journey was imported.
	Imported int `json:"imported,omitempty"`
	Percent  int `json:"percent"`
}

// Upcoming is a scheduled step: Step is its id, Label the words people
// read ("Day 14 check-in").
type Upcoming struct {
	Step  string    `json:"step"`
	Label string    `json:"label"`
	Kind  string    `json:"kind"`
	At    time.Time `json:"at"`
	Day   int       `json:"day"`
}
