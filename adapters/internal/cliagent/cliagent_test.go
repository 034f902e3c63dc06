package cliagent

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/agentproc"
)

func writeExe(t *testing.T, path, script string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFind(t *testing.T) {
	home, pathDir := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("PATH", pathDir)
	t.Setenv("AGENTD_X_BIN", "")
	b := Binary{EnvVar: "AGENTD_X_BIN", Command: "x", Cached: "pkg-" + NPMPlatform() + "/x"}

	if _, err := b.Find(); !errors.Is(err, adapters.ErrNotInstalled) {
		t.Fatalf("nothing anywhere: %v", err)
	}
	cached := filepath.Join(home, ".cache/agentd/npm/node_modules/pkg-"+NPMPlatform()+"/x")
	writeExe(t, cached, "")
	if p, err := b.Find(); err != nil || p != cached {
		t.Fatalf("cache: %q %v", p, err)
	}
	onPath := filepath.Join(pathDir, "x")
	writeExe(t, onPath, "")
	if p, err := b.Find(); err != nil || p != onPath {
		t.Fatalf("PATH before cache: %q %v", p, err)
	}
	t.Setenv("AGENTD_X_BIN", cached)
	if p, err := b.Find(); err != nil || p != cached {
		t.Fatalf("variable first: %q %v", p, err)
	}
	t.Setenv("AGENTD_X_BIN", filepath.Join(home, "missing"))
	if _, err := b.Find(); !errors.Is(err, adapters.ErrNotInstalled) {
		t.Fatalf("a variable naming nothing must not fall back: %v", err)
	}
}

func TestVersions(t *testing.T) {
	dir := t.TempDir()
	claude, codex, broken := filepath.Join(dir, "claude"), filepath.Join(dir, "codex"), filepath.Join(dir, "broken")
	writeExe(t, claude, `echo; echo "2.1.330 (Claude Code)"; echo later`)
	writeExe(t, codex, `echo "codex-cli 0.169.0"`)
	writeExe(t, broken, `echo "1.0"; exit 3`)
	var def Versions
	last := Versions{Parse: LastWord}
	if v := def.Get(t.Context(), claude, nil); v != "2.1.330" {
		t.Errorf("claude: %q", v)
	}
	if v := last.Get(t.Context(), codex, nil); v != "0.169.0" {
		t.Errorf("codex: %q", v)
	}
	if v := def.Get(t.Context(), broken, nil); v != "" {
		t.Errorf("a failing --version: %q", v)
	}
	// Asked once per path: a changed binary keeps its first answer.
	writeExe(t, claude, `echo "9.9.9"`)
	if v := def.Get(t.Context(), claude, nil); v != "2.1.330" {
		t.Errorf("not cached: %q", v)
	}
}

// TestVersionOfAnInstall: a binary agentd installed is not run; its
// install's marker gives the version.
func TestVersionOfAnInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "agents", "amp", "1.2.3")
	ran := filepath.Join(t.TempDir(), "ran")
	bin := filepath.Join(dir, "amp")
	writeExe(t, bin, `touch `+ran+`; echo "6.6.6"`)
	// The marker agentd's installer writes (internal/install).
	marker := `{"agent":"amp","version":"1.2.3","package":"@ampcode/cli-linux-x64","bin":"amp"}`
	if err := os.WriteFile(filepath.Join(dir, ".agentd-install.json"), []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	var v Versions
	if got := v.Get(t.Context(), bin, nil); got != "1.2.3" {
		t.Errorf("version %q", got)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the installed binary was run for its version")
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("PATH", "/bin")
	t.Setenv("HOME", "/home/x")
	t.Setenv("SECRET_TOKEN", "no")
	t.Setenv("AMP_API_KEY", "k")
	t.Setenv("LC_ALL", "C")
	t.Setenv("KEEP", "1")
	got := Env{Pass: []string{"KEEP"}, Prefixes: []string{"AMP_"}, Set: []string{"HOME=/elsewhere", "EXTRA=1", "AMP_API_KEY=override"}}.Build()
	want := map[string]string{"PATH": "/bin", "HOME": "/elsewhere", "AMP_API_KEY": "override", "LC_ALL": "C", "KEEP": "1", "EXTRA": "1"}
	for k, v := range want {
		if agentproc.Getenv(got, k) != v {
			t.Errorf("%s=%q, want %q (env %q)", k, agentproc.Getenv(got, k), v, got)
		}
	}
	if agentproc.Getenv(got, "SECRET_TOKEN") != "" {
		t.Error("a variable nobody asked for was passed")
	}
	if !reflect.DeepEqual(got, Env{Pass: []string{"KEEP"}, Prefixes: []string{"AMP_"}, Set: []string{"HOME=/elsewhere", "EXTRA=1", "AMP_API_KEY=override"}}.Build()) {
		t.Error("not deterministic")
	}
}
