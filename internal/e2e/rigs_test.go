package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/amp"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/adapters/codex"
	"github.com/agentd-dev/agentd/adapters/opencode"
)

// rig knows how to run one agent against the scripted model.
type rig struct {
	agent string
	how   evidence
	// find returns the agent's binary, or why it cannot run here.
	find func(ctx context.Context) (string, error)
	// build returns the agent for one run against the model at base.
	build func(t *testing.T, bin, base string, sc scenario) adapters.Agent
	// adjust fits a scenario to the agent; false leaves it out.
	adjust func(sc scenario) (scenario, bool)
	// shared agents are built once for all scenarios (OpenCode's server
	// takes seconds to start; sessions share it as they do in agentd).
	shared bool
}

var rigs = []rig{
	{
		agent: "claude", how: realBinary, find: claude.DefaultResolver,
		build: func(t *testing.T, bin, base string, _ scenario) adapters.Agent {
			return claude.New(claude.WithResolver(fixed(bin)), claude.WithHome(t.TempDir()), claude.WithGrace(3*time.Second),
				claude.WithEnv("ANTHROPIC_BASE_URL="+base, "ANTHROPIC_API_KEY=x", "ANTHROPIC_AUTH_TOKEN=", "CLAUDE_CODE_OAUTH_TOKEN=",
					"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"))
		},
		adjust: all,
	},
	{
		agent: "codex", how: realBinary, find: codex.DefaultResolver,
		build: func(t *testing.T, bin, base string, _ scenario) adapters.Agent {
			return codex.New(codex.WithResolver(fixed(bin)), codex.WithHome(t.TempDir()), codex.WithGrace(3*time.Second),
				codex.WithProvider(codex.Provider{ID: "fake", Name: "Fake", BaseURL: base + "/v1", EnvKey: "FAKE_API_KEY"}),
				codex.WithConfig(`model="gpt-5.5"`, "model_providers.fake.request_max_retries=0", "model_providers.fake.stream_max_retries=0"),
				// Ask before every command, as agentd's daemon does.
				codex.WithDefaultPolicy("untrusted", "danger-full-access"),
				codex.WithEnv("FAKE_API_KEY=x", "OPENAI_API_KEY=", "CODEX_API_KEY="))
		},
		adjust: func(sc scenario) (scenario, bool) {
			if sc.name == "question" {
				// Codex lets the model ask only in its plan mode.
				sc.session = map[string]any{"agentMode": "plan"}
			}
			return sc, true
		},
	},
	{
		agent: "opencode", how: realBinary, find: opencode.DefaultResolver,
		build: func(t *testing.T, bin, base string, _ scenario) adapters.Agent {
			a := opencode.New(opencode.WithResolver(fixed(bin)), opencode.WithStateDir(t.TempDir()), opencode.WithGrace(3*time.Second),
				opencode.WithProvider(opencode.Provider{ID: "fake", BaseURL: base + "/v1", APIKey: "x", Models: []string{"fake-model"}}))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if err := a.Close(ctx); err != nil {
					t.Errorf("closing opencode: %v", err)
				}
			})
			return a
		},
		adjust: all, shared: true,
	},
	{
		// Amp's loop runs on its vendor's servers: a stand-in binary plays
		// the synthesized recordings of adapters/amp/testdata instead.
		agent: "amp", how: recording,
		find: func(context.Context) (string, error) { return filepath.Abs("../../adapters/amp/testdata/fake_amp.sh") },
		build: func(t *testing.T, bin, _ string, sc scenario) adapters.Agent {
			rec, err := filepath.Abs("../../adapters/amp/testdata/synthesized_" + ampRecordings[sc.name] + ".jsonl")
			if err != nil {
				t.Fatal(err)
			}
			return amp.New(amp.WithResolver(fixed(bin)), amp.WithGrace(3*time.Second),
				amp.WithEnv("AMP_API_KEY=x", "FAKE_AMP_RECORDING="+rec, "FAKE_AMP_LOG="+filepath.Join(t.TempDir(), "amp.log")))
		},
		adjust: func(sc scenario) (scenario, bool) {
			_, ok := ampRecordings[sc.name]
			return sc, ok
		},
	},
}

// ampRecordings maps scenarios to the recordings that play them. Amp asks
// no permissions or questions in execute mode and streams no deltas to
// interrupt at, so those scenarios have no recording.
var ampRecordings = map[string]string{
	"text": "text", "thinking": "thinking", "tool_allow": "tool_bash", "file_edit": "file_edit",
	"error500": "error", "two_turns": "multi_turn", "resume": "multi_turn",
}

func all(sc scenario) (scenario, bool) { return sc, true }

func fixed(bin string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		if _, err := os.Stat(bin); err != nil {
			return "", err
		}
		return bin, nil
	}
}
