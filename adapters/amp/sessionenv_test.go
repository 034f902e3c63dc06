package amp

import (
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/agentproc"
)

// TestSessionEnv: a session's own variables (the egress proxy's, say) join
// the agent's environment, after the agent's, so they win.
func TestSessionEnv(t *testing.T) {
	t.Setenv("AMP_API_KEY", "")
	f := newFake(t, "synthesized_text.jsonl")
	f.env[0] = "AMP_API_KEY=" // only the session brings the key
	s, _ := start(t, f.agent(t), adapters.StartRequest{SessionID: "s",
		Env: []string{"AMP_API_KEY=from-session", "HTTPS_PROXY=http://agentd:tok@127.0.0.1:1"}})
	for k, want := range map[string]string{"AMP_API_KEY": "from-session", "HTTPS_PROXY": "http://agentd:tok@127.0.0.1:1"} {
		if got := agentproc.Getenv(s.spec.Env, k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}
