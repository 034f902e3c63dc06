package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/presets"
)

func withPresets(t *testing.T, doc string) func(*api.Deps) {
	t.Helper()
	set, err := presets.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return func(d *api.Deps) { d.Presets = set }
}

// TestPresets: GET /v1/presets lists them without clear-text secrets; a
// create naming one gets its settings (the mock reports what it was
// started with); unknown presets and presets of another agent are 400
// problems; without --presets the list is empty.
func TestPresets(t *testing.T) {
	ts := newTestServer(t, withPresets(t, `{"presets": {
		"brief": {"agent": "mock", "systemPrompt": "Be brief.", "disallowedTools": ["Bash"],
			"mcp": {"docs": {"type": "local", "command": "docs-mcp", "env": {"A": "${env:A_TOKEN}", "B": "clear"}}}},
		"other": {"agent": "claude"}}}`))
	ctx := testCtx(t)
	res := ts.request(t, ctx, http.MethodGet, "/v1/presets", "")
	want := `{"presets":[{"name":"brief","agent":"mock","systemPrompt":"Be brief.","disallowedTools":["Bash"],` +
		`"mcp":{"docs":{"command":"docs-mcp","env":{"A":"${env:A_TOKEN}","B":"[REDACTED]"},"type":"local"}}},` +
		`{"name":"other","agent":"claude"}]}`
	if res.Status != http.StatusOK || strings.TrimSpace(string(res.Body)) != want {
		t.Fatalf("GET /v1/presets: %d\n%s\nwant\n%s", res.Status, res.Body, want)
	}
	t.Setenv("A_TOKEN", "x")
	res = ts.request(t, ctx, http.MethodPost, "/v1/sessions/p1", `{"agent":"mock","preset":"brief","systemPrompt":"Mine."}`)
	if res.Status != http.StatusOK {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	res = ts.request(t, ctx, http.MethodGet, "/v1/sessions", "")
	for _, s := range []string{`"preset":"brief"`, `"systemPrompt":"Mine."`, `"disallowedTools":["Bash"]`, `${env:A_TOKEN}`} {
		if !strings.Contains(string(res.Body), s) {
			t.Errorf("session info lacks %s: %s", s, res.Body)
		}
	}
	for body, detail := range map[string]string{
		`{"agent":"mock","preset":"nope"}`:  `unknown preset \"nope\"`,
		`{"agent":"mock","preset":"other"}`: `preset \"other\" is for agent claude, not mock`,
	} {
		res = ts.request(t, ctx, http.MethodPost, "/v1/sessions/p2", body)
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), detail) ||
			res.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s %s", body, res.Status, res.Header.Get("Content-Type"), res.Body)
		}
	}
	bare := newTestServer(t)
	if res := bare.request(t, ctx, http.MethodGet, "/v1/presets", ""); strings.TrimSpace(string(res.Body)) != `{"presets":[]}` {
		t.Errorf("no presets: %s", res.Body)
	}
}
