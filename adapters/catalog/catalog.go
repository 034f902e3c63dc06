// Package catalog lists every agent the API knows, in the order the
// reference lists them. Agents that agentd cannot run yet are listed with
// their published capabilities and modes and report themselves not installed.
package catalog

import (
	"context"

	"github.com/agentd-dev/agentd/adapters"
)

// Agents returns the agent list with the given runnable adapters in place
// of the listed-only entries that share their ids.
func Agents(runnable ...adapters.Agent) []adapters.Agent {
	byID := map[string]adapters.Agent{}
	for _, a := range runnable {
		byID[a.ID()] = a
	}
	out := make([]adapters.Agent, 0, len(listed))
	for _, l := range listed {
		if a, ok := byID[l.id]; ok {
			out = append(out, a)
			continue
		}
		out = append(out, l)
	}
	return out
}

// listedAgent is an agent agentd knows of but cannot run yet.
type listedAgent struct {
	id   string
	info adapters.Info
}

func (l listedAgent) ID() string                         { return l.id }
func (l listedAgent) Info(context.Context) adapters.Info { return l.info }
func (l listedAgent) Start(context.Context, adapters.StartRequest, adapters.Emitter) (adapters.Session, error) {
	return nil, adapters.ErrNotInstalled
}

var (
	build     = adapters.Mode{ID: "build", Name: "Build", Description: "Default build mode"}
	buildOnly = []adapters.Mode{build}
	// allPermissionModes maps acceptEdits through, as claude and codex do.
	allPermissionModes = map[string]string{"default": "default", "plan": "plan", "bypass": "bypass", "acceptEdits": "acceptEdits"}
	// noPlan agents have no plan mode and store acceptEdits as default.
	noPlan      = map[string]string{"default": "default", "bypass": "bypass", "acceptEdits": "default"}
	defaultOnly = map[string]string{"default": "default", "acceptEdits": "default"}
)

var listed = []listedAgent{
	{"claude", adapters.Info{
		Capabilities: adapters.Capabilities{Permissions: true, Questions: true, ToolCalls: true, ToolResults: true,
			TextMessages: true, McpTools: true, StreamingDeltas: true},
		Modes:           []adapters.Mode{build, {ID: "plan", Name: "Plan", Description: "Plan mode (prompt-only)"}},
		PermissionModes: allPermissionModes, Resumable: true,
		Models: []adapters.Model{{ID: "default", Name: "Default (recommended)"}, {ID: "sonnet", Name: "Sonnet"},
			{ID: "opus", Name: "Opus"}, {ID: "haiku", Name: "Haiku"}},
		DefaultModel: "default",
	}},
	{"codex", adapters.Info{
		Capabilities: adapters.Capabilities{PlanMode: true, Permissions: true, ToolCalls: true, ToolResults: true,
			TextMessages: true, Images: true, FileAttachments: true, SessionLifecycle: true, ErrorEvents: true,
			Reasoning: true, Status: true, CommandExecution: true, FileChanges: true, McpTools: true,
			StreamingDeltas: true, ItemStarted: true, SharedProcess: true},
		Modes:           []adapters.Mode{build, {ID: "plan", Name: "Plan", Description: "Planning mode via prompt prefix"}},
		PermissionModes: allPermissionModes, NativeTurns: true, Resumable: true,
	}},
	{"opencode", adapters.Info{
		Capabilities: adapters.Capabilities{ToolCalls: true, ToolResults: true, TextMessages: true, Images: true,
			FileAttachments: true, SessionLifecycle: true, ErrorEvents: true, McpTools: true, StreamingDeltas: true,
			ItemStarted: true, SharedProcess: true},
		Modes: []adapters.Mode{build, {ID: "plan", Name: "Plan", Description: "Planning mode"},
			{ID: "custom", Name: "Custom", Description: "Any user-defined OpenCode agent name"}},
		AnyMode: true, PermissionModes: noPlan, NativeTurns: true, Resumable: true,
	}},
	{"amp", adapters.Info{
		Capabilities: adapters.Capabilities{ToolCalls: true, ToolResults: true, TextMessages: true,
			ErrorEvents: true, McpTools: true},
		Modes: buildOnly, PermissionModes: noPlan, Resumable: true,
		Models: []adapters.Model{{ID: "amp-default", Name: "Amp Default"}}, DefaultModel: "amp-default",
	}},
	{"pi", adapters.Info{
		Capabilities: adapters.Capabilities{ToolCalls: true, ToolResults: true, TextMessages: true, Images: true,
			ErrorEvents: true, Reasoning: true, Status: true, StreamingDeltas: true, ItemStarted: true, Variants: true},
		Modes: buildOnly, PermissionModes: defaultOnly, Resumable: true,
	}},
	{"cursor", adapters.Info{
		Capabilities:    adapters.Capabilities{TextMessages: true},
		Modes:           buildOnly,
		PermissionModes: defaultOnly,
	}},
	{"mock", adapters.Info{}}, // replaced by the mock adapter
}
