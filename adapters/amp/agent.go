// Package amp runs Amp (the `amp` CLI) as an agentd agent.
//
// Amp's agent loop runs on its vendor's service, so no turn could be run
// offline: this adapter follows the CLI's documented flags (its --help) and
// is proven against synthesized recordings of the documented stream
// (testdata/README.md), a fake executable, and the real binary failing to
// reach its service (which proves it accepts the command lines).
//
// Process model: one long-lived process per session, started on the first
// message,
//
//	amp -x --stream-json --stream-json-thinking --stream-json-input
//	    --no-archive-after-execute [--dangerously-allow-all]
//
// in the session's directory. Every prompt is a JSON user line on its stdin
// (--stream-json-input). Its stdout is "Claude Code-compatible stream JSON",
// so it is translated by the Claude translator (claude.Dialect "amp",
// without the control channel Amp does not document). stderr is only kept,
// bounded, for the report of an unexpected exit.
//
// Execute mode may end the process after a turn. An exit with code 0 while
// no turn runs is therefore not an error: the next message starts
//
//	amp threads continue <thread id> -x --stream-json … --stream-json-input
//
// with the thread id the stream reported as session_id; a prompt written to
// a process that then exited 0 without printing anything is written again
// to its successor, once. Any other exit not asked for by Stop or
// Interrupt ends the session with an error.
//
// Amp documents no interrupt on stdin: Interrupt stops the process group,
// ends the turn as interrupted and continues the thread with the next
// message.
//
// Amp has no stdio permission channel: bypass maps to
// --dangerously-allow-all, anything else leaves Amp's own rules
// (amp.permissions) in force. Unauthenticated, Amp waits for a pasted login
// code, so a session is never started without AMP_API_KEY.
package amp

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/adapters/internal/cliagent"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/credentials"
	"github.com/agentd-dev/agentd/schema"
)

// maxLine is the longest stdout line read whole; a longer one is reported
// as agent.unparsed and skipped.
const maxLine = 64 << 20

// keyVar is the variable holding Amp's access token.
const keyVar = "AMP_API_KEY"

var errStopped = errors.New("amp session stopped")

// Agent is the Amp agent.
type Agent struct {
	resolve func(context.Context) (string, error)
	env     []string
	grace   time.Duration

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

// WithEnv adds or overrides environment variables ("KEY=value") of the
// agent, on top of the ones taken from the daemon's environment.
func WithEnv(kv ...string) Option {
	return func(a *Agent) { a.env = append(a.env, kv...) }
}

// WithGrace sets how long Stop waits after SIGTERM before SIGKILL.
func WithGrace(d time.Duration) Option { return func(a *Agent) { a.grace = d } }

// New returns the Amp agent.
func New(opts ...Option) *Agent {
	a := &Agent{resolve: DefaultResolver, grace: 5 * time.Second}
	for _, o := range opts {
		o(a)
	}
	return a
}

func (*Agent) ID() string { return "amp" }

// binary is where Amp's executable may be.
var binary = cliagent.Binary{EnvVar: "AGENTD_AMP_BIN", Command: "amp", Cached: "@ampcode/cli-" + cliagent.NPMPlatform() + "/amp"}

// DefaultResolver finds the binary: $AGENTD_AMP_BIN, then `amp` on PATH,
// then agentd's npm cache
// (~/.cache/agentd/npm/node_modules/@ampcode/cli-<os>-<arch>/amp).
func DefaultResolver(context.Context) (string, error) { return binary.Find() }

// Info reports install state and capabilities. Reasoning and item starts
// come from the shared translator (thinking blocks are asked for with
// --stream-json-thinking); no permission or question channel exists in
// execute mode, and Amp documents no partial-message stream.
func (a *Agent) Info(ctx context.Context) adapters.Info {
	info := adapters.Info{
		Runnable: true,
		Capabilities: adapters.Capabilities{
			ToolCalls: true, ToolResults: true, TextMessages: true, ErrorEvents: true, Reasoning: true,
			McpTools: true, ItemStarted: true,
		},
		Modes:           []adapters.Mode{{ID: "build", Name: "Build", Description: "Default build mode"}},
		PermissionModes: map[string]string{"default": "default", "bypass": "bypass", "acceptEdits": "default"},
		Models:          []adapters.Model{{ID: "amp-default", Name: "Amp Default"}},
		DefaultModel:    "amp-default",
		Resumable:       true,
		NativeTurns:     true, // the adapter opens a turn when it writes the prompt
	}
	info.CredentialsAvailable = agentproc.Getenv(a.environ(), keyVar) != ""
	path, err := a.resolve(ctx)
	if err != nil {
		return info
	}
	info.Installed, info.Path = true, path
	info.Version = a.versions.Get(ctx, path, a.environ())
	return info
}

// environ builds the agent's whole environment (cliagent.Env): the shell's
// variables and AMP_* from the daemon's, then the configured overrides.
func (a *Agent) environ() []string {
	return cliagent.Env{Prefixes: []string{"AMP_"}, Set: a.env}.Build()
}

// args is the command line of one process: a new thread, or the
// continuation of thread.
func args(bypass bool, thread string) []string {
	var out []string
	if thread != "" {
		out = []string{"threads", "continue", thread}
	}
	out = append(out, "-x", "--stream-json", "--stream-json-thinking", "--stream-json-input")
	if thread == "" {
		// A thread archived after execute would drop out of the user's
		// list while agentd may still continue it.
		out = append(out, "--no-archive-after-execute")
	}
	if bypass {
		out = append(out, "--dangerously-allow-all")
	}
	return out
}

// Start prepares a session; Amp itself starts with the first message.
func (a *Agent) Start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	return a.start(ctx, req, emit, "")
}

// Resume prepares a session that continues the Amp thread
// nativeSessionID (`amp threads continue`).
func (a *Agent) Resume(ctx context.Context, req adapters.StartRequest, nativeSessionID string, emit adapters.Emitter) (adapters.Session, error) {
	if nativeSessionID == "" {
		return nil, errors.New("amp: resume without a thread id")
	}
	return a.start(ctx, req, emit, nativeSessionID)
}

func (a *Agent) start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter, thread string) (*session, error) {
	path, err := cliagent.Resolve(ctx, a.resolve)
	if err != nil {
		return nil, err
	}
	env := append(a.environ(), req.Env...)
	if agentproc.Getenv(env, keyVar) == "" {
		// Without a token Amp waits for a pasted login code.
		return nil, credentials.Missing("amp", keyVar)
	}
	dir, err := cliagent.Directory("amp", req.Directory)
	if err != nil {
		return nil, err
	}
	config, err := configArgs(req)
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.Background())
	return &session{
		spec: agentproc.Spec{Path: path, Dir: dir, Env: env, Stdin: true}, config: config,
		bypass: req.PermissionMode == "bypass", grace: a.grace, sink: cliagent.Sink{Emitter: emit}, ctx: sctx, cancel: cancel,
		tr: newTranslator(thread), turns: cliagent.Turns[string]{Stopped: errStopped},
	}, nil
}

func newTranslator(thread string) *claude.Translator {
	return claude.NewTranslator(claude.Dialect("Amp", "amp"), claude.WithoutControl(), claude.WithSessionID(thread))
}

// session is one Amp thread, run by one process at a time.
type session struct {
	spec   agentproc.Spec // without Args, which depend on the thread
	bypass bool
	config []string // configArgs, on every run
	grace  time.Duration
	sink   cliagent.Sink   // hands events to the engine
	ctx    context.Context // the session's life: cancelled once Stop is done
	cancel context.CancelFunc

	writeMu sync.Mutex // one line at a time on stdin

	mu       sync.Mutex
	tr       *claude.Translator
	run      *run                   // the running process, nil when none
	turns    cliagent.Turns[string] // a turn runs from its prompt's write to its result line
	prompt   string                 // the running turn's prompt, for writing it again
	retried  bool                   // the running turn's prompt was already written again
	stopped  *run                   // the process Interrupt stopped: its exit ends the turn
	stopOnce sync.Once
}

// run is one amp process.
type run struct {
	proc  *agentproc.Process
	done  chan struct{} // closed when its output is read and its end handled
	heard bool          // it printed a line since the running turn's prompt
}

var (
	_ adapters.Session     = (*session)(nil)
	_ adapters.Interrupter = (*session)(nil)
)

func (s *session) NativeSessionID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tr.NativeSessionID()
}

// Send writes the prompt, or queues it while a turn runs. It returns once
// the prompt is written or queued.
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

// startTurn makes sure a process runs, records the user item, then writes
// the prompt, so the item comes before anything Amp says about it.
func (s *session) startTurn(text string) error {
	s.mu.Lock()
	r, err := s.ensureRun()
	if err != nil {
		s.turns.Idle()
		s.mu.Unlock()
		return err
	}
	events := s.tr.UserMessage(text)
	s.prompt, s.retried, r.heard = text, false, false
	s.mu.Unlock()
	if err := s.sink.Emit(s.ctx, events...); err != nil {
		s.mu.Lock()
		s.turns.Idle()
		s.mu.Unlock()
		return err
	}
	return s.write(r, userLine(text))
}

// ensureRun returns the running process, starting one (continuing the
// thread once it is known) if there is none. The caller holds s.mu.
func (s *session) ensureRun() (*run, error) {
	if err := s.turns.Usable(); err != nil {
		return nil, err
	}
	if s.run != nil {
		return s.run, nil
	}
	spec := s.spec
	spec.Args = append(args(s.bypass, s.tr.NativeSessionID()), s.config...)
	proc, err := agentproc.Start(s.ctx, spec, agentproc.Options{Grace: s.grace})
	if err != nil {
		return nil, apierr.New(apierr.AgentProcessExited, "amp: %v", err)
	}
	r := &run{proc: proc, done: make(chan struct{})}
	s.run = r
	go s.read(r)
	go cliagent.UnblockReader(proc, r.done)
	return r, nil
}

type userMessage struct {
	Type    string  `json:"type"`
	Message userMsg `json:"message"`
}

type userMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// userLine is a prompt in the Claude stream-json input shape, which Amp's
// --stream-json-input reads.
func userLine(text string) []byte {
	b, _ := json.Marshal(userMessage{Type: "user", Message: userMsg{Role: "user", Content: text}})
	return b
}

// write puts one line on the process's stdin. A failure other than a stop
// is not returned: the process is gone, and its reader reports that (or
// writes the prompt again to a successor).
func (s *session) write(r *run, line []byte) error {
	s.writeMu.Lock()
	_, err := r.proc.Stdin.Write(append(line, '\n'))
	s.writeMu.Unlock()
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.turns.Usable()
}

// ReplyPermission: Amp prints no permission requests in execute mode, so
// there is never one to answer.
func (s *session) ReplyPermission(context.Context, adapters.PermissionRequest, adapters.PermissionReply) error {
	return apierr.New(apierr.InvalidRequest, "amp has no pending permission requests")
}

// ReplyQuestion: Amp asks no questions over its stream.
func (s *session) ReplyQuestion(context.Context, adapters.QuestionRequest, [][]string) error {
	return apierr.New(apierr.InvalidRequest, "amp has no pending questions")
}

// RejectQuestion: Amp asks no questions over its stream.
func (s *session) RejectQuestion(context.Context, adapters.QuestionRequest) error {
	return apierr.New(apierr.InvalidRequest, "amp has no pending questions")
}

// Interrupt stops the running turn. Amp documents no interrupt on its
// stdin, so its process group is stopped; the turn then ends with a
// turn.ended whose metadata status is "interrupted", and the next prompt
// (a queued one right away) continues the thread in a new process. Without
// a running turn it does nothing.
func (s *session) Interrupt(ctx context.Context) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	r := s.run
	if !s.turns.Busy() || r == nil {
		s.mu.Unlock()
		return nil
	}
	s.stopped = r
	s.mu.Unlock()
	r.proc.Stop(ctx)
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop closes Amp's stdin and stops its process group (SIGTERM, SIGKILL
// after the grace period), then waits until its output is read to the end.
func (s *session) Stop(ctx context.Context) error {
	var r *run
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.turns.Stop()
		r = s.run
		s.mu.Unlock()
		if r != nil {
			_ = r.proc.Stdin.Close()
			r.proc.Stop(ctx)
		}
	})
	if r == nil {
		s.mu.Lock()
		r = s.run // a second Stop waits for the same process
		s.mu.Unlock()
	}
	if r != nil {
		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.cancel()
	return nil
}

// read turns one process's stdout into events until it is gone, then
// handles its end.
func (s *session) read(r *run) {
	defer close(r.done)
	lr := agentproc.NewLineReader(r.proc.Stdout, maxLine)
	for {
		line, truncated, err := lr.Next()
		if err != nil {
			break
		}
		s.mu.Lock()
		var events []adapters.Event
		if truncated {
			events = s.tr.Truncated(line, maxLine)
		} else {
			events = s.tr.Line(line)
		}
		r.heard = true
		ended := s.tr.TurnEnded()
		s.mu.Unlock()
		s.deliver(events)
		if ended {
			s.nextTurn()
		}
	}
	_ = r.proc.Stdout.Close()
	s.exited(r, r.proc.Exit())
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
	_ = s.startTurn(text) // a failure is reported by the process's end
}

// exited handles the end of a process: nothing when Stop asked for it or no
// turn ran (the next message continues the thread), the end of the turn
// when Interrupt asked for it, the prompt written again when the process
// left without a word about it, else an error and the end of the session,
// with its stderr.
func (s *session) exited(r *run, exit agentproc.Exit) {
	s.mu.Lock()
	if s.run == r {
		s.run = nil
	}
	interrupted := s.stopped == r
	if interrupted {
		s.stopped = nil
	}
	if s.turns.Stopping() || s.sink.Dead() || ((exit.Success() || interrupted) && !s.turns.Busy()) {
		s.mu.Unlock()
		return
	}
	if interrupted {
		events := s.tr.Interrupted()
		s.mu.Unlock()
		s.deliver(events)
		s.nextTurn()
		return
	}
	if exit.Success() && !r.heard && !s.retried && s.tr.NativeSessionID() != "" {
		s.retried = true
		next, err := s.ensureRun()
		prompt := s.prompt
		s.mu.Unlock()
		if err == nil {
			_ = s.write(next, userLine(prompt)) // its failure is reported by that process's end
			return
		}
		s.mu.Lock()
	}
	msg := cliagent.ExitMessage("amp", exit.Code, exit.Signal)
	if exit.Success() {
		msg = "amp exited with exit code 0 before its turn ended"
	}
	s.turns.Exited(msg) // not asked for by Stop: the session has ended
	s.mu.Unlock()
	s.deliver(cliagent.ExitReport{Message: msg, Exit: exit, Stderr: r.proc.Stderr().Report(),
		Code: "process_exit", By: schema.ByAgent}.Events())
}
