// Package presets holds named session settings loaded from a JSON file
// (agentd server --presets). A create request that names a preset gets
// the preset's value for every field it leaves unset.
package presets

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/session"
)

// Preset is one named set of session settings, each optional.
type Preset struct {
	Agent           string                     `json:"agent,omitempty"`
	Model           string                     `json:"model,omitempty"`
	AgentMode       string                     `json:"agentMode,omitempty"`
	PermissionMode  string                     `json:"permissionMode,omitempty"`
	Directory       string                     `json:"directory,omitempty"`
	SystemPrompt    string                     `json:"systemPrompt,omitempty"`
	AllowedTools    []string                   `json:"allowedTools,omitempty"`
	DisallowedTools []string                   `json:"disallowedTools,omitempty"`
	MCP             map[string]json.RawMessage `json:"mcp,omitempty"`
	Budget          *session.Budget            `json:"budget,omitempty"`
}

// Set is the presets of one file, by name.
type Set struct {
	byName map[string]Preset
}

type file struct {
	Presets map[string]Preset `json:"presets"`
}

// Load reads a presets file: {"presets": {"<name>": {…}, …}}. Unknown
// fields and malformed MCP servers are errors, so that a typo stops the
// daemon instead of quietly configuring nothing.
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	set, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("presets %s: %w", path, err)
	}
	return set, nil
}

// Parse decodes and checks a presets document.
func Parse(b []byte) (*Set, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if f.Presets == nil {
		return nil, fmt.Errorf(`no "presets" object`)
	}
	for name, p := range f.Presets {
		if strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("a preset has an empty name")
		}
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("preset %q: %w", name, err)
		}
	}
	return &Set{byName: f.Presets}, nil
}

// check parses the MCP servers with every secret reference taken as set:
// references are resolved when a session starts, from the environment then.
func (p Preset) check() error {
	if p.Budget != nil && p.Budget.MaxTokens < 0 {
		return fmt.Errorf("budget.maxTokens must not be negative")
	}
	if len(p.MCP) == 0 {
		return nil
	}
	raw, err := json.Marshal(p.MCP)
	if err != nil {
		return err
	}
	_, err = adapters.ParseMCP(raw, func(string) (string, bool) { return "", true })
	return err
}

// Names lists the presets in order.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.byName))
}

// Get finds a preset.
func (s *Set) Get(name string) (Preset, bool) {
	if s == nil {
		return Preset{}, false
	}
	p, ok := s.byName[name]
	return p, ok
}

// Fill applies the preset req.Preset names to req: every field req leaves
// unset takes the preset's value; MCP servers are merged, req's winning
// on a name both have. A preset for another agent is an error, since the
// reference API requires the agent in every request.
func (s *Set) Fill(req *session.CreateRequest) error {
	if req.Preset == "" {
		return nil
	}
	p, ok := s.Get(req.Preset)
	if !ok {
		e := apierr.New(apierr.InvalidRequest, "unknown preset %q", req.Preset)
		e.Details = map[string]any{"preset": req.Preset}
		return e
	}
	if p.Agent != "" && p.Agent != req.Agent {
		e := apierr.New(apierr.InvalidRequest, "preset %q is for agent %s, not %s", req.Preset, p.Agent, req.Agent)
		e.Agent = req.Agent
		e.Details = map[string]any{"preset": req.Preset}
		return e
	}
	fill(&req.Model, p.Model)
	fill(&req.AgentMode, p.AgentMode)
	fill(&req.PermissionMode, p.PermissionMode)
	fill(&req.Directory, p.Directory)
	fill(&req.SystemPrompt, p.SystemPrompt)
	if req.AllowedTools == nil {
		req.AllowedTools = p.AllowedTools
	}
	if req.DisallowedTools == nil {
		req.DisallowedTools = p.DisallowedTools
	}
	if req.Budget == nil {
		req.Budget = p.Budget
	}
	mcp, err := mergeMCP(p.MCP, req.MCP)
	if err != nil {
		return err
	}
	req.MCP = mcp
	return nil
}

func fill(field *string, preset string) {
	if *field == "" {
		*field = preset
	}
}

func mergeMCP(preset map[string]json.RawMessage, inline json.RawMessage) (json.RawMessage, error) {
	if len(preset) == 0 {
		return inline, nil
	}
	merged := maps.Clone(preset)
	if len(inline) > 0 {
		var own map[string]json.RawMessage
		if err := json.Unmarshal(inline, &own); err != nil {
			return nil, apierr.New(apierr.InvalidRequest, "mcp: %v", err)
		}
		maps.Copy(merged, own)
	}
	return json.Marshal(merged)
}

// Redacted is what GET /v1/presets shows of a preset: every env and header
// value that is not purely ${env:…} references is replaced, since a preset
// file may hold a secret in the clear.
func (p Preset) Redacted() Preset {
	out := p
	out.MCP = make(map[string]json.RawMessage, len(p.MCP))
	for name, raw := range p.MCP {
		var server map[string]json.RawMessage
		if json.Unmarshal(raw, &server) != nil {
			continue // Parse refused such presets
		}
		for _, key := range []string{"env", "headers"} {
			var values map[string]string
			if json.Unmarshal(server[key], &values) != nil || values == nil {
				continue
			}
			for k, v := range values {
				if !adapters.IsSecretRef(v) {
					values[k] = RedactedValue
				}
			}
			server[key], _ = json.Marshal(values) // a map of strings always marshals
		}
		out.MCP[name], _ = json.Marshal(server)
	}
	if len(out.MCP) == 0 {
		out.MCP = nil
	}
	return out
}

// RedactedValue replaces a secret in listings.
const RedactedValue = "[REDACTED]"
