package workflows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// accountInput is an account with a champion (Ada), an admin (Bob), two
// users (Cy, Dee), an executive sponsor (Eve) and a billing contact (Fay).
func accountInput(pb *playbooks.Playbook) workflows.JourneyInput {
	in := testInput(pb)
	in.Contacts = []workflows.Contact{
		{Role: workflows.ContactAdmin, Name: "Bob Admin", Email: "bob@acme.example", TimeZone: "America/New_York"},
		{Role: workflows.ContactUser, Name: "Cy User", Email: "cy@acme.example"},
		{Role: workflows.ContactUser, Name: "Dee User", Email: "dee@acme.example"},
		{Role: workflows.ContactSponsor, Name: "Eve Sponsor", Email: "eve@acme.example"},
		{Role: workflows.ContactBilling, Name: "Fay Billing", Email: "fay@acme.example"},
	}
	return in
}

// recipients lists, per step, the addresses the outbox has customer emails
// of that step to, sorted (the sends of a step run side by side; the
// timeline entry keeps the audience's order).
func (h *harness) recipients() map[string][]string {
	h.t.Helper()
	msgs, err := h.store.OutboxList(context.Background(), "acme", 10000)
	require.NoError(h.t, err)
	out := map[string][]string{}
	for _, m := range msgs {
		if m.Kind == "customer" {
			out[m.Step] = append(out[m.Step], m.ToEmail)
		}
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

func (c *call) contact(label string, ch workflows.ContactChange) {
	c.update(label, workflows.UpdateContact, ch, nil)
}

func bounce(c *call, label, addr string) {
	c.update(label, workflows.UpdateEmail, workflows.EmailStatus{Status: workflows.EmailSuppressed, Reason: "bounce", Source: "sendgrid", Address: addr}, nil)
}

// TestTouchpointsGoToTheRolesTheyName: the welcome to the champion, the
// training and webinar invites to the admin and the users, the reviews and
// the QBR to the champion and the executive sponsor, the renewal reminders
// to the champion and billing; a user's bounce stops that user's email only,
// and the contacts survive the continue-as-new of the next term.
func TestTouchpointsGoToTheRolesTheyName(t *testing.T) {
	h := newHarness(t, accountInput(playbooks.Default()))
	var early workflows.State
	h.at(1, func(c *call) { bounce(c, "cy-bounce", "CY@acme.example") })
	h.at(1.5, func(c *call) { early = c.state() })
	h.run(370)
	require.NoError(t, h.results["cy-bounce"].rejected)
	to := h.recipients()
	ada, bob, cy, dee, eve, fay := "ada@acme.example", "bob@acme.example", "cy@acme.example", "dee@acme.example", "eve@acme.example", "fay@acme.example"
	assert.Equal(t, []string{ada}, to["handoff:welcome"])
	assert.Equal(t, []string{bob, dee}, to["touchpoint:training-basics"], "admin and users; Cy bounced")
	assert.Equal(t, []string{bob, dee}, to["touchpoint:webinar-welcome"])
	assert.Equal(t, []string{ada}, to["touchpoint:checkin-14"])
	assert.Equal(t, []string{ada, eve}, to["touchpoint:review-30"])
	assert.Equal(t, []string{ada, eve}, to["qbr:d180"])
	assert.Equal(t, []string{ada, fay}, to["renewal:2027-01-05:120d"])
	assert.NotContains(t, slices.Concat(slices.Collect(mapValues(to))...), cy, "nothing to Cy after the bounce")

	require.Len(t, early.Contacts, 6)
	assert.Equal(t, "ct1", early.Contacts[0].ID)
	assert.Equal(t, workflows.ContactChampion, early.Contacts[0].Role)
	assert.Equal(t, workflows.EmailSuppressed, early.Contacts[2].EmailStatus)
	assert.Equal(t, "bounce", early.Contacts[2].Stopped)
	assert.Equal(t, 5, early.Reachable)
	assert.Empty(t, early.EmailBlocked, "a user's bounce does not stop the champion's email")
	for _, task := range early.Tasks {
		assert.Equal(t, "handoff", task.Subject, "nobody is tasked for one user's bounce")
	}

	assert.Greater(t, h.final.Term, 1, "the journey went into its second term")
	assert.Greater(t, h.final.Runs, 0, "and continued as new")
	require.Len(t, h.final.Contacts, 6, "the contacts survive continue-as-new")
	assert.Equal(t, workflows.EmailSuppressed, h.final.Contacts[2].EmailStatus)

	// Every message has a key of its own; the champion's is the step's.
	msgs, err := h.store.OutboxList(context.Background(), "acme", 10000)
	require.NoError(t, err)
	keys := map[string]bool{}
	for _, m := range msgs {
		assert.False(t, keys[m.Key], "key %s used twice", m.Key)
		keys[m.Key] = true
		if m.Step == "touchpoint:training-basics" {
			assert.Regexp(t, `/touchpoint:training-basics/ct[0-9]+$`, m.Key, "the admin's and the users' keys name the contact")
		}
		if m.Step == "handoff:welcome" {
			assert.True(t, strings.HasSuffix(m.Key, "/handoff:welcome"))
		}
	}
	e, ok := h.entry("touchpoint:training-basics")
	require.True(t, ok)
	assert.Equal(t, bob+", "+dee, e.To)
	assert.Contains(t, e.Cause, "emails stopped for "+cy)
}

func mapValues(m map[string][]string) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

// TestAPlaybookNamesItsAudience: a touchpoint's own `to` wins over its
// kind's default, and an audience with nobody reachable in it falls back to
// the champion.
func TestAPlaybookNamesItsAudience(t *testing.T) {
	pb := playbooks.Default()
	pb.Touchpoints[0].To = []string{workflows.ContactBilling, workflows.ContactChampion} // training-basics, day 3
	pb.Touchpoints[1].To = []string{workflows.ContactAdmin}                              // webinar-welcome, day 7
	in := testInput(pb)
	in.Contacts = []workflows.Contact{{Role: workflows.ContactBilling, Name: "Fay Billing", Email: "fay@acme.example"}}
	h := newHarness(t, in)
	h.run(8)
	to := h.recipients()
	assert.Equal(t, []string{"ada@acme.example", "fay@acme.example"}, to["touchpoint:training-basics"])
	e, ok := h.entry("touchpoint:training-basics")
	require.True(t, ok)
	assert.Equal(t, "fay@acme.example, ada@acme.example", e.To, "in the order the playbook names the roles")
	assert.Equal(t, []string{"ada@acme.example"}, to["touchpoint:webinar-welcome"], "no admin: the champion")
	e, ok = h.entry("touchpoint:webinar-welcome")
	require.True(t, ok)
	assert.Contains(t, e.Cause, "no admin can be emailed: to the champion")
}

// TestTheChampionsBounceStopsOnlyTheChampion: the champion's emails stop
// (the CSM is told, with who can still be reached), the admin's and users'
// go on; making the admin the champion re-targets the champion's emails and
// closes the task.
func TestTheChampionsBounceStopsOnlyTheChampion(t *testing.T) {
	h := newHarness(t, accountInput(playbooks.Default()))
	var stopped workflows.State
	h.at(1, func(c *call) { bounce(c, "ada-bounce", "ada@acme.example") })
	h.at(10, func(c *call) { stopped = c.state() })
	h.at(15, func(c *call) {
		c.contact("promote", workflows.ContactChange{Op: workflows.ContactUpdate, ID: "ct2", Contact: workflows.Contact{Role: workflows.ContactChampion}, Reason: "Ada left", By: "grace"})
	})
	h.run(31)
	require.NoError(t, h.results["promote"].rejected)
	to := h.recipients()
	assert.Equal(t, []string{"bob@acme.example", "cy@acme.example", "dee@acme.example"}, to["touchpoint:training-basics"])
	assert.Empty(t, to["touchpoint:checkin-14"], "the champion's own email stopped")
	_, skipped := h.entry("touchpoint:checkin-14:not-sent")
	assert.True(t, skipped)
	assert.Equal(t, []string{"bob@acme.example"}, to["touchpoint:pulse-21"], "the new champion gets the champion's emails")
	assert.Equal(t, []string{"bob@acme.example", "eve@acme.example"}, to["touchpoint:review-30"])

	assert.Equal(t, "bounce", stopped.EmailBlocked)
	task := taskAbout(t, stopped, "email:champion")
	assert.Equal(t, workflows.TaskOpen, task.Status)
	notice := outboxStepText(t, h, "email:stopped:1:csm")
	assert.Contains(t, notice, "The other contacts (5 reachable)")

	assert.Equal(t, "bob@acme.example", h.final.Champion.Email)
	assert.Empty(t, h.final.EmailBlocked)
	assert.Equal(t, workflows.ContactUser, h.final.Contacts[0].Role, "Ada stays a contact, as a user")
	assert.Equal(t, workflows.EmailSuppressed, h.final.Contacts[0].EmailStatus)
	closed := taskAbout(t, h.final, "email:champion")
	assert.Equal(t, workflows.TaskDone, closed.Status)
}

// TestNobodyToEmailTasksTheCSM: once every contact's emails have stopped,
// the CSM is tasked to find someone; a contact added closes the task and
// gets the next email meant for its role.
func TestNobodyToEmailTasksTheCSM(t *testing.T) {
	in := testInput(playbooks.Default())
	in.Contacts = []workflows.Contact{{Role: workflows.ContactAdmin, Name: "Bob Admin", Email: "bob@acme.example"}}
	h := newHarness(t, in)
	var nobody workflows.State
	h.at(1, func(c *call) {
		bounce(c, "ada", "ada@acme.example")
		bounce(c, "bob", "bob@acme.example")
	})
	h.at(4, func(c *call) { nobody = c.state() })
	h.at(5, func(c *call) {
		c.contact("add", workflows.ContactChange{Op: workflows.ContactAdd, Contact: workflows.Contact{Role: workflows.ContactUser, Name: "Cy User", Email: "cy@acme.example", TimeZone: "UTC"}})
	})
	h.run(8)
	require.NoError(t, h.results["add"].rejected)
	added, ok := h.results["add"].value.(workflows.ContactView)
	require.True(t, ok, "the update answers the contact")
	assert.Equal(t, "ct3", added.ID)
	assert.Empty(t, added.TimeZone, "UTC is kept as no zone")

	assert.Zero(t, nobody.Reachable)
	task := taskAbout(t, nobody, "contacts")
	assert.Equal(t, workflows.TaskOpen, task.Status)
	assert.Equal(t, workflows.TaskEmail, task.Kind)
	_, skipped := h.entry("touchpoint:training-basics:not-sent")
	assert.True(t, skipped, "day 3: nobody to send the training invite to")
	assert.Equal(t, []string{"cy@acme.example"}, h.recipients()["touchpoint:webinar-welcome"])
	assert.Equal(t, workflows.TaskDone, taskAbout(t, h.final, "contacts").Status)
	assert.Contains(t, h.sent(workflows.EntryTask), "contacts:none:1@1")
}

// TestContactChangesAreChecked: each refusal names what is wrong, and a
// refused change changes nothing.
func TestContactChangesAreChecked(t *testing.T) {
	h := newHarness(t, accountInput(playbooks.Default()))
	add := func(role, name, email string) workflows.ContactChange {
		return workflows.ContactChange{Op: workflows.ContactAdd, Contact: workflows.Contact{Role: role, Name: name, Email: email}}
	}
	cases := map[string]struct {
		ch   workflows.ContactChange
		want string
	}{
		"role":        {add("owner", "Ann", "ann@acme.example"), "role: must be one of champion, admin"},
		"email":       {add(workflows.ContactUser, "Ann", "not-an-address"), "email: is not an email address"},
		"name":        {add(workflows.ContactUser, strings.Repeat("n", workflows.MaxNameLen+1), "ann@acme.example"), "name: at most 200 characters"},
		"duplicate":   {add(workflows.ContactUser, "Bob again", "BOB@acme.example"), "is already the address of ct2"},
		"team":        {add(workflows.ContactUser, "Grace", "grace@vendor.example"), "is the csm's address"},
		"zone":        {workflows.ContactChange{Op: workflows.ContactAdd, Contact: workflows.Contact{Role: workflows.ContactUser, Name: "Ann", Email: "ann@acme.example", TimeZone: "Mars/Olympus"}}, "time_zone: unknown time zone"},
		"op":          {workflows.ContactChange{Op: "merge"}, "op: must be add, update or remove"},
		"unknown id":  {workflows.ContactChange{Op: workflows.ContactRemove, ID: "ct99"}, "id: ct99 is not a contact of this journey"},
		"bad id":      {workflows.ContactChange{Op: workflows.ContactRemove, ID: "bob"}, "id: must name a contact"},
		"champion":    {workflows.ContactChange{Op: workflows.ContactRemove, ID: "ct1"}, "ct1 is the champion; make another contact the champion first"},
		"demote":      {workflows.ContactChange{Op: workflows.ContactUpdate, ID: "ct1", Contact: workflows.Contact{Role: workflows.ContactUser}}, "make another contact the champion instead"},
		"same":        {workflows.ContactChange{Op: workflows.ContactUpdate, ID: "ct2", Contact: workflows.Contact{Name: "Bob Admin"}}, "nothing changes"},
		"empty patch": {workflows.ContactChange{Op: workflows.ContactUpdate, ID: "ct2"}, "give at least one of role, name, email, time_zone"},
		"given id":    {workflows.ContactChange{Op: workflows.ContactAdd, Contact: workflows.Contact{ID: "ct7", Role: workflows.ContactUser, Name: "Ann", Email: "ann@acme.example"}}, "id: is given by the journey"},
	}
	h.at(1, func(c *call) {
		for label, tc := range cases {
			c.contact(label, tc.ch)
		}
	})
	// The account fills up: 6 contacts, 19 more allowed, the 26th refused.
	h.at(2, func(c *call) {
		for i := range workflows.MaxContacts - 5 {
			c.contact(fmt.Sprintf("fill-%02d", i), add(workflows.ContactUser, "User", fmt.Sprintf("u%d@acme.example", i)))
		}
	})
	h.run(3)
	for label, tc := range cases {
		assert.ErrorContains(t, h.results[label].rejected, tc.want, label)
	}
	for i := range workflows.MaxContacts - 6 {
		assert.NoError(t, h.results[fmt.Sprintf("fill-%02d", i)].rejected)
	}
	assert.ErrorContains(t, h.results[fmt.Sprintf("fill-%02d", workflows.MaxContacts-6)].rejected, "at most 25 per account")
	assert.Len(t, h.final.Contacts, workflows.MaxContacts)
}

// TestStartContactsAreChecked: a start's contacts are checked before any
// journey begins.
func TestStartContactsAreChecked(t *testing.T) {
	in := accountInput(playbooks.Default())
	require.NoError(t, in.Validate())
	bad := in
	bad.Contacts = append(slices.Clone(in.Contacts),
		workflows.Contact{Role: workflows.ContactChampion, Name: "Second", Email: "two@acme.example"},
		workflows.Contact{Role: workflows.ContactUser, Name: "Ada twice", Email: "Ada@acme.example"},
		workflows.Contact{Role: "", Name: "", Email: ""})
	err := bad.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "contacts[5].role: the champion is given as champion")
	assert.Contains(t, err.Error(), "contacts[6].email: Ada@acme.example is already champion's address")
	assert.Contains(t, err.Error(), "contacts[7].role: must be one of")
	assert.Contains(t, err.Error(), "contacts[7].name: is required")
	many := in
	many.Contacts = make([]workflows.Contact, workflows.MaxContacts)
	for i := range many.Contacts {
		many.Contacts[i] = workflows.Contact{Role: workflows.ContactUser, Name: "U", Email: fmt.Sprintf("u%d@acme.example", i)}
	}
	assert.ErrorContains(t, many.Validate(), "contacts: at most 24 besides the champion (got 25)")
}

// TestContactOpensCount: an open or a click from any current contact is the
// customer engaging; one from a removed contact is not.
func TestContactOpensCount(t *testing.T) {
	h := newHarness(t, accountInput(playbooks.Default()))
	h.at(1, func(c *call) {
		c.event("bob-open", "email_open", workflows.EventAttrRecipient, "bob@acme.example")
		c.contact("remove", workflows.ContactChange{Op: workflows.ContactRemove, ID: "ct3", Reason: "left the company"})
	})
	h.at(1.5, func(c *call) { c.event("cy-open", "email_open", workflows.EventAttrRecipient, "cy@acme.example") })
	h.run(2)
	require.NoError(t, h.results["remove"].rejected)
	assert.Equal(t, 1, h.final.EventsCounted)
	assert.Len(t, h.final.Contacts, 5)
	e, ok := h.entry("contact:ct3:removed")
	require.True(t, ok)
	assert.Equal(t, "Contact removed: Cy User (user)", e.Summary)
	assert.Equal(t, "left the company", e.Cause)
}

// TestARevisionFiveJourneyTakesItsChampionAsItsFirstContact: a journey
// carried from revision 5 with a new champion whose emails had stopped
// becomes a revision-6 journey whose first contact is that champion, still
// stopped, and contacts can be added from then on.
func TestARevisionFiveJourneyTakesItsChampionAsItsFirstContact(t *testing.T) {
	pb := playbooks.Default()
	in := testInput(pb)
	in.Revision = 5
	alan := workflows.Person{Name: "Alan Turing", Email: "alan@acme.example", TimeZone: "Europe/London"}
	in.Carry = &workflows.Carry{
		Start: testStart.Add(-2 * testDay), Term: 1, RenewalDate: in.Account.RenewalDate, CSM: in.CSM, Runs: 1, Chapter: "jfirst",
		TouchpointsSent: make([]bool, len(pb.Touchpoints)),
		Handoff:         workflows.HandoffState{WelcomeSent: true, CSMTaskSent: true, HeldAt: testStart.Add(-testDay)},
		Milestones:      []workflows.MilestoneRun{{ID: "kickoff", Status: workflows.MilestoneDone}},
		Adoption:        workflows.AdoptionState{NextQBRDay: 180, NextCheckinDay: 120},
		Happiness:       workflows.HappinessCalc{PulseAvg: 70},
		Champion:        &alan, EmailBlocked: "bounce", EmailBlockedAddr: alan.Email, Suppressions: 1, EmailNotices: 1,
	}
	h := newHarness(t, in)
	h.at(0.5, func(c *call) {
		c.contact("add", workflows.ContactChange{Op: workflows.ContactAdd, Contact: workflows.Contact{Role: workflows.ContactAdmin, Name: "Bob Admin", Email: "bob@acme.example"}})
	})
	h.run(6)
	require.NoError(t, h.results["add"].rejected)
	assert.Equal(t, workflows.Revision, h.final.Revision)
	require.Len(t, h.final.Contacts, 2)
	assert.Equal(t, workflows.ContactView{Contact: workflows.Contact{ID: "ct1", Role: workflows.ContactChampion, Name: alan.Name, Email: alan.Email, TimeZone: alan.TimeZone},
		EmailStatus: workflows.EmailSuppressed, Stopped: "bounce", StoppedAt: h.final.Contacts[0].StoppedAt}, h.final.Contacts[0])
	assert.Equal(t, "bounce", h.final.EmailBlocked)
	assert.Equal(t, []string{"bob@acme.example"}, h.recipients()["touchpoint:training-basics"], "day 1 of this run: the admin, not the stopped champion")
}

func outboxStepText(t *testing.T, h *harness, step string) string {
	t.Helper()
	msgs, err := h.store.OutboxList(context.Background(), "acme", 10000)
	require.NoError(t, err)
	for _, m := range msgs {
		if m.Step == step {
			return m.Text
		}
	}
	t.Fatalf("no message of step %s", step)
	return ""
}

// TestAContactsMailboxFailingToTheDeadline: the admin's mailbox refuses
// every message; the day-3 training invite to the admin is given up at the
// delivery deadline under its own key and the CSM is told, while the
// champion's emails and the user's copy of the invite go out as planned.
func TestAContactsMailboxFailingToTheDeadline(t *testing.T) {
	h := newHarness(t, accountInput(playbooks.Default()))
	mailer := &failingMailer{next: h.outbox, address: "bob@acme.example"}
	h.mailer = mailer
	h.run(8)
	assert.Greater(t, mailer.attempts, 2, "retried until the deadline")
	failed, ok := h.entry("touchpoint:training-basics/ct2:failed")
	require.True(t, ok, "the admin's copy is given up under its own key")
	assert.Contains(t, failed.Cause, "500")
	assert.InDelta(t, 5, h.wallDay(failed.At), 0.1, "two journey days after day 3")
	to := h.recipients()
	assert.Equal(t, []string{"cy@acme.example", "dee@acme.example"}, to["touchpoint:training-basics"], "the users got theirs")
	assert.True(t, slices.ContainsFunc(h.sent(workflows.EntryTask), func(s string) bool { return strings.HasPrefix(s, "touchpoint:training-basics/ct2:failed@") }),
		"the CSM is told: %v", h.sent(workflows.EntryTask))
	assert.Equal(t, 1, h.final.Failures)
	for _, e := range h.timeline.Entries {
		assert.False(t, strings.HasPrefix(e.Step, "touchpoint:webinar-welcome") && strings.HasSuffix(e.Step, ":not-sent"), "day 7's invite was not held up")
	}
}

// TestContactsAcrossAPause: a pause from day 2 to day 6 holds every
// contact's email, and the training invite of day 3 reaches the admin and
// the users four days late, once each.
func TestContactsAcrossAPause(t *testing.T) {
	h := newHarness(t, accountInput(playbooks.Default()))
	h.at(2, func(c *call) {
		c.update("pause", workflows.UpdatePause, workflows.PauseRequest{Reason: "office move"}, nil)
	})
	h.at(6, func(c *call) { c.update("resume", workflows.UpdateResume, workflows.ResumeRequest{}, nil) })
	h.run(9)
	require.NoError(t, h.results["pause"].rejected)
	require.NoError(t, h.results["resume"].rejected)
	assert.Contains(t, h.sent(workflows.EntryTouchpoint), "touchpoint:training-basics@7", "day 3 moved by the four paused days")
	msgs, err := h.store.OutboxList(context.Background(), "acme", 1000)
	require.NoError(t, err)
	per := map[string]int{}
	for _, m := range msgs {
		if m.Step == "touchpoint:training-basics" {
			per[m.ToEmail]++
			assert.False(t, m.ScheduledFor.Before(testStart.Add(6*testDay)), "nothing went out while paused: %s at %s", m.ToEmail, m.ScheduledFor)
		}
	}
	assert.Equal(t, map[string]int{"bob@acme.example": 1, "cy@acme.example": 1, "dee@acme.example": 1}, per)
}
