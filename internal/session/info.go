package session

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

// SessionInfo is a session's description: stored as the session row's JSON and
// served, with the counters filled in, as SessionInfo.
type SessionInfo struct {
	SessionID       string          `json:"sessionId"`
	Agent           string          `json:"agent"`
	AgentMode       string          `json:"agentMode"`
	PermissionMode  string          `json:"permissionMode"`
	Model           *string         `json:"model"`
	Variant         *string         `json:"variant"`
	NativeSessionID *string         `json:"nativeSessionId"`
	Ended           bool            `json:"ended"`
	EventCount      uint64          `json:"eventCount"`
	CreatedAt       int64           `json:"createdAt"`
	UpdatedAt       int64           `json:"updatedAt"`
	Directory       *string         `json:"directory"`
	Title           *string         `json:"title"`
	MCP             json.RawMessage `json:"mcp,omitempty"`
	Skills          json.RawMessage `json:"skills,omitempty"`
	// Additive: how the session ended, once it has.
	EndReason    schema.SessionEndReason `json:"endReason,omitempty"`
	TerminatedBy schema.TerminatedBy     `json:"terminatedBy,omitempty"`
	EndMessage   string                  `json:"endMessage,omitempty"`
	// Additive: the agent's exit code when it ended the session with an error.
	ExitCode *int `json:"exitCode,omitempty"`
	// Additive: the session this one resumed.
	ResumedFrom string `json:"resumedFrom,omitempty"`
	// Additive: the network policy the session was created with.
	Network *NetworkPolicy `json:"network,omitempty"`
	// Additive: the agent configuration beyond the reference's fields.
	SystemPrompt    string   `json:"systemPrompt,omitempty"`
	AllowedTools    []string `json:"allowedTools,omitempty"`
	DisallowedTools []string `json:"disallowedTools,omitempty"`
	Preset          string   `json:"preset,omitempty"`
	// Additive: the session's token budget.
	Budget *Budget `json:"budget,omitempty"`
}

// NetworkPolicy is what a session's agent may reach through agentd's
// egress proxy, beyond what the daemon allows every session.
type NetworkPolicy struct {
	Allow []string `json:"allow" nullable:"false" doc:"Hosts added to the daemon's egress allowlist for this session: example.com, *.example.com, an IP address or CIDR range, each optionally with :port. Needs agentd started with --egress."`
}

// CreateRequest is what a client asks for when creating a session.
type CreateRequest struct {
	Agent          string
	AgentMode      string
	PermissionMode string
	Model          string
	Variant        string
	AgentVersion   string
	Directory      string
	Title          string
	MCP            json.RawMessage
	Skills         json.RawMessage
	// Resume names an ended session of the same agent whose conversation the
	// new one continues (the agent resumes its native session).
	Resume string
	// Network adds to the egress allowlist for this session's agent.
	Network *NetworkPolicy
	// SystemPrompt is appended to the agent's own; AllowedTools run
	// without asking, DisallowedTools not at all (adapters.StartRequest).
	SystemPrompt    string
	AllowedTools    []string
	DisallowedTools []string
	// Preset names the preset the request was filled from (recorded only).
	Preset string
	Budget *Budget
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// permissionModes are the values any agent may be asked for; each agent
// then maps them to what it supports.
var permissionModes = []string{"default", "plan", "bypass", "acceptEdits"}

// maxIDLen bounds client-chosen session ids: they end up in paths, logs
// and every event.
const maxIDLen = 256

// newInfo validates a create request against what the agent supports and
// returns the session's normalised description.
func newInfo(id string, req CreateRequest, agent adapters.Info, now time.Time) (SessionInfo, error) {
	if len(id) > maxIDLen || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return SessionInfo{}, apierr.New(apierr.InvalidRequest, "session id must be at most %d bytes without control characters", maxIDLen)
	}
	mode, err := agentMode(req, agent)
	if err != nil {
		return SessionInfo{}, err
	}
	perm, err := permissionMode(req, agent)
	if err != nil {
		return SessionInfo{}, err
	}
	if req.Budget != nil && req.Budget.MaxTokens < 0 {
		return SessionInfo{}, apierr.New(apierr.InvalidRequest, "budget.maxTokens must not be negative")
	}
	model := req.Model
	if model == "" {
		model = agent.DefaultModel
	}
	return SessionInfo{
		SessionID: id, Agent: req.Agent, AgentMode: mode, PermissionMode: perm,
		Model: optional(model), Variant: optional(req.Variant),
		Directory: optional(req.Directory), Title: optional(req.Title),
		MCP: req.MCP, Skills: req.Skills, Network: req.Network,
		SystemPrompt: req.SystemPrompt, AllowedTools: req.AllowedTools, DisallowedTools: req.DisallowedTools, Preset: req.Preset,
		Budget:    req.Budget,
		CreatedAt: now.UnixMilli(), UpdatedAt: now.UnixMilli(),
	}, nil
}

func agentMode(req CreateRequest, agent adapters.Info) (string, error) {
	mode := req.AgentMode
	if mode == "" {
		mode = "build"
	}
	if agent.AnyMode || slices.ContainsFunc(agent.Modes, func(m adapters.Mode) bool { return m.ID == mode }) {
		return mode, nil
	}
	return "", modeNotSupported(req.Agent, mode)
}

func permissionMode(req CreateRequest, agent adapters.Info) (string, error) {
	mode := req.PermissionMode
	if mode == "" {
		mode = "default"
	}
	if !slices.Contains(permissionModes, mode) {
		return "", apierr.New(apierr.InvalidRequest, "invalid permission mode: %s", mode)
	}
	stored, ok := agent.PermissionModes[mode]
	if !ok {
		return "", modeNotSupported(req.Agent, mode)
	}
	return stored, nil
}

func modeNotSupported(agent, mode string) error {
	e := apierr.New(apierr.ModeNotSupported, "%s %s", agent, mode)
	e.Agent = agent
	e.Details = map[string]any{"mode": mode}
	return e
}
