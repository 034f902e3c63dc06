package mcptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/adapters/codex"
	"github.com/agentd-dev/agentd/adapters/opencode"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	"github.com/agentd-dev/agentd/internal/mcptest"
	"github.com/agentd-dev/agentd/internal/presets"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// TestMain doubles as the MCP server the agents start.
func TestMain(m *testing.M) {
	mcptest.ServeIfAsked()
	os.Exit(m.Run())
}

// lookupScenario has the model call the lookup tool of the server named
// "docs", by each agent's name for it, then quote what it answered.
var lookupScenario = fakemodel.Scenario{Name: "mcp_lookup", Turns: []fakemodel.Turn{
	{fakemodel.Tool(
		fakemodel.Call{API: fakemodel.Anthropic, Name: "mcp__docs__lookup", Arguments: json.RawMessage(`{"query":"zebra"}`)},
		fakemodel.Call{API: fakemodel.Chat, Name: "docs_lookup", Arguments: json.RawMessage(`{"query":"zebra"}`)},
	)},
	{fakemodel.Text("The server said: {{tool_output}}")},
}}

// systemPrompt is the preset's, to be found in the model requests.
const systemPrompt = "Prefer the docs server; marker 5c1d."

// agentRig builds one real agent against the scripted model at base.
type agentRig struct {
	name  string
	find  func(context.Context) (string, error)
	build func(t *testing.T, bin, base string) adapters.Agent
	// preset holds what the agent needs besides the server to run the
	// tool unasked.
	preset map[string]any
	// namespaced agents are proven by the tool offered to the model.
	namespaced bool
	// timeout: the agent honours a server's timeoutMs.
	timeout bool
	// removed is a tool the preset disallows, which the model must not be
	// offered.
	removed string
}

var rigs = []agentRig{
	{
		name: "claude", find: claude.DefaultResolver,
		build: func(t *testing.T, bin, base string) adapters.Agent {
			return claude.New(claude.WithResolver(fixed(bin)), claude.WithHome(t.TempDir()), claude.WithGrace(3*time.Second),
				claude.WithEnv("ANTHROPIC_BASE_URL="+base, "ANTHROPIC_API_KEY=x", "ANTHROPIC_AUTH_TOKEN=", "CLAUDE_CODE_OAUTH_TOKEN=",
					"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"))
		},
		// Claude's allow list runs the tool without asking.
		preset:  map[string]any{"allowedTools": []string{"mcp__docs__lookup"}, "disallowedTools": []string{"Write"}},
		removed: "Write",
	},
	{
		name: "codex", find: codex.DefaultResolver,
		build: func(t *testing.T, bin, base string) adapters.Agent {
			return codex.New(codex.WithResolver(fixed(bin)), codex.WithHome(t.TempDir()), codex.WithGrace(3*time.Second),
				codex.WithProvider(codex.Provider{ID: "fake", Name: "Fake", BaseURL: base + "/v1", EnvKey: "FAKE_API_KEY"}),
				// A model Codex does not know: it would hide MCP tools from
				// gpt-5.5 behind tool_search.
				codex.WithConfig(`model="fake-model"`, "model_providers.fake.request_max_retries=0", "model_providers.fake.stream_max_retries=0"),
				codex.WithEnv("FAKE_API_KEY=x", "OPENAI_API_KEY=", "CODEX_API_KEY="))
		},
		preset: map[string]any{"permissionMode": "bypass"}, namespaced: true, timeout: true,
	},
	{
		name: "opencode", find: opencode.DefaultResolver,
		build: func(t *testing.T, bin, base string) adapters.Agent {
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
		preset: map[string]any{"allowedTools": []string{"docs_lookup"}}, timeout: true,
	},
}

// send reports the first requests only: the model server must never wait.
func send(c chan<- bool, v bool) {
	select {
	case c <- v:
	default:
	}
}

func fixed(bin string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return bin, nil }
}

// TestRealAgentsCallMCPTool is the proof that an MCP server from a preset
// is visible to the real agent: a session created over HTTP naming the
// preset gets the server, the scripted model calls its tool, and the
// tool's answer, which only this server knows, comes back in the
// session's universal events.
func TestRealAgentsCallMCPTool(t *testing.T) {
	for _, rig := range rigs {
		t.Run(rig.name, func(t *testing.T) {
			bin, err := rig.find(t.Context())
			if err != nil {
				t.Skipf("%s not installed: %v", rig.name, err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			offered, prompted, removed := make(chan bool, 16), make(chan bool, 16), make(chan bool, 16)
			fake := fakemodel.New(fakemodel.WithScenarios(lookupScenario), fakemodel.WithOnRequest(func(r fakemodel.Request) {
				if r.Scenario == lookupScenario.Name {
					send(offered, offersNamespacedLookup(r.Body))
					send(prompted, bytes.Contains(r.Body, []byte(systemPrompt)))
					send(removed, rig.removed != "" && !offers(r.Body, rig.removed) && offers(r.Body, "Read"))
				}
			}))
			base, err := fake.Start(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer fake.Close()
			command, env := mcptest.Command()
			env[mcptest.EnvToken] = "${env:AGENTD_MCPTEST_SECRET}"
			t.Setenv("AGENTD_MCPTEST_SECRET", "not-in-the-log")
			preset := maps.Clone(rig.preset)
			preset["agent"] = rig.name
			server := map[string]any{"type": "local", "command": command, "env": env}
			if rig.timeout {
				server["timeoutMs"] = 30000
			}
			preset["mcp"] = map[string]any{"docs": server}
			preset["systemPrompt"] = systemPrompt
			doc, _ := json.Marshal(map[string]any{"presets": map[string]any{"lookup": preset}})
			sets, err := presets.Parse(doc)
			if err != nil {
				t.Fatal(err)
			}
			d := startDaemon(t, sets, rig.build(t, bin, base))
			d.post(t, "/v1/sessions/s1", map[string]any{"agent": rig.name, "preset": "lookup", "directory": t.TempDir()})
			d.post(t, "/v1/sessions/s1/messages", map[string]any{"message": "SCN:mcp_lookup look up zebra"})
			evs := untilTurnEnds(t, ctx, d.log, "s1")
			if raw, _ := json.Marshal(evs); strings.Contains(string(raw), "not-in-the-log") {
				t.Error("the secret's value reached the event log")
			}
			if !<-prompted {
				t.Error("the preset's system prompt did not reach the model")
			}
			if rig.removed != "" && !<-removed {
				t.Errorf("the model was offered %s, which the preset disallows", rig.removed)
			}
			if rig.namespaced {
				// Codex offers MCP tools as a Responses namespace, which the
				// scripted model cannot call yet: the proof is that the
				// server's tool, listed by the server itself, reaches the model.
				if !<-offered {
					t.Fatalf("the model was not offered namespace mcp__docs with %s", mcptest.Tool)
				}
				return
			}
			if !hasAnswer(evs) {
				raw, _ := json.Marshal(evs)
				t.Fatalf("no tool result with %q; events:\n%s", mcptest.Answer, raw)
			}
		})
	}
}

// daemon is the engine and the HTTP API, with presets, in process.
type daemon struct {
	url string
	log *eventlog.Log
}

func startDaemon(t *testing.T, sets *presets.Set, agent adapters.Agent) *daemon {
	t.Helper()
	ctx := context.WithoutCancel(t.Context())
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := session.New(ctx, log, []adapters.Agent{agent})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	h, _ := api.New(api.Deps{Sessions: m, Log: log, Done: done, Presets: sets})
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		close(done)
		srv.Close()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m.Shutdown(sctx)
		log.Close()
	})
	return &daemon{url: srv.URL, log: log}
}

// post sends a JSON body and fails the test on an error status.
func (d *daemon) post(t *testing.T, path string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := http.Post(d.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(res.Body)
		t.Fatalf("POST %s: %d %s", path, res.StatusCode, msg)
	}
}

// hasAnswer reports whether a tool result carries the server's answer.
func hasAnswer(evs []schema.UniversalEvent) bool {
	for _, ev := range evs {
		var d schema.ItemEventData
		if ev.Type != schema.EventItemCompleted || json.Unmarshal(ev.Data, &d) != nil || d.Item.Kind != schema.KindToolResult {
			continue
		}
		for _, p := range d.Item.Content {
			// The fingerprint proves the secret reference was resolved and
			// handed to the server.
			if strings.Contains(p.Output, mcptest.Answer) && strings.Contains(p.Output, mcptest.Fingerprint("not-in-the-log")) {
				return true
			}
		}
	}
	return false
}

// offers reports whether a model request offers the tool name.
func offers(body []byte, name string) bool {
	var req struct{ Tools []struct{ Name string } }
	if json.Unmarshal(body, &req) != nil {
		return false
	}
	for _, t := range req.Tools {
		if t.Name == name {
			return true
		}
	}
	return false
}

// offersNamespacedLookup reports whether a Responses request offers the
// lookup tool in the namespace Codex gives the server docs.
func offersNamespacedLookup(body []byte) bool {
	var req struct {
		Tools []struct {
			Type, Name string
			Tools      []struct{ Name string }
		}
	}
	if json.Unmarshal(body, &req) != nil {
		return false
	}
	for _, t := range req.Tools {
		for _, in := range t.Tools {
			if t.Type == "namespace" && t.Name == "mcp__docs" && in.Name == mcptest.Tool {
				return true
			}
		}
	}
	return false
}

func untilTurnEnds(t *testing.T, ctx context.Context, log *eventlog.Log, id string) []schema.UniversalEvent {
	t.Helper()
	for {
		changed := log.Changed(id)
		recs, err := log.Read(ctx, id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		evs := make([]schema.UniversalEvent, len(recs))
		for i, r := range recs {
			if err := json.Unmarshal(r.Body, &evs[i]); err != nil {
				t.Fatal(err)
			}
			if evs[i].Type == schema.EventTurnEnded || evs[i].Type == schema.EventSessionEnded {
				return evs[:i+1]
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			raw, _ := json.Marshal(evs)
			t.Fatalf("%v before the turn ended; events:\n%s", errors.Unwrap(ctx.Err()), raw)
		}
	}
}
