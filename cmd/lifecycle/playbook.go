package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/seed-a80403e2/lifecycle/playbooks"
)

const playbookUsage = `Usage:
  lifecycle playbook validate FILE   check FILE; prints each problem with its line, exit 1 if any
  lifecycle playbook default         print the default playbook, comments included
`

func playbookCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, playbookUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	switch args[0] {
	case "default":
		_, err := stdout.Write(playbooks.DefaultYAML())
		return err
	case "validate":
		if len(args) != 2 {
			fmt.Fprint(stderr, playbookUsage)
			return errUsage
		}
		data, err := os.ReadFile(args[1])
		if err != nil {
			return err
		}
		pb, err := playbooks.Parse(data)
		var invalid *playbooks.InvalidError
		if errors.As(err, &invalid) {
			printProblems(stderr, args[1], invalid.Problems)
			return fmt.Errorf("%s: %d problem(s)", args[1], len(invalid.Problems))
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok (%s, %d milestones, %d touchpoints)\n", args[1], pb.Ref(), len(pb.Milestones), len(pb.Touchpoints))
		return nil
	default:
		fmt.Fprintf(stderr, "lifecycle playbook: unknown command %q\n%s", args[0], playbookUsage)
		return errUsage
	}
}
