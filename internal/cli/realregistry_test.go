package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/install"
)

// TestRealRegistryAgents installs every agent through agentd's own
// installer (`agentd install-agent`) from the real npm registry (or the one
// npm_config_registry names), runs each binary's --version against its pin,
// then starts a daemon that can find the agents nowhere but in that data
// dir and creates a session for each. The data dir is a cache outside the
// clone (~/.cache/agentd/registry-data, or $AGENTD_REAL_REGISTRY_DIR), so a
// warm run downloads nothing; that it asks the registry nothing is checked
// on every run by installing again against a registry that fails any
// request. It downloads ~250 MB cold, so it runs only when
// AGENTD_REAL_REGISTRY=1 (.ci/test sets it).
func TestRealRegistryAgents(t *testing.T) {
	if os.Getenv("AGENTD_REAL_REGISTRY") != "1" {
		t.Skip("set AGENTD_REAL_REGISTRY=1 to install the agents from the real npm registry")
	}
	requireAgentdBin(t)
	dataDir := registryDataDir(t)
	inst, err := install.New(install.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{} // agent → installed binary, for the agents this platform has
	for _, agent := range install.Agents() {
		if _, err := inst.Spec(agent, install.DefaultVersion(agent)); err != nil {
			t.Logf("%s: not installable here: %v", agent, err)
			continue
		}
		paths[agent] = ""
	}
	begin := time.Now()
	var mu sync.Mutex
	t.Run("install", func(t *testing.T) {
		for agent := range paths {
			t.Run(agent, func(t *testing.T) {
				t.Parallel()
				installed := installFromRegistry(t, dataDir, agent)
				checkVersion(t, installed, install.DefaultVersion(agent))
				mu.Lock()
				paths[agent] = installed
				mu.Unlock()
			})
		}
	})
	t.Logf("installs took %s", time.Since(begin).Round(time.Millisecond))
	if t.Failed() {
		return
	}
	sessionsFindInstalls(t, dataDir, paths)
}

// registryDataDir is the cached data dir of the real installs.
func registryDataDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("AGENTD_REAL_REGISTRY_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(home, ".cache", "agentd", "registry-data")
}

// installFromRegistry runs `agentd install-agent`, then again against a
// registry that must not be asked, and returns the binary's path.
func installFromRegistry(t *testing.T, dataDir, agent string) string {
	t.Helper()
	want := install.DefaultVersion(agent)
	start := time.Now()
	r := e2eRunWithin(t, 3*time.Minute, nil, "install-agent", agent, "--data-dir", dataDir)
	if r.code != 0 {
		t.Fatalf("install-agent %s: exit %d\n%s", agent, r.code, r.stderr)
	}
	how := "warm"
	if strings.Contains(r.stderr, ": downloading") {
		how = "cold"
	}
	t.Logf("%s %s: %s install in %s", agent, want, how, time.Since(start).Round(time.Millisecond))
	path, ok := strings.CutPrefix(strings.TrimSpace(r.stdout), agent+" "+want+" installed at ")
	if !ok || !strings.HasPrefix(path, filepath.Join(dataDir, "agents", agent, want)+string(filepath.Separator)) {
		t.Fatalf("install-agent %s printed %q; want version %s under %s", agent, r.stdout, want, dataDir)
	}

	var asked atomic.Int32
	registry := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		asked.Add(1)
		http.Error(w, "an installed agent must not reach the registry", http.StatusInternalServerError)
	}))
	defer registry.Close()
	again := e2eRunWithin(t, e2eWait, []string{"AGENTD_NPM_REGISTRY=" + registry.URL, "npm_config_registry=" + registry.URL},
		"install-agent", agent, "--data-dir", dataDir)
	if again.code != 0 || again.stdout != r.stdout || strings.Contains(again.stderr, "downloading") || asked.Load() != 0 {
		t.Fatalf("warm install-agent %s: exit %d, %d registry requests\n%s%s", agent, again.code, asked.Load(), again.stdout, again.stderr)
	}
	return path
}

// checkVersion runs `<binary> --version` with a HOME of its own.
func checkVersion(t *testing.T, bin, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = e2eEnv(t, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), want) {
		t.Fatalf("%s --version: %v\n%s", bin, err, out)
	}
}

// sessionsFindInstalls starts a daemon whose agents can only come from the
// installs (no agent on PATH, a HOME without agentd's npm cache), and
// creates a session for each agent. The daemon's data dir is fresh, its
// agents/<agent> linking to the cache, so that the cache keeps installs
// only, never an earlier run's sessions.
func sessionsFindInstalls(t *testing.T, dataDir string, paths map[string]string) {
	daemonDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(daemonDir, "agents"), 0o700); err != nil {
		t.Fatal(err)
	}
	for agent := range paths {
		if err := os.Symlink(filepath.Join(dataDir, "agents", agent), filepath.Join(daemonDir, "agents", agent)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("PATH", "/usr/bin:/bin")
	t.Setenv("CODEX_HOME", "")
	// Placeholders: creating a session must pass each agent's credential
	// check; no turn runs, so no model is asked.
	for _, k := range []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "AMP_API_KEY"} {
		t.Setenv(k, "agentd-registry-check")
	}
	d := startAgentdServer(t, "--no-token", "--data-dir", daemonDir)

	var list api.AgentListResponse
	httpJSON(t, http.MethodGet, d.URL+"/v1/agents", nil, http.StatusOK, &list)
	for _, a := range list.Agents {
		want, ok := paths[a.ID]
		if !ok {
			continue
		}
		rel, _ := filepath.Rel(dataDir, want)
		if !a.Installed || a.Path == nil || *a.Path != filepath.Join(daemonDir, rel) ||
			a.Version == nil || !strings.Contains(*a.Version, install.DefaultVersion(a.ID)) {
			t.Errorf("%s: installed %v at %v version %v; want %s", a.ID, a.Installed, deref(a.Path, ""), deref(a.Version, ""), want)
		}
	}
	for agent := range paths {
		t.Run("session/"+agent, func(t *testing.T) {
			httpJSON(t, http.MethodPost, d.URL+"/v1/sessions/registry-"+agent, map[string]any{"agent": agent}, http.StatusOK, nil)
			httpJSON(t, http.MethodPost, d.URL+"/v1/sessions/registry-"+agent+"/terminate", nil, http.StatusNoContent, nil)
		})
	}
}

// httpJSON sends body as JSON and decodes the answer into out (if not
// nil), requiring status.
func httpJSON(t *testing.T, method, url string, body any, status int, out any) {
	t.Helper()
	var rd bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&rd).Encode(body); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, &rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Close = true // no idle connection outlives the test (goleak)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw bytes.Buffer
	_, _ = raw.ReadFrom(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, resp.StatusCode, status, raw.String())
	}
	if out != nil {
		if err := json.Unmarshal(raw.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw.String())
		}
	}
}
