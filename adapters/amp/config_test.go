package amp

import (
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/configtest"
)

// TestConfigGolden: the flags each session setting becomes, or the error
// for one amp cannot honour.
func TestConfigGolden(t *testing.T) {
	configtest.Golden(t, "amp", *update, func(req adapters.StartRequest) (string, error) {
		args, err := configArgs(req)
		return strings.Join(args, "\n"), err
	})
}
