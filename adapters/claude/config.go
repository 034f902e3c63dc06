package claude

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
)

// nativeConfig is what the session's agent configuration becomes for
// Claude: --append-system-prompt, the tool lists as --allowedTools (run
// without asking) and --disallowedTools (removed), and the MCP servers in
// Claude's .mcp.json shape. Those may hold resolved secrets, so start
// writes them to a private file for --mcp-config rather than putting them
// on the command line, which other users of the machine can read.
type nativeConfig struct {
	args []string
	mcp  string // "" without MCP servers
}

func configFor(req adapters.StartRequest) (nativeConfig, error) {
	var c nativeConfig
	if len(req.MCP) > 0 {
		var err error
		if c.mcp, err = mcpConfig(req.MCP); err != nil {
			return nativeConfig{}, err
		}
	}
	if req.SystemPrompt != "" {
		c.args = append(c.args, "--append-system-prompt", req.SystemPrompt)
	}
	// One comma-separated value each: the flags take several words, and
	// a rule such as "Bash(git *)" holds a space.
	if len(req.AllowedTools) > 0 {
		c.args = append(c.args, "--allowedTools", strings.Join(req.AllowedTools, ","))
	}
	if len(req.DisallowedTools) > 0 {
		c.args = append(c.args, "--disallowedTools", strings.Join(req.DisallowedTools, ","))
	}
	return c, nil
}

// write puts the MCP servers in a file only this user can read, in a
// directory of its own; remove deletes it once Claude has exited.
func (c nativeConfig) write() (args []string, remove func(), err error) {
	if c.mcp == "" {
		return c.args, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "agentd-claude-mcp-")
	if err != nil {
		return nil, nil, fmt.Errorf("claude: mcp config: %w", err)
	}
	remove = func() { _ = os.RemoveAll(dir) }
	path := filepath.Join(dir, "mcp.json")
	if err := os.WriteFile(path, []byte(c.mcp), 0o600); err != nil {
		remove()
		return nil, nil, fmt.Errorf("claude: mcp config: %w", err)
	}
	return append(slices.Clone(c.args), "--mcp-config", path), remove, nil
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
