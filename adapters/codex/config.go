package codex

import (
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
)

// configArgs maps the session's agent configuration onto `-c` overrides of
// this process only: MCP servers as mcp_servers.<name> tables and the
// system prompt as developer_instructions. Codex has no tool allow or deny
// lists for its own tools, so those are refused.
func configArgs(req adapters.StartRequest) ([]string, error) {
	switch {
	case len(req.AllowedTools) > 0:
		return nil, adapters.Unsupported("codex", "allowedTools", "Codex has no per-tool approval list; use permissionMode")
	case len(req.DisallowedTools) > 0:
		return nil, adapters.Unsupported("codex", "disallowedTools", "Codex cannot remove its built-in tools")
	}
	var out []string
	for _, name := range adapters.SortedMCP(req.MCP) {
		kv, err := mcpOverrides(name, req.MCP[name])
		if err != nil {
			return nil, err
		}
		for _, s := range kv {
			out = append(out, "-c", s)
		}
	}
	if req.SystemPrompt != "" {
		out = append(out, "-c", "developer_instructions="+tomlString(req.SystemPrompt))
	}
	return out, nil
}

func mcpOverrides(name string, s adapters.MCPServer) ([]string, error) {
	if err := s.Check("codex", name, adapters.MCPSupport{Cwd: true, Timeout: true, EnvRefs: true}); err != nil {
		return nil, err
	}
	key := "mcp_servers." + name + "."
	var out []string
	add := func(k, v string) { out = append(out, key+k+"="+v) }
	if s.Local {
		add("command", tomlString(s.Command))
		if len(s.Args) > 0 {
			add("args", tomlArray(s.Args))
		}
		if s.Cwd != "" {
			add("cwd", tomlString(s.Cwd))
		}
		if len(s.Env) > 0 {
			add("env", tomlTable(s.Env))
		}
	} else {
		add("url", tomlString(s.URL))
		if len(s.Headers) > 0 {
			add("http_headers", tomlTable(s.Headers))
		}
		if len(s.EnvHeaders) > 0 {
			add("env_http_headers", tomlTable(s.EnvHeaders))
		}
		if s.BearerTokenEnvVar != "" {
			add("bearer_token_env_var", tomlString(s.BearerTokenEnvVar))
		}
	}
	if s.TimeoutMs > 0 {
		add("tool_timeout_sec", strconv.FormatFloat(float64(s.TimeoutMs)/1000, 'f', 3, 64))
	}
	return out, nil
}

// passedEnv is the variables of agentd's environment that remote MCP
// servers name for Codex to read (bearerTokenEnvVar, envHeaders): the
// agent's environment holds only what it is given.
func passedEnv(req adapters.StartRequest) []string {
	var out []string
	for _, name := range adapters.SortedMCP(req.MCP) {
		s := req.MCP[name]
		vars := slices.Sorted(maps.Values(s.EnvHeaders))
		if s.BearerTokenEnvVar != "" {
			vars = append(vars, s.BearerTokenEnvVar)
		}
		for _, v := range vars {
			if val, ok := os.LookupEnv(v); ok {
				out = append(out, v+"="+val)
			}
		}
	}
	return out
}

func tomlArray(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// tomlTable is an inline table, keys quoted so that any variable or header
// name is a valid key.
func tomlTable(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, tomlString(k)+" = "+tomlString(m[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
