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
	// Version, Commit and BuildDate are additive.
	Version   string `json:"version,omitempty" doc:"Additive: the daemon's version"`
	Commit    string `json:"commit,omitempty" doc:"Additive: the git commit the daemon was built from"`
	BuildDate string `json:"buildDate,omitempty" doc:"Additive: the time of that commit (RFC 3339)"`
	// Sinks is additive.
	Sinks []SinkHealth `json:"sinks,omitempty" doc:"Additive: the daemon's event sinks (--sink) and how far behind each is"`
}

// SinkHealth is the state of one event sink.
type SinkHealth struct {
	Name        string  `json:"name" doc:"The sink's id on this daemon, stable across restarts"`
	Kind        string  `json:"kind" enum:"postgres,webhook"`
	Destination string  `json:"destination" doc:"Where it ships, without password or query"`
	Backlog     int64   `json:"backlog" doc:"Events stored locally and not shipped yet"`
	LagSeconds  float64 `json:"lagSeconds" doc:"Age of the oldest event not shipped yet; 0 without a backlog"`
	LastError   string  `json:"lastError,omitempty" doc:"The last failure, cleared by the next success"`
	DeadLetters int64   `json:"deadLetters" doc:"Webhook events given up on and kept in the data dir"`
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
		b := Build()
		return &healthOutput{Body: HealthResponse{Status: "ok", Version: b.Version, Commit: b.Commit, BuildDate: b.Date,
			Sinks: s.sinkHealth(ctx)}}, nil
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

func (s *server) sinkHealth(ctx context.Context) []SinkHealth {
	if s.SinkHealth == nil {
		return nil
	}
	return s.SinkHealth(ctx)
}
