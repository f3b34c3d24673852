// Package client is a typed Go client of the lifecycle API, generated from
// apiserver/openapi.yaml by oapi-codegen (go generate ./client; the version
// is go.mod's tool line). client_test.go fails when the committed code is
// stale, and drives a journey through it against a real API.
package client

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../apiserver/openapi.yaml
