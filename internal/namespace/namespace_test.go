package namespace_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"

	"github.com/seed-a80403e2/lifecycle/internal/devserver"
	"github.com/seed-a80403e2/lifecycle/internal/namespace"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

// A real Temporal server (the embedded one) whose namespace has none of the
// journey's search attributes, as a fresh cluster's has not.
func server(t *testing.T) client.Client {
	t.Helper()
	ctx := context.Background()
	s, err := devserver.Start(ctx, devserver.Options{DataDir: t.TempDir(), UIPort: -1, Logger: zap.NewNop()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	c, err := client.Dial(client.Options{HostPort: s.FrontendAddress(), Namespace: s.Namespace()})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

type lines []string

func (l *lines) say(format string, args ...any) { *l = append(*l, fmt.Sprintf(format, args...)) }

func TestSetUpANamespaceOnceAndCheckIt(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := server(t)
	attrs := workflows.SearchAttributeTypes

	err := namespace.Check(ctx, c, "default", attrs)
	require.Error(t, err, "a namespace without the attributes")
	assert.ErrorContains(t, err, "run `lifecycle setup`")
	assert.ErrorContains(t, err, "LifecycleHealth missing")

	var first lines
	require.NoError(t, namespace.Ensure(ctx, c, namespace.Options{Namespace: "default", Attributes: attrs}, first.say))
	assert.Contains(t, first, "namespace default: exists")
	assert.Contains(t, first, "search attribute LifecycleHealth (Keyword): created")
	assert.Contains(t, first, "search attribute LifecycleRenewalDate (Datetime): created")
	require.NoError(t, namespace.Check(ctx, c, "default", attrs))

	var second lines
	require.NoError(t, namespace.Ensure(ctx, c, namespace.Options{Namespace: "default", Attributes: attrs}, second.say))
	assert.Len(t, second, 1+len(attrs))
	for _, l := range second {
		assert.NotContains(t, l, "created", "the second run changes nothing")
	}
}

func TestANewNamespaceIsCreatedOnlyWhenAsked(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := server(t)
	attrs := workflows.SearchAttributeTypes

	err := namespace.Ensure(ctx, c, namespace.Options{Namespace: "journeys", Attributes: attrs}, func(string, ...any) {})
	assert.ErrorContains(t, err, "namespace journeys does not exist: create it (lifecycle setup --create-namespace)")
	err = namespace.Check(ctx, c, "journeys", attrs)
	assert.ErrorContains(t, err, "namespace journeys does not exist")

	err = namespace.Ensure(ctx, c, namespace.Options{Namespace: "journeys", Create: true, Retention: time.Hour, Attributes: attrs}, func(string, ...any) {})
	assert.ErrorContains(t, err, "--retention: 1h0m0s is outside")

	var out lines
	require.NoError(t, namespace.Ensure(ctx, c, namespace.Options{Namespace: "journeys", Create: true, Retention: 30 * 24 * time.Hour, Attributes: attrs}, out.say))
	assert.Contains(t, out, "namespace journeys: created (retention 720h0m0s)")
	require.NoError(t, namespace.Check(ctx, c, "journeys", attrs))
}

func TestAnAttributeOfTheWrongTypeIsNamed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := server(t)
	_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: "default", SearchAttributes: map[string]enumspb.IndexedValueType{"LifecycleHealth": enumspb.INDEXED_VALUE_TYPE_INT},
	})
	require.NoError(t, err)
	err = namespace.Ensure(ctx, c, namespace.Options{Namespace: "default", Attributes: workflows.SearchAttributeTypes}, func(string, ...any) {})
	assert.ErrorContains(t, err, "LifecycleHealth is Int, journeys need Keyword")
	err = namespace.Check(ctx, c, "default", workflows.SearchAttributeTypes)
	assert.ErrorContains(t, err, "LifecycleHealth is Int, not Keyword")
}
