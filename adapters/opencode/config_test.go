package opencode

import (
	"encoding/json"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/configtest"
)

// TestConfigGolden: the POST /mcp bodies, the session's permission rules
// and the prompt's system text each session setting becomes, or the error
// for one OpenCode cannot honour.
func TestConfigGolden(t *testing.T) {
	configtest.Golden(t, "opencode", *update, func(req adapters.StartRequest) (string, error) {
		adds, err := mcpAdds(req.MCP)
		if err != nil {
			return "", err
		}
		s := &session{req: req}
		b, err := json.MarshalIndent(map[string]any{"mcp": adds, "permission": permissionRules(req),
			"system": s.promptBody(adapters.Message{Text: "hi"}).System}, "", "  ")
		return string(b), err
	})
}

// TestResumeRefusesTools: a resumed session's permission rules are fixed.
func TestResumeRefusesTools(t *testing.T) {
	if err := resumeConfig(adapters.StartRequest{AllowedTools: []string{"bash"}}); err == nil {
		t.Error("allowedTools accepted on resume")
	}
	if err := resumeConfig(adapters.StartRequest{SystemPrompt: "x"}); err != nil {
		t.Errorf("system prompt refused on resume: %v", err)
	}
}
