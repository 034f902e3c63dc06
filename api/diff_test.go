package api_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/internal/workspace"
)

type diffBody struct {
	Directory  string `json:"directory"`
	Repository bool   `json:"repository"`
	Base       string `json:"base"`
	Files      []struct {
		Path, Status string
		Additions    *int
	} `json:"files"`
	Patch     *string `json:"patch"`
	Truncated bool    `json:"truncated"`
}

func TestSessionDiff(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	ctx := t.Context()
	sb := newSandbox(t, workspace.Options{})
	repo := filepath.Join(sb.root, "repo")
	plain := filepath.Join(sb.root, "plain")
	for _, d := range []string{repo, plain} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@t"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "-A")
	git("commit", "-q", "-m", "a")
	if err := os.WriteFile(filepath.Join(repo, "b.txt"), []byte("new file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sb.must(t, ctx, 200, http.MethodPost, "/v1/sessions/in-repo", mustJSON(map[string]any{"agent": "mock", "directory": repo}))
	sb.must(t, ctx, 200, http.MethodPost, "/v1/sessions/not-repo", mustJSON(map[string]any{"agent": "mock", "directory": plain}))

	got := decodeJSON[diffBody](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/sessions/in-repo/diff", ""))
	if got.Directory != repo || !got.Repository || len(got.Base) < 40 || len(got.Files) != 1 || got.Files[0].Path != "b.txt" ||
		got.Files[0].Status != "added" || *got.Files[0].Additions != 1 || got.Patch == nil || !strings.Contains(*got.Patch, "+new file") {
		t.Fatalf("diff %+v", got)
	}
	got = decodeJSON[diffBody](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/sessions/in-repo/diff?patch=false", ""))
	if got.Patch != nil || len(got.Files) != 1 {
		t.Fatalf("patch=false: %+v", got)
	}
	got = decodeJSON[diffBody](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/sessions/not-repo/diff", ""))
	if got.Repository || got.Files == nil || len(got.Files) != 0 {
		t.Fatalf("outside a repository: %+v", got)
	}
	res := sb.must(t, ctx, 404, http.MethodGet, "/v1/sessions/nope/diff", "")
	if !strings.Contains(string(res.Body), "session_not_found") {
		t.Fatalf("unknown session: %s", res.Body)
	}
	sb.must(t, ctx, 400, http.MethodGet, "/v1/sessions/in-repo/diff?patch=maybe", "")
}
