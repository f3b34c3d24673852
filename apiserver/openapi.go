package apiserver

import _ "embed"

// openAPI documents every route; a test keeps it in step with the router.
//
//go:embed openapi.yaml
var openAPI []byte
