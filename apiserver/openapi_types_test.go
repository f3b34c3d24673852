package apiserver_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/seed-a80403e2/lifecycle/activities"
	"github.com/seed-a80403e2/lifecycle/apiserver"
	"github.com/seed-a80403e2/lifecycle/internal/insights"
	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/internal/store"
	"github.com/seed-a80403e2/lifecycle/internal/story"
	"github.com/seed-a80403e2/lifecycle/playbooks"
	"github.com/seed-a80403e2/lifecycle/workflows"
)

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// schemaTypes is the Go type behind each component schema of openapi.yaml.
// A struct field of one of these types must be a $ref to its schema; a
// named struct type reached from here must be in the table, so a field
// added to a Go type without the document fails TestOpenAPISchemasMatchGoTypes.
var schemaTypes = map[string]reflect.Type{
	// Small answers.
	"HealthStatus":    typeOf[apiserver.HealthStatus](),
	"EventQueued":     typeOf[apiserver.EventQueued](),
	"DealIgnored":     typeOf[apiserver.DealIgnored](),
	"PlanPlaybook":    typeOf[apiserver.PlanPlaybook](),
	"InsightsRunning": typeOf[apiserver.InsightsRunning](),

	// The error body, and the refused playbook's.
	"ErrorBody":        typeOf[apiserver.ErrorBody](),
	"ErrorDetail":      typeOf[apiserver.ErrorDetail](),
	"PlaybookProblems": typeOf[apiserver.PlaybookProblems](),
	"Problem":          typeOf[playbooks.Problem](),

	// Customers and their journeys.
	"StartRequest":         typeOf[apiserver.StartRequest](),
	"StartResponse":        typeOf[apiserver.StartResponse](),
	"DealWebhook":          typeOf[apiserver.DealWebhook](),
	"Person":               typeOf[workflows.Person](),
	"Contact":              typeOf[workflows.Contact](),
	"ContactView":          typeOf[workflows.ContactView](),
	"ContactList":          typeOf[apiserver.ContactList](),
	"ContactRequest":       typeOf[apiserver.ContactRequest](),
	"CustomerList":         typeOf[apiserver.CustomerList](),
	"CustomerSummary":      typeOf[apiserver.CustomerSummary](),
	"State":                typeOf[workflows.State](),
	"Scores":               typeOf[workflows.Scores](),
	"Ending":               typeOf[workflows.Ending](),
	"HandoffState":         typeOf[workflows.HandoffState](),
	"MilestoneView":        typeOf[workflows.MilestoneView](),
	"Progress":             typeOf[workflows.Progress](),
	"Upcoming":             typeOf[workflows.Upcoming](),
	"ComplaintRun":         typeOf[workflows.ComplaintRun](),
	"ScorePoint":           typeOf[workflows.ScorePoint](),
	"DesiredOutcome":       typeOf[workflows.DesiredOutcome](),
	"OutcomeChoice":        typeOf[playbooks.OutcomeChoice](),
	"Facts":                typeOf[insights.Facts](),
	"TaskView":             typeOf[workflows.TaskView](),
	"Import":               typeOf[workflows.Import](),
	"Timeline":             typeOf[workflows.Timeline](),
	"TimelineEntry":        typeOf[workflows.Entry](),
	"OlderEntries":         typeOf[workflows.OlderEntries](),
	"EngagementEvent":      typeOf[workflows.EngagementEvent](),
	"EventResponse":        typeOf[apiserver.EventResponse](),
	"Complaint":            typeOf[workflows.Complaint](),
	"ComplaintReceipt":     typeOf[workflows.ComplaintReceipt](),
	"Outcome":              typeOf[workflows.Outcome](),
	"PauseRequest":         typeOf[workflows.PauseRequest](),
	"ResumeRequest":        typeOf[workflows.ResumeRequest](),
	"Reassignment":         typeOf[workflows.Reassignment](),
	"ChampionChange":       typeOf[workflows.ChampionChange](),
	"CustomerTasks":        typeOf[apiserver.CustomerTasks](),
	"TaskDoneRequest":      typeOf[apiserver.TaskDoneRequest](),
	"TaskSnoozeRequest":    typeOf[apiserver.TaskSnoozeRequest](),
	"TaskList":             typeOf[apiserver.TaskList](),
	"TaskItem":             typeOf[apiserver.TaskItem](),
	"CustomerInsightsView": typeOf[apiserver.CustomerInsightsView](),
	"Gap":                  typeOf[insights.Gap](),

	// Playbooks and simulations.
	"PublishRequest":       typeOf[apiserver.PublishRequest](),
	"PlaybookInfo":         typeOf[apiserver.PlaybookInfo](),
	"PlaybookList":         typeOf[apiserver.PlaybookList](),
	"PlanPlaybookRequest":  typeOf[apiserver.PlanPlaybookRequest](),
	"SimulateRequest":      typeOf[apiserver.SimulateRequest](),
	"SimulateResponse":     typeOf[apiserver.SimulateResponse](),
	"SimulationResult":     typeOf[simulate.Result](),
	"SimulationDiff":       typeOf[simulate.Diff](),
	"SimulationStep":       typeOf[simulate.Step](),
	"SimulationStepAt":     typeOf[simulate.StepAt](),
	"SimulationStepMoved":  typeOf[simulate.StepMoved](),
	"SimulationApplied":    typeOf[simulate.Applied](),
	"SimulationSkip":       typeOf[simulate.Skip](),
	"SimulationDay":        typeOf[simulate.Day](),
	"SimulationChange":     typeOf[simulate.Change](),
	"SimulationRunCost":    typeOf[simulate.RunCost](),
	"SimulationTotals":     typeOf[simulate.Totals](),
	"SimulationHealthDiff": typeOf[simulate.HealthDiff](),

	// Insights, suppressions.
	"InsightsView":        typeOf[apiserver.InsightsView](),
	"SegmentSummary":      typeOf[apiserver.SegmentSummary](),
	"Segment":             typeOf[insights.Segment](),
	"Difference":          typeOf[insights.Difference](),
	"Mix":                 typeOf[insights.Mix](),
	"Median":              typeOf[insights.Median](),
	"Share":               typeOf[insights.Share](),
	"FactsMilestone":      typeOf[insights.Milestone](),
	"FactsOutcome":        typeOf[insights.Outcome](),
	"InsightsSummary":     typeOf[insights.Summary](),
	"InsightsResult":      typeOf[activities.InsightsResult](),
	"SuppressionResponse": typeOf[apiserver.SuppressionResponse](),
	"LiftResponse":        typeOf[apiserver.LiftResponse](),

	// Imports, webhooks out, HubSpot, the account's story.
	"BatchRequest":        typeOf[apiserver.BatchRequest](),
	"BatchCustomer":       typeOf[apiserver.BatchCustomer](),
	"BatchResponse":       typeOf[apiserver.BatchResponse](),
	"BatchResult":         typeOf[apiserver.BatchResult](),
	"SubscriptionRequest": typeOf[apiserver.SubscriptionRequest](),
	"Subscription":        typeOf[store.Subscription](),
	"SubscriptionView":    typeOf[apiserver.SubscriptionView](),
	"SubscriptionList":    typeOf[apiserver.SubscriptionList](),
	"DeliveryLog":         typeOf[apiserver.DeliveryLog](),
	"Delivery":            typeOf[store.Delivery](),
	"Story":               typeOf[story.Story](),
	"StorySentence":       typeOf[story.Sentence](),
	"HubSpotEvent":        typeOf[apiserver.HubSpotEvent](),
	"HubSpotResponse":     typeOf[apiserver.HubSpotResponse](),
	"HubSpotResult":       typeOf[apiserver.HubSpotResult](),
}

// requestOnly are the schemas of bodies the API reads and never writes:
// which of their fields are required is the handler's rule, written in
// the document by hand, not what omitempty says.
var requestOnly = []string{
	"StartRequest", "DealWebhook", "ContactRequest", "EngagementEvent", "Complaint", "Outcome",
	"PauseRequest", "ResumeRequest", "Reassignment", "ChampionChange", "TaskDoneRequest",
	"TaskSnoozeRequest", "PublishRequest", "PlanPlaybookRequest", "SimulateRequest",
	"BatchRequest", "BatchCustomer", "SubscriptionRequest", "HubSpotEvent",
}

// Types with a JSON form of their own.
var (
	timeType     = typeOf[time.Time]()
	durationType = typeOf[time.Duration]()
	dateType     = typeOf[apiserver.Date]()
)

// jsonField is one field as encoding/json writes it.
type jsonField struct {
	name      string
	typ       reflect.Type
	omittable bool // omitempty or omitzero: not always written
}

// jsonFields lists the fields encoding/json writes for a struct, embedded
// structs' fields promoted.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
		out = append(out, jsonField{name: name, typ: f.Type, omittable: omit})
	}
	return out
}

// schemaNames is schemaTypes the other way round.
func schemaNames() map[reflect.Type]string {
	out := map[reflect.Type]string{}
	for name, t := range schemaTypes {
		out[t] = name
	}
	return out
}

// typeChecker compares schemas with Go types, collecting the differences.
type typeChecker struct {
	names    map[reflect.Type]string
	problems []string
}

func (c *typeChecker) fail(where, format string, args ...any) {
	c.problems = append(c.problems, where+": "+fmt.Sprintf(format, args...))
}

// object checks an object schema against a struct type.
func (c *typeChecker) object(where string, s *openapi3.Schema, t reflect.Type, request bool) {
	if !s.Type.Is(openapi3.TypeObject) {
		c.fail(where, "type %v, want object (Go %s)", typesOf(s), t)
		return
	}
	fields := jsonFields(t)
	var want []string
	for _, f := range fields {
		prop, ok := s.Properties[f.name]
		if !ok {
			c.fail(where, "no property %q (Go %s has it)", f.name, t)
			continue
		}
		c.value(where+"."+f.name, prop, f.typ)
		if !f.omittable {
			want = append(want, f.name)
		}
		// encoding/json writes a nil slice, map or pointer as null.
		switch k := f.typ.Kind(); {
		case f.omittable || prop.Ref != "":
		case (k == reflect.Slice || k == reflect.Map || k == reflect.Pointer) && !prop.Value.Nullable:
			c.fail(where+"."+f.name, "nullable: true (Go writes null for a nil %s)", f.typ)
		case k != reflect.Slice && k != reflect.Map && k != reflect.Pointer && prop.Value.Nullable:
			c.fail(where+"."+f.name, "nullable, but Go %s is never null", f.typ)
		}
	}
	for name := range s.Properties {
		if !slices.ContainsFunc(fields, func(f jsonField) bool { return f.name == name }) {
			c.fail(where, "property %q is not a field of Go %s", name, t)
		}
	}
	got := slices.Sorted(slices.Values(s.Required))
	slices.Sort(want)
	if request {
		for _, r := range got {
			if _, ok := s.Properties[r]; !ok {
				c.fail(where, "required %q is not a property", r)
			}
		}
	} else if !slices.Equal(got, want) {
		c.fail(where, "required %v, want %v (the fields without omitempty)", got, want)
	}
	if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
		return
	}
	if s.AdditionalProperties.Schema != nil {
		c.fail(where, "a struct has no additional properties")
	}
}

// value checks a property's schema against a field's type.
func (c *typeChecker) value(where string, ref *openapi3.SchemaRef, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name, ok := c.names[t]; ok {
		if want := "#/components/schemas/" + name; ref.Ref != want {
			c.fail(where, "$ref %q, want %q", ref.Ref, want)
		}
		return
	}
	s := ref.Value
	if ref.Ref != "" {
		c.fail(where, "$ref %q for Go %s, which is no component's type", ref.Ref, t)
		return
	}
	is := func(typ string) {
		if !s.Type.Is(typ) {
			c.fail(where, "type %v, want %s (Go %s)", typesOf(s), typ, t)
		}
	}
	switch {
	case t == timeType:
		is(openapi3.TypeString)
		if s.Format != "date-time" {
			c.fail(where, "format %q, want date-time", s.Format)
		}
		return
	case t == dateType:
		is(openapi3.TypeString)
		return
	case t == durationType:
		is(openapi3.TypeInteger)
		return
	}
	switch t.Kind() {
	case reflect.String:
		is(openapi3.TypeString)
	case reflect.Bool:
		is(openapi3.TypeBoolean)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		is(openapi3.TypeInteger)
	case reflect.Float32, reflect.Float64:
		is(openapi3.TypeNumber)
	case reflect.Slice, reflect.Array:
		is(openapi3.TypeArray)
		if s.Items == nil {
			c.fail(where, "an array without items")
			return
		}
		c.value(where+"[]", s.Items, t.Elem())
	case reflect.Map:
		is(openapi3.TypeObject)
		if t.Key().Kind() != reflect.String {
			c.fail(where, "Go %s: a map's keys must be strings", t)
		}
		if s.AdditionalProperties.Schema == nil {
			c.fail(where, "a map needs additionalProperties (Go %s)", t)
			return
		}
		c.value(where+"{}", s.AdditionalProperties.Schema, t.Elem())
	case reflect.Struct:
		if t.Name() != "" {
			c.fail(where, "Go %s is not in schemaTypes: add it, and its schema to openapi.yaml", t)
			return
		}
		c.object(where, s, t, true)
	case reflect.Interface:
		if s.Type != nil && len(*s.Type) > 0 {
			c.fail(where, "Go %s may hold any value; the schema says %v", t, typesOf(s))
		}
	default:
		c.fail(where, "Go %s has no JSON form this check knows", t)
	}
}

func typesOf(s *openapi3.Schema) []string {
	if s.Type == nil {
		return nil
	}
	return s.Type.Slice()
}

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(apiserver.OpenAPIDocument())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(t.Context()), "openapi.yaml is not a valid OpenAPI 3 document")
	return doc
}

// Each component schema has the Go type's JSON fields, of its types,
// required when the Go type always writes them, nested types by $ref; and
// every Go type in the table has its schema.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	c := &typeChecker{names: schemaNames()}
	for name, typ := range schemaTypes {
		ref, ok := doc.Components.Schemas[name]
		if !ok {
			c.fail(name, "no component schema for Go %s", typ)
			continue
		}
		c.object(name, ref.Value, typ, slices.Contains(requestOnly, name))
	}
	for name := range doc.Components.Schemas {
		if _, ok := schemaTypes[name]; !ok && name != "SendGridEvent" { // sendgrid_internal_test.go checks that one
			c.fail(name, "a component schema without its Go type in schemaTypes")
		}
	}
	for _, p := range slices.Sorted(slices.Values(c.problems)) {
		t.Error(p)
	}
}
