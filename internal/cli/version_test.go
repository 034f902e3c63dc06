package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestVersionThroughBinary(t *testing.T) {
	requireAgentdBin(t)
	r := e2eRun(t, nil, "version", "--json")
	var b struct{ Version, Commit, Date string }
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil || r.code != 0 || b.Version == "" {
		t.Fatalf("exit %d: %v %q", r.code, err, r.stdout)
	}
	r = e2eRun(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "agentd "+b.Version) {
		t.Fatalf("exit %d: %q", r.code, r.stdout)
	}
	if b.Commit != "" && !strings.Contains(r.stdout, "commit "+b.Commit) {
		t.Fatalf("the commit is missing from %q", r.stdout)
	}
}
