package playbooks_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// FuzzPlaybookParse feeds arbitrary YAML to the playbook parser.
//
// Properties:
//   - Parse never panics and answers the same for the same input;
//   - it answers exactly one of a playbook or an error;
//   - an accepted playbook passes Validate(), and so does its JSON snapshot
//     (Clone: a journey keeps the playbook it started with as JSON);
//   - a refused one is a *playbooks.InvalidError with at least one problem,
//     each with a non-empty message and a line inside the document: Line >= 1
//     (Parse locates every problem in the YAML: yaml.v3's lines, the node's
//     line, or 1 for a document-level problem; Line 0 is only for Validate()
//     of a playbook that did not come from YAML).
func FuzzPlaybookParse(f *testing.F) {
	def := string(playbooks.DefaultYAML())
	f.Add(def)
	// One-line edits of the default playbook, as in validate_test.go.
	for _, r := range [][2]string{
		{"    due_day: 10", "    due_day: -3"},
		{"    due_day: 10", "    due_day: 120"},
		{"  - id: technical_setup", "  - id: kickoff"},
		{"template: training_invite}", "template: training_invitation}"},
		{"kind: training_invite,", "kind: seminar,"},
		{"  remind_after_days: 3 ", "  remind_after_days: 9 "},
		{"- {after_days: 3, action: csm_task}", "- {after_days: 1, action: sms}"},
		{"high: 2,", "high: 0,"},
		{"high: 2,", "high: .nan,"},
		{"high: 2,", "high: .inf,"},
		{"critical: 1}", "critical: 1, urgent: 1}"},
		{"  half_life_days: 14 ", "  half_life_days: 1e400 "},
		{"[120, 90, 60, 30]", "[120, 90, 95, 30]"},
		{"[mon, tue, wed, thu, fri]", "[mon, tue, wed, thu, fri, funday]"},
		{"    due_day: 10", "    due_date: 10"},
		{"    name: Kickoff and", "    name: Kickoff: and"},
		{"    due_day: 10", "    due_day: ten"},
		{"    due_day: 10", "    due_day: 99999999999999999999"},
		{"    due_day: 10", "    due_day: [10, [11]]"},
		{"    due_day: 10", "    due_day: 3651"},
		{"high: 2,", "high: 0.04,"},
		{"  give_up_after_days: 2 ", "  give_up_after_days: 0 "},
		{"  give_up_after_days: 2 ", "  give_up_after_days: ~ "},
		{"  give_up_after_days: 2 ", "  give_up_after_days: .nan "},
		{"  give_up_after_days: 2 ", "  give_up_after_days: [2] "},
		{"delivery:\n", "delivery: &d\n"},
		{"id: default", "id: " + strings.Repeat("d", 65)},
		{"    meeting_held: 25", "    meeting_held: 1e400"},
	} {
		if strings.Contains(def, r[0]) {
			f.Add(strings.Replace(def, r[0], r[1], 1))
		}
	}
	f.Add(def[:len(def)/2])                      // truncated
	f.Add(def + "\n---\nid: second\n")           // two documents
	f.Add(strings.ReplaceAll(def, "\n", "\r\n")) // CRLF
	f.Add(strings.ReplaceAll(def, "  ", "\t"))   // tabs are not YAML indentation
	f.Add("# nothing\n")
	f.Add("")
	f.Add("null")
	f.Add("[]")
	f.Add("- a\n- b\n")
	f.Add("id: small\nversion: 1\nname: Small\n")
	f.Add("id: x\nid: y\n")
	f.Add("a: &a [*a]\n")
	f.Add("base: &b {id: x}\n<<: *b\n")
	f.Add("id: !!binary aGVsbG8=\n")
	f.Add("id: \"\\uD800\"\nname: \xff\xfe\n")
	f.Add("milestones: {id: x}\n")
	f.Add("\t\n  - ]\n")
	f.Add("id: ünïcödé\nname: 名前\n")

	f.Fuzz(func(t *testing.T, src string) {
		data := []byte(src)
		pb, err := playbooks.Parse(data)
		pb2, err2 := playbooks.Parse(data)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("Parse is not deterministic: %v then %v", err, err2)
		}
		_ = pb2
		if err == nil {
			if pb == nil {
				t.Fatal("Parse answered neither a playbook nor an error")
			}
			if verr := pb.Validate(); verr != nil {
				t.Fatalf("Parse accepted a playbook that Validate refuses: %v", verr)
			}
			var snapshot *playbooks.Playbook
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Fatalf("accepted playbook has no JSON snapshot (Clone panics): %v", p)
					}
				}()
				snapshot = pb.Clone()
			}()
			if verr := snapshot.Validate(); verr != nil {
				t.Fatalf("the JSON snapshot of an accepted playbook fails Validate: %v", verr)
			}
			return
		}
		if pb != nil {
			t.Fatalf("Parse answered both a playbook and an error: %v", err)
		}
		var invalid *playbooks.InvalidError
		if !errors.As(err, &invalid) {
			t.Fatalf("refused with %T, want *playbooks.InvalidError: %v", err, err)
		}
		if len(invalid.Problems) == 0 {
			t.Fatalf("an InvalidError without problems: %q", err.Error())
		}
		maxLine := maxLines(data)
		for _, p := range invalid.Problems {
			if p.Line < 1 || p.Line > maxLine {
				t.Fatalf("problem %q has line %d, want 1..%d", p.String(), p.Line, maxLine)
			}
			if strings.TrimSpace(p.Message) == "" {
				t.Fatalf("problem at line %d (field %q) has no message", p.Line, p.Field)
			}
		}
	})
}

// maxLines bounds the line numbers a problem may name: every line break
// YAML knows, counted generously (\r\n twice), plus the line after the end.
func maxLines(data []byte) int {
	n := 2
	for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
		n += bytes.Count(data, []byte(br))
	}
	return n
}
