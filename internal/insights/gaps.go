package insights

import (
	"fmt"
	"strconv"
	"time"
)

// GapsFor is what one customer (its facts at now) has not done that green
// accounts of seg do, most telling first, at most max (<= 0: all). Only
// claimed differences count, outcomes are choices and not gaps, and the
// handoff is named once, by its earliest claimed day. A segment without
// enough accounts has no claimed differences, so no gaps: nothing is said
// that the numbers do not back.
func GapsFor(f Facts, now time.Time, account string, seg Segment, max int) []Gap {
	if f.V != FactsVersion {
		return nil
	}
	if account == "" {
		account = "This account"
	}
	day := f.Day(now)
	var gaps []Gap
	handoff := false
	for _, d := range seg.Differences {
		if !d.Claimed {
			continue
		}
		where, missed, behind := standing(&f, d, day)
		if !behind || (d.Kind == DiffHandoff && handoff) {
			continue
		}
		handoff = handoff || d.Kind == DiffHandoff
		text := fmt.Sprintf("%d of %d green accounts %s", d.Green, d.GreenOf, d.Text)
		if d.Kind == DiffEvent && d.GreenMedian > 0 {
			text += fmt.Sprintf(" (%s as a median)", count(d.GreenMedian, d.Event))
		}
		gaps = append(gaps, Gap{Difference: d.ID, Text: fmt.Sprintf("%s; %s: %s.", text, account, where), Missed: missed, Lift: d.Lift})
		if max > 0 && len(gaps) == max {
			break
		}
	}
	return gaps
}

// standing says where the customer stands on d: behind is false when it
// did the thing (or d does not apply to it), missed when it can no longer
// do it in time.
func standing(f *Facts, d Difference, day float64) (where string, missed, behind bool) {
	today := fmt.Sprintf("day %d", int(day))
	switch d.Kind {
	case DiffEvent:
		k := kindOf(d.Event)
		w := windowOf(d.Window)
		if k < 0 || w < 0 || f.Events[k][w] > 0 {
			return "", false, false
		}
		if day >= float64(d.Window) {
			return fmt.Sprintf("none in its first %d days", d.Window), true, true
		}
		return fmt.Sprintf("none so far (%s)", today), false, true
	case DiffHandoff:
		switch {
		case heldBy(f, d.Day):
			return "", false, false
		case f.HandoffDay >= 0:
			return fmt.Sprintf("held on day %d", int(f.HandoffDay)), true, true
		}
		return fmt.Sprintf("not held yet (%s)", today), day >= float64(d.Day+1), true
	case DiffMilestone, DiffFirstValue:
		ref := d.Ref
		if d.Kind == DiffFirstValue {
			ref = f.FirstValue
		}
		for _, m := range f.Milestones {
			if m.ID != ref || ref == "" {
				continue
			}
			switch {
			case onTime(m):
				return "", false, false
			case m.Done >= 0:
				return fmt.Sprintf("done on day %d, after its due day %d", int(m.Done), m.Due), true, true
			case day >= float64(m.Due+1):
				return fmt.Sprintf("not done yet (%s), past its due day %d", today, m.Due), true, true
			}
			return fmt.Sprintf("not done yet (%s; due day %d)", today, m.Due), false, true
		}
	}
	return "", false, false
}

func kindOf(event string) int {
	for k, e := range KindEvents {
		if e == event {
			return k
		}
	}
	return -1
}

func windowOf(days int) int {
	for w, d := range Windows {
		if d == days {
			return w
		}
	}
	return -1
}

// count is "1 training", "2 trainings", "1.5 trainings".
func count(n float64, event string) string {
	k := kindOf(event)
	if k < 0 {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	if n == 1 {
		return "1 " + kindWords[k].one
	}
	return strconv.FormatFloat(n, 'f', -1, 64) + " " + kindWords[k].many
}
