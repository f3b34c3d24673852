package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Who an email status report is about.
const (
	addrChampion = "champion" // the champion's current address (or no address given)
	addrTeam     = "team"     // the CSM's, the manager's or the sponsor's
	addrOther    = "other"    // nobody current: a former champion, say
)

// addressOf classifies the address an email status report names. Reports
// without an address come from callers before revision 2 and mean the
// champion.
func (j *journey) addressOf(e EmailStatus) (kind, role string) {
	a := strings.TrimSpace(e.Address)
	switch {
	case a == "" || strings.EqualFold(a, j.champion().Email):
		return addrChampion, ""
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
	if kind, _ := j.addressOf(e); kind != addrChampion {
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
	case kind == addrTeam || kind == addrOther:
		j.entry(now, EntrySystem, "email:"+e.Status, fmt.Sprintf("Email status of %s: %s", e.Address, e.Status),
			"reported"+via(e.Source)+by(e.By)+"; not a current customer contact, nothing changes", "")
	case e.Status == EmailSuppressed:
		j.c.EmailBlocked = e.Reason
		j.c.EmailBlockedAddr = j.champion().Email
		j.c.Suppressions++
		j.entry(now, EntrySystem, fmt.Sprintf("email:stopped:%d", j.c.Suppressions), "Customer emails stopped: "+e.Reason, "reported"+via(e.Source), "")
	default:
		j.c.EmailBlocked, j.c.EmailBlockedAddr = "", ""
		j.entry(now, EntrySystem, "email:active", "Customer emails resumed", "reported"+via(e.Source)+by(e.By), "")
		j.closeTasks(now, "email:champion", TaskDone, "customer emails resumed", e.By)
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
