package amp

import (
	"encoding/json"
	"fmt"

	"github.com/agentd-dev/agentd/adapters"
)

// configArgs maps the session's agent configuration onto Amp's flags: MCP
// servers as an inline --mcp-config. Amp's prompt and tool rules live in
// its own settings and modes, so the other fields are refused.
func configArgs(req adapters.StartRequest) ([]string, error) {
	switch {
	case req.SystemPrompt != "":
		return nil, adapters.Unsupported("amp", "systemPrompt", "Amp's prompt is chosen by its mode")
	case len(req.AllowedTools) > 0:
		return nil, adapters.Unsupported("amp", "allowedTools", "Amp's permission rules live in its settings file")
	case len(req.DisallowedTools) > 0:
		return nil, adapters.Unsupported("amp", "disallowedTools", "Amp's tool settings live in its settings file")
	case len(req.MCP) == 0:
		return nil, nil
	}
	cfg, err := mcpConfig(req.MCP)
	if err != nil {
		return nil, err
	}
	return []string{"--mcp-config", cfg}, nil
}

func mcpConfig(servers map[string]adapters.MCPServer) (string, error) {
	out, err := adapters.MCPJSONServers("amp", servers, adapters.MCPSupport{SSE: true}, false)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("amp: mcp config: %w", err)
	}
	return string(b), nil
}
