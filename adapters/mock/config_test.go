package mock

import (
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/configtest"
)

// TestConfigGolden: the mock reports every setting, env and header values
// left out.
func TestConfigGolden(t *testing.T) {
	configtest.Golden(t, "mock", *update, func(req adapters.StartRequest) (string, error) {
		return configReport(req), nil
	})
}
