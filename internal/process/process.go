// Package process runs commands for API clients: each in its own process
// group through internal/agentproc, detached from the request that started
// it, visible to every client, with its output kept in a bounded memory
// ring plus a full log on disk, and its exit retained after it ends. None
// outlives the daemon: Shutdown stops them all.
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
	DefaultRingBytes         = 1 << 20 // 1 MiB of recent output per process in memory
	DefaultMaxLogBytes int64 = 1 << 30 // 1 GiB of output per process on disk
	DefaultRetain            = time.Hour
	DefaultMaxRetained       = 256
	DefaultMaxRunning        = 256
	DefaultGrace             = 5 * time.Second
)

// Options configure the service; zero values take the defaults above.
type Options struct {
	// Dir holds the processes' logs, one directory each. It is emptied
	// when the service starts: logs of a previous daemon are stale.
	Dir         string
	RingBytes   int
	MaxLogBytes int64
	// Retain is how long an exited process stays listed; MaxRetained caps
	// how many exited ones are kept (the oldest go first).
	Retain      time.Duration
	MaxRetained int
	// MaxRunning caps the processes running at once.
	MaxRunning int
	// Grace is how long a kill waits after SIGTERM before SIGKILL.
	Grace time.Duration
	// PipeWait bounds how long output is drained after the process ended,
	// in case something that escaped its group holds the pipes.
	PipeWait time.Duration
	// Environ is the base environment of every process; by default the
	// daemon's, without AGENTD_* variables (the token among them).
	Environ func() []string
	Logger  *slog.Logger
	Now     func() time.Time
}

func (o *Options) defaults() {
	if o.RingBytes <= 0 {
		o.RingBytes = DefaultRingBytes
	}
	if o.MaxLogBytes <= 0 {
		o.MaxLogBytes = DefaultMaxLogBytes
	}
	if o.Retain <= 0 {
		o.Retain = DefaultRetain
	}
	if o.MaxRetained <= 0 {
		o.MaxRetained = DefaultMaxRetained
	}
	if o.MaxRunning <= 0 {
		o.MaxRunning = DefaultMaxRunning
	}
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.PipeWait <= 0 {
		o.PipeWait = 2 * time.Second
	}
	if o.Environ == nil {
		o.Environ = DaemonEnviron
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DaemonEnviron is the daemon's environment without AGENTD_* variables.
func DaemonEnviron() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "AGENTD_") })
}

// Status is a process's state.
type Status string

const (
	Running Status = "running"
	Exited  Status = "exited"
)

// Statuses lists the values.
var Statuses = []Status{Running, Exited}

// Info describes a process.
type Info struct {
	ID        string
	Argv      []string
	Cwd       string
	Pid       int
	Status    Status
	ExitCode  *int   // set once exited normally
	Signal    string // the signal that ended it, if any
	TimedOut  bool   // ended by its timeout
	Error     string // the process could not be waited for
	StdinOpen bool
	StartedAt time.Time
	EndedAt   *time.Time
	// Output kept on disk per stream, and dropped over the cap.
	StdoutBytes, StderrBytes, DroppedBytes int64
}

// StartRequest says what to run.
type StartRequest struct {
	Argv []string
	// Cwd is the absolute working directory; the caller resolves it.
	Cwd string
	// Env adds to (and overrides) the base environment.
	Env map[string]string
	// Stdin keeps standard input open for writes; otherwise it is empty.
	Stdin   bool
	Timeout time.Duration
}

// NotFoundError is returned for an unknown process id.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string { return "process not found: " + e.ID }

// ConflictError is an operation that the process's state forbids
// (writing to a closed stdin, signalling an exited process).
type ConflictError struct{ Msg string }

func (e *ConflictError) Error() string { return e.Msg }

// ErrTooMany is returned when MaxRunning processes are running.
var ErrTooMany = errors.New("too many running processes")

// ErrShuttingDown is returned by Start once Shutdown began.
var ErrShuttingDown = childset.ErrShuttingDown

// Service owns every process started through the API.
type Service struct {
	opts  Options
	procs *childset.Set[*Process]
}

// New starts a service whose logs live under opts.Dir.
func New(opts Options) (*Service, error) {
	opts.defaults()
	if opts.Dir == "" {
		return nil, errors.New("process: no log directory")
	}
	if err := os.RemoveAll(opts.Dir); err != nil {
		return nil, fmt.Errorf("clear process logs: %w", err)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("process logs: %w", err)
	}
	return &Service{opts: opts, procs: childset.New[*Process]("proc_", opts.MaxRunning, ErrTooMany)}, nil
}

// Process is one started command.
type Process struct {
	svc  *Service
	proc *agentproc.Process
	out  *output

	mu        sync.Mutex
	info      Info
	stdinMu   sync.Mutex // one writer at a time, so writes do not interleave
	stdin     io.WriteCloser
	ended     chan struct{} // closed once the exit is recorded
	timer     *time.Timer
	timedOut  bool
	exited    bool
	exitedAt  time.Time
	removed   bool
	stopOnce  sync.Once
	stopped   chan struct{}
	killGrace time.Duration
}

// Start runs a command. The process is not tied to ctx.
func (s *Service) Start(ctx context.Context, req StartRequest) (Info, error) {
	if len(req.Argv) == 0 || req.Argv[0] == "" {
		return Info{}, apierr.New(apierr.InvalidRequest, "argv must name a command")
	}
	if req.Timeout < 0 {
		return Info{}, apierr.New(apierr.InvalidRequest, "timeoutMs must not be negative")
	}
	env, err := agentproc.Override(s.opts.Environ(), req.Env)
	if err != nil {
		return Info{}, apierr.New(apierr.InvalidRequest, "%v", err)
	}
	id, err := s.procs.Reserve()
	if err != nil {
		return Info{}, err
	}
	p, err := s.start(ctx, id, req, env)
	if err != nil {
		s.procs.Abandon()
		return Info{}, err
	}
	if err := s.procs.Add(id, p); err != nil {
		return Info{}, err
	}
	s.prune()
	return p.Info(), nil
}

func (s *Service) start(ctx context.Context, id string, req StartRequest, env []string) (*Process, error) {
	out, err := newOutput(filepath.Join(s.opts.Dir, id), s.opts.RingBytes, s.opts.MaxLogBytes)
	if err != nil {
		return nil, err
	}
	p := &Process{svc: s, out: out, ended: make(chan struct{}), stopped: make(chan struct{}), killGrace: s.opts.Grace}
	spec := agentproc.Spec{Path: req.Argv[0], Args: req.Argv[1:], Dir: req.Cwd, Env: env, Stdin: req.Stdin,
		Stderr: streamWriter{out, Stderr}}
	proc, err := agentproc.Start(context.WithoutCancel(ctx), spec, agentproc.Options{Grace: s.opts.Grace, PipeWait: s.opts.PipeWait})
	if err != nil {
		out.remove()
		return nil, apierr.New(apierr.InvalidRequest, "cannot start %s: %v", req.Argv[0], errors.Unwrap(err))
	}
	p.proc = proc
	p.stdin = proc.Stdin
	p.info = Info{ID: id, Argv: slices.Clone(req.Argv), Cwd: req.Cwd, Pid: proc.Pid(), Status: Running,
		StdinOpen: proc.Stdin != nil, StartedAt: s.opts.Now()}
	if req.Timeout > 0 {
		p.timer = time.AfterFunc(req.Timeout, func() {
			p.mu.Lock()
			p.timedOut = true
			p.mu.Unlock()
			p.Stop(context.Background())
		})
	}
	go p.run()
	return p, nil
}

// streamWriter appends what a process writes to one of its streams.
type streamWriter struct {
	out    *output
	stream Stream
}

func (w streamWriter) Write(b []byte) (int, error) {
	w.out.append(w.stream, b)
	return len(b), nil
}

// run copies stdout into the log until EOF (or, if something outside the
// group holds the pipe, until PipeWait after the exit), then records the
// exit. Only then does the process count as exited: its output is whole.
func (p *Process) run() {
	defer p.svc.procs.Done()
	if !p.proc.DrainStdout(func(b []byte) { p.out.append(Stdout, b) }, p.svc.opts.PipeWait) {
		p.out.append(Stderr, []byte("\n[agentd: stdout still held open by a process outside the group; stopped reading]\n"))
	}
	exit := p.proc.Exit()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.stdinMu.Lock()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
	}
	p.stdinMu.Unlock()
	p.mu.Lock()
	now := p.svc.opts.Now()
	p.info.Status = Exited
	p.info.EndedAt = &now
	p.info.StdinOpen = false
	p.info.TimedOut = p.timedOut
	p.exitedAt = now
	if exit.Signal != "" {
		p.info.Signal = agentproc.SignalName(exit.Sig)
	} else if exit.Err == nil {
		code := exit.Code
		p.info.ExitCode = &code
	}
	if exit.Err != nil {
		p.info.Error = exit.Err.Error()
	}
	p.exited = true
	p.mu.Unlock()
	p.out.close()
	// Retention is applied before anyone learns of the exit, so that what
	// they see next is settled.
	p.svc.prune()
	close(p.ended)
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.exited
}

// Info is the process's description now.
func (p *Process) Info() Info {
	p.mu.Lock()
	info := p.info
	p.mu.Unlock()
	info.StdoutBytes, info.StderrBytes, info.DroppedBytes = p.out.sizesAndDropped()
	return info
}

// Ended is closed once the process has exited and its exit is recorded.
func (p *Process) Ended() <-chan struct{} { return p.ended }

// Get finds a process.
func (s *Service) Get(id string) (*Process, error) {
	p, ok := s.procs.Get(id)
	if !ok {
		return nil, &NotFoundError{ID: id}
	}
	return p, nil
}

// List describes every process, running and retained, newest first.
func (s *Service) List() []Info {
	s.prune()
	all := s.procs.All()
	infos := make([]Info, len(all))
	for i, p := range all {
		infos[i] = p.Info()
	}
	slices.SortFunc(infos, func(a, b Info) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return infos
}

// prune forgets exited processes past the retention time, and the oldest
// exited ones beyond MaxRetained, and deletes their logs.
func (s *Service) prune() {
	now := s.opts.Now()
	dropped := s.procs.Drop(func(all map[string]*Process) []string {
		type exitedProc struct {
			id string
			at time.Time
		}
		var exited []exitedProc
		for id, p := range all {
			p.mu.Lock()
			if p.exited {
				exited = append(exited, exitedProc{id, p.exitedAt})
			}
			p.mu.Unlock()
		}
		slices.SortFunc(exited, func(a, b exitedProc) int { return a.at.Compare(b.at) })
		var drop []string
		for i, e := range exited {
			if len(exited)-i > s.opts.MaxRetained || now.Sub(e.at) > s.opts.Retain {
				drop = append(drop, e.id)
			}
		}
		return drop
	})
	for _, p := range dropped {
		p.out.remove()
	}
}

// Remove stops a process if it runs, then forgets it and deletes its log.
func (s *Service) Remove(ctx context.Context, id string) (Info, error) {
	p, err := s.Get(id)
	if err != nil {
		return Info{}, err
	}
	p.Stop(ctx)
	select {
	case <-p.ended:
	case <-ctx.Done():
		return Info{}, ctx.Err()
	}
	info := p.Info()
	if len(s.procs.Drop(func(map[string]*Process) []string { return []string{id} })) > 0 {
		p.out.remove()
	}
	return info, nil
}

// Kill ends the whole process group (SIGTERM, then SIGKILL after the
// grace period) and returns once the exit is recorded.
func (p *Process) Kill(ctx context.Context) (Info, error) {
	p.Stop(ctx)
	select {
	case <-p.ended:
		return p.Info(), nil
	case <-ctx.Done():
		return Info{}, ctx.Err()
	}
}

// Stop begins ending the process group without waiting: SIGTERM, then
// SIGKILL after the grace period, or at once when ctx has ended.
func (p *Process) Stop(ctx context.Context) {
	p.stopOnce.Do(func() {
		go func() {
			defer close(p.stopped)
			p.proc.Stop(context.WithoutCancel(ctx))
		}()
	})
	if ctx.Err() != nil {
		// The caller gives up waiting: no more grace.
		_ = p.proc.Signal(syscall.SIGKILL)
	}
}

// Signal sends a signal to the process's group.
func (p *Process) Signal(name string) error {
	sig, err := ParseSignal(name)
	if err != nil {
		return err
	}
	if !p.Running() {
		return &ConflictError{Msg: "process has exited: " + p.info.ID}
	}
	if err := p.proc.Signal(sig); err != nil {
		if errors.Is(err, agentproc.ErrExited) {
			return &ConflictError{Msg: "process has exited: " + p.info.ID}
		}
		return err
	}
	return nil
}

// WriteStdin copies r to the process's standard input, then closes it
// when close is set. A write blocked by a process that does not read ends
// with ctx.
func (p *Process) WriteStdin(ctx context.Context, r io.Reader, close bool) (int64, error) {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin == nil {
		return 0, &ConflictError{Msg: "stdin of " + p.info.ID + " is not open (start the process with stdin: true; it closes on exit or after close=true)"}
	}
	w := p.stdin
	if d, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetWriteDeadline(time.Now()) })
		defer func() {
			if !stop() {
				_ = d.SetWriteDeadline(time.Time{})
			}
		}()
	}
	n, err := io.Copy(w, r)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, ctx.Err()
		}
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
			return n, &ConflictError{Msg: "process " + p.info.ID + " closed its stdin"}
		}
		return n, apierr.New(apierr.InvalidRequest, "writing stdin: %v", err)
	}
	if close {
		err := w.Close()
		p.stdin = nil
		p.mu.Lock()
		p.info.StdinOpen = false
		p.mu.Unlock()
		if err != nil {
			return n, fmt.Errorf("close stdin: %w", err)
		}
	}
	return n, nil
}

// Output is the end of each stream held in memory.
func (p *Process) Output() Tail { return p.out.tail() }

// LogPath is the file holding a stream's whole output.
func (p *Process) LogPath(s Stream) string { return p.out.logPath(s) }

// Read returns chunks after the sequence after, at most about maxBytes.
func (p *Process) Read(after uint64, maxBytes int) ([]Chunk, error) {
	return p.out.read(after, maxBytes)
}

// Cursor is the output's state for a follower: the last chunk, whether
// the output is complete, and a channel closed at the next change.
func (p *Process) Cursor() (last uint64, complete bool, changed <-chan struct{}) {
	return p.out.state()
}

// KillNow sends SIGKILL to the process group.
func (p *Process) KillNow() { _ = p.proc.Signal(syscall.SIGKILL) }

// Stopped is closed once a Stop has finished.
func (p *Process) Stopped() <-chan struct{} { return p.stopped }

// Shutdown stops every running process (SIGTERM, SIGKILL after the grace
// period or when ctx ends) and waits until all are reaped and their
// output drained. Start fails from then on.
func (s *Service) Shutdown(ctx context.Context) { s.procs.Shutdown(ctx) }

// ParseSignal accepts "SIGTERM", "TERM", "term" or a number.
func ParseSignal(name string) (syscall.Signal, error) {
	sig, err := agentproc.ParseSignal(name)
	if err != nil {
		return 0, apierr.New(apierr.InvalidRequest, "%v", err)
	}
	return sig, nil
}
