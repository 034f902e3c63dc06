package session

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

// TestAgentConfigReachesAdapter: the create request's MCP servers (secret
// references resolved), system prompt and tool lists reach the adapter,
// which the mock reports; the stored info keeps the reference, not the
// secret.
func TestAgentConfigReachesAdapter(t *testing.T) {
	t.Setenv("AGENTD_TEST_DOCS_TOKEN", "tok-123")
	f := newFixture(t)
	m, err := New(f.ctx, f.log, []adapters.Agent{mock.New(mock.WithPause(0))})
	if err != nil {
		t.Fatal(err)
	}
	req := CreateRequest{
		Agent: "mock", SystemPrompt: "Be brief.", AllowedTools: []string{"Read"}, DisallowedTools: []string{"Bash"},
		MCP: json.RawMessage(`{"docs":{"type":"local","command":["docs-mcp","--stdio"],"env":{"TOKEN":"${env:AGENTD_TEST_DOCS_TOKEN}"}},` +
			`"off":{"type":"local","command":"x","enabled":false}}`),
	}
	info, err := m.Create(f.ctx, "c1", req)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(f.ctx)
	if info.SystemPrompt != "Be brief." || !strings.Contains(string(info.MCP), "${env:AGENTD_TEST_DOCS_TOKEN}") {
		t.Errorf("info = %+v", info)
	}
	s, err := m.Get("c1")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(f.ctx, adapters.Message{Text: "session-config"}); err != nil {
		t.Fatal(err)
	}
	want := `{"mcp":{"docs":{"type":"local","command":"docs-mcp","args":["--stdio"],"env":["TOKEN"]}},` +
		`"systemPrompt":"Be brief.","allowedTools":["Read"],"disallowedTools":["Bash"]}`
	deadline := time.After(60 * time.Second)
	for {
		changed := f.log.Changed("c1")
		for _, ev := range f.events("c1") {
			var d schema.ItemEventData
			if ev.Type != schema.EventItemCompleted || json.Unmarshal(ev.Data, &d) != nil || d.Item.Role == nil || *d.Item.Role != schema.RoleAssistant {
				continue
			}
			if got := d.Item.Content[0].Text; got != want {
				t.Fatalf("the mock saw\n%s\nwant\n%s", got, want)
			}
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("no assistant reply to session-config")
		}
	}
}

// TestAgentConfigErrors: bad MCP config and unset secret references are
// invalid requests that start nothing.
func TestAgentConfigErrors(t *testing.T) {
	for name, mcp := range map[string]string{
		"unset secret":  `{"d":{"type":"local","command":"x","env":{"T":"${env:AGENTD_TEST_SURELY_UNSET}"}}}`,
		"unknown type":  `{"d":{"type":"pipe","command":"x"}}`,
		"no command":    `{"d":{"type":"local","command":[]}}`,
		"no url":        `{"d":{"type":"remote"}}`,
		"bad transport": `{"d":{"type":"remote","url":"http://x","transport":"ws"}}`,
		"dotted name":   `{"a.b":{"type":"local","command":"x"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script", MCP: json.RawMessage(mcp)})
			if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
				t.Fatalf("err = %v, want invalid_request", err)
			}
			if strings.Contains(err.Error(), "tok-") || len(f.m.List()) != 0 {
				t.Fatalf("err = %v, sessions %d", err, len(f.m.List()))
			}
		})
	}
}
