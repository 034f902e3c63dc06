package codex

import (
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/configtest"
)

// TestConfigGolden: the flags each session setting becomes, or the error
// for one codex cannot honour.
func TestConfigGolden(t *testing.T) {
	configtest.Golden(t, "codex", *update, func(req adapters.StartRequest) (string, error) {
		args, err := configArgs(req)
		return strings.Join(args, "\n"), err
	})
}
