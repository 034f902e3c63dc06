// Package codex runs Codex (the `codex` CLI) as an agentd agent.
//
// Process model: one `codex app-server` per session, started through
// agentproc in the session's directory, spoken to in JSON-RPC over stdio
// (one JSON object per line, no "jsonrpc" field):
//
//	initialize → initialized → thread/start (or thread/resume) → turn/start per message
//
// Start returns once the thread exists, so the native session id (the
// thread id) is known at creation. Turns are serialised: a message sent
// while a turn runs is queued and started when turn/completed arrives.
// Codex asks for approvals and answers with server requests (their own id
// counter); the answers are JSON-RPC responses on the same stdin. stdout is
// read line by line and turned into universal events by a Translator
// (translate.go); the events are handed to the engine by a goroutine of
// their own, so that reading, and so the answers to our requests, never
// waits on the engine (it does not accept events before Start returns).
// stderr is never parsed, only kept (bounded) for the report of an
// unexpected exit.
//
// Configuration: CODEX_HOME is one directory per agent (WithHome), not per
// session, because Codex keeps its threads there and thread/resume in a
// new process must find them. Model provider and other settings are given
// per process as `-c key=value` overrides (WithProvider, WithConfig)
// rather than written into $CODEX_HOME/config.toml, which Codex edits
// itself and which concurrent sessions would otherwise fight over.
package codex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/cliagent"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/credentials"
	"github.com/agentd-dev/agentd/schema"
)

// DefaultMaxLine is the longest stdout line read whole; a longer one is
// reported as agent.unparsed and skipped, and reading goes on.
const DefaultMaxLine = 64 << 20

// planPrefix starts every prompt in the plan agent mode.
const planPrefix = "Make a plan before acting.\n\n"

var errStopped = errors.New("codex session stopped")

// Agent is the Codex agent.
type Agent struct {
	resolve   func(context.Context) (string, error)
	home      string
	env       []string
	config    []string
	envKey    string // the provider's key variable (WithProvider), a credential too
	grace     time.Duration
	maxLine   int
	handshake time.Duration
	// approval and sandbox are given for the permission modes the spec
	// leaves to Codex's configuration (default, acceptEdits).
	approval, sandbox string

	versions cliagent.Versions
}

var _ adapters.Agent = (*Agent)(nil)

// Option configures an Agent.
type Option func(*Agent)

// WithResolver sets how the binary is found; it returns the path or an
// error (wrapping adapters.ErrNotInstalled when there is none).
func WithResolver(f func(ctx context.Context) (string, error)) Option {
	return func(a *Agent) { a.resolve = f }
}

// WithHome sets CODEX_HOME for every session of the agent: where Codex
// keeps its login, config and threads. By default it is the daemon's
// $CODEX_HOME, else ~/.codex, so Codex finds the user's own login;
// resuming a thread needs the home it was created in.
func WithHome(dir string) Option { return func(a *Agent) { a.home = dir } }

// WithEnv adds or overrides environment variables ("KEY=value") of the
// agent, on top of the ones taken from the daemon's environment.
func WithEnv(kv ...string) Option {
	return func(a *Agent) { a.env = append(a.env, kv...) }
}

// WithConfig adds Codex config overrides, each "dotted.key=<TOML value>"
// as `codex -c` takes them (e.g. `model="gpt-5.5"`).
func WithConfig(kv ...string) Option {
	return func(a *Agent) { a.config = append(a.config, kv...) }
}

// Provider is a model provider Codex should use instead of its default.
type Provider struct {
	// ID names the provider in Codex's config; "agentd" when empty.
	ID   string
	Name string
	// BaseURL is the API root; Codex POSTs {BaseURL}/responses.
	BaseURL string
	// WireAPI is "responses" when empty.
	WireAPI string
	// EnvKey is the variable holding the API key (set it with WithEnv).
	EnvKey string
}

// WithProvider points Codex at a model provider.
func WithProvider(p Provider) Option {
	return func(a *Agent) {
		id := p.ID
		if id == "" {
			id = "agentd"
		}
		wire := p.WireAPI
		if wire == "" {
			wire = "responses"
		}
		name := p.Name
		if name == "" {
			name = id
		}
		key := "model_providers." + id + "."
		a.config = append(a.config, "model_provider="+tomlString(id), key+"name="+tomlString(name),
			key+"base_url="+tomlString(p.BaseURL), key+"wire_api="+tomlString(wire))
		if p.EnvKey != "" {
			a.config = append(a.config, key+"env_key="+tomlString(p.EnvKey))
			a.envKey = p.EnvKey
		}
	}
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// WithDefaultPolicy sets the approval policy ("untrusted", "on-request",
// "never") and sandbox ("read-only", "workspace-write",
// "danger-full-access") of threads in the default and acceptEdits
// permission modes, which otherwise take them from Codex's configuration.
// (Codex's config file no longer accepts approval_policy "untrusted", the
// policy that asks before every command that is not known to be safe; the
// protocol still does.)
func WithDefaultPolicy(approval, sandbox string) Option {
	return func(a *Agent) { a.approval, a.sandbox = approval, sandbox }
}

// WithGrace sets how long Stop waits after SIGTERM before SIGKILL.
func WithGrace(d time.Duration) Option { return func(a *Agent) { a.grace = d } }

// WithMaxLine sets the longest stdout line read whole (DefaultMaxLine).
func WithMaxLine(n int) Option { return func(a *Agent) { a.maxLine = n } }

// WithHandshakeTimeout bounds initialize and thread/start (30 s by default).
func WithHandshakeTimeout(d time.Duration) Option { return func(a *Agent) { a.handshake = d } }

// New returns the Codex agent.
func New(opts ...Option) *Agent {
	a := &Agent{resolve: DefaultResolver, grace: 5 * time.Second, maxLine: DefaultMaxLine,
		handshake: 30 * time.Second, versions: cliagent.Versions{Parse: cliagent.LastWord}}
	for _, o := range opts {
		o(a)
	}
	return a
}

func (*Agent) ID() string { return "codex" }

// binary is where Codex's executable may be.
var binary = cliagent.Binary{EnvVar: "AGENTD_CODEX_BIN", Command: "codex", Cached: cached()}

func cached() string {
	if target() == "" {
		return ""
	}
	return "@openai/codex/vendor/" + target() + "/bin/codex"
}

// DefaultResolver finds the binary: $AGENTD_CODEX_BIN, then `codex` on
// PATH, then agentd's npm cache
// (~/.cache/agentd/npm/node_modules/@openai/codex/vendor/<target>/bin/codex).
func DefaultResolver(context.Context) (string, error) { return binary.Find() }

// target is the Rust target triple Codex's npm package names its vendored
// binary directory after.
func target() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	switch {
	case arch == "":
		return ""
	case runtime.GOOS == "linux":
		return arch + "-unknown-linux-musl"
	case runtime.GOOS == "darwin":
		return arch + "-apple-darwin"
	}
	return ""
}

// Info reports install state and capabilities. The version comes from
// `codex --version`, run once per binary path.
func (a *Agent) Info(ctx context.Context) adapters.Info {
	info := adapters.Info{
		Runnable: true,
		Capabilities: adapters.Capabilities{
			PlanMode: true, Permissions: true, Questions: true, ToolCalls: true, ToolResults: true,
			TextMessages: true, Images: true, FileAttachments: true, SessionLifecycle: true, ErrorEvents: true,
			Reasoning: true, Status: true, CommandExecution: true, FileChanges: true, McpTools: true,
			StreamingDeltas: true, ItemStarted: true,
		},
		Modes: []adapters.Mode{
			{ID: "build", Name: "Build", Description: "Default build mode"},
			{ID: "plan", Name: "Plan", Description: "Planning mode via prompt prefix"},
		},
		PermissionModes: map[string]string{"default": "default", "plan": "plan", "bypass": "bypass", "acceptEdits": "acceptEdits"},
		NativeTurns:     true,
		Resumable:       true,
	}
	info.CredentialsAvailable = a.credentialsAvailable()
	path, err := a.resolve(ctx)
	if err != nil {
		return info
	}
	info.Installed, info.Path = true, path
	info.Version = a.versions.Get(ctx, path, a.environ())
	return info
}

// codexHome is the CODEX_HOME sessions run with.
func (a *Agent) codexHome() string {
	if a.home != "" {
		return a.home
	}
	if h := os.Getenv("CODEX_HOME"); h != "" {
		return h
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".codex")
	}
	return ""
}

// credentialsAvailable reports whether Codex will find a credential in
// the environment it runs with.
func (a *Agent) credentialsAvailable() bool { return a.credentialsIn(a.environ()) }

// credentialsIn reports whether Codex, started with env, has a credential
// for its model provider. A provider with an env_key needs that variable
// and nothing else counts; a custom provider without one (or configured
// through WithConfig, which agentd cannot judge) needs none; the default
// OpenAI provider takes a key variable or the login in CODEX_HOME/auth.json.
func (a *Agent) credentialsIn(env []string) bool {
	switch {
	case a.envKey != "":
		return agentproc.Getenv(env, a.envKey) != ""
	case a.customProvider():
		return true
	case agentproc.Getenv(env, "OPENAI_API_KEY") != "", agentproc.Getenv(env, "CODEX_API_KEY") != "":
		return true
	}
	return credentials.CodexLogin(agentproc.Getenv(env, "CODEX_HOME"))
}

// customProvider reports whether the configuration picks a model provider.
func (a *Agent) customProvider() bool {
	return slices.ContainsFunc(a.config, func(kv string) bool { return strings.HasPrefix(kv, "model_provider=") })
}

// missingCredentials is the problem for a session whose Codex has none,
// naming the variables that would give it one.
func (a *Agent) missingCredentials() error {
	if a.envKey != "" {
		return credentials.Missing("codex", a.envKey)
	}
	return credentials.Missing("codex", "OPENAI_API_KEY", "CODEX_API_KEY")
}

// environ builds the agent's whole environment (cliagent.Env): the shell's
// variables and OPENAI_* and CODEX_* from the daemon's, CODEX_HOME as
// configured, then the configured overrides.
func (a *Agent) environ() []string {
	var set []string
	if h := a.codexHome(); h != "" {
		set = append(set, "CODEX_HOME="+h)
	}
	return cliagent.Env{Prefixes: []string{"OPENAI_", "CODEX_"}, Set: append(set, a.env...)}.Build()
}

func (a *Agent) args() []string {
	out := []string{"app-server"}
	for _, kv := range a.config {
		out = append(out, "-c", kv)
	}
	return out
}

// policy is the approval policy and sandbox a permission mode asks for
// (v1 spec §12.2); for the other modes, those of WithDefaultPolicy. Empty
// values leave Codex's configuration in charge.
func (a *Agent) policy(req adapters.StartRequest) (approval, sandbox string) {
	switch req.PermissionMode {
	case "plan":
		return "untrusted", "read-only"
	case "bypass":
		return "never", "danger-full-access"
	}
	return a.approval, a.sandbox
}

type clientInfo struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Version string `json:"version"`
}

type initializeParams struct {
	ClientInfo   clientInfo `json:"clientInfo"`
	Capabilities struct {
		// ExperimentalAPI allows collaborationMode, which the plan mode
		// uses because Codex only lets the model ask questions in it.
		ExperimentalAPI bool `json:"experimentalApi"`
	} `json:"capabilities"`
}

type threadParams struct {
	ThreadID       string `json:"threadId,omitempty"`
	Cwd            string `json:"cwd"`
	Model          string `json:"model,omitempty"`
	ApprovalPolicy string `json:"approvalPolicy,omitempty"`
	Sandbox        string `json:"sandbox,omitempty"`
}

// Start runs a new Codex process for the session and starts its thread.
func (a *Agent) Start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	return a.start(ctx, req, emit, "")
}

// Resume runs a Codex process that continues the thread nativeSessionID
// (thread/resume): Codex finds it under the same CODEX_HOME.
func (a *Agent) Resume(ctx context.Context, req adapters.StartRequest, nativeSessionID string, emit adapters.Emitter) (adapters.Session, error) {
	if nativeSessionID == "" {
		return nil, errors.New("codex: resume without a native session id")
	}
	return a.start(ctx, req, emit, nativeSessionID)
}

func (a *Agent) start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter, resume string) (*session, error) {
	path, err := cliagent.Resolve(ctx, a.resolve)
	if err != nil {
		return nil, err
	}
	dir, err := cliagent.Directory("codex", req.Directory)
	if err != nil {
		return nil, err
	}
	env := append(append(a.environ(), passedEnv(req)...), req.Env...)
	if !a.credentialsIn(env) {
		return nil, a.missingCredentials()
	}
	if h := a.codexHome(); h != "" {
		if err := os.MkdirAll(h, 0o700); err != nil {
			return nil, fmt.Errorf("codex: CODEX_HOME: %w", err)
		}
	}
	config, err := configArgs(req)
	if err != nil {
		return nil, err
	}
	proc, err := agentproc.Start(ctx, agentproc.Spec{Path: path, Args: append(a.args(), config...), Dir: dir, Env: env, Stdin: true},
		agentproc.Options{Grace: a.grace})
	if err != nil {
		return nil, fmt.Errorf("codex: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &session{
		proc: proc, sink: cliagent.Sink{Emitter: emit}, ctx: sctx, cancel: cancel, maxLine: a.maxLine, req: req, dir: dir,
		tr: NewTranslator(), waiters: map[string]func(response){}, out: make(chan []adapters.Event, 256),
		readerDone: make(chan struct{}), done: make(chan struct{}), turns: cliagent.Turns[string]{Stopped: errStopped},
	}
	s.tr.acceptEdits = req.PermissionMode == "acceptEdits"
	go s.read()
	go s.deliver()
	go cliagent.UnblockReader(proc, s.readerDone)
	if err := s.handshake(ctx, a, resume); err != nil {
		s.cancel() // the engine takes no events from a session that failed to start
		_ = s.Stop(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

// handshake initialises the app-server and starts or resumes the thread.
func (s *session) handshake(ctx context.Context, a *Agent, resume string) error {
	ctx, cancel := context.WithTimeout(ctx, a.handshake)
	defer cancel()
	var init initializeParams
	init.ClientInfo = clientInfo{Name: "agentd", Title: "agentd", Version: "1"}
	init.Capabilities.ExperimentalAPI = true
	if _, err := s.request(ctx, "initialize", init); err != nil {
		return s.startError("initialize", err)
	}
	if err := s.notify("initialized"); err != nil {
		return s.startError("initialized", err)
	}
	approval, sandbox := a.policy(s.req)
	p := threadParams{ThreadID: resume, Cwd: s.dir, ApprovalPolicy: approval, Sandbox: sandbox}
	if m := s.req.Model; m != "" && m != "default" {
		p.Model = m
	}
	method := "thread/start"
	if resume != "" {
		method = "thread/resume"
	}
	res, err := s.request(ctx, method, p)
	if err != nil {
		return s.startError(method, err)
	}
	var tr threadResult
	if err := json.Unmarshal(res, &tr); err != nil || tr.Thread.ID == "" {
		return fmt.Errorf("codex: %s: no thread in the response", method)
	}
	s.mu.Lock()
	s.tr.setThread(tr.Thread.ID)
	s.model = tr.Model
	s.mu.Unlock()
	return nil
}

// startError says why the handshake failed, with the start of stderr when
// the process died. The failure can be seen (a refused write, the reader's
// end) before the process is reaped and its stderr drained, so a dying
// process is given a moment to finish.
func (s *session) startError(step string, err error) error {
	var rpc *rpcFailure
	if !errors.As(err, &rpc) && !errors.Is(err, context.DeadlineExceeded) {
		select {
		case <-s.proc.Done():
			if rep := s.proc.Stderr().Report(); rep.Head != "" {
				return fmt.Errorf("codex: %s: %w (stderr: %s)", step, err, truncate(rep.Head, 2048))
			}
		case <-time.After(stderrWait):
		}
	}
	return fmt.Errorf("codex: %s: %w", step, err)
}

// stderrWait bounds how long a failed start waits for the process's stderr.
const stderrWait = 2 * time.Second

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// session is one running Codex app-server and its thread.
type session struct {
	proc    *agentproc.Process
	sink    cliagent.Sink   // hands events to the engine
	ctx     context.Context // the session's life: cancelled once Stop is done
	cancel  context.CancelFunc
	maxLine int
	req     adapters.StartRequest
	dir     string

	out        chan []adapters.Event // events for the engine, in order
	readerDone chan struct{}         // closed when stdout is read to the end
	done       chan struct{}         // closed when every event was handed over

	writeMu sync.Mutex // one line at a time on stdin

	mu       sync.Mutex
	tr       *Translator
	model    string
	nextID   int64
	waiters  map[string]func(response) // our requests awaiting their response, by id
	turns    cliagent.Turns[string]    // a turn runs from turn/start to turn/completed
	turnID   string                    // the running turn, once known
	stopOnce sync.Once
}

var _ adapters.Session = (*session)(nil)
var _ adapters.Interrupter = (*session)(nil)

// Pid is the process id of the Codex process, which leads its own group.
func (s *session) Pid() int { return s.proc.Pid() }

func (s *session) NativeSessionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.NativeSessionID()
}

// write puts one line on Codex's stdin.
func (s *session) write(line []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.proc.Stdin.Write(append(line, '\n')); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.turns.Usable(); err != nil {
			return err
		}
		return fmt.Errorf("codex: write to stdin: %w", err)
	}
	return nil
}

type rpcRequest struct {
	ID     int64  `json:"id"`
	Method string `json:"method"`
	Params any    `json:"params,omitempty"`
}

// rpcFailure is a JSON-RPC error response.
type rpcFailure struct {
	method string
	err    rpcError
}

func (e *rpcFailure) Error() string {
	return fmt.Sprintf("%s failed: %s (code %d)", e.method, e.err.Message, e.err.Code)
}

// send writes a request whose response goes to handle, called by the reader.
func (s *session) send(method string, params any, handle func(response)) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.nextID++
	id := s.nextID
	key := strconv.FormatInt(id, 10)
	s.waiters[key] = handle
	s.mu.Unlock()
	line, err := json.Marshal(rpcRequest{ID: id, Method: method, Params: params})
	if err == nil {
		err = s.write(line)
	}
	if err != nil {
		s.mu.Lock()
		delete(s.waiters, key)
		s.mu.Unlock()
	}
	return err
}

// request sends a request and waits for its response.
func (s *session) request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	got := make(chan response, 1)
	if err := s.send(method, params, func(r response) { got <- r }); err != nil {
		return nil, err
	}
	select {
	case r := <-got:
		if r.err != nil {
			return nil, &rpcFailure{method: method, err: *r.err}
		}
		return r.result, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.readerDone:
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.turns.Usable(); err != nil {
			return nil, err
		}
		return nil, errStopped
	}
}

func (s *session) notify(method string) error {
	line, _ := json.Marshal(map[string]string{"method": method})
	return s.write(line)
}

type textInput struct {
	Type         string   `json:"type"`
	Text         string   `json:"text"`
	TextElements []string `json:"text_elements"`
}

type collaborationMode struct {
	Mode     string `json:"mode"`
	Settings struct {
		Model                 string  `json:"model"`
		DeveloperInstructions *string `json:"developer_instructions"`
	} `json:"settings"`
}

type turnStartParams struct {
	ThreadID          string             `json:"threadId"`
	Input             []textInput        `json:"input"`
	CollaborationMode *collaborationMode `json:"collaborationMode,omitempty"`
}

func (s *session) turnParams(text string) turnStartParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := turnStartParams{ThreadID: s.tr.NativeSessionID(), Input: []textInput{{Type: "text", Text: text, TextElements: []string{}}}}
	if s.req.AgentMode == "plan" && s.model != "" {
		p.CollaborationMode = &collaborationMode{Mode: "plan"}
		p.CollaborationMode.Settings.Model = s.model
	}
	return p
}

// Send starts a turn with the prompt, or queues it while a turn runs. It
// returns once Codex accepted the turn, or the prompt is queued.
func (s *session) Send(ctx context.Context, msg adapters.Message) error {
	text, err := cliagent.Prompt(msg)
	if err != nil {
		return err
	}
	if s.req.AgentMode == "plan" {
		text = planPrefix + text
	}
	s.mu.Lock()
	start, err := s.turns.Submit(text)
	s.mu.Unlock()
	if !start {
		return err
	}
	res, err := s.request(ctx, "turn/start", s.turnParams(text))
	if err != nil {
		// A caller that stopped waiting leaves the turn to Codex: it may
		// well have started it, and turn/completed will say so.
		if ctx.Err() == nil {
			s.turnFailed()
		}
		return err
	}
	s.noteTurn(res)
	return nil
}

// noteTurn records the turn id from a turn/start result.
func (s *session) noteTurn(res json.RawMessage) {
	var tr turnResult
	if json.Unmarshal(res, &tr) == nil && tr.Turn.ID != "" {
		s.mu.Lock()
		if s.turns.Busy() && s.turnID == "" {
			s.turnID = tr.Turn.ID
		}
		s.mu.Unlock()
	}
}

// turnFailed: a turn could not start; the next queued prompt may.
func (s *session) turnFailed() {
	s.mu.Lock()
	s.turns.Idle()
	s.turnID = ""
	s.mu.Unlock()
	s.nextTurn()
}

// nextTurn starts the next queued prompt once a turn has ended. It runs on
// the reader, so it does not wait for Codex's response: a refusal is
// reported as an error event when it arrives.
func (s *session) nextTurn() {
	s.mu.Lock()
	if s.turns.Busy() {
		s.mu.Unlock()
		return
	}
	text, ok := s.turns.Next()
	s.mu.Unlock()
	if !ok {
		return
	}
	err := s.send("turn/start", s.turnParams(text), func(r response) {
		if r.err == nil {
			s.noteTurn(r.result)
			return
		}
		s.push([]adapters.Event{rpcErrorEvent("turn/start", r)})
		s.turnFailed()
	})
	if err != nil {
		s.mu.Lock()
		s.turns.Idle()
		s.mu.Unlock()
	}
}

func rpcErrorEvent(method string, r response) adapters.Event {
	details, _ := json.Marshal(map[string]any{"id": json.RawMessage(r.id), "method": method, "error": r.err})
	return adapters.Event{Type: schema.EventError, Synthetic: true, Data: schema.ErrorData{
		Message: r.err.Message, Code: schema.Ptr("jsonrpc.error"), Details: details}}
}

// Interrupt asks Codex to stop the running turn (turn/interrupt) and waits
// for its acknowledgement; the turn then ends with a turn.ended whose
// metadata status is "interrupted". Queued prompts still run afterwards.
// Without a running turn it does nothing.
func (s *session) Interrupt(ctx context.Context) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if !s.turns.Busy() {
		s.mu.Unlock()
		return nil
	}
	turnID, threadID := s.turnID, s.tr.NativeSessionID()
	s.mu.Unlock()
	if turnID == "" {
		return apierr.New(apierr.InvalidRequest, "the turn has not started yet")
	}
	_, err := s.request(ctx, "turn/interrupt", map[string]string{"threadId": threadID, "turnId": turnID})
	return err
}

// Decisions Codex takes for approval requests.
const (
	decisionAccept           = "accept"
	decisionAcceptForSession = "acceptForSession"
	decisionDecline          = "decline"
	declineAnswer            = "The user declined to answer."
)

// answer writes the answer to a pending server request of kind. The
// request leaves the pending set while the answer is written and comes back
// if writing fails, so one request is answered at most once.
func (s *session) answer(id string, kind pendingKind, build func(*pendingRequest) []byte) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	p, ok := s.tr.pendingRequest(id)
	if !ok || p.kind != kind {
		s.mu.Unlock()
		return apierr.New(apierr.InvalidRequest, "no pending Codex request %s of that kind", id)
	}
	s.tr.resolve(id)
	s.mu.Unlock()
	if err := s.write(build(p)); err != nil {
		s.mu.Lock()
		s.tr.restore(id, p)
		s.mu.Unlock()
		return err
	}
	return nil
}

// ReplyPermission answers an approval request: once → accept, always →
// acceptForSession, reject → decline.
func (s *session) ReplyPermission(_ context.Context, req adapters.PermissionRequest, reply adapters.PermissionReply) error {
	decision := map[adapters.PermissionReply]string{adapters.ReplyOnce: decisionAccept,
		adapters.ReplyAlways: decisionAcceptForSession, adapters.ReplyReject: decisionDecline}[reply]
	if decision == "" {
		return apierr.New(apierr.InvalidRequest, "invalid permission reply: %s", reply)
	}
	return s.answer(req.ID, pendingPermission, func(p *pendingRequest) []byte {
		return resultReply(p.rpcID, map[string]string{"decision": decision})
	})
}

type userAnswer struct {
	Answers []string `json:"answers"`
}

// ReplyQuestion answers item/tool/requestUserInput: answers[i] goes to the
// i-th question, by its id.
func (s *session) ReplyQuestion(_ context.Context, req adapters.QuestionRequest, answers [][]string) error {
	return s.answer(req.ID, pendingQuestion, func(p *pendingRequest) []byte {
		return userAnswers(p, func(i int) []string {
			if i < len(answers) && answers[i] != nil {
				return answers[i]
			}
			return []string{}
		})
	})
}

// RejectQuestion answers every question with the words that the user
// declined: Codex turns a JSON-RPC error into empty answers, which would
// not tell the model anything.
func (s *session) RejectQuestion(_ context.Context, req adapters.QuestionRequest) error {
	return s.answer(req.ID, pendingQuestion, func(p *pendingRequest) []byte {
		return userAnswers(p, func(int) []string { return []string{declineAnswer} })
	})
}

func userAnswers(p *pendingRequest, answer func(i int) []string) []byte {
	given := map[string]userAnswer{}
	for i, qid := range p.questionIDs {
		given[qid] = userAnswer{Answers: answer(i)}
	}
	return resultReply(p.rpcID, map[string]any{"answers": given})
}

// Stop closes Codex's stdin and stops its process group (SIGTERM, SIGKILL
// after the grace period), then waits until its output is read and handed
// over. CODEX_HOME stays: the thread can be resumed.
func (s *session) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.turns.Stop()
		s.mu.Unlock()
		_ = s.proc.Stdin.Close()
		s.proc.Stop(ctx)
	})
	select {
	case <-s.done:
		s.cancel()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// read turns stdout into events until the process is gone, then reports
// how it ended.
func (s *session) read() {
	defer close(s.out)
	lr := agentproc.NewLineReader(s.proc.Stdout, s.maxLine)
	for {
		line, truncated, err := lr.Next()
		if err != nil {
			break
		}
		s.mu.Lock()
		var events []adapters.Event
		if truncated {
			events = s.tr.Truncated(line, s.maxLine)
		} else {
			events = s.tr.Line(line)
		}
		fx := s.tr.takeEffects()
		var handlers []func()
		for _, r := range fx.responses {
			if h, ok := s.waiters[r.id]; ok {
				delete(s.waiters, r.id)
				handlers = append(handlers, func() { h(r) })
			}
		}
		if fx.turnID != "" && s.turns.Busy() && s.turnID == "" {
			s.turnID = fx.turnID
		}
		if fx.turnEnded {
			s.turns.Idle()
			s.turnID = ""
		}
		s.mu.Unlock()
		for _, r := range fx.replies {
			_ = s.write(r) // the process is gone if this fails; its end is reported below
		}
		s.push(events)
		for _, h := range handlers {
			h()
		}
		if fx.turnEnded {
			s.nextTurn()
		}
	}
	_ = s.proc.Stdout.Close()
	close(s.readerDone)
	s.finish(s.proc.Exit())
}

// push queues events for the engine, in order.
func (s *session) push(events []adapters.Event) {
	if len(events) > 0 {
		s.out <- events
	}
}

// deliver hands events to the engine until the reader is done, and stops
// offering them once the engine refuses one.
func (s *session) deliver() {
	defer close(s.done)
	for events := range s.out {
		s.sink.Deliver(s.ctx, events)
	}
}

// finish records how the process ended: nothing when Stop asked for it,
// else an error and the end of the session, with its stderr.
func (s *session) finish(exit agentproc.Exit) {
	msg := cliagent.ExitMessage("codex", exit.Code, exit.Signal)
	s.mu.Lock()
	stopped := s.turns.Exited(msg)
	clear(s.waiters)
	expected := stopped || s.sink.Dead()
	s.mu.Unlock()
	if expected {
		return
	}
	s.push(cliagent.ExitReport{Message: msg, Exit: exit, Stderr: s.proc.Stderr().Report(),
		Code: "process_exit", By: schema.ByAgent}.Events())
}
