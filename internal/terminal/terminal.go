// Package terminal runs interactive programs on pseudo-terminals for API
// clients. Each terminal's output goes into a ring of recent bytes with
// absolute offsets; every reader keeps its own offset and waits for more,
// so any number of readers follow one terminal, a slow one never holds up
// the others or the program, and a reconnecting one replays the ring to
// repaint its screen. Closing a terminal takes its whole session down
// (its jobs included) before the terminal itself is closed.
package terminal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/childset"
)

// Defaults of Options.
const (
	DefaultRingBytes    = 256 << 10 // replay buffer per terminal
	DefaultMaxTerminals = 64
	DefaultIdleTimeout  = time.Hour
	DefaultRetain       = 10 * time.Minute
	DefaultGrace        = 2 * time.Second
	DefaultCols         = 80
	DefaultRows         = 24
	// MaxInputBytes bounds one input write.
	MaxInputBytes = 1 << 20
)

// Options configure the service; zero values take the defaults above.
type Options struct {
	RingBytes    int
	MaxTerminals int
	// IdleTimeout closes a terminal that has had no reader attached and no
	// input for that long: a client that died leaves nothing running.
	IdleTimeout time.Duration
	// Retain is how long a terminal whose program exited stays listed.
	Retain time.Duration
	// Grace is how long a close waits after SIGHUP/SIGTERM before SIGKILL.
	Grace    time.Duration
	PipeWait time.Duration
	// Environ is the base environment; by default the daemon's without
	// AGENTD_* variables, with TERM=xterm-256color unless set.
	Environ func() []string
	Logger  *slog.Logger
	Now     func() time.Time
}

func (o *Options) defaults() {
	if o.RingBytes <= 0 {
		o.RingBytes = DefaultRingBytes
	}
	if o.MaxTerminals <= 0 {
		o.MaxTerminals = DefaultMaxTerminals
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.PipeWait <= 0 {
		o.PipeWait = 2 * time.Second
	}
	if o.Environ == nil {
		o.Environ = func() []string {
			return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AGENTD_") })
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Status is a terminal's state.
type Status string

const (
	Running Status = "running"
	Exited  Status = "exited"
)

// Statuses lists the values.
var Statuses = []Status{Running, Exited}

// Info describes a terminal.
type Info struct {
	ID         string
	Argv       []string
	Cwd        string
	Pid        int
	Cols, Rows uint16
	Status     Status
	ExitCode   *int
	Signal     string
	Readers    int   // clients following the output now
	Bytes      int64 // output so far (the offset after the last byte)
	CreatedAt  time.Time
	EndedAt    *time.Time
}

// CreateRequest says what to run.
type CreateRequest struct {
	// Argv defaults to the daemon user's $SHELL, or /bin/sh.
	Argv []string
	// Cwd is the absolute working directory; the caller resolves it.
	Cwd        string
	Env        map[string]string
	Cols, Rows uint16
}

// NotFoundError is returned for an unknown terminal id.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return "terminal not found: " + e.ID }

// ConflictError is an operation the terminal's state forbids.
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

var (
	// ErrTooMany is returned when MaxTerminals terminals are open.
	ErrTooMany = errors.New("too many open terminals")
	// ErrShuttingDown is returned by Create once Shutdown began.
	ErrShuttingDown = childset.ErrShuttingDown
)

// Service owns the terminals.
type Service struct {
	opts  Options
	terms *childset.Set[*Terminal]
}

// New returns an empty service.
func New(opts Options) *Service {
	opts.defaults()
	return &Service{opts: opts, terms: childset.New[*Terminal]("term_", opts.MaxTerminals, ErrTooMany)}
}

// Terminal is one PTY session.
type Terminal struct {
	svc  *Service
	proc *agentproc.Process
	id   string

	mu      sync.Mutex
	info    Info
	ring    []byte // the newest output, ring[0] at offset start
	start   int64
	end     int64
	changed chan struct{}
	done    bool // no more output: the program ended and the reader drained
	readers int
	idle    *time.Timer
	ended   chan struct{}
	endedAt time.Time

	inputMu  sync.Mutex
	stopOnce sync.Once
	stopped  chan struct{}
}

// DefaultShell is the daemon user's $SHELL, or /bin/sh.
func DefaultShell() string {
	if sh := os.Getenv("SHELL"); sh != "" {
		return sh
	}
	return "/bin/sh"
}

// Create starts a program on a new terminal.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Info, error) {
	argv := req.Argv
	if len(argv) == 0 {
		argv = []string{DefaultShell()}
	}
	if argv[0] == "" {
		return Info{}, apierr.New(apierr.InvalidRequest, "argv must name a command")
	}
	size := agentproc.Winsize{Cols: req.Cols, Rows: req.Rows}
	if size.Cols == 0 {
		size.Cols = DefaultCols
	}
	if size.Rows == 0 {
		size.Rows = DefaultRows
	}
	env := s.opts.Environ()
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "TERM=") }) {
		env = append(env, "TERM=xterm-256color")
	}
	env, err := agentproc.Override(env, req.Env)
	if err != nil {
		return Info{}, apierr.New(apierr.InvalidRequest, "%v", err)
	}
	s.prune()
	id, err := s.terms.Reserve()
	if err != nil {
		return Info{}, err
	}
	proc, err := agentproc.StartPTY(context.WithoutCancel(ctx), agentproc.Spec{Path: argv[0], Args: argv[1:], Dir: req.Cwd, Env: env},
		size, agentproc.Options{Grace: s.opts.Grace, PipeWait: s.opts.PipeWait})
	if err != nil {
		s.terms.Abandon()
		return Info{}, apierr.New(apierr.InvalidRequest, "cannot start %s: %v", argv[0], err)
	}
	t := &Terminal{svc: s, proc: proc, id: id, changed: make(chan struct{}), ended: make(chan struct{}), stopped: make(chan struct{}),
		info: Info{ID: id, Argv: slices.Clone(argv), Cwd: req.Cwd, Pid: proc.Pid(), Cols: size.Cols, Rows: size.Rows, Status: Running, CreatedAt: s.opts.Now()}}
	t.idle = time.AfterFunc(s.opts.IdleTimeout, t.idleClose)
	go t.run()
	if err := s.terms.Add(id, t); err != nil {
		return Info{}, err
	}
	return t.Info(), nil
}

// run copies the terminal's output into the ring until the program and
// everything else on the terminal is gone, then records the exit. Only
// after the session was killed is the master closed.
func (t *Terminal) run() {
	defer t.svc.terms.Done()
	// Whatever outside the session still holds the terminal after
	// PipeWait is cut off.
	t.proc.DrainStdout(t.append, t.svc.opts.PipeWait)
	exit := t.proc.Exit()
	t.mu.Lock()
	now := t.svc.opts.Now()
	t.info.Status = Exited
	t.info.EndedAt = &now
	t.endedAt = now
	if exit.Signal != "" {
		t.info.Signal = agentproc.SignalName(exit.Sig)
	} else if exit.Err == nil {
		code := exit.Code
		t.info.ExitCode = &code
	}
	t.done = true
	t.notify()
	t.idle.Stop()
	t.mu.Unlock()
	close(t.ended)
}

func (t *Terminal) append(b []byte) {
	if len(b) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.end += int64(len(b))
	capacity := t.svc.opts.RingBytes
	if len(b) >= capacity {
		t.ring = append(t.ring[:0], b[len(b)-capacity:]...)
	} else {
		if over := len(t.ring) + len(b) - capacity; over > 0 {
			t.ring = append(t.ring[:0], t.ring[over:]...)
		}
		t.ring = append(t.ring, b...)
	}
	t.start = t.end - int64(len(t.ring))
	t.notify()
}

func (t *Terminal) notify() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// Running reports whether the program has not ended yet.
func (t *Terminal) Running() bool {
	select {
	case <-t.ended:
		return false
	default:
		return true
	}
}

// ID is the terminal's id.
func (t *Terminal) ID() string { return t.id }

// Ended is closed once the program exited and its output was drained.
func (t *Terminal) Ended() <-chan struct{} { return t.ended }

// Info describes the terminal now.
func (t *Terminal) Info() Info {
	t.mu.Lock()
	defer t.mu.Unlock()
	info := t.info
	info.Readers = t.readers
	info.Bytes = t.end
	return info
}

// Read returns output from offset on (at most max bytes) and where it
// starts: later than offset when the ring no longer holds those bytes
// (gap), never earlier. An offset past the end reads from the end.
func (t *Terminal) Read(offset int64, max int) (data []byte, from int64, gap bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if offset < t.start {
		offset, gap = t.start, offset >= 0
	}
	if offset > t.end {
		offset = t.end
	}
	i := int(offset - t.start)
	n := min(len(t.ring)-i, max)
	return append([]byte(nil), t.ring[i:i+n]...), offset, gap
}

// Cursor is the output's state for a follower: the offset after the last
// byte, whether the output is complete, and a channel closed at the next
// change.
func (t *Terminal) Cursor() (end int64, complete bool, changed <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.end, t.done, t.changed
}

// Start is the offset of the oldest byte the ring holds.
func (t *Terminal) Start() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.start
}

// Attach counts a reader in (holding off the idle timeout); the returned
// func counts it out.
func (t *Terminal) Attach() (detach func()) {
	t.mu.Lock()
	t.readers++
	t.idle.Stop()
	t.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.readers--; t.readers == 0 && !t.done {
				t.idle.Reset(t.svc.opts.IdleTimeout)
			}
		})
	}
}

func (t *Terminal) idleClose() {
	t.mu.Lock()
	attached := t.readers > 0
	t.mu.Unlock()
	if attached {
		return
	}
	t.svc.opts.Logger.Info("closing idle terminal", "terminal", t.id)
	t.Stop(context.Background())
}

// Write sends input (keystrokes) to the terminal. A write that the
// program does not read ends with ctx.
func (t *Terminal) Write(ctx context.Context, b []byte) (int, error) {
	if !t.Running() {
		return 0, &ConflictError{Msg: "terminal has exited: " + t.id}
	}
	if len(b) > MaxInputBytes {
		return 0, apierr.New(apierr.InvalidRequest, "input of %d bytes is over the %d-byte limit", len(b), MaxInputBytes)
	}
	t.inputMu.Lock()
	defer t.inputMu.Unlock()
	t.mu.Lock()
	if t.readers == 0 && !t.done {
		t.idle.Reset(t.svc.opts.IdleTimeout)
	}
	t.mu.Unlock()
	w := t.proc.Stdin
	if d, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetWriteDeadline(time.Now()) })
		defer func() {
			if !stop() {
				_ = d.SetWriteDeadline(time.Time{})
			}
		}()
	}
	n, err := w.Write(b)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil {
			return n, ctx.Err()
		}
		if !t.Running() || errors.Is(err, os.ErrClosed) {
			return n, &ConflictError{Msg: "terminal has exited: " + t.id}
		}
		return n, fmt.Errorf("terminal input: %w", err)
	}
	return n, nil
}

// Resize changes the terminal's size; its program gets SIGWINCH.
func (t *Terminal) Resize(cols, rows uint16) error {
	if cols == 0 || rows == 0 {
		return apierr.New(apierr.InvalidRequest, "cols and rows must be positive")
	}
	if !t.Running() {
		return &ConflictError{Msg: "terminal has exited: " + t.id}
	}
	if err := t.proc.Resize(agentproc.Winsize{Cols: cols, Rows: rows}); err != nil {
		return fmt.Errorf("resize: %w", err)
	}
	t.mu.Lock()
	t.info.Cols, t.info.Rows = cols, rows
	t.mu.Unlock()
	return nil
}

// Stop hangs up the terminal's session (SIGHUP, SIGTERM, then SIGKILL
// after the grace period), without waiting.
func (t *Terminal) Stop(ctx context.Context) {
	t.stopOnce.Do(func() {
		go func() {
			defer close(t.stopped)
			t.proc.Stop(context.WithoutCancel(ctx))
		}()
	})
}

// Get finds a terminal.
func (s *Service) Get(id string) (*Terminal, error) {
	t, ok := s.terms.Get(id)
	if !ok {
		return nil, &NotFoundError{ID: id}
	}
	return t, nil
}

// List describes every terminal, newest first.
func (s *Service) List() []Info {
	s.prune()
	all := s.terms.All()
	infos := make([]Info, len(all))
	for i, t := range all {
		infos[i] = t.Info()
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return infos
}

// Close ends the terminal's whole session, waits until it is gone and
// forgets the terminal.
func (s *Service) Close(ctx context.Context, id string) (Info, error) {
	t, err := s.Get(id)
	if err != nil {
		return Info{}, err
	}
	t.Stop(ctx)
	select {
	case <-t.ended:
	case <-ctx.Done():
		return Info{}, ctx.Err()
	}
	s.terms.Delete(id)
	return t.Info(), nil
}

// prune forgets exited terminals older than Retain.
func (s *Service) prune() {
	now := s.opts.Now()
	s.terms.Drop(func(all map[string]*Terminal) []string {
		var old []string
		for id, t := range all {
			if !t.Running() && now.Sub(t.endedAt) > s.opts.Retain {
				old = append(old, id)
			}
		}
		return old
	})
}

// KillNow sends SIGKILL to every process of the terminal's session.
func (t *Terminal) KillNow() { _ = t.proc.Signal(syscall.SIGKILL) }

// Stopped is closed once a Stop has finished.
func (t *Terminal) Stopped() <-chan struct{} { return t.stopped }

// Shutdown closes every terminal and waits until their sessions are gone
// (SIGKILL at once when ctx ends first).
func (s *Service) Shutdown(ctx context.Context) {
	s.terms.Shutdown(ctx)
	for _, t := range s.terms.All() {
		t.idle.Stop()
	}
}

// copyInput is io.Copy for callers that stream input (the WebSocket).
var _ io.Writer = (*inputWriter)(nil)

type inputWriter struct {
	t   *Terminal
	ctx context.Context
}

func (w *inputWriter) Write(b []byte) (int, error) { return w.t.Write(w.ctx, b) }

// Input returns a writer of keystrokes bound to ctx.
func (t *Terminal) Input(ctx context.Context) io.Writer { return &inputWriter{t: t, ctx: ctx} }
