package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// Limits on everything that reaches a journey's history, state or search
// attributes. Temporal refuses a search attribute over 2 KiB (and terminates
// the run that upserts it) and a payload over 2 MiB (and fails every
// workflow task after), so no field may grow without bound. The API checks
// the same limits before anything reaches Temporal; the update validators
// check them again for callers that talk to Temporal directly.
const (
	MaxEmailLen = 254  // RFC 5321's path limit
	MaxNameLen  = 200  // people, accounts
	MaxShortLen = 200  // plan, deal id, "by", "source", reasons for a status
	MaxTextLen  = 2000 // free text: pause reasons, notes, complaint summaries

	// MaxRenewalYears bounds a renewal date: at most this far ahead of today.
	MaxRenewalYears = 10
	// MaxOpenComplaints is how many complaints may be open at once; the next
	// one is refused until some are resolved.
	MaxOpenComplaints = 50
	// MaxPendingSends bounds the messages in flight at once.
	MaxPendingSends = 100
	// MaxCarryBytes is the largest state a run hands to the next, well below
	// Temporal's 2 MiB payload limit.
	MaxCarryBytes = 1 << 20
	// MaxContacts bounds an account's contacts, the champion included.
	MaxContacts = 25
	// EventClockSkew is how far in the future an event's time may be: the
	// sender's clock may run a little ahead of ours.
	EventClockSkew = 5 * time.Minute
)

// checker collects field errors in order.
type checker struct{ errs []error }

func (c *checker) fail(field, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *checker) err() error { return errors.Join(c.errs...) }

// text checks a free-text field's length (in characters) and encoding.
func (c *checker) text(field, s string, max int, required bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		c.fail(field, "is required")
	case !utf8.ValidString(s):
		c.fail(field, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		c.fail(field, "at most %d characters (got %d)", max, utf8.RuneCountInString(s))
	}
}

func (c *checker) email(field, s string, required bool) {
	switch {
	case s == "" && !required:
	case len(s) > MaxEmailLen:
		c.fail(field, "at most %d characters (got %d)", MaxEmailLen, len(s))
	case !validEmail(s):
		c.fail(field, "is not an email address")
	}
}

// person checks a name, an email and a time zone (empty: UTC).
func (c *checker) person(prefix string, p Person) {
	c.text(prefix+".name", p.Name, MaxNameLen, true)
	c.email(prefix+".email", p.Email, true)
	if len(p.TimeZone) > 64 {
		c.fail(prefix+".time_zone", "at most 64 characters")
	} else if _, err := loadZone(p.TimeZone); err != nil {
		c.fail(prefix+".time_zone", "%v", err)
	}
}

// renewal checks a renewal date against today: after it, within the bound.
func (c *checker) renewal(field string, d, today time.Time) {
	switch {
	case d.IsZero():
		c.fail(field, "is required")
	case !d.After(today):
		c.fail(field, "must be after today (%s)", today.UTC().Format("2006-01-02"))
	case d.After(today.AddDate(MaxRenewalYears, 0, 0)):
		c.fail(field, "at most %d years ahead (before %s)", MaxRenewalYears, today.AddDate(MaxRenewalYears, 0, 0).UTC().Format("2006-01-02"))
	}
}

// ValidateStart checks a start request as of today: Validate, and a renewal
// date after today and at most MaxRenewalYears ahead. The API calls it with
// its clock; a new journey's first run checks it with the workflow's.
func (in *JourneyInput) ValidateStart(today time.Time) error {
	var c checker
	if err := in.Validate(); err != nil {
		c.errs = append(c.errs, err)
	}
	if !in.Account.RenewalDate.IsZero() {
		c.renewal("account.renewal_date", in.Account.RenewalDate, today)
	}
	return c.err()
}

// ValidatePause checks a pause request's fields.
func ValidatePause(p PauseRequest) error {
	var c checker
	c.text("reason", p.Reason, MaxTextLen, true)
	c.text("by", p.By, MaxShortLen, false)
	return c.err()
}

// ValidateResume checks a resume request's fields.
func ValidateResume(r ResumeRequest) error {
	var c checker
	c.text("by", r.By, MaxShortLen, false)
	return c.err()
}

// ValidateReassign checks a reassignment's fields.
func ValidateReassign(r Reassignment) error {
	var c checker
	c.person("csm", r.CSM)
	c.text("reason", r.Reason, MaxTextLen, false)
	c.text("by", r.By, MaxShortLen, false)
	return c.err()
}

// ValidateChampion checks a champion change's fields.
func ValidateChampion(ch ChampionChange) error {
	var c checker
	c.person("champion", ch.Champion)
	c.text("reason", ch.Reason, MaxTextLen, false)
	c.text("by", ch.By, MaxShortLen, false)
	return c.err()
}

// contacts checks a start's other contacts: each a whole contact of a
// known role other than the champion's, no address twice.
func (c *checker) contacts(in *JourneyInput) {
	if len(in.Contacts) > MaxContacts-1 {
		c.fail("contacts", "at most %d besides the champion (got %d)", MaxContacts-1, len(in.Contacts))
		return
	}
	seen := map[string]string{strings.ToLower(in.Champion.Email): "champion"}
	for i, ct := range in.Contacts {
		at := fmt.Sprintf("contacts[%d]", i)
		c.contact(at, ct, true)
		if ct.Role == ContactChampion {
			c.fail(at+".role", "the champion is given as champion; a contact here is an admin, a user, an executive_sponsor or billing")
		}
		if ct.ID != "" {
			c.fail(at+".id", "is given by the journey; leave it out")
		}
		key := strings.ToLower(ct.Email)
		if first, dup := seen[key]; dup && ct.Email != "" {
			c.fail(at+".email", "%s is already %s's address", ct.Email, first)
		} else {
			seen[key] = at
		}
	}
}

// contact checks a contact's fields; partial (an update) checks only those
// that are set.
func (c *checker) contact(at string, ct Contact, whole bool) {
	if at != "" {
		at += "."
	}
	if whole || ct.Role != "" {
		if !oneOf(ct.Role, ContactRoles) {
			c.fail(at+"role", "must be one of %s", strings.Join(ContactRoles, ", "))
		}
	}
	if whole || ct.Name != "" {
		c.text(at+"name", ct.Name, MaxNameLen, true)
	}
	if whole || ct.Email != "" {
		c.email(at+"email", ct.Email, true)
	}
	if len(ct.TimeZone) > 64 {
		c.fail(at+"time_zone", "at most 64 characters")
	} else if _, err := loadZone(ct.TimeZone); err != nil {
		c.fail(at+"time_zone", "%v", err)
	}
}

// ContactRoles lists every contact role.
var ContactRoles = playbooks.ContactRoles

// ValidContactID reports whether id can name a contact ("ct1", ...).
func ValidContactID(id string) bool {
	n, ok := strings.CutPrefix(id, "ct")
	if !ok || n == "" || len(n) > 6 || n[0] == '0' {
		return false
	}
	return strings.Trim(n, "0123456789") == ""
}

// ValidateContactChange checks a contact change's fields; the journey
// checks it against its contacts.
func ValidateContactChange(ch ContactChange) error {
	var c checker
	switch ch.Op {
	case ContactAdd:
		c.contact("", ch.Contact, true)
		if ch.ID != "" || ch.Contact.ID != "" {
			c.fail("id", "is given by the journey; leave it out")
		}
	case ContactUpdate:
		c.contact("", ch.Contact, false)
		if ch.Contact == (Contact{ID: ch.Contact.ID}) {
			c.fail("role", "give at least one of role, name, email, time_zone to change")
		}
	case ContactRemove:
	default:
		c.fail("op", "must be %s, %s or %s", ContactAdd, ContactUpdate, ContactRemove)
	}
	if ch.Op == ContactUpdate || ch.Op == ContactRemove {
		if !ValidContactID(ch.ID) {
			c.fail("id", "must name a contact (ct1, ct2, ...)")
		}
	}
	c.text("reason", ch.Reason, MaxTextLen, false)
	c.text("by", ch.By, MaxShortLen, false)
	return c.err()
}

// ValidateOutcomeFields checks what an outcome carries, whatever its kind;
// the journey checks the kind against its state.
func ValidateOutcomeFields(o Outcome, today time.Time) error {
	var c checker
	c.text("note", o.Note, MaxTextLen, false)
	c.text("by", o.By, MaxShortLen, false)
	c.text("milestone_id", o.MilestoneID, 64, false)
	c.text("complaint_id", o.ComplaintID, 64, false)
	c.text("desired_outcome", o.DesiredOutcome, 64, false)
	c.text("desired_text", o.DesiredText, MaxDesiredText, false)
	c.text("source", o.Source, MaxShortLen, false)
	if o.Kind == OutcomeRenewed && !o.RenewalDate.IsZero() && o.RenewalDate.After(today.AddDate(MaxRenewalYears, 0, 0)) {
		c.fail("renewal_date", "at most %d years ahead", MaxRenewalYears)
	}
	return c.err()
}

// ValidateEmailStatusFields checks an email status report's fields.
func ValidateEmailStatusFields(e EmailStatus) error {
	var c checker
	c.text("reason", e.Reason, MaxShortLen, false)
	c.text("source", e.Source, MaxShortLen, false)
	c.text("by", e.By, MaxShortLen, false)
	c.email("address", e.Address, false)
	return c.err()
}

// ValidateEventTime checks an event's own time against the journey: not in
// the future and not before the journey began, each with EventClockSkew of
// leeway (the sender's clock, SendGrid's whole-second timestamps, an event
// queued in the second the journey started). A zero time means "now".
func ValidateEventTime(t, journeyStart, now time.Time) error {
	switch {
	case t.IsZero():
		return nil
	case t.After(now.Add(EventClockSkew)):
		return rejectf("time: %s is in the future", t.UTC().Format(time.RFC3339))
	case t.Before(journeyStart.Add(-EventClockSkew)):
		return rejectf("time: %s is before the journey began (%s)", t.UTC().Format(time.RFC3339), journeyStart.UTC().Format(time.RFC3339))
	}
	return nil
}

// asRejection turns field errors into the validators' rejection (a 422 at
// the API, naming the field).
func asRejection(err error) error {
	if err == nil {
		return nil
	}
	return rejectf("%s", strings.ReplaceAll(err.Error(), "\n", "; "))
}

// clip shortens text kept on the timeline: the full text stays where it
// belongs (the complaint, the pause), the timeline keeps a line of it.
func clip(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
