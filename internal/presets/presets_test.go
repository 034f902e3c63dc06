package presets

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/session"
)

const doc = `{"presets": {
	"review": {"agent": "claude", "model": "opus", "permissionMode": "plan", "directory": "/w",
		"systemPrompt": "Review only.", "allowedTools": ["Read"], "disallowedTools": ["Bash"],
		"mcp": {"docs": {"type": "local", "command": "docs-mcp", "env": {"TOKEN": "${env:DOCS_TOKEN}", "RAW": "hunter2"}},
		        "web": {"type": "remote", "url": "https://h/mcp", "headers": {"Authorization": "Bearer ${env:T}"}}}},
	"any": {"systemPrompt": "Be brief.", "budget": {"maxTokens": 5000}}
}}`

func TestParseErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not json":      `{`,
		"no presets":    `{}`,
		"unknown field": `{"presets": {"a": {"agnet": "claude"}}}`,
		"empty name":    `{"presets": {" ": {}}}`,
		"bad mcp":       `{"presets": {"a": {"mcp": {"d": {"type": "local"}}}}}`,
		"bad mcp type":  `{"presets": {"a": {"mcp": {"d": {"type": "pipe", "command": "x"}}}}}`,
		"bad budget":    `{"presets": {"a": {"budget": {"maxTokens": -1}}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "presets.json")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Names(); !reflect.DeepEqual(got, []string{"any", "review"}) {
		t.Errorf("names %v", got)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "presets") {
		t.Errorf("missing file: %v", err)
	}
}

func TestFill(t *testing.T) {
	set, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   session.CreateRequest
		want session.CreateRequest
		err  string
	}{
		{"no preset", session.CreateRequest{Agent: "mock"}, session.CreateRequest{Agent: "mock"}, ""},
		{"fills unset fields", session.CreateRequest{Agent: "claude", Preset: "review"}, session.CreateRequest{
			Agent: "claude", Preset: "review", Model: "opus", PermissionMode: "plan", Directory: "/w", SystemPrompt: "Review only.",
			AllowedTools: []string{"Read"}, DisallowedTools: []string{"Bash"},
			MCP: json.RawMessage(`{"docs":{"type":"local","command":"docs-mcp","env":{"TOKEN":"${env:DOCS_TOKEN}","RAW":"hunter2"}},` +
				`"web":{"type":"remote","url":"https://h/mcp","headers":{"Authorization":"Bearer ${env:T}"}}}`)}, ""},
		{"inline wins", session.CreateRequest{Agent: "claude", Preset: "review", Model: "haiku", AllowedTools: []string{},
			MCP: json.RawMessage(`{"web":{"type":"local","command":"mine"}}`)}, session.CreateRequest{
			Agent: "claude", Preset: "review", Model: "haiku", PermissionMode: "plan", Directory: "/w", SystemPrompt: "Review only.",
			AllowedTools: []string{}, DisallowedTools: []string{"Bash"},
			MCP: json.RawMessage(`{"docs":{"type":"local","command":"docs-mcp","env":{"TOKEN":"${env:DOCS_TOKEN}","RAW":"hunter2"}},` +
				`"web":{"type":"local","command":"mine"}}`)}, ""},
		{"any agent", session.CreateRequest{Agent: "codex", Preset: "any"},
			session.CreateRequest{Agent: "codex", Preset: "any", SystemPrompt: "Be brief.", Budget: &session.Budget{MaxTokens: 5000}}, ""},
		{"inline budget wins", session.CreateRequest{Agent: "codex", Preset: "any", Budget: &session.Budget{MaxTokens: 10}},
			session.CreateRequest{Agent: "codex", Preset: "any", SystemPrompt: "Be brief.", Budget: &session.Budget{MaxTokens: 10}}, ""},
		{"unknown preset", session.CreateRequest{Agent: "claude", Preset: "nope"}, session.CreateRequest{}, `unknown preset "nope"`},
		{"other agent", session.CreateRequest{Agent: "codex", Preset: "review"}, session.CreateRequest{}, `preset "review" is for agent claude, not codex`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.in
			err := set.Fill(&req)
			if tc.err != "" {
				if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want invalid_request %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req, tc.want) {
				t.Errorf("got  %+v\nwant %+v", req, tc.want)
			}
		})
	}
	var none *Set
	if err := none.Fill(&session.CreateRequest{Agent: "mock", Preset: "x"}); err == nil {
		t.Error("a preset named without a presets file was accepted")
	}
}

func TestRedacted(t *testing.T) {
	set, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := set.Get("review")
	got, _ := json.Marshal(p.Redacted().MCP)
	want := `{"docs":{"command":"docs-mcp","env":{"RAW":"[REDACTED]","TOKEN":"${env:DOCS_TOKEN}"},"type":"local"},` +
		`"web":{"headers":{"Authorization":"[REDACTED]"},"type":"remote","url":"https://h/mcp"}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if raw, _ := json.Marshal(p.MCP); !strings.Contains(string(raw), "hunter2") {
		t.Error("Redacted changed the preset itself")
	}
}
