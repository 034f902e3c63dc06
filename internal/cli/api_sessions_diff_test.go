package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestSessionsDiffThroughBinary(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	d := startAgentdServer(t, "--no-token")
	repo := t.TempDir()
	for _, args := range [][]string{{"init", "-q"}, {"commit", "-q", "--allow-empty", "-m", "start"}} {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "made.txt"), []byte("by the agent\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d.api(t, "sessions", "create", "s1", "--agent", "mock", "--directory", repo)

	var got struct {
		Repository bool
		Files      []struct{ Path, Status string }
		Patch      string
	}
	if err := json.Unmarshal([]byte(d.api(t, "sessions", "diff", "s1")), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Repository || len(got.Files) != 1 || got.Files[0].Path != "made.txt" || got.Files[0].Status != "added" ||
		!strings.Contains(got.Patch, "+by the agent") {
		t.Fatalf("diff %+v", got)
	}
	if patch := d.api(t, "sessions", "diff", "s1", "--patch"); !strings.HasPrefix(patch, "diff --git a/made.txt b/made.txt\n") {
		t.Fatalf("--patch printed %q", patch)
	}
	r := e2eRun(t, nil, "api", "--endpoint", d.URL, "sessions", "diff", "nope")
	if r.code != exitAPI || !strings.Contains(r.stderr, "session_not_found") {
		t.Fatalf("unknown session: exit %d, %s", r.code, r.stderr)
	}
}
