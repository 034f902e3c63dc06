package opencode

import (
	"context"

	"github.com/agentd-dev/agentd/adapters"
)

// permissionRules is the session's ruleset at creation: allow-all in bypass
// mode, then one rule per listed tool (OpenCode lets the last matching
// rule win, so a listed tool overrides the catch-all).
func permissionRules(req adapters.StartRequest) []map[string]string {
	var rules []map[string]string
	if req.PermissionMode == "bypass" {
		rules = append(rules, rule("*", "allow"))
	}
	for _, t := range req.AllowedTools {
		rules = append(rules, rule(t, "allow"))
	}
	for _, t := range req.DisallowedTools {
		rules = append(rules, rule(t, "deny"))
	}
	return rules
}

func rule(permission, action string) map[string]string {
	return map[string]string{"permission": permission, "pattern": "*", "action": action}
}

// resumeConfig refuses what a resumed session cannot take: its permission
// rules were fixed when OpenCode created it.
func resumeConfig(req adapters.StartRequest) error {
	switch {
	case len(req.AllowedTools) > 0:
		return adapters.Unsupported("opencode", "allowedTools", "a resumed OpenCode session keeps the permission rules it was created with")
	case len(req.DisallowedTools) > 0:
		return adapters.Unsupported("opencode", "disallowedTools", "a resumed OpenCode session keeps the permission rules it was created with")
	}
	return nil
}

// mcpConfig is a server in OpenCode's config shape, as POST /mcp takes it.
type mcpConfig struct {
	Type        string            `json:"type"`
	Command     []string          `json:"command,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	URL         string            `json:"url,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Enabled     bool              `json:"enabled"`
	Timeout     int64             `json:"timeout,omitempty"`
}

type mcpAdd struct {
	Name   string    `json:"name"`
	Config mcpConfig `json:"config"`
}

// mcpAdds are the POST /mcp bodies of the session's servers.
func mcpAdds(servers map[string]adapters.MCPServer) ([]mcpAdd, error) {
	var out []mcpAdd
	for _, name := range adapters.SortedMCP(servers) {
		s := servers[name]
		if err := s.Check("opencode", name, adapters.MCPSupport{Timeout: true, SSE: true}); err != nil {
			return nil, err
		}
		c := mcpConfig{Enabled: true, Timeout: s.TimeoutMs}
		if s.Local {
			c.Type, c.Command, c.Environment = "local", append([]string{s.Command}, s.Args...), s.Env
		} else {
			c.Type, c.URL, c.Headers = "remote", s.URL, s.Headers
		}
		out = append(out, mcpAdd{Name: name, Config: c})
	}
	return out, nil
}

// addMCP registers the servers with the server's instance for dir. OpenCode
// keeps MCP servers per directory, so sessions in one directory share them.
func (in *instance) addMCP(ctx context.Context, dir string, adds []mcpAdd) error {
	for _, add := range adds {
		if err := in.call(ctx, "POST", "/mcp", dir, add, nil); err != nil {
			return err
		}
	}
	return nil
}
