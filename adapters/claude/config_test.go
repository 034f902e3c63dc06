package claude

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/configtest"
)

// TestConfigGolden: the flags each session setting becomes (the MCP file's
// content in place of its path), or the error for one claude cannot honour.
func TestConfigGolden(t *testing.T) {
	configtest.Golden(t, "claude", *update, func(req adapters.StartRequest) (string, error) {
		c, err := configFor(req)
		if c.mcp != "" {
			c.args = append(c.args, "--mcp-config", c.mcp)
		}
		return strings.Join(c.args, "\n"), err
	})
}

// TestMCPConfigFile: the MCP servers go to a file only the user can read,
// gone once removed; without servers there is no file.
func TestMCPConfigFile(t *testing.T) {
	c, err := configFor(adapters.StartRequest{MCP: map[string]adapters.MCPServer{"d": {Local: true, Command: "x", Env: map[string]string{"T": "secret"}}}})
	if err != nil {
		t.Fatal(err)
	}
	args, remove, err := c.write()
	if err != nil {
		t.Fatal(err)
	}
	path := args[len(args)-1]
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 || strings.Contains(strings.Join(args, " "), "secret") {
		t.Fatalf("args %q, file %v %v", args, st, err)
	}
	if b, _ := os.ReadFile(path); string(b) != c.mcp {
		t.Errorf("file holds %s", b)
	}
	remove()
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		t.Errorf("directory left behind: %v", err)
	}
	none, _ := configFor(adapters.StartRequest{SystemPrompt: "p"})
	if args, remove, err := none.write(); err != nil || len(args) != 2 {
		t.Errorf("no servers: %q %v", args, err)
	} else {
		remove()
	}
}
