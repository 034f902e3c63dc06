package mock

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/agentd-dev/agentd/adapters"
)

// configCommand makes the mock reply with the agent configuration it was
// started with, so that what the engine hands adapters can be seen end to
// end without a real agent.
const configCommand = "session-config"

type mcpView struct {
	Type    string   `json:"type"`
	Command string   `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	URL     string   `json:"url,omitempty"`
	// Only the names of env variables and headers: their values may be
	// secrets.
	Env     []string `json:"env,omitempty"`
	Headers []string `json:"headers,omitempty"`
}

type configView struct {
	MCP             map[string]mcpView `json:"mcp,omitempty"`
	SystemPrompt    string             `json:"systemPrompt,omitempty"`
	AllowedTools    []string           `json:"allowedTools,omitempty"`
	DisallowedTools []string           `json:"disallowedTools,omitempty"`
}

// configReport is the JSON text the config command answers with.
func configReport(req adapters.StartRequest) string {
	v := configView{SystemPrompt: req.SystemPrompt, AllowedTools: req.AllowedTools, DisallowedTools: req.DisallowedTools}
	for name, s := range req.MCP {
		if v.MCP == nil {
			v.MCP = map[string]mcpView{}
		}
		m := mcpView{Type: "remote", URL: s.URL, Headers: slices.Sorted(maps.Keys(s.Headers))}
		if s.Local {
			m = mcpView{Type: "local", Command: s.Command, Args: s.Args}
		}
		m.Env = slices.Sorted(maps.Keys(s.Env))
		v.MCP[name] = m
	}
	b, _ := json.Marshal(v) // strings, slices and maps of them always marshal
	return string(b)
}
