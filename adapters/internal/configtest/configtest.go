// Package configtest is the table every adapter's configuration mapping is
// tested against: the same session settings for every agent, so that the
// goldens side by side show which agent honours what.
package configtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
)

// Case is one session's settings.
type Case struct {
	Name string
	Req  adapters.StartRequest
}

func local(s adapters.MCPServer) adapters.StartRequest {
	s.Local = true
	return adapters.StartRequest{MCP: map[string]adapters.MCPServer{"docs": s}}
}

func remote(s adapters.MCPServer) adapters.StartRequest {
	if s.Transport == "" {
		s.Transport = "http"
	}
	if s.URL == "" {
		s.URL = "https://mcp.example/v1"
	}
	return adapters.StartRequest{MCP: map[string]adapters.MCPServer{"search": s}}
}

// Cases are the settings every adapter maps.
var Cases = []Case{
	{"none", adapters.StartRequest{}},
	{"mcp local", local(adapters.MCPServer{Command: "/bin/docs-mcp", Args: []string{"--stdio", `a "quoted" arg`},
		Env: map[string]string{"TOKEN": "s3cret", "MODE": "ro"}})},
	{"mcp local cwd", local(adapters.MCPServer{Command: "docs-mcp", Cwd: "/srv"})},
	{"mcp local timeout", local(adapters.MCPServer{Command: "docs-mcp", TimeoutMs: 2500})},
	{"mcp remote", remote(adapters.MCPServer{Headers: map[string]string{"Authorization": "Bearer t"}})},
	{"mcp remote sse", remote(adapters.MCPServer{Transport: "sse"})},
	{"mcp remote bearer env", remote(adapters.MCPServer{BearerTokenEnvVar: "SEARCH_TOKEN"})},
	{"mcp remote oauth", remote(adapters.MCPServer{OAuth: true})},
	{"system prompt", adapters.StartRequest{SystemPrompt: "Always answer in French.\nBe brief."}},
	{"allowed tools", adapters.StartRequest{AllowedTools: []string{"Bash(git *)", "Read"}}},
	{"disallowed tools", adapters.StartRequest{DisallowedTools: []string{"WebFetch", "Write"}}},
}

// Golden renders each case with render (the agent's native configuration,
// as text) or the error it returns, and compares the whole with the golden
// file testdata/config.golden; update rewrites it. Every error must be an
// InvalidRequest problem naming the agent.
func Golden(t *testing.T, agent string, update bool, render func(adapters.StartRequest) (string, error)) {
	t.Helper()
	var b strings.Builder
	for _, c := range Cases {
		out, err := render(c.Req)
		if err != nil {
			var e *apierr.Error
			if !errors.As(err, &e) || e.Kind != apierr.InvalidRequest || e.Agent != agent {
				t.Errorf("%s: %v is not an invalid_request problem naming %s", c.Name, err, agent)
			}
			out = "error: " + err.Error()
		}
		fmt.Fprintf(&b, "== %s\n%s\n", c.Name, out)
	}
	path := filepath.Join("testdata", "config.golden")
	if update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (rerun with -update)", err)
	}
	if string(want) != b.String() {
		t.Errorf("configuration differs from %s (rerun with -update and review the diff); got:\n%s", path, b.String())
	}
}
