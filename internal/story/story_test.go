package story_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/internal/story"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func ago(days float64) time.Time { return now.Add(-time.Duration(days * 24 * float64(time.Hour))) }

// entry is a timeline entry days ago.
func entry(days float64, kind, step, summary, cause string) workflows.Entry {
	return workflows.Entry{At: ago(days), Kind: kind, Step: step, Summary: summary, Cause: cause}
}

func state(mod func(*workflows.State)) workflows.State {
	st := workflows.State{
		CustomerID: "acme", AccountName: "Acme Corp", Phase: workflows.PhaseOnboarding, Day: 45, Term: 1, AsOf: now,
		Scores:  workflows.Scores{Health: "yellow", Quadrant: "champion"},
		Handoff: workflows.HandoffState{HeldAt: ago(44)},
	}
	if mod != nil {
		mod(&st)
	}
	return st
}

// older entries already folded away: numbering starts after them.
const folded = 7

func timeline(es ...workflows.Entry) workflows.Timeline {
	return workflows.Timeline{CustomerID: "acme", Entries: es, Older: workflows.OlderEntries{Count: folded}}
}

type want struct {
	text  string
	entry int // position in the kept entries; the sentence says folded + it
	part  string
}

func TestCompose(t *testing.T) {
	start := entry(45, workflows.EntrySystem, "journey:start", "Journey started on playbook default@v2", "deal d1 closed")
	welcome := entry(45, workflows.EntryTouchpoint, "handoff:welcome", "Welcome email", "deal closed")
	cases := []struct {
		name string
		st   workflows.State
		tl   workflows.Timeline
		want []want
	}{
		{
			name: "engaged onboarding",
			st:   state(nil),
			tl: timeline(start, welcome,
				entry(40, workflows.EntryEvent, "event:e1", "Login", ""),
				entry(10, workflows.EntryEvent, "event:e2", "Webinar attended", ""),
				entry(3, workflows.EntryEvent, "event:e3", "Training completed", ""),
				entry(31, workflows.EntryTouchpoint, "touchpoint:checkin-14", "Day 14 check-in", ""),
				entry(15, workflows.EntryTouchpoint, "touchpoint:review-30", "30-day review", ""),
				entry(20, workflows.EntryOutcome, "outcome:milestone_completed:kickoff", "Milestone completed: kickoff", ""),
			),
			want: []want{
				{"“Acme Corp” started its journey on 2026-10-19 and is on day 45, in onboarding; health yellow (champion).", 0, "standing"},
				{"2 engagement events in the last 30 days, the latest “Training completed” on 2026-11-30.", 4, "recent"},
				{"1 email went to the customer in the last 30 days, the latest “30-day review” on 2026-11-18.", 6, "recent"},
				{"On 2026-11-13: Milestone completed: kickoff.", 7, "recent"},
			},
		},
		{
			name: "silent, complaint past SLA, late milestone, stopped email, tasks",
			st: state(func(st *workflows.State) {
				st.Scores = workflows.Scores{Health: "red", Quadrant: "at-risk"}
				st.EmailBlocked = "bounce at ada@acme.example"
				st.OpenComplaints = []workflows.ComplaintRun{{ID: "c2", Severity: "high", Summary: "Exports fail\nsince Monday", ReceivedAt: ago(5), SLADue: ago(3)}}
				st.Milestones = []workflows.MilestoneView{
					{ID: "kickoff", Name: "Kickoff", Status: "done", DueDay: 7},
					{ID: "setup", Name: "Technical setup", Status: "late", DueDay: 21, DaysLate: 24},
					{ID: "train", Name: "Team trained", Status: "blocked", DueDay: 60, Blocker: "waiting for SSO"},
				}
				st.Tasks = []workflows.TaskView{
					{TaskRun: workflows.TaskRun{ID: "t4", Title: "Prepare the 30-day review", Owner: "csm", Status: workflows.TaskOpen, Due: now.Add(48 * time.Hour)}},
					{TaskRun: workflows.TaskRun{ID: "t5", Title: "Complaint from Acme (high)", Owner: "manager", Status: workflows.TaskOpen, Due: ago(3)}, Overdue: true},
					{TaskRun: workflows.TaskRun{ID: "t1", Title: "Hold the handoff call", Owner: "csm", Status: workflows.TaskDone}},
					{TaskRun: workflows.TaskRun{ID: "t6", Title: "Nudge", Owner: "csm", Status: workflows.TaskSnoozed, Due: ago(1), SnoozedUntil: now.Add(24 * time.Hour)}},
					{TaskRun: workflows.TaskRun{ID: "t7", Title: "Late milestone", Owner: "csm", Status: workflows.TaskOpen, Due: now.Add(96 * time.Hour)}},
				}
			}),
			tl: timeline(start, welcome,
				entry(44, workflows.EntryEvent, "event:e1", "Login", ""),
				entry(24, workflows.EntryTouchpoint, "milestone:setup:late-1", "Nudge: Technical setup", ""),
				entry(21, workflows.EntryTask, "milestone:setup:late-2", "Technical setup is late", ""),
				entry(14, workflows.EntryOutcome, "outcome:milestone_blocked:train", "Milestone blocked: train", ""),
				entry(6, workflows.EntrySystem, "email:stopped:1", "Customer emails stopped: bounce", "reported by sendgrid"),
				entry(5, workflows.EntryComplaint, "complaint:c2", "Complaint (high): Exports fail", ""),
				entry(5, workflows.EntrySystem, "task:t5:opened", "Task t5 opened", ""),
				entry(3, workflows.EntryEscalation, "complaint:c2:sla", "Complaint from Acme past SLA (high)", ""),
				entry(15, workflows.EntrySystem, "task:t4:opened", "Task t4 opened", ""),
				entry(2, workflows.EntrySystem, "task:t6:opened", "Task t6 opened", ""),
				entry(1, workflows.EntrySystem, "task:t7:opened", "Task t7 opened", ""),
			),
			want: []want{
				{"“Acme Corp” started its journey on 2026-10-19 and is on day 45, in onboarding; health red (at-risk).", 0, "standing"},
				{"No engagement in the last 30 days; the last was “Login” on 2026-10-20 (day 0).", 2, "risk"},
				{"1 email went to the customer in the last 30 days, the latest “Nudge: Technical setup” on 2026-11-09.", 3, "recent"},
				{"1 complaint received in the last 30 days, the latest on 2026-11-28.", 7, "recent"},
				{"1 escalation in the last 30 days, the latest on 2026-11-30: Complaint from Acme past SLA (high).", 9, "recent"},
				{"On 2026-11-19: Milestone blocked: train.", 5, "recent"},
				{"Complaint c2 (high) is open since 2026-11-28, past its SLA since 2026-11-30 12:00 UTC: “Exports fail”.", 7, "risk"},
				{"Milestone “Technical setup” is 24 days late (due day 21).", 4, "risk"},
				{"Milestone “Team trained” is blocked since 2026-11-19: “waiting for SSO”.", 5, "risk"},
				{"Customer email is stopped since 2026-11-27: bounce at ada@acme.example.", 6, "risk"},
				{"To do: Complaint from Acme (high) (task t5, for the manager, overdue since 2026-11-30 12:00 UTC).", 8, "next"},
				{"To do: Nudge (task t6, for the csm, snoozed until 2026-12-04 12:00 UTC).", 11, "next"},
				{"To do: Prepare the 30-day review (task t4, for the csm, due 2026-12-05 12:00 UTC); 1 task more open.", 10, "next"},
			},
		},
		{
			name: "a new customer: handoff not held, no engagement yet",
			st: state(func(st *workflows.State) {
				st.Phase, st.Day, st.Handoff = workflows.PhaseHandoff, 2, workflows.HandoffState{}
			}),
			tl: timeline(entry(2, workflows.EntrySystem, "journey:start", "Journey started", ""), entry(2, workflows.EntryTouchpoint, "handoff:welcome", "Welcome email", "")),
			want: []want{
				{"“Acme Corp” started its journey on 2026-12-01 and is on day 2, in handoff; health yellow (champion).", 0, "standing"},
				{"1 email went to the customer in the last 30 days, the latest “Welcome email” on 2026-12-01.", 1, "recent"},
				{"The handoff call has not been held; the welcome email asked for it on 2026-12-01.", 1, "risk"},
			},
		},
		{
			name: "adoption and paused, the start folded away",
			st: state(func(st *workflows.State) {
				st.Phase, st.Day, st.Paused = workflows.PhaseAdoption, 200, true
			}),
			tl: timeline(
				entry(110, workflows.EntrySystem, "phase:adoption", "Onboarding complete: adoption phase begins", "day 90 reached"),
				entry(40, workflows.EntryEvent, "event:e9", "Login", ""),
				entry(12, workflows.EntrySystem, "pause", "Journey paused", "customer on holiday (by grace@vendor.example)"),
			),
			want: []want{
				{"“Acme Corp” finished onboarding on 2026-08-15 and is on day 200, in adoption; health yellow (champion).", 0, "standing"},
				{"The journey is paused since 2026-11-21: customer on holiday (by grace@vendor.example).", 2, "standing"},
				{"No engagement in the last 30 days; the last was “Login” on 2026-10-24 (day 0).", 1, "risk"},
			},
		},
		{
			name: "no entry backs a fact: it is left out",
			st: state(func(st *workflows.State) {
				st.OpenComplaints = []workflows.ComplaintRun{{ID: "c1", Severity: "low", Summary: "old", ReceivedAt: ago(400)}}
				st.Tasks = []workflows.TaskView{{TaskRun: workflows.TaskRun{ID: "t1", Title: "old task", Status: workflows.TaskOpen}}}
			}),
			tl:   timeline(),
			want: nil,
		},
		{
			name: "ended",
			st: state(func(st *workflows.State) {
				st.Phase, st.Ended = workflows.PhaseEnded, &workflows.Ending{Kind: "churned", At: ago(1)}
			}),
			tl: timeline(start, entry(1, workflows.EntryOutcome, "outcome:churned", "Customer churned", "")),
			want: []want{
				{"“Acme Corp”'s journey ended on 2026-12-02: churned.", 1, "standing"},
				{"On 2026-12-02: Customer churned.", 1, "recent"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := story.Compose(tc.st, tc.tl, time.Time{})
			assert.Equal(t, "acme", s.CustomerID)
			assert.Equal(t, now, s.AsOf)
			var got []want
			for _, sn := range s.Sentences {
				got = append(got, want{sn.Text, sn.Entry - folded, sn.Part})
			}
			assert.Equal(t, tc.want, got)
			backed(t, s, tc.tl)
		})
	}
}

// backed: every sentence names an entry of the timeline by its number, with
// that entry's step and time.
func backed(t *testing.T, s story.Story, tl workflows.Timeline) {
	t.Helper()
	require.NotNil(t, s.Sentences)
	for _, sn := range s.Sentences {
		i := sn.Entry - tl.Older.Count
		require.True(t, i >= 0 && i < len(tl.Entries), "sentence %q names entry %d, not kept", sn.Text, sn.Entry)
		assert.Equal(t, tl.Entries[i].Step, sn.Step, sn.Text)
		assert.Equal(t, tl.Entries[i].At, sn.At, sn.Text)
		assert.LessOrEqual(t, len([]rune(sn.Text)), 600, "a sentence stays short")
	}
}

// Long summaries and names are clipped; quoted text stays on one line.
func TestQuotedTextIsBounded(t *testing.T) {
	long := strings.Repeat("word ", 200)
	st := state(func(st *workflows.State) { st.AccountName = long })
	tl := timeline(
		entry(45, workflows.EntrySystem, "journey:start", "Journey started", ""),
		entry(1, workflows.EntryEvent, "event:x", "Line one\n"+long, ""),
	)
	s := story.Compose(st, tl, time.Time{})
	require.Len(t, s.Sentences, 2)
	for _, sn := range s.Sentences {
		assert.NotContains(t, sn.Text, "\n")
		assert.Contains(t, sn.Text, "…")
		assert.Less(t, len([]rune(sn.Text)), 300)
	}
}

// On journeys the real workflow ran (the simulator's built-in scenarios),
// every sentence is backed by an entry of the timeline it was told from,
// and the story names what the scenario is about.
func TestStoriesOfSimulatedJourneys(t *testing.T) {
	for name, mentions := range map[string][]string{
		"complainer": {"“Initech” finished onboarding", "engagement events in the last 30 days", "Milestone “Team trained” is"},
		"silent":     {"No engagement recorded since the journey started", "The handoff call has not been held"},
	} {
		t.Run(name, func(t *testing.T) {
			sc, err := simulate.Builtin(name)
			require.NoError(t, err)
			r, err := simulate.Simulate(context.Background(), playbooks.Default(), sc, simulate.Options{})
			require.NoError(t, err)
			tl := workflows.Timeline{CustomerID: r.Final.CustomerID}
			for _, s := range r.Steps {
				tl.Entries = append(tl.Entries, workflows.Entry{At: s.At, Day: s.JourneyDay, Kind: s.Kind, Step: s.Step, Summary: s.Summary, Cause: s.Cause})
			}
			s := story.Compose(r.Final, tl, time.Time{})
			backed(t, s, tl)
			var text []string
			for _, sn := range s.Sentences {
				text = append(text, sn.Text)
			}
			all := strings.Join(text, "\n")
			for _, m := range mentions {
				assert.Contains(t, all, m)
			}
			t.Log("\n" + all)
		})
	}
}
