// Package opencode runs OpenCode as an agentd agent.
//
// Process model: one `opencode serve` per Agent (per daemon), on a free
// loopback port with a random password, started through agentproc on first
// use and shared by every session. One server serves any number of working
// directories (each request names its directory), so one is enough. Its
// config, data and caches live under a state directory the adapter owns
// (XDG_CONFIG_HOME, XDG_DATA_HOME, … point there): the global
// opencode.json there holds the provider the Agent was given and
// permissions that ask. Start-up does not wait on the network: the
// models.dev fetch, default plugins, LSP downloads and autoupdate are
// disabled by environment.
//
// Each session is one OpenCode session (POST /session, with an allow-all
// permission ruleset in bypass mode). Prompts go to prompt_async; events
// come from the server's one /global/event stream, routed by session id to
// each session's Translator (translate.go) through a mailbox, so that one
// slow session never holds up another. Turns are serialised: a message sent
// while a turn runs is queued and posted when the turn's session.idle is
// read. Interrupt is POST /session/{id}/abort.
//
// If the server dies, every session on it ends with an error that says so;
// the next session starts a new server. Stop of one session never touches
// the server; Close stops it (its whole process group).
package opencode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/cliagent"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/credentials"
)

// Agent is the OpenCode agent.
type Agent struct {
	resolve  func(context.Context) (string, error)
	stateDir string
	env      []string
	grace    time.Duration
	provider *Provider
	baseURLs map[string]string // built-in provider id → base URL (WithBaseURL)

	mu   sync.Mutex // guards inst and serializes starts
	inst *instance

	versions cliagent.Versions
}

var _ adapters.Agent = (*Agent)(nil)

// Provider is an OpenAI-compatible model provider written into the
// server's config (e.g. a gateway, or the fake model in tests).
type Provider struct {
	ID      string   // provider id; models are addressed as ID/model
	BaseURL string   // Chat Completions base URL, e.g. http://host/v1
	APIKey  string   // optional
	Models  []string // the first is the default model
}

// Option configures an Agent.
type Option func(*Agent)

// WithResolver sets how the binary is found; it returns the path or an
// error (wrapping adapters.ErrNotInstalled when there is none).
func WithResolver(f func(ctx context.Context) (string, error)) Option {
	return func(a *Agent) { a.resolve = f }
}

// WithStateDir sets the directory holding the server's config, data
// (its session database, so sessions survive a restart) and caches.
func WithStateDir(dir string) Option { return func(a *Agent) { a.stateDir = dir } }

// WithProvider configures an OpenAI-compatible provider and makes its
// first model the default.
func WithProvider(p Provider) Option { return func(a *Agent) { a.provider = &p } }

// WithBaseURL sends one of OpenCode's built-in providers ("anthropic",
// "openai") to another base URL, e.g. agentd's model proxy; the provider
// still reads its key from its usual variable.
func WithBaseURL(providerID, url string) Option {
	return func(a *Agent) {
		if a.baseURLs == nil {
			a.baseURLs = map[string]string{}
		}
		a.baseURLs[providerID] = url
	}
}

// WithEnv adds or overrides environment variables ("KEY=value") of the server.
func WithEnv(kv ...string) Option { return func(a *Agent) { a.env = append(a.env, kv...) } }

// WithGrace sets how long stopping the server waits after SIGTERM.
func WithGrace(d time.Duration) Option { return func(a *Agent) { a.grace = d } }

// New returns the OpenCode agent.
func New(opts ...Option) *Agent {
	// OpenCode is slow to start even for --version.
	a := &Agent{resolve: DefaultResolver, grace: 5 * time.Second, versions: cliagent.Versions{Timeout: 20 * time.Second}}
	for _, o := range opts {
		o(a)
	}
	if a.stateDir == "" {
		a.stateDir = defaultStateDir()
	}
	return a
}

func defaultStateDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "agentd", "opencode")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "agentd", "opencode")
	}
	return filepath.Join(os.TempDir(), "agentd-opencode")
}

func (*Agent) ID() string { return "opencode" }

// binary is where OpenCode's executable may be.
var binary = cliagent.Binary{EnvVar: "AGENTD_OPENCODE_BIN", Command: "opencode",
	Cached: "opencode-" + cliagent.NPMPlatform() + "/bin/opencode"}

// DefaultResolver finds the binary: $AGENTD_OPENCODE_BIN, then `opencode`
// on PATH, then agentd's npm cache
// (~/.cache/agentd/npm/node_modules/opencode-<os>-<arch>/bin/opencode).
func DefaultResolver(context.Context) (string, error) { return binary.Find() }

// Info reports install state and the capabilities agentd publishes for
// OpenCode. Models are those of the configured provider; asking the server
// would start it.
func (a *Agent) Info(ctx context.Context) adapters.Info {
	build := adapters.Mode{ID: "build", Name: "Build", Description: "Default build mode"}
	info := adapters.Info{
		Runnable: true,
		Capabilities: adapters.Capabilities{Permissions: true, Questions: true, ToolCalls: true, ToolResults: true,
			TextMessages: true, Images: true, FileAttachments: true, SessionLifecycle: true, ErrorEvents: true,
			Reasoning: true, Status: true, CommandExecution: true, FileChanges: true, McpTools: true,
			StreamingDeltas: true, ItemStarted: true, Variants: true, SharedProcess: true},
		Modes: []adapters.Mode{build, {ID: "plan", Name: "Plan", Description: "Planning mode"},
			{ID: "custom", Name: "Custom", Description: "Any user-defined OpenCode agent name"}},
		AnyMode:         true,
		PermissionModes: map[string]string{"default": "default", "bypass": "bypass", "acceptEdits": "default"},
		NativeTurns:     true, // the adapter opens a turn when it posts the prompt
		Resumable:       true,
	}
	if p := a.provider; p != nil {
		for _, m := range p.Models {
			info.Models = append(info.Models, adapters.Model{ID: p.ID + "/" + m, Name: m})
		}
		if len(info.Models) > 0 {
			info.DefaultModel = info.Models[0].ID
		}
	}
	info.CredentialsAvailable = a.credentialsAvailable()
	path, err := a.resolve(ctx)
	if err != nil {
		return info
	}
	info.Installed, info.Path = true, path
	info.Version = a.versions.Get(ctx, path, a.environ(""))
	return info
}

// credentialsAvailable reports whether the server will have a credential
// for some model provider: the one it was given (WithProvider, which needs
// no key or carries its own), a provider key OpenCode reads from the
// environment, or a login in the auth.json under its data directory. That
// is the adapter's state directory, not the user's: OpenCode under agentd
// never reads ~/.local/share/opencode.
func (a *Agent) credentialsAvailable() bool {
	if a.provider != nil {
		return true
	}
	env := a.environ("")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, "_API_KEY") && v != "" {
			return true
		}
	}
	return credentials.OpenCodeLogin(agentproc.Getenv(env, "XDG_DATA_HOME"))
}

// checkCredentials refuses a session the server could not run a turn for,
// naming the keys of the two providers most users have.
func (a *Agent) checkCredentials() error {
	if a.credentialsAvailable() {
		return nil
	}
	return credentials.Missing("opencode", "ANTHROPIC_API_KEY", "OPENAI_API_KEY")
}

// environ builds the server's whole environment (cliagent.Env): the
// shell's variables, provider keys (*_API_KEY) and OPENCODE_* from the
// daemon's, config and state under the adapter's own directory, start-up
// kept off the network, the configured overrides, then the server's
// password (never one from the daemon's environment).
func (a *Agent) environ(password string) []string {
	var set []string
	for k, sub := range map[string]string{"XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "data",
		"XDG_CACHE_HOME": "cache", "XDG_STATE_HOME": "state"} {
		set = append(set, k+"="+filepath.Join(a.stateDir, sub))
	}
	// Start-up must not wait on the network (models.dev, npm, updates).
	for _, k := range []string{"OPENCODE_DISABLE_MODELS_FETCH", "OPENCODE_DISABLE_AUTOUPDATE",
		"OPENCODE_DISABLE_LSP_DOWNLOAD", "OPENCODE_DISABLE_DEFAULT_PLUGINS", "OPENCODE_DISABLE_SHARE"} {
		set = append(set, k+"=1")
	}
	set = append(append(set, a.env...), "OPENCODE_SERVER_PASSWORD="+password)
	return cliagent.Env{Prefixes: []string{"OPENCODE_"}, Suffixes: []string{"_API_KEY"}, Set: set}.Build()
}

// server returns the running server, starting one if there is none.
func (a *Agent) server(ctx context.Context) (*instance, error) {
	path, err := cliagent.Resolve(ctx, a.resolve)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if in := a.inst; in != nil {
		in.mu.Lock()
		dead := in.dead
		in.mu.Unlock()
		if !dead {
			return in, nil
		}
	}
	if err := os.MkdirAll(a.stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("opencode: state dir: %w", err)
	}
	in, err := a.startInstance(ctx, path)
	if err != nil {
		return nil, err
	}
	a.inst = in
	return in, nil
}

// ServerPid is the process id of the running server (0 if none), which
// leads its own process group.
func (a *Agent) ServerPid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inst == nil {
		return 0
	}
	return a.inst.proc.Pid()
}

// Close stops the server and its whole process group. Sessions still on it
// are not told: the daemon ends them itself on shutdown.
func (a *Agent) Close(ctx context.Context) error {
	a.mu.Lock()
	in := a.inst
	a.inst = nil
	a.mu.Unlock()
	if in == nil {
		return nil
	}
	in.mu.Lock()
	in.closing = true
	in.mu.Unlock()
	in.proc.Stop(ctx)
	select {
	case <-in.streamDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Start creates an OpenCode session on the shared server.
func (a *Agent) Start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	in, dir, err := a.open(ctx, req)
	if err != nil {
		return nil, err
	}
	body := map[string]any{}
	if rules := permissionRules(req); len(rules) > 0 {
		body["permission"] = rules
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := in.call(ctx, "POST", "/session", dir, body, &created); err != nil {
		return nil, err
	}
	if created.ID == "" {
		return nil, errors.New("opencode: POST /session answered no session id")
	}
	return newSession(in, req, dir, created.ID, emit)
}

// Resume continues the OpenCode session nativeSessionID: sessions live in
// the server's database, so the next prompt simply goes to it.
func (a *Agent) Resume(ctx context.Context, req adapters.StartRequest, nativeSessionID string, emit adapters.Emitter) (adapters.Session, error) {
	if nativeSessionID == "" {
		return nil, errors.New("opencode: resume without a native session id")
	}
	if err := resumeConfig(req); err != nil {
		return nil, err
	}
	in, dir, err := a.open(ctx, req)
	if err != nil {
		return nil, err
	}
	if err := in.call(ctx, "GET", "/session/"+nativeSessionID, dir, nil, nil); err != nil {
		return nil, fmt.Errorf("opencode: resume %s: %w", nativeSessionID, err)
	}
	return newSession(in, req, dir, nativeSessionID, emit)
}

// open finds the session's directory and the shared server, with the
// session's MCP servers registered for that directory.
func (a *Agent) open(ctx context.Context, req adapters.StartRequest) (*instance, string, error) {
	dir, err := cliagent.Directory("opencode", req.Directory)
	if err != nil {
		return nil, "", err
	}
	adds, err := mcpAdds(req.MCP)
	if err != nil {
		return nil, "", err
	}
	if err := a.checkCredentials(); err != nil {
		return nil, "", err
	}
	in, err := a.server(ctx)
	if err != nil {
		return nil, "", err
	}
	if err := in.addMCP(ctx, dir, adds); err != nil {
		return nil, "", err
	}
	return in, dir, nil
}
