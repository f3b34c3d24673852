package hubspot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seed-a80403e2/lifecycle/workflows"
)

// Property names HubSpot defines.
const (
	PropDealName  = "dealname"
	PropDealStage = "dealstage"
	PropCloseDate = "closedate"
	PropAmount    = "amount"
	PropOwner     = "hubspot_owner_id"
	PropCompany   = "name"
	PropDomain    = "domain"
	PropEmail     = "email"
	PropFirstName = "firstname"
	PropLastName  = "lastname"
	PropTimeZone  = "hs_timezone"
)

// Objects a mapped property may live on.
const (
	ObjectDeal    = "deal"
	ObjectCompany = "company"
)

// PropertyRef names a property of the deal or of its company.
type PropertyRef struct{ Object, Name string }

// Set reports whether the reference names a property.
func (p PropertyRef) Set() bool { return p.Name != "" }

func (p PropertyRef) String() string { return p.Object + "." + p.Name }

// ParsePropertyRef reads "deal.NAME", "company.NAME" or "NAME" (the deal's).
func ParsePropertyRef(s string) (PropertyRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return PropertyRef{}, nil
	}
	obj, name, ok := strings.Cut(s, ".")
	if !ok {
		obj, name = ObjectDeal, s
	}
	if obj != ObjectDeal && obj != ObjectCompany {
		return PropertyRef{}, fmt.Errorf("%q: want deal.NAME or company.NAME", s)
	}
	if name == "" || len(name) > 100 || strings.ContainsAny(name, ", \t") {
		return PropertyRef{}, fmt.Errorf("%q: want a HubSpot property's internal name", s)
	}
	return PropertyRef{Object: obj, Name: name}, nil
}

// Mapping turns a closed-won deal and its records into a journey start.
type Mapping struct {
	// ClosedWonStages are the deal stage ids that start a journey.
	ClosedWonStages []string
	// Plan and Renewal name where the plan and the renewal date are; an
	// unset Renewal renews TermMonths after the close date.
	Plan, Renewal PropertyRef
	TermMonths    int
	// RoleProperty is a contact property holding the contact's role
	// (champion, admin, user, executive_sponsor, billing); unset: the first
	// associated contact is the champion and the others are users.
	RoleProperty string
	// DefaultCSM takes a deal whose owner HubSpot does not name.
	DefaultCSM   workflows.Person
	ManagerEmail string
}

// ClosedWon reports whether stage starts a journey.
func (m Mapping) ClosedWon(stage string) bool { return slices.Contains(m.ClosedWonStages, stage) }

// DealProperties are the deal properties to read.
func (m Mapping) DealProperties() []string {
	return m.props(ObjectDeal, PropDealName, PropDealStage, PropCloseDate, PropAmount, PropOwner)
}

// CompanyProperties are the company properties to read.
func (m Mapping) CompanyProperties() []string {
	return m.props(ObjectCompany, PropCompany, PropDomain)
}

// ContactProperties are the contact properties to read.
func (m Mapping) ContactProperties() []string {
	out := []string{PropEmail, PropFirstName, PropLastName, PropTimeZone}
	if m.RoleProperty != "" {
		out = append(out, m.RoleProperty)
	}
	return out
}

func (m Mapping) props(obj string, base ...string) []string {
	for _, p := range []PropertyRef{m.Plan, m.Renewal} {
		if p.Set() && p.Object == obj && !slices.Contains(base, p.Name) {
			base = append(base, p.Name)
		}
	}
	return base
}

// Start is a journey start made of HubSpot records, every field within the
// start route's limits.
type Start struct {
	AccountID, AccountName, Plan string
	RenewalDate                  time.Time
	DealID                       string
	CSM                          workflows.Person
	ManagerEmail                 string
	Contacts                     []workflows.Contact // the champion first
	// Left says which contacts were left out, and why.
	Left []string
}

// RecordError is a deal whose records cannot start a journey as they are:
// a person must fix them in HubSpot; retrying changes nothing.
type RecordError struct{ Message string }

func (e *RecordError) Error() string { return e.Message }

func recordErr(format string, args ...any) error {
	return &RecordError{Message: fmt.Sprintf(format, args...)}
}

// Journey maps a deal, its company, its contacts (in HubSpot's order) and
// its owner (nil: none) to a start as of now.
func (m Mapping) Journey(now time.Time, d Deal, company Record, contacts []Record, owner *Owner) (Start, error) {
	s := Start{AccountID: "hubspot-" + company.ID, DealID: "hubspot-" + d.ID, ManagerEmail: m.ManagerEmail}
	s.AccountName = clipRunes(oneLine(company.Prop(PropCompany)), workflows.MaxNameLen)
	if s.AccountName == "" {
		s.AccountName = clipRunes(oneLine(company.Prop(PropDomain)), workflows.MaxNameLen)
	}
	if s.AccountName == "" {
		return Start{}, recordErr("company %s of deal %s has neither a name nor a domain", company.ID, d.ID)
	}
	if m.Plan.Set() {
		s.Plan = strings.TrimSpace(m.prop(m.Plan, d, company))
		if n := utf8.RuneCountInString(s.Plan); n > workflows.MaxShortLen {
			return Start{}, recordErr("%s of deal %s is %d characters; a plan is at most %d", m.Plan, d.ID, n, workflows.MaxShortLen)
		}
	}
	renewal, err := m.renewal(now, d, company)
	if err != nil {
		return Start{}, err
	}
	s.RenewalDate = renewal
	switch {
	case owner != nil && validEmail(owner.Email):
		name := oneLine(owner.FirstName + " " + owner.LastName)
		if name == "" {
			name = owner.Email
		}
		s.CSM = workflows.Person{Name: clipRunes(name, workflows.MaxNameLen), Email: owner.Email}
	case m.DefaultCSM.Email != "":
		s.CSM = m.DefaultCSM
	default:
		return Start{}, recordErr("deal %s has no owner with an email address, and HUBSPOT_DEFAULT_CSM is unset", d.ID)
	}
	s.Contacts, s.Left = m.contacts(contacts)
	if len(s.Contacts) == 0 {
		return Start{}, recordErr("deal %s has no associated contact with an email address: associate the customer's champion with the deal", d.ID)
	}
	return s, nil
}

func (m Mapping) prop(p PropertyRef, d Deal, company Record) string {
	if p.Object == ObjectCompany {
		return company.Prop(p.Name)
	}
	return d.Prop(p.Name)
}

// renewal is the configured property's date, else the close date (else
// now) plus the term.
func (m Mapping) renewal(now time.Time, d Deal, company Record) (time.Time, error) {
	if m.Renewal.Set() {
		v := strings.TrimSpace(m.prop(m.Renewal, d, company))
		if v == "" {
			return time.Time{}, recordErr("%s of deal %s is empty: set it in HubSpot (or unset HUBSPOT_RENEWAL_PROPERTY to renew %d months after the close date)", m.Renewal, d.ID, m.term())
		}
		t, ok := parseDate(v)
		if !ok {
			return time.Time{}, recordErr("%s of deal %s is %q, not a date", m.Renewal, d.ID, clipRunes(v, 40))
		}
		return t, nil
	}
	from := now.UTC()
	if t, ok := parseDate(d.Prop(PropCloseDate)); ok {
		from = t
	}
	y, mo, day := from.Date()
	return time.Date(y, mo, day, 0, 0, 0, 0, time.UTC).AddDate(0, m.term(), 0), nil
}

func (m Mapping) term() int {
	if m.TermMonths <= 0 {
		return 12
	}
	return m.TermMonths
}

// parseDate reads HubSpot's date forms: "2027-12-01", RFC 3339, or
// milliseconds since the epoch (older date properties).
func parseDate(v string) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339, time.RFC3339Nano} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 && ms < 1e14 {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// contacts keeps the contacts a journey can write to, at most
// workflows.MaxContacts, the champion first: the first with the champion
// role, else the first one.
func (m Mapping) contacts(recs []Record) ([]workflows.Contact, []string) {
	var out []workflows.Contact
	var left []string
	seen := map[string]bool{}
	champion := -1
	for _, r := range recs {
		email := strings.TrimSpace(r.Prop(PropEmail))
		switch {
		case email == "":
			left = append(left, fmt.Sprintf("contact %s: no email address", r.ID))
			continue
		case len(email) > workflows.MaxEmailLen || !validEmail(email):
			left = append(left, fmt.Sprintf("contact %s: %q is not an email address the journey can use", r.ID, clipRunes(email, 60)))
			continue
		case seen[strings.ToLower(email)]:
			left = append(left, fmt.Sprintf("contact %s: %s is another contact's address too", r.ID, email))
			continue
		case len(out) == workflows.MaxContacts:
			left = append(left, fmt.Sprintf("contact %s: a journey keeps at most %d contacts", r.ID, workflows.MaxContacts))
			continue
		}
		seen[strings.ToLower(email)] = true
		name := oneLine(r.Prop(PropFirstName) + " " + r.Prop(PropLastName))
		if name == "" {
			name = email
		}
		role := workflows.ContactUser
		if m.RoleProperty != "" {
			if v := strings.ToLower(strings.TrimSpace(r.Prop(m.RoleProperty))); slices.Contains(workflows.ContactRoles, v) {
				role = v
			}
		}
		if role == workflows.ContactChampion {
			if champion >= 0 {
				role = workflows.ContactUser // one champion: the first
			} else {
				champion = len(out)
			}
		}
		out = append(out, workflows.Contact{Role: role, Name: clipRunes(name, workflows.MaxNameLen), Email: email, TimeZone: TimeZone(r.Prop(PropTimeZone))})
	}
	if len(out) == 0 {
		return nil, left
	}
	if champion < 0 {
		champion = 0
		out[0].Role = workflows.ContactChampion
	}
	if champion > 0 {
		ch := out[champion]
		out = append([]workflows.Contact{ch}, slices.Delete(out, champion, champion+1)...)
	}
	return out, left
}

// TimeZone turns HubSpot's hs_timezone value ("america_slash_new_york")
// into an IANA zone ("America/New_York"); "" (UTC) when it names none.
func TimeZone(v string) string {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > 64 {
		return ""
	}
	name := v
	if !strings.Contains(v, "/") {
		parts := strings.Split(strings.ToLower(v), "_slash_")
		for i, p := range parts {
			words := strings.Split(p, "_")
			for j, w := range words {
				if w != "" {
					words[j] = strings.ToUpper(w[:1]) + w[1:]
				}
			}
			parts[i] = strings.Join(words, "_")
		}
		name = strings.Join(parts, "/")
	}
	if _, err := time.LoadLocation(name); err != nil || name == "Local" {
		return ""
	}
	return name
}

// validEmail is the journey's own rule (workflows.validEmail), so that a
// contact kept here is never refused there.
func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-3 && strings.Contains(s[at:], ".") && !strings.ContainsAny(s, " \t\r\n<>,;\"")
}

// oneLine collapses whitespace (HubSpot text may hold newlines) and trims.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// clipRunes shortens s to at most n characters, on a character boundary.
func clipRunes(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}
