//go:build tools

// Package tools pins the code generators agentd runs with `go generate`, in
// a module of their own so that their dependencies stay out of agentd's.
// Run one with `go run -modfile=<path to this go.mod> <package>`.
package tools

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
)
