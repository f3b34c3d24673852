package devserver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"
)

const (
	retention   = 7 * 24 * time.Hour
	callTimeout = 5 * time.Second
	retryEvery  = 100 * time.Millisecond
)

// retry calls fn until it succeeds, fails with a code that is not in
// transient, or ctx ends. Right after start some services may still be
// warming up, and namespace/search attribute changes reach each service's
// cache only on its next refresh, so these errors are expected for a moment.
func retry(ctx context.Context, what string, fn func(context.Context) error, transient ...codes.Code) error {
	transient = append(transient, codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted)
	for {
		callCtx, cancel := context.WithTimeout(ctx, callTimeout)
		err := fn(callCtx)
		cancel()
		if err == nil {
			return nil
		}
		code := serviceerror.ToStatus(err).Code()
		retryable := false
		for _, c := range transient {
			retryable = retryable || c == code
		}
		if !retryable {
			return fmt.Errorf("%s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(retryEvery):
		}
	}
}

// dialFrontend waits until the frontend answers its health check and returns
// a client for the setup calls.
func dialFrontend(ctx context.Context, addr, namespace string, logger *zap.Logger) (client.Client, error) {
	var c client.Client
	err := retry(ctx, "waiting for the frontend at "+addr, func(ctx context.Context) error {
		var err error
		if c == nil {
			c, err = client.DialContext(ctx, client.Options{
				HostPort: addr, Namespace: namespace, Logger: newSDKLogger(logger),
			})
			if err != nil {
				return err
			}
		}
		_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}, codes.Unknown) // Dial reports an unreachable server as a plain error
	if err != nil && c != nil {
		c.Close()
		c = nil
	}
	return c, err
}

// registerNamespace creates the namespace unless it exists, then waits until
// the frontend serves it.
func registerNamespace(ctx context.Context, c client.Client, namespace string) error {
	err := retry(ctx, "registering namespace "+namespace, func(ctx context.Context) error {
		_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace:                        namespace,
			WorkflowExecutionRetentionPeriod: durationpb.New(retention),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if errors.As(err, &exists) {
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	return retry(ctx, "describing namespace "+namespace, func(ctx context.Context) error {
		_, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: namespace})
		return err
	}, codes.NotFound)
}

// registerSearchAttributes adds the wanted custom search attributes that the
// namespace lacks. One already registered with the same type is fine (a
// restart); with another type, or clashing with a system attribute, it is an
// error because the server would silently keep the old definition.
func registerSearchAttributes(ctx context.Context, c client.Client, namespace string, want map[string]enumspb.IndexedValueType) error {
	if len(want) == 0 {
		return nil
	}
	var have *operatorservice.ListSearchAttributesResponse
	err := retry(ctx, "listing search attributes", func(ctx context.Context) error {
		var err error
		have, err = c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
		return err
	})
	if err != nil {
		return err
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range want {
		if got, ok := have.GetCustomAttributes()[name]; ok {
			if got != typ {
				return fmt.Errorf("search attribute %s is already registered as %s, not %s", name, got, typ)
			}
			continue
		}
		if _, ok := have.GetSystemAttributes()[name]; ok {
			return fmt.Errorf("search attribute %s is a system search attribute", name)
		}
		missing[name] = typ
	}
	if len(missing) == 0 {
		return nil
	}
	names := make([]string, 0, len(missing))
	for name := range missing {
		names = append(names, name)
	}
	sort.Strings(names)
	err = retry(ctx, fmt.Sprintf("adding search attributes %v", names), func(ctx context.Context) error {
		_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: namespace, SearchAttributes: missing,
		})
		return err
	})
	if err != nil {
		return err
	}
	// On SQL visibility a custom attribute is an alias stored in the namespace,
	// and every service resolves aliases from its namespace cache. A query that
	// names the attribute succeeds once the frontend's cache has it; the other
	// services refresh on the same interval, so one more interval covers them.
	for _, name := range names {
		err := retry(ctx, "waiting for search attribute "+name, func(ctx context.Context) error {
			_, err := c.WorkflowService().CountWorkflowExecutions(ctx, &workflowservice.CountWorkflowExecutionsRequest{
				Namespace: namespace, Query: name + " IS NOT NULL",
			})
			return err
		}, codes.InvalidArgument)
		if err != nil {
			return err
		}
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for search attributes to propagate: %w", ctx.Err())
	case <-time.After(nsRefresh + 200*time.Millisecond):
	}
	return nil
}
