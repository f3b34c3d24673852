package apiserver

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// openapi.yaml's SendGridEvent has the fields the webhook reads (its Go
// type is unexported, so the reflection test of apiserver_test cannot).
func TestOpenAPISendGridEventMatchesGoType(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(openAPI, &doc))
	var documented []string
	for name := range doc.Components.Schemas["SendGridEvent"].Properties {
		documented = append(documented, name)
	}
	var fields []string
	for f := range reflect.TypeFor[sendgridEvent]().Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	slices.Sort(documented)
	slices.Sort(fields)
	require.Equal(t, fields, documented)
}
