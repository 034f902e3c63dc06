package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

type (
	AgentCapabilities adapters.Capabilities
	AgentModeInfo     adapters.Mode
	AgentModelInfo    adapters.Model
)

// ServerStatus is the state of an agent's shared server process.
type ServerStatus string

func (ServerStatus) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "ServerStatus", []string{"running", "stopped", "error"})
}

type ServerStatusInfo struct {
	Status       ServerStatus `json:"status"`
	BaseURL      *string      `json:"baseUrl,omitempty"`
	UptimeMs     *uint64      `json:"uptimeMs,omitempty"`
	RestartCount uint64       `json:"restartCount"`
	LastError    *string      `json:"lastError,omitempty"`
}

type AgentInfo struct {
	ID                   string            `json:"id"`
	Installed            bool              `json:"installed"`
	CredentialsAvailable bool              `json:"credentialsAvailable" doc:"Whether the agent's required provider credentials are available"`
	Version              *string           `json:"version,omitempty"`
	Path                 *string           `json:"path,omitempty"`
	Capabilities         AgentCapabilities `json:"capabilities"`
	ServerStatus         *ServerStatusInfo `json:"serverStatus,omitempty"`
}

type AgentListResponse struct {
	Agents []AgentInfo `json:"agents" nullable:"false"`
}

type AgentModesResponse struct {
	Modes []AgentModeInfo `json:"modes" nullable:"false"`
}

type AgentModelsResponse struct {
	Models       []AgentModelInfo `json:"models" nullable:"false"`
	DefaultModel *string          `json:"defaultModel,omitempty"`
}

type AgentInstallRequest struct {
	Reinstall *bool `json:"reinstall,omitempty"`
}

type AgentPathParam struct {
	Agent string `path:"agent" doc:"Agent id: claude, codex, opencode, amp, pi, cursor or mock"`
}

func (s *server) registerAgents(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "list_agents", Method: http.MethodGet, Path: "/v1/agents", Tags: []string{"agents"},
		Summary: "List Agents", Description: "Returns all available coding agents and their installation status.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body AgentListResponse }, error) {
		out := &struct{ Body AgentListResponse }{}
		for _, ag := range s.Sessions.Agents() {
			out.Body.Agents = append(out.Body.Agents, agentInfo(ag.ID(), ag.Info(ctx)))
		}
		return out, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "install_agent", Method: http.MethodPost, Path: "/v1/agents/{agent}/install", Tags: []string{"agents"},
		Summary: "Install Agent", Description: "Installs or updates a coding agent (e.g. claude, codex, opencode, amp).",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError},
	}, func(ctx context.Context, in *struct {
		AgentPathParam
		Body AgentInstallRequest
	}) (*struct{}, error) {
		reinstall := in.Body.Reinstall != nil && *in.Body.Reinstall
		return nil, problem(ctx, s.Logger, s.Sessions.Install(context.WithoutCancel(ctx), in.Agent, "", reinstall, nil))
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_agent_modes", Method: http.MethodGet, Path: "/v1/agents/{agent}/modes", Tags: []string{"agents"},
		Summary: "List Agent Modes", Description: "Returns the available interaction modes for an agent.",
		Errors: []int{http.StatusBadRequest},
	}, func(ctx context.Context, in *AgentPathParam) (*struct{ Body AgentModesResponse }, error) {
		ag, err := s.Sessions.Agent(in.Agent)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		out := &struct{ Body AgentModesResponse }{Body: AgentModesResponse{Modes: []AgentModeInfo{}}}
		for _, m := range ag.Info(ctx).Modes {
			out.Body.Modes = append(out.Body.Modes, AgentModeInfo(m))
		}
		return out, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_agent_models", Method: http.MethodGet, Path: "/v1/agents/{agent}/models", Tags: []string{"agents"},
		Summary: "List Agent Models", Description: "Returns the available LLM models for an agent.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound},
	}, func(ctx context.Context, in *AgentPathParam) (*struct{ Body AgentModelsResponse }, error) {
		ag, err := s.Sessions.Agent(in.Agent)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		info := ag.Info(ctx)
		out := &struct{ Body AgentModelsResponse }{Body: AgentModelsResponse{Models: []AgentModelInfo{}}}
		for _, m := range info.Models {
			out.Body.Models = append(out.Body.Models, AgentModelInfo(m))
		}
		if info.DefaultModel != "" {
			out.Body.DefaultModel = &info.DefaultModel
		}
		return out, nil
	})
	s.registerInstallStream(a)
}

func agentInfo(id string, info adapters.Info) AgentInfo {
	out := AgentInfo{
		ID: id, Installed: info.Installed, CredentialsAvailable: info.CredentialsAvailable,
		Capabilities: AgentCapabilities(info.Capabilities),
	}
	if info.Version != "" {
		out.Version = &info.Version
	}
	if info.Path != "" {
		out.Path = &info.Path
	}
	if info.Capabilities.SharedProcess {
		out.ServerStatus = &ServerStatusInfo{Status: "stopped"}
	}
	return out
}
