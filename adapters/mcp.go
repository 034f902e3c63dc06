package adapters

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// MCPServer is one MCP server of a session, decoded from the reference's
// McpServerConfig, with its secret references resolved.
type MCPServer struct {
	// Local servers are processes the agent starts and speaks to over
	// stdio; the others are remote, over HTTP.
	Local   bool
	Command string
	Args    []string
	Cwd     string
	Env     map[string]string
	URL     string
	// Transport of a remote server: "http" (streamable HTTP, the default)
	// or "sse".
	Transport         string
	Headers           map[string]string
	BearerTokenEnvVar string
	EnvHeaders        map[string]string
	OAuth             bool
	TimeoutMs         int64
}

// mcpConfig is the wire shape of McpServerConfig (v1 spec §7.1.3).
type mcpConfig struct {
	Type              string            `json:"type"`
	Command           json.RawMessage   `json:"command"`
	Args              []string          `json:"args"`
	Cwd               *string           `json:"cwd"`
	Enabled           *bool             `json:"enabled"`
	Env               map[string]string `json:"env"`
	TimeoutMs         *int64            `json:"timeoutMs"`
	URL               string            `json:"url"`
	BearerTokenEnvVar *string           `json:"bearerTokenEnvVar"`
	EnvHeaders        map[string]string `json:"envHeaders"`
	Headers           map[string]string `json:"headers"`
	OAuth             json.RawMessage   `json:"oauth"`
	Transport         *string           `json:"transport"`
}

// secretRef is a reference to a variable of agentd's own environment, the
// one way to put a secret in an MCP server's env or headers without
// writing it into a request, a preset or the event log.
var secretRef = regexp.MustCompile(`\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}`)

// IsSecretRef reports whether v is nothing but secret references, so that
// it can be shown without revealing anything.
func IsSecretRef(v string) bool {
	return v != "" && secretRef.ReplaceAllString(v, "") == ""
}

// ParseMCP decodes a session's mcp object (name → McpServerConfig),
// leaving out disabled servers, and replaces every ${env:NAME} in env and
// header values with NAME's value from lookup (agentd's environment).
func ParseMCP(raw json.RawMessage, lookup func(string) (string, bool)) (map[string]MCPServer, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var in map[string]mcpConfig
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, apierr.New(apierr.InvalidRequest, "mcp: %v", err)
	}
	out := make(map[string]MCPServer, len(in))
	for _, name := range slices.Sorted(maps.Keys(in)) {
		c := in[name]
		if c.Enabled != nil && !*c.Enabled {
			continue
		}
		s, err := c.server(name, lookup)
		if err != nil {
			return nil, err
		}
		out[name] = s
	}
	return out, nil
}

func (c mcpConfig) server(name string, lookup func(string) (string, bool)) (MCPServer, error) {
	field := "mcp." + name
	if name == "" || strings.ContainsAny(name, ". \t\n\"'") {
		return MCPServer{}, apierr.New(apierr.InvalidRequest, "mcp: server name %q must be non-empty without dots, quotes or spaces", name)
	}
	s := MCPServer{Args: c.Args, URL: c.URL}
	if c.TimeoutMs != nil {
		s.TimeoutMs = *c.TimeoutMs
	}
	var err error
	if s.Env, err = resolveAll(field+".env", c.Env, lookup); err != nil {
		return MCPServer{}, err
	}
	if s.Headers, err = resolveAll(field+".headers", c.Headers, lookup); err != nil {
		return MCPServer{}, err
	}
	switch c.Type {
	case "local":
		s.Local = true
		if s.Command, s.Args, err = command(c.Command, c.Args); err != nil {
			return MCPServer{}, apierr.New(apierr.InvalidRequest, "%s.command: %v", field, err)
		}
		if c.Cwd != nil {
			s.Cwd = *c.Cwd
		}
	case "remote":
		if s.URL == "" {
			return MCPServer{}, apierr.New(apierr.InvalidRequest, "%s.url is required for a remote server", field)
		}
		s.Transport = "http"
		if c.Transport != nil && *c.Transport != "" {
			s.Transport = *c.Transport
		}
		if s.Transport != "http" && s.Transport != "sse" {
			return MCPServer{}, apierr.New(apierr.InvalidRequest, "%s.transport must be http or sse, not %q", field, s.Transport)
		}
		if c.BearerTokenEnvVar != nil {
			s.BearerTokenEnvVar = *c.BearerTokenEnvVar
		}
		s.EnvHeaders = c.EnvHeaders
		s.OAuth = len(c.OAuth) > 0 && string(c.OAuth) != "false" && string(c.OAuth) != "null"
	default:
		return MCPServer{}, apierr.New(apierr.InvalidRequest, "%s.type must be local or remote, not %q", field, c.Type)
	}
	return s, nil
}

// command splits the reference's command, a string or an array whose
// first element is the program, into the program and its arguments.
func command(raw json.RawMessage, args []string) (string, []string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && one != "" {
		return one, args, nil
	}
	var argv []string
	if err := json.Unmarshal(raw, &argv); err != nil || len(argv) == 0 || argv[0] == "" {
		return "", nil, fmt.Errorf("a program, as a string or a non-empty array, is required")
	}
	return argv[0], append(slices.Clone(argv[1:]), args...), nil
}

func resolveAll(field string, in map[string]string, lookup func(string) (string, bool)) (map[string]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make(map[string]string, len(in))
	for k, v := range in {
		var missing string
		out[k] = secretRef.ReplaceAllStringFunc(v, func(ref string) string {
			name := secretRef.FindStringSubmatch(ref)[1]
			val, ok := lookup(name)
			if !ok && missing == "" {
				missing = name
			}
			return val
		})
		if missing != "" {
			return nil, apierr.New(apierr.InvalidRequest, "%s.%s: ${env:%s} is not set in agentd's environment", field, k, missing)
		}
	}
	return out, nil
}

// Unsupported is the error for a session setting the agent cannot honour:
// agentd refuses it rather than start an agent that silently ignores it.
func Unsupported(agent, field, why string) error {
	e := apierr.New(apierr.InvalidRequest, "%s cannot honour %s: %s", agent, field, why)
	e.Agent = agent
	e.Details = map[string]any{"field": field}
	return e
}

// SortedMCP is the servers' names in order, so that generated
// configuration is the same on every run.
func SortedMCP(servers map[string]MCPServer) []string {
	return slices.Sorted(maps.Keys(servers))
}

// MCPSupport says which optional fields of an MCP server an agent honours.
type MCPSupport struct {
	Cwd, Timeout, EnvRefs, OAuth, SSE bool
}

// Check returns Unsupported for the first field of the server named name
// that agent does not honour.
func (s MCPServer) Check(agent, name string, sup MCPSupport) error {
	field := "mcp." + name
	switch {
	case s.Cwd != "" && !sup.Cwd:
		return Unsupported(agent, field+".cwd", agent+" starts MCP servers in the session's directory")
	case s.TimeoutMs != 0 && !sup.Timeout:
		return Unsupported(agent, field+".timeoutMs", agent+" has no per-server timeout")
	case s.BearerTokenEnvVar != "" && !sup.EnvRefs:
		return Unsupported(agent, field+".bearerTokenEnvVar", `give headers {"Authorization": "Bearer ${env:NAME}"} instead`)
	case len(s.EnvHeaders) > 0 && !sup.EnvRefs:
		return Unsupported(agent, field+".envHeaders", `give headers {"Name": "${env:NAME}"} instead`)
	case s.OAuth && !sup.OAuth:
		return Unsupported(agent, field+".oauth", "MCP OAuth needs an interactive login")
	case !s.Local && s.Transport == "sse" && !sup.SSE:
		return Unsupported(agent, field+".transport", agent+" speaks streamable HTTP to remote MCP servers, not SSE")
	}
	return nil
}

// MCPJSON is one server in the JSON shape Claude's .mcp.json and Amp's
// --mcp-config share; Type is Claude's ("stdio", "http", "sse").
type MCPJSON struct {
	Type    string            `json:"type,omitempty"`
	Command string            `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	URL     string            `json:"url,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
}

// MCPJSONServers checks every server against what agent supports and
// returns them in the MCPJSON shape, with Type when typed.
func MCPJSONServers(agent string, servers map[string]MCPServer, sup MCPSupport, typed bool) (map[string]MCPJSON, error) {
	out := make(map[string]MCPJSON, len(servers))
	for _, name := range SortedMCP(servers) {
		s := servers[name]
		if err := s.Check(agent, name, sup); err != nil {
			return nil, err
		}
		j := MCPJSON{Type: s.Transport, URL: s.URL, Headers: s.Headers}
		if s.Local {
			j = MCPJSON{Type: "stdio", Command: s.Command, Args: s.Args, Env: s.Env}
		}
		if !typed {
			j.Type = ""
		}
		out[name] = j
	}
	return out, nil
}
