package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/internal/presets"
	"github.com/agentd-dev/agentd/internal/session"
)

// PresetInfo is one preset as GET /v1/presets lists it.
type PresetInfo struct {
	Name            string                     `json:"name"`
	Agent           string                     `json:"agent,omitempty" doc:"The agent the preset is for; a request naming it must use this agent"`
	Model           string                     `json:"model,omitempty"`
	AgentMode       string                     `json:"agentMode,omitempty"`
	PermissionMode  string                     `json:"permissionMode,omitempty"`
	Directory       string                     `json:"directory,omitempty"`
	SystemPrompt    string                     `json:"systemPrompt,omitempty"`
	AllowedTools    []string                   `json:"allowedTools,omitempty"`
	DisallowedTools []string                   `json:"disallowedTools,omitempty"`
	MCP             map[string]McpServerConfig `json:"mcp,omitempty" doc:"env and header values other than ${env:NAME} references are shown as [REDACTED]"`
	Budget          *session.Budget            `json:"budget,omitempty"`
}

type PresetListResponse struct {
	Presets []PresetInfo `json:"presets" nullable:"false"`
}

func (s *server) registerPresets(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "list_presets", Method: http.MethodGet, Path: "/v1/presets", Tags: []string{"sessions"},
		Summary:     "List Presets",
		Description: "Additive: the session presets agentd was started with (--presets), by name; a create request's preset field names one.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body PresetListResponse }, error) {
		out := PresetListResponse{Presets: []PresetInfo{}}
		for _, name := range s.Presets.Names() {
			p, _ := s.Presets.Get(name)
			out.Presets = append(out.Presets, presetInfo(name, p.Redacted()))
		}
		return &struct{ Body PresetListResponse }{Body: out}, nil
	})
}

func presetInfo(name string, p presets.Preset) PresetInfo {
	info := PresetInfo{Name: name, Agent: p.Agent, Model: p.Model, AgentMode: p.AgentMode, PermissionMode: p.PermissionMode,
		Directory: p.Directory, SystemPrompt: p.SystemPrompt, AllowedTools: p.AllowedTools, DisallowedTools: p.DisallowedTools,
		Budget: p.Budget}
	for k, raw := range p.MCP {
		if info.MCP == nil {
			info.MCP = map[string]McpServerConfig{}
		}
		info.MCP[k] = McpServerConfig(json.RawMessage(raw))
	}
	return info
}
