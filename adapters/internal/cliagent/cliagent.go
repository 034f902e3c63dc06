// Package cliagent holds what the adapters of CLI agents share about the
// binary they run: finding it, asking its version, building the
// environment it runs with, the checks before a session starts, and the
// report of its unexpected end. The protocols differ per agent; these do
// not.
package cliagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/install"
)

// Binary says where an agent's executable may be.
type Binary struct {
	// EnvVar names the variable that points at the binary (AGENTD_CLAUDE_BIN).
	EnvVar string
	// Command is the name looked up on PATH.
	Command string
	// Cached is the binary's path below agentd's npm cache
	// (~/.cache/agentd/npm/node_modules), "" when there is none for this platform.
	Cached string
}

// Find returns the binary: $EnvVar, then Command on PATH, then the npm
// cache. The error wraps adapters.ErrNotInstalled.
func (b Binary) Find() (string, error) {
	if p := os.Getenv(b.EnvVar); p != "" {
		if Executable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s=%s is not an executable file", adapters.ErrNotInstalled, b.EnvVar, p)
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH")) {
		if p := filepath.Join(dir, b.Command); dir != "" && Executable(p) {
			return p, nil
		}
	}
	if home, err := os.UserHomeDir(); err == nil && b.Cached != "" {
		p := filepath.Join(home, ".cache", "agentd", "npm", "node_modules", filepath.FromSlash(b.Cached))
		if Executable(p) {
			return p, nil
		}
	}
	return "", adapters.ErrNotInstalled
}

// Executable reports whether p is a file someone may execute.
func Executable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// NPMPlatform names the OS and CPU the way the agents' npm packages do
// ("linux-x64", "darwin-arm64").
func NPMPlatform() string {
	arch := runtime.GOARCH
	if arch == "amd64" {
		arch = "x64"
	}
	return runtime.GOOS + "-" + arch
}

// Versions runs `<binary> --version` once per binary path.
type Versions struct {
	// Parse picks the version out of the first line printed; by default
	// what precedes " (" ("2.1.330" from "2.1.330 (Claude Code)").
	Parse func(first string) string
	// Timeout bounds one probe (default 10 s).
	Timeout time.Duration

	mu   sync.Mutex
	byID map[string]string // "" when --version failed
}

// LastWord parses "codex-cli 0.169.0" as "0.169.0".
func LastWord(first string) string {
	f := strings.Fields(first)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// Get returns the version of the binary at path, or "" when it fails
// within the timeout. A binary agentd installed is not run: its install
// records the version (install.InstalledVersion).
func (v *Versions) Get(ctx context.Context, path string, env []string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if got, ok := v.byID[path]; ok {
		return got
	}
	if v.byID == nil {
		v.byID = map[string]string{}
	}
	if got, ok := install.InstalledVersion(path); ok {
		v.byID[path] = got
		return got
	}
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	got := runVersion(ctx, timeout, path, env)
	if got != "" {
		parse := v.Parse
		if parse == nil {
			parse = func(s string) string { version, _, _ := strings.Cut(s, " ("); return version }
		}
		got = parse(got)
	}
	v.byID[path] = got
	return got
}

// runVersion returns the first non-empty line `<path> --version` prints.
func runVersion(ctx context.Context, timeout time.Duration, path string, env []string) string {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	proc, err := agentproc.Start(ctx, agentproc.Spec{Path: path, Args: []string{"--version"}, Dir: os.TempDir(), Env: env},
		agentproc.Options{Grace: time.Second})
	if err != nil {
		return ""
	}
	stop := context.AfterFunc(ctx, func() { proc.Stop(context.Background()) })
	defer stop()
	defer proc.Stdout.Close()
	lr := agentproc.NewLineReader(proc.Stdout, 4096)
	first := ""
	for {
		line, _, err := lr.Next()
		if err != nil {
			break
		}
		if s := strings.TrimSpace(string(line)); s != "" && first == "" {
			first = s
		}
	}
	<-proc.Done()
	if !proc.Exit().Success() {
		return ""
	}
	return first
}

// Shell are the variables every agent takes from the daemon's environment:
// what a shell and the agent's tools need to run, and the proxy and CA
// settings needed to reach a model.
var Shell = []string{"PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"}

// Env describes an agent's whole environment: nothing is inherited
// implicitly, and values are never logged.
type Env struct {
	// Pass, Prefixes and Suffixes name what is taken from the daemon's
	// environment, besides Shell and LC_*.
	Pass               []string
	Prefixes, Suffixes []string
	// Set adds or overrides variables ("KEY=value"), last one winning.
	Set []string
}

// Build returns the environment, sorted, with PATH and HOME always set.
func (e Env) Build() []string {
	vars := map[string]string{}
	prefixes := append([]string{"LC_"}, e.Prefixes...)
	for _, kv := range os.Environ() {
		k, v, ok := strings.Cut(kv, "=")
		if ok && (slices.Contains(Shell, k) || slices.Contains(e.Pass, k) ||
			slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(k, p) }) ||
			slices.ContainsFunc(e.Suffixes, func(x string) bool { return strings.HasSuffix(k, x) })) {
			vars[k] = v
		}
	}
	if vars["PATH"] == "" {
		vars["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	}
	if vars["HOME"] == "" {
		if h, err := os.UserHomeDir(); err == nil {
			vars["HOME"] = h
		}
	}
	for _, kv := range e.Set {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env
}
