// Package namespace prepares a Temporal namespace for journeys (the
// namespace itself and the search attributes a journey upserts) and checks
// that one is prepared. `lifecycle setup` runs Ensure; the worker and the API
// run Check on start, so a namespace without the attributes stops them with
// the command to run instead of failing journeys at their first upsert.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Options says what Ensure may do.
type Options struct {
	Namespace string
	// Create registers the namespace when it does not exist, with Retention.
	Create    bool
	Retention time.Duration
	// Attributes are the search attributes the namespace must have.
	Attributes map[string]enumspb.IndexedValueType
}

// MinRetention and MaxRetention bound a new namespace's retention of closed
// histories (Temporal refuses less than a day).
const (
	MinRetention = 24 * time.Hour
	MaxRetention = 3650 * 24 * time.Hour
)

// Ensure creates what is missing, idempotently, and reports each thing it
// did or found through say. Running it twice changes nothing the second time.
func Ensure(ctx context.Context, c client.Client, o Options, say func(format string, args ...any)) error {
	_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: o.Namespace})
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case err == nil:
		say("namespace %s: exists", o.Namespace)
	case errors.As(err, &notFound) && o.Create:
		if o.Retention < MinRetention || o.Retention > MaxRetention {
			return fmt.Errorf("--retention: %s is outside %s to %s", o.Retention, MinRetention, MaxRetention)
		}
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: o.Namespace, WorkflowExecutionRetentionPeriod: durationpb.New(o.Retention),
			Description: "Customer lifecycle journeys",
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("creating namespace %s: %w", o.Namespace, err)
		}
		say("namespace %s: created (retention %s)", o.Namespace, o.Retention)
		if err := waitForNamespace(ctx, c, o.Namespace); err != nil {
			return err
		}
	case errors.As(err, &notFound):
		return fmt.Errorf("namespace %s does not exist: create it (lifecycle setup --create-namespace), or set TEMPORAL_NAMESPACE", o.Namespace)
	default:
		return fmt.Errorf("describing namespace %s: %w", o.Namespace, err)
	}

	have, err := list(ctx, c, o.Namespace)
	if err != nil {
		return err
	}
	missing := map[string]enumspb.IndexedValueType{}
	var wrong []string
	for _, name := range sortedNames(o.Attributes) {
		want := o.Attributes[name]
		got, ok := have[name]
		switch {
		case !ok:
			missing[name] = want
		case got != want:
			wrong = append(wrong, fmt.Sprintf("%s is %s, journeys need %s", name, typeName(got), typeName(want)))
		default:
			say("search attribute %s (%s): exists", name, typeName(want))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("namespace %s has search attributes of the wrong type: %s; a search attribute's type cannot change: remove it (temporal operator search-attribute remove) and run lifecycle setup again", o.Namespace, strings.Join(wrong, "; "))
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: o.Namespace, SearchAttributes: missing,
	})
	var exists *serviceerror.AlreadyExists
	var denied *serviceerror.PermissionDenied
	var unimplemented *serviceerror.Unimplemented
	switch {
	case err == nil, errors.As(err, &exists):
	case errors.As(err, &denied), errors.As(err, &unimplemented):
		return fmt.Errorf("this connection may not add search attributes to %s (%w): on Temporal Cloud add them with tcld or the Cloud UI: %s",
			o.Namespace, err, describe(missing))
	default:
		return fmt.Errorf("adding search attributes to %s: %w", o.Namespace, err)
	}
	for _, name := range sortedNames(missing) {
		say("search attribute %s (%s): created", name, typeName(missing[name]))
	}
	return nil
}

// Check reports the search attributes the namespace lacks, as an error that
// names the command to run.
func Check(ctx context.Context, c client.Client, ns string, attrs map[string]enumspb.IndexedValueType) error {
	have, err := list(ctx, c, ns)
	if err != nil {
		return err
	}
	var problems []string
	for _, name := range sortedNames(attrs) {
		got, ok := have[name]
		switch {
		case !ok:
			problems = append(problems, name+" missing")
		case got != attrs[name]:
			problems = append(problems, fmt.Sprintf("%s is %s, not %s", name, typeName(got), typeName(attrs[name])))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("namespace %s is not set up for journeys (%s): run `lifecycle setup` against it first", ns, strings.Join(problems, ", "))
	}
	return nil
}

func list(ctx context.Context, c client.Client, ns string) (map[string]enumspb.IndexedValueType, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		var notFound *serviceerror.NamespaceNotFound
		if errors.As(err, &notFound) {
			return nil, fmt.Errorf("namespace %s does not exist: run `lifecycle setup --create-namespace`, or set TEMPORAL_NAMESPACE", ns)
		}
		return nil, fmt.Errorf("listing the search attributes of %s: %w", ns, err)
	}
	have := map[string]enumspb.IndexedValueType{}
	for name, t := range resp.GetCustomAttributes() {
		have[name] = t
	}
	return have, nil
}

// waitForNamespace waits until a new namespace answers: registration
// reaches every frontend within a few seconds.
func waitForNamespace(ctx context.Context, c client.Client, ns string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s was created but does not answer after 30 s: %w", ns, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func sortedNames(m map[string]enumspb.IndexedValueType) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func typeName(t enumspb.IndexedValueType) string {
	return strings.TrimPrefix(t.String(), "INDEXED_VALUE_TYPE_")
}

func describe(m map[string]enumspb.IndexedValueType) string {
	var parts []string
	for _, n := range sortedNames(m) {
		parts = append(parts, n+" ("+typeName(m[n])+")")
	}
	return strings.Join(parts, ", ")
}
