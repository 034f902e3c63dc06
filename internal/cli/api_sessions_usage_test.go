package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// The daemon-wide budget through the binary: --budget-max-tokens, a mock
// turn that reaches it, the usage command's table and JSON, and the refusal.
func TestSessionsUsageAndDaemonBudgetThroughBinary(t *testing.T) {
	d := startAgentdServer(t, "--no-token", "--budget-max-tokens", "10")
	d.api(t, "sessions", "create", "s1", "--agent", "mock")
	f := startE2EFollower(t, d, "s1")
	d.api(t, "sessions", "send-message", "s1", "echo one two three four five") // the mock: 6 in, 5 out
	f.waitFor(t, func(e e2eEvent) bool {
		return e.Type == "error" && strings.Contains(string(e.Data), `"code":"budget_exceeded"`)
	})

	var u struct {
		Source string
		Total  struct {
			TotalTokens int64 `json:"total_tokens"`
		}
		Turns  []json.RawMessage
		Budget struct {
			DaemonMaxTokens, DaemonUsedTokens int64
			Exceeded                          struct{ Cap string }
		}
	}
	if err := json.Unmarshal([]byte(d.api(t, "sessions", "usage", "s1", "--json")), &u); err != nil {
		t.Fatal(err)
	}
	if u.Source != "agent" || u.Total.TotalTokens != 11 || len(u.Turns) != 1 ||
		u.Budget.DaemonMaxTokens != 10 || u.Budget.DaemonUsedTokens != 11 || u.Budget.Exceeded.Cap != "daemon" {
		t.Errorf("usage: %+v", u)
	}
	table := runAPI(t, d.URL, true, "sessions", "usage", "s1").out
	for _, want := range []string{"TURN", "#8", "total", "11", "source: agent", "budget exceeded (daemon cap)"} {
		if !strings.Contains(table, want) {
			t.Errorf("usage table lacks %q:\n%s", want, table)
		}
	}
	r := e2eRun(t, nil, "api", "--endpoint", d.URL, "sessions", "send-message", "s1", "again")
	if r.code != exitAPI || !strings.Contains(r.stderr, "budget_exceeded") {
		t.Errorf("message over budget: exit %d, %s", r.code, r.stderr)
	}
}

func TestNegativeBudgetFlagRefused(t *testing.T) {
	requireAgentdBin(t)
	r := e2eRun(t, nil, "server", "--no-token", "--budget-max-tokens", "-1")
	if r.code == 0 || !strings.Contains(r.stderr, "--budget-max-tokens") {
		t.Errorf("negative budget: exit %d, %s", r.code, r.stderr)
	}
}
