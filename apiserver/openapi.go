package apiserver

import _ "embed"

// openAPI documents every route; tests keep it in step with the router,
// the Go types and what the handlers really answer.
//
//go:embed openapi.yaml
var openAPI []byte

// OpenAPIDocument is the API's OpenAPI 3 document (YAML), as served at
// /v1/openapi.yaml.
func OpenAPIDocument() []byte { return openAPI }
