package playbooks

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Where a problem is: a field path ("milestones[0].due_day") found in the
// YAML tree, or the line yaml.v3 names in its own errors.

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// YAMLProblem turns a yaml.v3 error ("yaml: line 3: ...") into a Problem
// (for playbooks and for other YAML files read the same way).
func YAMLProblem(err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var line int
		fmt.Sscan(m[1], &line)
		return Problem{Line: line, Message: strings.TrimSpace(strings.Split(m[2], "\n")[0])}
	}
	return Problem{Line: 1, Message: msg}
}

// line finds the line of path in the YAML tree; the nearest existing parent
// stands in for a missing field.
func (v *validator) line(path string) int {
	n := v.doc
	if n == nil {
		return 0
	}
	line := n.Line
	for _, part := range splitPath(path) {
		next := child(n, part)
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

func splitPath(path string) []string {
	var parts []string
	for _, seg := range strings.Split(path, ".") {
		name, idx, ok := strings.Cut(seg, "[")
		if name != "" {
			parts = append(parts, name)
		}
		for ok {
			var i string
			i, idx, _ = strings.Cut(idx, "]")
			parts = append(parts, "["+i)
			_, idx, ok = strings.Cut(idx, "[")
		}
	}
	return parts
}

func child(n *yaml.Node, part string) *yaml.Node {
	if strings.HasPrefix(part, "[") {
		var i int
		if _, err := fmt.Sscan(part[1:], &i); err != nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
			return nil
		}
		return n.Content[i]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == part {
			return n.Content[i+1]
		}
	}
	return nil
}

// written reports whether path has a non-null value in the YAML (false for
// a playbook that did not come from YAML).
func (v *validator) written(path string) bool {
	n := v.doc
	if n == nil {
		return false
	}
	for _, part := range splitPath(path) {
		if n = child(n, part); n == nil {
			return false
		}
	}
	return n.Tag != "!!null"
}
