package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Who an email status report is about.
const (
	addrChampion = "champion" // the champion's current address (or no address given)
	addrTeam     = "team"     // the CSM's, the manager's or the sponsor's
	addrOther    = "other"    // nobody current: a former champion, say
	addrContact  = "contact"  // another contact of the account (since revision 6)
)

// addressOf classifies the address an email status report names. Reports
// without an address come from callers before revision 2 and mean the
// champion.
func (j *journey) addressOf(e EmailStatus) (kind, role string) {
	a := strings.TrimSpace(e.Address)
	switch {
	case a == "" || strings.EqualFold(a, j.champion().Email):
		return addrChampion, ""
	case j.rev >= 6 && j.contactByEmail(a) != nil:
		return addrContact, ""
	case strings.EqualFold(a, j.c.CSM.Email):
		return addrTeam, roleCSM
	case strings.EqualFold(a, j.in.ManagerEmail):
		return addrTeam, roleManager
	case strings.EqualFold(a, j.in.SponsorEmail):
		return addrTeam, roleSponsor
	}
	return addrOther, ""
}

func (j *journey) validateEmailStatus(e EmailStatus) error {
	if err := j.open(); err != nil {
		return err
	}
	if err := ValidateEmailStatusFields(e); err != nil {
		return asRejection(err)
	}
	switch {
	case e.Status != EmailSuppressed && e.Status != EmailActive:
		return rejectf("status: must be %s or %s", EmailSuppressed, EmailActive)
	case e.Status == EmailSuppressed && strings.TrimSpace(e.Reason) == "":
		return rejectf("reason: say why emails stop (bounce, unsubscribe, ...)")
	}
	kind, _ := j.addressOf(e)
	if kind == addrContact {
		ct := j.contactByEmail(e.Address)
		switch {
		case e.Status == EmailSuppressed && ct.Stopped != "":
			return rejectf("status: emails to %s are already stopped (%s)", ct.Email, ct.Stopped)
		case e.Status == EmailActive && ct.Stopped == "":
			return rejectf("status: emails to %s are not stopped", ct.Email)
		}
		return nil
	}
	if kind != addrChampion {
		return nil
	}
	switch {
	case e.Status == EmailSuppressed && j.c.EmailBlocked != "":
		return rejectf("status: emails to the champion are already stopped (%s)", j.c.EmailBlocked)
	case e.Status == EmailActive && j.c.EmailBlocked == "":
		return rejectf("status: emails to the champion are not stopped")
	}
	return nil
}

// onEmailStatus stops or restarts customer email when the report is about
// the champion's address; stopping tasks the CSM, who has to reach the
// champion another way. A team address that bounced never stops customer
// email: it is recorded, and someone is told to fix the address (the
// manager when it is the CSM's own, the CSM otherwise).
func (j *journey) onEmailStatus(ctx workflow.Context, e EmailStatus) (State, error) {
	now := workflow.Now(ctx).UTC()
	kind, role := j.addressOf(e)
	switch {
	case kind == addrTeam && e.Status == EmailSuppressed:
		j.c.TeamBounces++
		j.c.TeamBounce = fmt.Sprintf("%s address %s: %s", role, e.Address, e.Reason)
		j.entry(now, EntrySystem, fmt.Sprintf("email:team:%d", j.c.TeamBounces), "Team address undeliverable: "+e.Address,
			e.Reason+" reported"+via(e.Source)+"; customer email continues", "")
	case kind == addrContact:
		j.onContactEmail(now, j.contactByEmail(e.Address), e)
	case kind == addrTeam || kind == addrOther:
		j.entry(now, EntrySystem, "email:"+e.Status, fmt.Sprintf("Email status of %s: %s", e.Address, e.Status),
			"reported"+via(e.Source)+by(e.By)+"; not a current customer contact, nothing changes", "")
	case e.Status == EmailSuppressed:
		j.c.EmailBlocked = e.Reason
		j.c.EmailBlockedAddr = j.champion().Email
		j.c.Suppressions++
		if ct := j.championContact(); ct != nil {
			ct.Stopped, ct.StoppedAt = e.Reason, now
		}
		j.entry(now, EntrySystem, fmt.Sprintf("email:stopped:%d", j.c.Suppressions), "Customer emails stopped: "+e.Reason, "reported"+via(e.Source), "")
	default:
		j.c.EmailBlocked, j.c.EmailBlockedAddr = "", ""
		if ct := j.championContact(); ct != nil {
			ct.Stopped, ct.StoppedAt = "", time.Time{}
		}
		j.entry(now, EntrySystem, "email:active", "Customer emails resumed", "reported"+via(e.Source)+by(e.By), "")
		j.closeTasks(now, "email:champion", TaskDone, "customer emails resumed", e.By)
		j.reached(now, e.By)
	}
	j.poke()
	return j.state(now, StateQuery{}), nil
}

// teamBounceSteps tells someone that a team address bounced.
func (j *journey) teamBounceSteps(add func(step), now time.Time) {
	if j.c.TeamNotices >= j.c.TeamBounces {
		return
	}
	key := fmt.Sprintf("email:team:%d:notice", j.c.TeamBounces)
	role := roleCSM
	if strings.HasPrefix(j.c.TeamBounce, roleCSM+" ") {
		role = roleManager
	}
	add(step{key: key, kind: EntryTask, due: now, run: func(ctx workflow.Context, now time.Time) error {
		j.c.TeamNotices = j.c.TeamBounces
		return j.notify(ctx, now, role, key, fmt.Sprintf("%s: a team address cannot be emailed", j.in.Account.Name),
			fmt.Sprintf("Email to the %s. Fix the address (reassign the CSM, or correct the manager or sponsor on the deal), then ask an admin to lift the suppression (DELETE /v1/suppressions/{email}). Customer email to %s continues.",
				j.c.TeamBounce, j.champion().Email), "team address undeliverable")
	}})
}

func (j *journey) validateChampion(ch ChampionChange) error {
	if err := j.open(); err != nil {
		return err
	}
	if err := ValidateChampion(ch); err != nil {
		return asRejection(err)
	}
	if ch.Champion == j.champion() {
		return rejectf("champion: %s <%s> is already the champion", ch.Champion.Name, ch.Champion.Email)
	}
	return nil
}

// onChampion replaces the champion contact: later customer email goes to the
// new address, in the new time zone. Customer email stopped for the old
// address resumes for a new one.
func (j *journey) onChampion(ctx workflow.Context, ch ChampionChange) (State, error) {
	now := workflow.Now(ctx).UTC()
	old := j.champion()
	p := ch.Champion
	if j.rev >= 6 {
		j.entry(now, EntryOutcome, "champion", fmt.Sprintf("Champion changed from %s to %s", old.Name, p.Name),
			strings.TrimSpace(ch.Reason+by(ch.By)), p.Email)
		cur := j.championContact()
		if other := j.contactByEmail(p.Email); other != nil && other.ID != cur.ID {
			// An existing contact becomes the champion; the one before leaves.
			id := other.ID
			j.dropContact(cur.ID)
			other = j.contact(id)
			other.Role, other.Name, other.TimeZone = ContactChampion, p.Name, p.TimeZone
		} else {
			if !strings.EqualFold(cur.Email, p.Email) {
				cur.Stopped, cur.StoppedAt = "", time.Time{} // a new address
			}
			cur.Name, cur.Email, cur.TimeZone = p.Name, p.Email, p.TimeZone
		}
		j.championChanged(now, old, ch.By)
		j.poke()
		return j.state(now, StateQuery{}), nil
	}
	j.c.Champion = &p
	if loc, err := loadZone(p.TimeZone); err == nil { // checked by the validator
		j.loc = loc
	}
	j.entry(now, EntryOutcome, "champion", fmt.Sprintf("Champion changed from %s to %s", old.Name, p.Name),
		strings.TrimSpace(ch.Reason+by(ch.By)), p.Email)
	blocked := j.c.EmailBlockedAddr
	if blocked == "" {
		blocked = old.Email // stopped before the address was recorded
	}
	if j.c.EmailBlocked != "" && !strings.EqualFold(p.Email, blocked) {
		j.entry(now, EntrySystem, "email:active", "Customer emails resumed",
			fmt.Sprintf("new champion address %s (emails had stopped for %s: %s)", p.Email, old.Email, j.c.EmailBlocked), "")
		j.c.EmailBlocked, j.c.EmailBlockedAddr = "", ""
		j.closeTasks(now, "email:champion", TaskDone, "new champion address "+p.Email, ch.By)
	}
	j.poke()
	return j.state(now, StateQuery{}), nil
}

// Since revision 6 the account has contacts (Carry.Contacts): the champion
// and any admins, users, executive sponsor and billing contacts, each with
// an email status of its own. Carry.Champion and Carry.EmailBlocked mirror
// the champion contact, so everything that speaks of "the champion" reads
// it as before.

// initContacts makes the champion the first contact, with the email status
// it had, and adds the start's other contacts: at a journey's first run on
// revision 6, new or continued.
func (j *journey) initContacts(now time.Time) {
	if j.rev < 6 || len(j.c.Contacts) > 0 {
		return
	}
	ch := j.champion()
	first := ContactRun{Contact: Contact{ID: "ct1", Role: ContactChampion, Name: ch.Name, Email: ch.Email, TimeZone: ch.TimeZone}}
	if j.c.EmailBlocked != "" {
		first.Stopped, first.StoppedAt = j.c.EmailBlocked, now.UTC()
	}
	j.c.Contacts, j.c.NextContact = []ContactRun{first}, 1
	for _, ct := range j.in.Contacts {
		if len(j.c.Contacts) >= MaxContacts || ct.Role == ContactChampion || j.contactByEmail(ct.Email) != nil {
			continue // refused by Validate; a continued run keeps what it can
		}
		j.c.NextContact++
		ct.ID = fmt.Sprintf("ct%d", j.c.NextContact)
		j.c.Contacts = append(j.c.Contacts, ContactRun{Contact: ct})
	}
	j.c.Champion = &ch
}

func (j *journey) contact(id string) *ContactRun {
	for i := range j.c.Contacts {
		if j.c.Contacts[i].ID == id {
			return &j.c.Contacts[i]
		}
	}
	return nil
}

func (j *journey) contactByEmail(addr string) *ContactRun {
	addr = strings.TrimSpace(addr)
	for i := range j.c.Contacts {
		if strings.EqualFold(j.c.Contacts[i].Email, addr) {
			return &j.c.Contacts[i]
		}
	}
	return nil
}

// championContact is the champion among the contacts; nil before revision 6.
func (j *journey) championContact() *ContactRun {
	for i := range j.c.Contacts {
		if j.c.Contacts[i].Role == ContactChampion {
			return &j.c.Contacts[i]
		}
	}
	return nil
}

func (j *journey) dropContact(id string) {
	j.c.Contacts = slices.DeleteFunc(j.c.Contacts, func(c ContactRun) bool { return c.ID == id })
}

// reachable counts the contacts emails go out to.
func (j *journey) reachable() int {
	n := 0
	for _, c := range j.c.Contacts {
		if c.Stopped == "" {
			n++
		}
	}
	return n
}

// championChanged mirrors a new or changed champion contact (its address,
// its time zone, its email status) and closes what it settles.
func (j *journey) championChanged(now time.Time, old Person, who string) {
	ct := j.championContact()
	p := Person{Name: ct.Name, Email: ct.Email, TimeZone: ct.TimeZone}
	j.c.Champion = &p
	if loc, err := loadZone(p.TimeZone); err == nil { // checked by the validator
		j.loc = loc
	}
	blocked := j.c.EmailBlocked
	j.c.EmailBlocked, j.c.EmailBlockedAddr = ct.Stopped, ""
	if ct.Stopped != "" {
		j.c.EmailBlockedAddr = ct.Email
	}
	if blocked != "" && ct.Stopped == "" {
		j.entry(now, EntrySystem, "email:active", "Customer emails resumed",
			fmt.Sprintf("new champion address %s (emails had stopped for %s: %s)", p.Email, old.Email, blocked), "")
		j.closeTasks(now, "email:champion", TaskDone, "new champion address "+p.Email, who)
	}
	j.reached(now, who)
}

// reached closes the task to find a contact once someone can be emailed.
func (j *journey) reached(now time.Time, who string) {
	if j.rev >= 6 && j.reachable() > 0 {
		j.closeTasks(now, "contacts", TaskDone, "a contact can be emailed again", who)
	}
}

// onContactEmail stops or restarts the emails of one contact other than
// the champion; nobody else's change. The last reachable contact stopping
// tasks the CSM to find someone (noContactSteps).
func (j *journey) onContactEmail(now time.Time, ct *ContactRun, e EmailStatus) {
	who := fmt.Sprintf("%s <%s> (%s)", ct.Name, ct.Email, ct.Role)
	if e.Status == EmailSuppressed {
		ct.Stopped, ct.StoppedAt = e.Reason, now
		j.entry(now, EntrySystem, "contact:"+ct.ID+":stopped", "Emails stopped for "+who+": "+e.Reason,
			"reported"+via(e.Source)+"; the other contacts' emails continue", "")
		if j.reachable() == 0 {
			j.c.Unreachable++
		}
		return
	}
	ct.Stopped, ct.StoppedAt = "", time.Time{}
	j.entry(now, EntrySystem, "contact:"+ct.ID+":active", "Emails resumed for "+who, "reported"+via(e.Source)+by(e.By), "")
	j.reached(now, e.By)
}

// audience is who a customer email with these roles goes to: the reachable
// contacts in them, by role then by age; when there are none, the champion;
// nobody when the champion cannot be emailed either. why says who was left
// out and for what.
func (j *journey) audience(roles []string) (to []ContactRun, why string) {
	if len(roles) == 0 {
		roles = []string{ContactChampion}
	}
	var stopped []string
	for _, r := range roles {
		for _, c := range j.c.Contacts {
			switch {
			case c.Role != r:
			case c.Stopped != "":
				stopped = append(stopped, c.Email)
			default:
				to = append(to, c)
			}
		}
	}
	if len(stopped) > 0 {
		why = "emails stopped for " + strings.Join(stopped, ", ")
	}
	if len(to) > 0 {
		return to, why
	}
	ch := j.championContact()
	if ch.Stopped == "" {
		return []ContactRun{*ch}, fmt.Sprintf("no %s can be emailed: to the champion", strings.Join(roles, " or "))
	}
	return nil, fmt.Sprintf("no %s can be emailed, nor the champion (%s)", strings.Join(roles, " or "), ch.Stopped)
}

// contactViews is the contacts as the state shows them; a journey before
// revision 6 has its champion only.
func (j *journey) contactViews() ([]ContactView, int) {
	runs := j.c.Contacts
	if len(runs) == 0 {
		ch := j.champion()
		runs = []ContactRun{{Contact: Contact{ID: "ct1", Role: ContactChampion, Name: ch.Name, Email: ch.Email, TimeZone: ch.TimeZone}, Stopped: j.c.EmailBlocked}}
	}
	out := make([]ContactView, 0, len(runs))
	reachable := 0
	for _, c := range runs {
		if c.Stopped == "" {
			reachable++
		}
		out = append(out, viewOf(c))
	}
	return out, reachable
}

// noContactSteps tasks the CSM when nobody at the account can be emailed
// (the champion's own stop has its notice: emailNoticeSteps).
func (j *journey) noContactSteps(add func(step), now time.Time) {
	if j.rev < 6 || j.c.UnreachableTold >= j.c.Unreachable {
		return
	}
	key := fmt.Sprintf("contacts:none:%d", j.c.Unreachable)
	add(step{key: key, kind: EntryTask, due: now, run: func(ctx workflow.Context, now time.Time) error {
		j.c.UnreachableTold = j.c.Unreachable
		if j.reachable() > 0 {
			return nil // someone can be emailed again already
		}
		return j.notify(ctx, now, roleCSM, key, fmt.Sprintf("%s: nobody at the account can be emailed", j.in.Account.Name),
			"Every contact's emails have stopped (bounces, unsubscribes). Find someone to write to and add them (POST /v1/customers/{id}/contacts), or correct an address (PATCH /v1/customers/{id}/contacts/{contact}).",
			"no reachable contact")
	}})
}

func (j *journey) validateContact(ch ContactChange) error {
	if err := j.open(); err != nil {
		return err
	}
	if j.rev < 6 {
		return rejectf("contacts: this journey runs revision %d; it takes contacts from revision 6, at its next continue-as-new", j.rev)
	}
	if err := ValidateContactChange(ch); err != nil {
		return asRejection(err)
	}
	if ch.Op == ContactAdd && len(j.c.Contacts) >= MaxContacts {
		return rejectf("contacts: at most %d per account; remove one first", MaxContacts)
	}
	var cur *ContactRun
	if ch.Op != ContactAdd {
		if cur = j.contact(ch.ID); cur == nil {
			return rejectf("id: %s is not a contact of this journey", ch.ID)
		}
	}
	if e := ch.Contact.Email; e != "" {
		if other := j.contactByEmail(e); other != nil && other != cur {
			return rejectf("email: %s is already the address of %s (%s)", e, other.ID, other.Name)
		}
		if kind, role := j.addressOf(EmailStatus{Address: e}); kind == addrTeam {
			return rejectf("email: %s is the %s's address, on our side", e, role)
		}
	}
	switch {
	case ch.Op == ContactRemove && cur.Role == ContactChampion:
		return rejectf("id: %s is the champion; make another contact the champion first", ch.ID)
	case ch.Op == ContactUpdate && cur.Role == ContactChampion && ch.Contact.Role != "" && ch.Contact.Role != ContactChampion:
		return rejectf("role: %s is the champion; make another contact the champion instead", ch.ID)
	case ch.Op == ContactUpdate && cur.Contact == merged(cur.Contact, ch.Contact):
		return rejectf("id: %s already has these details; nothing changes", ch.ID)
	}
	return nil
}

// merged is c with the fields of change that are set.
func merged(c, change Contact) Contact {
	if change.Role != "" {
		c.Role = change.Role
	}
	if change.Name != "" {
		c.Name = change.Name
	}
	if change.Email != "" {
		c.Email = change.Email
	}
	if change.TimeZone != "" {
		c.TimeZone = change.TimeZone
		if change.TimeZone == "UTC" {
			c.TimeZone = ""
		}
	}
	return c
}

// onContact adds, changes or removes a contact; later customer emails go
// to the contacts as they are now.
func (j *journey) onContact(ctx workflow.Context, ch ContactChange) (ContactView, error) {
	now := workflow.Now(ctx).UTC()
	old := j.champion()
	why := strings.TrimSpace(ch.Reason + by(ch.By))
	var out ContactRun
	switch ch.Op {
	case ContactAdd:
		j.c.NextContact++
		ct := ch.Contact
		ct.ID = fmt.Sprintf("ct%d", j.c.NextContact)
		if ct.TimeZone == "UTC" {
			ct.TimeZone = ""
		}
		if ct.Role == ContactChampion {
			j.championContact().Role = ContactUser
		}
		j.c.Contacts = append(j.c.Contacts, ContactRun{Contact: ct})
		out = j.c.Contacts[len(j.c.Contacts)-1]
		j.entry(now, EntryOutcome, "contact:"+ct.ID+":added", fmt.Sprintf("Contact added: %s (%s)", ct.Name, ct.Role), why, ct.Email)
	case ContactUpdate:
		cur := j.contact(ch.ID)
		next := merged(cur.Contact, ch.Contact)
		if next.Role == ContactChampion && cur.Role != ContactChampion {
			j.championContact().Role = ContactUser
		}
		if !strings.EqualFold(next.Email, cur.Email) {
			cur.Stopped, cur.StoppedAt = "", time.Time{} // a new address
		}
		cur.Contact = next
		out = *cur
		j.entry(now, EntryOutcome, "contact:"+ch.ID+":changed", fmt.Sprintf("Contact changed: %s (%s)", next.Name, next.Role), why, next.Email)
	default:
		out = *j.contact(ch.ID)
		j.dropContact(ch.ID)
		j.entry(now, EntryOutcome, "contact:"+ch.ID+":removed", fmt.Sprintf("Contact removed: %s (%s)", out.Name, out.Role), why, out.Email)
		if j.reachable() == 0 && out.Stopped == "" {
			j.c.Unreachable++
		}
	}
	if cc := j.championContact(); cc.Email != old.Email || cc.Name != old.Name || cc.TimeZone != old.TimeZone || cc.Stopped != j.c.EmailBlocked {
		if cc.Email != old.Email {
			j.entry(now, EntryOutcome, "champion", fmt.Sprintf("Champion changed from %s to %s", old.Name, cc.Name), why, cc.Email)
		}
		j.championChanged(now, old, ch.By)
	}
	j.reached(now, ch.By)
	j.poke()
	return viewOf(out), nil
}

func viewOf(c ContactRun) ContactView {
	v := ContactView{Contact: c.Contact, EmailStatus: EmailActive, Stopped: c.Stopped, StoppedAt: c.StoppedAt}
	if c.Stopped != "" {
		v.EmailStatus = EmailSuppressed
	}
	return v
}
