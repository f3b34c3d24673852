//go:build nodev

package main

import (
	"context"
	"errors"
	"io"
)

const devIncluded = "left out (built with -tags nodev)"

const devHelp = `Not in this build: it was built with -tags nodev, without the embedded
Temporal server. Run 'lifecycle worker' and 'lifecycle api' against a Temporal
cluster, or build without the tag (make build) for the all-in-one dev command.`

func devCmd(_ context.Context, _ []string, _, stderr io.Writer) error {
	_, _ = io.WriteString(stderr, "lifecycle dev: "+devHelp+"\n")
	return errors.Join(errUsage, errors.New("dev is not in this build"))
}
