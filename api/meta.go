package api

import (
	"context"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/internal/session"
)

// HealthResponse is the health check's body.
type HealthResponse struct {
	Status string `json:"status" example:"ok"`
	// Version is additive.
	Version string `json:"version,omitempty" doc:"Additive: the daemon's version"`
}

type healthOutput struct {
	Body HealthResponse
}

func (s *server) registerMeta(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "get_health", Method: http.MethodGet, Path: "/v1/health", Tags: []string{"meta"},
		Summary: "Health Check", Description: "Returns the server health status. Needs no token.",
		Security: []map[string][]string{},
	}, func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
		return &healthOutput{Body: HealthResponse{Status: "ok", Version: Version}}, nil
	})
}

// EventsQuery and TurnStreamQuery describe query strings; the reference
// lists them as components, so ours does too.
type EventsQuery struct {
	Offset     *uint64 `json:"offset,omitempty"`
	Limit      *uint64 `json:"limit,omitempty"`
	IncludeRaw *bool   `json:"includeRaw,omitempty"`
}

type TurnStreamQuery struct {
	IncludeRaw *bool `json:"includeRaw,omitempty"`
}

// registerSchemas adds components that no operation references directly.
func registerSchemas(a huma.API) {
	r := a.OpenAPI().Components.Schemas
	for _, v := range []any{EventsQuery{}, TurnStreamQuery{}, AgentError{}, ProblemDetails{}, session.SessionInfo{}} {
		r.Schema(reflect.TypeOf(v), true, "")
	}
	// The engine stores mcp and skills as given; describe them as the
	// request types they were validated against.
	info := r.Map()["SessionInfo"]
	info.Properties["mcp"] = &huma.Schema{Type: huma.TypeObject, AdditionalProperties: McpServerConfig(nil).Schema(r)}
	info.Properties["skills"] = r.Schema(reflect.TypeOf(SkillsConfig{}), true, "")
}
