package claude

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
)

// configArgs maps the session's agent configuration onto Claude's flags:
// MCP servers as an inline --mcp-config (Claude's .mcp.json shape),
// --append-system-prompt, and the tool lists as --allowedTools (run
// without asking) and --disallowedTools (removed).
func configArgs(req adapters.StartRequest) ([]string, error) {
	var out []string
	if len(req.MCP) > 0 {
		cfg, err := mcpConfig(req.MCP)
		if err != nil {
			return nil, err
		}
		out = append(out, "--mcp-config", cfg)
	}
	if req.SystemPrompt != "" {
		out = append(out, "--append-system-prompt", req.SystemPrompt)
	}
	// One comma-separated value each: the flags take several words, and
	// a rule such as "Bash(git *)" holds a space.
	if len(req.AllowedTools) > 0 {
		out = append(out, "--allowedTools", strings.Join(req.AllowedTools, ","))
	}
	if len(req.DisallowedTools) > 0 {
		out = append(out, "--disallowedTools", strings.Join(req.DisallowedTools, ","))
	}
	return out, nil
}

func mcpConfig(servers map[string]adapters.MCPServer) (string, error) {
	out, err := adapters.MCPJSONServers("claude", servers, adapters.MCPSupport{SSE: true}, true)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]any{"mcpServers": out})
	if err != nil {
		return "", fmt.Errorf("claude: mcp config: %w", err)
	}
	return string(b), nil
}
