// Package claude runs Claude Code (the `claude` CLI) as an agentd agent.
//
// Process model: one long-lived process per session,
//
//	claude -p --input-format stream-json --output-format stream-json --verbose
//	       --permission-prompt-tool stdio --include-partial-messages
//	       [--model M] [--permission-mode plan|acceptEdits|bypassPermissions] [--resume ID]
//
// started through agentproc in the session's directory. Every prompt is a
// user line on its stdin; permission and question answers and interrupts are
// control lines on the same stdin, so they work for as long as the process
// lives, after any number of turns. stdout is read line by line and turned
// into universal events by a Translator (translate.go); stderr is never
// parsed, only kept (bounded) for the report of an unexpected exit.
//
// Turns are serialised: a message sent while a turn runs is queued and
// written when the running turn's result line has been read (its user item
// is recorded then, so it follows the previous turn's turn.ended).
package claude

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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

var errStopped = errors.New("claude session stopped")

// Agent is the Claude Code agent.
type Agent struct {
	resolve func(context.Context) (string, error)
	home    string
	env     []string
	grace   time.Duration
	maxLine int

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

// WithHome sets HOME for the agent. By default it is the daemon's HOME, so
// Claude finds the user's own login and settings; an override gives it a
// private one (its sessions live under $HOME/.claude, so --resume needs the
// same HOME).
func WithHome(dir string) Option { return func(a *Agent) { a.home = dir } }

// WithEnv adds or overrides environment variables ("KEY=value") of the
// agent, on top of the ones taken from the daemon's environment.
func WithEnv(kv ...string) Option {
	return func(a *Agent) { a.env = append(a.env, kv...) }
}

// WithGrace sets how long Stop waits after SIGTERM before SIGKILL.
func WithGrace(d time.Duration) Option { return func(a *Agent) { a.grace = d } }

// WithMaxLine sets the longest stdout line read whole (DefaultMaxLine).
func WithMaxLine(n int) Option { return func(a *Agent) { a.maxLine = n } }

// New returns the Claude agent.
func New(opts ...Option) *Agent {
	a := &Agent{resolve: DefaultResolver, grace: 5 * time.Second, maxLine: DefaultMaxLine}
	for _, o := range opts {
		o(a)
	}
	return a
}

func (*Agent) ID() string { return "claude" }

// binary is where Claude's executable may be.
var binary = cliagent.Binary{EnvVar: "AGENTD_CLAUDE_BIN", Command: "claude",
	Cached: "@anthropic-ai/claude-code-" + cliagent.NPMPlatform() + "/claude"}

// DefaultResolver finds the binary: $AGENTD_CLAUDE_BIN, then `claude` on
// PATH, then agentd's npm cache
// (~/.cache/agentd/npm/node_modules/@anthropic-ai/claude-code-<os>-<arch>/claude).
func DefaultResolver(context.Context) (string, error) { return binary.Find() }

// Info reports install state and capabilities. The version comes from
// `claude --version`, run once per binary path.
func (a *Agent) Info(ctx context.Context) adapters.Info {
	info := adapters.Info{
		Runnable: true,
		Capabilities: adapters.Capabilities{
			PlanMode: true, Permissions: true, Questions: true, ToolCalls: true, ToolResults: true,
			TextMessages: true, ErrorEvents: true, Reasoning: true, Status: true, CommandExecution: true,
			FileChanges: true, McpTools: true, StreamingDeltas: true, ItemStarted: true,
		},
		Modes: []adapters.Mode{
			{ID: "build", Name: "Build", Description: "Default build mode"},
			{ID: "plan", Name: "Plan", Description: "Plan mode (prompt-only)"},
		},
		PermissionModes: map[string]string{"default": "default", "plan": "plan", "bypass": "bypass", "acceptEdits": "acceptEdits"},
		Models: []adapters.Model{{ID: "default", Name: "Default (recommended)"}, {ID: "sonnet", Name: "Sonnet"},
			{ID: "opus", Name: "Opus"}, {ID: "haiku", Name: "Haiku"}},
		DefaultModel: "default",
		Resumable:    true,
		NativeTurns:  true, // the adapter opens a turn when it writes the prompt
	}
	info.CredentialsAvailable = a.credentialsAvailable()
	path, err := a.resolve(ctx)
	if err != nil {
		return info
	}
	info.Installed, info.Path = true, path
	info.Version = a.versions.Get(ctx, path, a.environ(false))
	return info
}

// credentialsAvailable reports whether Claude will have a credential.
func (a *Agent) credentialsAvailable() bool {
	_, ok := credentialEnv(a.environ(false))
	return ok
}

// claudeReads are the credential variables Claude Code reads itself.
var claudeReads = []string{"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"}

// credentialEnv finds Claude's credential in env and the files under its
// HOME. It returns the variables that hand Claude one it would not find by
// itself (a CLAUDE_API_KEY, or a key from OpenCode's logins), and whether
// there is any credential at all.
func credentialEnv(env []string) ([]string, bool) {
	for _, k := range []string{"CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"} {
		if agentproc.Getenv(env, k) != "" {
			return nil, true // cloud credentials Claude resolves itself
		}
	}
	if agentproc.Getenv(env, "ANTHROPIC_API_KEY") != "" {
		return nil, true // the first source Discover would pick, found without reading a file
	}
	c, ok := credentials.Best(credentials.Discover(credentials.Options{Env: env, Home: agentproc.Getenv(env, "HOME")}), credentials.Anthropic)
	switch {
	case !ok:
		return nil, false
	case strings.HasPrefix(c.Source, "~/.claude"), slices.Contains(claudeReads, strings.TrimPrefix(c.Source, "env:")):
		return nil, true
	}
	return credentials.Env([]credentials.Credential{c}), true
}

// environ builds the agent's whole environment (cliagent.Env): the shell's
// variables and ANTHROPIC_* and CLAUDE_* from the daemon's, HOME as
// configured, then the configured overrides.
func (a *Agent) environ(bypass bool) []string {
	var set []string
	if a.home != "" {
		set = append(set, "HOME="+a.home)
	}
	if bypass && os.Getenv("IS_SANDBOX") == "" {
		// Claude refuses to skip permissions as root unless told it runs
		// in a sandbox, which is where agentd runs.
		set = append(set, "IS_SANDBOX=1")
	}
	return cliagent.Env{Pass: []string{"IS_SANDBOX"}, Prefixes: []string{"ANTHROPIC_", "CLAUDE_"}, Set: append(set, a.env...)}.Build()
}

// permissionMode maps the session's modes onto --permission-mode. The plan
// agent mode is Claude's plan permission mode.
func permissionMode(req adapters.StartRequest) string {
	if req.AgentMode == "plan" {
		return "plan"
	}
	switch req.PermissionMode {
	case "plan":
		return "plan"
	case "bypass":
		return "bypassPermissions"
	case "acceptEdits":
		return "acceptEdits"
	}
	return ""
}

func args(req adapters.StartRequest, resume string) []string {
	out := []string{"-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
		"--permission-prompt-tool", "stdio", "--include-partial-messages"}
	if req.Model != "" && req.Model != "default" {
		out = append(out, "--model", req.Model)
	}
	if m := permissionMode(req); m != "" {
		out = append(out, "--permission-mode", m)
	}
	if resume != "" {
		out = append(out, "--resume", resume)
	}
	return out
}

// Start runs a new Claude process for the session. It returns once the
// process runs; Claude says nothing until the first prompt.
func (a *Agent) Start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	return a.start(ctx, req, emit, "")
}

// Resume runs a Claude process that continues the native session
// nativeSessionID (`--resume`): Claude finds it under the same HOME and
// working directory it was created in.
func (a *Agent) Resume(ctx context.Context, req adapters.StartRequest, nativeSessionID string, emit adapters.Emitter) (adapters.Session, error) {
	if nativeSessionID == "" {
		return nil, errors.New("claude: resume without a native session id")
	}
	return a.start(ctx, req, emit, nativeSessionID)
}

func (a *Agent) start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter, resume string) (*session, error) {
	path, err := cliagent.Resolve(ctx, a.resolve)
	if err != nil {
		return nil, err
	}
	dir, err := cliagent.Directory("claude", req.Directory)
	if err != nil {
		return nil, err
	}
	native, err := configFor(req)
	if err != nil {
		return nil, err
	}
	mode := permissionMode(req)
	env := append(a.environ(mode == "bypassPermissions"), req.Env...)
	extra, ok := credentialEnv(env)
	if !ok {
		return nil, credentials.Missing("claude", "ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN")
	}
	config, removeConfig, err := native.write()
	if err != nil {
		return nil, err
	}
	proc, err := agentproc.Start(ctx, agentproc.Spec{
		Path: path, Args: append(args(req, resume), config...), Dir: dir, Env: append(env, extra...), Stdin: true,
	}, agentproc.Options{Grace: a.grace})
	if err != nil {
		removeConfig()
		return nil, fmt.Errorf("claude: %w", err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	s := &session{
		proc: proc, sink: cliagent.Sink{Emitter: emit}, ctx: sctx, cancel: cancel, maxLine: a.maxLine, removeConfig: removeConfig,
		done: make(chan struct{}), tr: NewTranslator(), waiters: map[string]chan error{},
		turns: cliagent.Turns[string]{Stopped: errStopped},
	}
	s.tr.sessionID = resume
	go s.read()
	go cliagent.UnblockReader(proc, s.done)
	return s, nil
}

// session is one running Claude process.
type session struct {
	proc    *agentproc.Process
	sink    cliagent.Sink   // hands events to the engine
	ctx     context.Context // the session's life: cancelled once Stop is done
	cancel  context.CancelFunc
	maxLine int
	done    chan struct{} // closed when the reader has reported the process's end
	// removeConfig deletes the session's configuration files once the
	// process is gone.
	removeConfig func()

	writeMu sync.Mutex // one line at a time on stdin

	mu         sync.Mutex
	tr         *Translator
	turns      cliagent.Turns[string] // a turn runs from its prompt's write to its result line
	waiters    map[string]chan error  // interrupts waiting for Claude's answer
	interruptN int
	stopOnce   sync.Once
}

var _ adapters.Session = (*session)(nil)

// Pid is the process id of the Claude process, which leads its own group.
func (s *session) Pid() int { return s.proc.Pid() }

func (s *session) NativeSessionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.NativeSessionID()
}

// Send writes the prompt, or queues it while a turn runs (see the package
// documentation). It returns once the prompt is written or queued.
func (s *session) Send(_ context.Context, msg adapters.Message) error {
	text, err := cliagent.Prompt(msg)
	if err != nil {
		return err
	}
	s.mu.Lock()
	start, err := s.turns.Submit(text)
	s.mu.Unlock()
	if !start {
		return err
	}
	return s.startTurn(text)
}

// startTurn records the user item, then writes the prompt, so the item
// always comes before anything Claude says about it.
func (s *session) startTurn(text string) error {
	s.mu.Lock()
	events := s.tr.UserMessage(text)
	native := s.tr.NativeSessionID()
	s.mu.Unlock()
	if err := s.sink.Emit(s.ctx, events...); err != nil {
		s.turnDone()
		return err
	}
	if err := s.write(userLine(text, native)); err != nil {
		s.turnDone()
		return err
	}
	return nil
}

func (s *session) turnDone() {
	s.mu.Lock()
	s.turns.Idle()
	s.mu.Unlock()
}

type userMessage struct {
	Type            string  `json:"type"`
	Message         userMsg `json:"message"`
	ParentToolUseID *string `json:"parent_tool_use_id"`
	SessionID       string  `json:"session_id"`
}

type userMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func userLine(text, nativeSessionID string) []byte {
	b, _ := json.Marshal(userMessage{Type: "user", Message: userMsg{Role: "user", Content: text}, SessionID: nativeSessionID})
	return b
}

// write puts one line on Claude's stdin.
func (s *session) write(line []byte) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if _, err := s.proc.Stdin.Write(append(line, '\n')); err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.turns.Usable(); err != nil {
			return err
		}
		return fmt.Errorf("claude: write to stdin: %w", err)
	}
	return nil
}

// Interrupt asks Claude to stop the running turn (control_request
// interrupt) and waits for its acknowledgement; the turn then ends with a
// turn.ended whose metadata status is "interrupted". Queued prompts still
// run afterwards. Without a running turn it does nothing.
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
	s.interruptN++
	id := "agentd_interrupt_" + strconv.Itoa(s.interruptN)
	ack := make(chan error, 1)
	s.waiters[id] = ack
	s.tr.noteInterrupt()
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.waiters, id)
		s.mu.Unlock()
	}
	line, _ := json.Marshal(map[string]any{"type": "control_request", "request_id": id,
		"request": map[string]string{"subtype": "interrupt"}})
	if err := s.write(line); err != nil {
		forget()
		return err
	}
	select {
	case err := <-ack:
		return err
	case <-ctx.Done():
		forget()
		return ctx.Err()
	case <-s.done:
		return errStopped
	}
}

// Answers written to Claude.
const (
	denyPermission = "The user denied permission to use this tool."
	declineAnswer  = "The user declined to answer."
	rejectPlan     = "The user rejected the plan."
)

type permissionRule struct {
	ToolName string `json:"toolName"`
}

type permissionUpdate struct {
	Type        string           `json:"type"`
	Rules       []permissionRule `json:"rules"`
	Behavior    string           `json:"behavior"`
	Destination string           `json:"destination"`
}

type decision struct {
	Behavior           string             `json:"behavior"`
	UpdatedInput       json.RawMessage    `json:"updatedInput,omitempty"`
	UpdatedPermissions []permissionUpdate `json:"updatedPermissions,omitempty"`
	Message            string             `json:"message,omitempty"`
}

func allow(input json.RawMessage) decision {
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage("{}")
	}
	return decision{Behavior: "allow", UpdatedInput: input}
}

func deny(msg string) decision { return decision{Behavior: "deny", Message: msg} }

func controlSuccess(id string, d decision) []byte {
	b, _ := json.Marshal(map[string]any{"type": "control_response", "response": map[string]any{
		"subtype": "success", "request_id": id, "response": d}})
	return b
}

// answer writes the decision for a pending request of one of kinds. The
// request leaves the pending set while the answer is written and comes back
// if writing fails, so one request is answered at most once.
func (s *session) answer(id string, kinds []pendingKind, decide func(*pendingRequest) decision) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	p, ok := s.tr.pendingRequest(id)
	if !ok || !slices.Contains(kinds, p.kind) {
		s.mu.Unlock()
		return apierr.New(apierr.InvalidRequest, "no pending Claude request %s of that kind", id)
	}
	s.tr.resolve(id)
	s.mu.Unlock()
	if err := s.write(controlSuccess(id, decide(p))); err != nil {
		s.mu.Lock()
		s.tr.restore(id, p)
		s.mu.Unlock()
		return err
	}
	return nil
}

// ReplyPermission answers can_use_tool: once → allow with the tool's input;
// always → the same plus a session rule allowing the tool (the engine
// remembers "always" per tool name too); reject → deny.
func (s *session) ReplyPermission(_ context.Context, req adapters.PermissionRequest, reply adapters.PermissionReply) error {
	switch reply {
	case adapters.ReplyOnce, adapters.ReplyAlways, adapters.ReplyReject:
	default:
		return apierr.New(apierr.InvalidRequest, "invalid permission reply: %s", reply)
	}
	return s.answer(req.ID, []pendingKind{pendingPermission}, func(p *pendingRequest) decision {
		switch reply {
		case adapters.ReplyReject:
			return deny(denyPermission)
		case adapters.ReplyAlways:
			d := allow(p.input)
			d.UpdatedPermissions = []permissionUpdate{{Type: "addRules", Rules: []permissionRule{{ToolName: p.toolName}},
				Behavior: "allow", Destination: "session"}}
			return d
		}
		return allow(p.input)
	})
}

// ReplyQuestion answers AskUserQuestion: allow, with the tool's input plus
// answers {<question text>: <labels joined by ", ">}, answers[i] going to
// the i-th question. For ExitPlanMode the first answer "reject" denies the
// plan; anything else approves it.
func (s *session) ReplyQuestion(_ context.Context, req adapters.QuestionRequest, answers [][]string) error {
	return s.answer(req.ID, []pendingKind{pendingQuestion, pendingPlan}, func(p *pendingRequest) decision {
		if p.kind == pendingPlan {
			if len(answers) > 0 && len(answers[0]) > 0 && strings.EqualFold(strings.TrimSpace(answers[0][0]), "reject") {
				return deny(rejectPlan)
			}
			return allow(p.input)
		}
		return allow(withAnswers(p, answers))
	})
}

func withAnswers(p *pendingRequest, answers [][]string) json.RawMessage {
	input := map[string]json.RawMessage{}
	_ = json.Unmarshal(p.input, &input)
	given := map[string]string{}
	for i, q := range p.questions {
		if i < len(answers) && len(answers[i]) > 0 {
			given[q] = strings.Join(answers[i], ", ")
		}
	}
	input["answers"], _ = json.Marshal(given)
	b, _ := json.Marshal(input)
	return b
}

// RejectQuestion denies the question tool, which tells the model the user
// declined (for ExitPlanMode: rejected the plan).
func (s *session) RejectQuestion(_ context.Context, req adapters.QuestionRequest) error {
	return s.answer(req.ID, []pendingKind{pendingQuestion, pendingPlan}, func(p *pendingRequest) decision {
		if p.kind == pendingPlan {
			return deny(rejectPlan)
		}
		return deny(declineAnswer)
	})
}

// Stop closes Claude's stdin and stops its process group (SIGTERM, SIGKILL
// after the grace period), then waits until its output is read to the end.
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
	defer close(s.done)
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
		for _, ack := range fx.acks {
			if ch, ok := s.waiters[ack.id]; ok {
				delete(s.waiters, ack.id)
				ch <- ack.err
			}
		}
		s.mu.Unlock()
		for _, r := range fx.replies {
			_ = s.write(r) // the process is gone if this fails; its end is reported below
		}
		s.deliver(events)
		s.reportCalls(fx.calls)
		if fx.turnEnded {
			s.nextTurn()
		}
	}
	_ = s.proc.Stdout.Close()
	exit := s.proc.Exit()
	s.removeConfig()
	s.finish(exit)
}

// reportCalls tells an engine that wants them each model call's usage.
func (s *session) reportCalls(calls []schema.Usage) {
	r, ok := s.sink.Emitter.(adapters.UsageReporter)
	if !ok {
		return
	}
	for _, u := range calls {
		r.ReportUsage(s.ctx, u)
	}
}

// deliver hands events to the engine, until it refuses them.
func (s *session) deliver(events []adapters.Event) { s.sink.Deliver(s.ctx, events) }

// nextTurn writes the next queued prompt once a turn has ended.
func (s *session) nextTurn() {
	s.mu.Lock()
	text, ok := s.turns.Next()
	s.mu.Unlock()
	if !ok {
		return
	}
	_ = s.startTurn(text) // a failure means the process is gone: reported when it ends
}

// finish records how the process ended: nothing when Stop asked for it,
// else an error and the end of the session, with its stderr.
func (s *session) finish(exit agentproc.Exit) {
	msg := cliagent.ExitMessage("claude", exit.Code, exit.Signal)
	s.mu.Lock()
	stopped := s.turns.Exited(msg)
	for id, ch := range s.waiters {
		delete(s.waiters, id)
		ch <- errStopped
	}
	expected := stopped || s.sink.Dead()
	s.mu.Unlock()
	if expected {
		return
	}
	s.deliver(cliagent.ExitReport{Message: msg, Exit: exit, Stderr: s.proc.Stderr().Report(),
		Code: "process_exit", By: schema.ByAgent}.Events())
}
