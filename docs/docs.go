// Package docs carries the committed OpenAPI documents, so tests can hold
// the served API to them.
package docs

import _ "embed"

//go:generate sh -c "go run ../cmd/agentd openapi > openapi.json"
//go:generate sh -c "go run ../cmd/agentd openapi --3.0 > openapi-3.0.json"

// OpenAPI is the OpenAPI 3.1 document of the API.
//
//go:embed openapi.json
var OpenAPI []byte

// OpenAPI30 is the same document in OpenAPI 3.0 form, for client generators.
//
//go:embed openapi-3.0.json
var OpenAPI30 []byte
