// Package agentproc is the one way agentd starts a child process: in its own
// process group, with an environment built on purpose, stdout as a stream,
// stderr kept in a bounded head-and-tail log, and a stop that takes the whole
// group down (SIGTERM, then SIGKILL after a grace period) and reaps it.
// Nothing else in agentd imports os/exec.
package agentproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Spec says what to run.
type Spec struct {
	Path string
	Args []string
	// Dir is the working directory; it must exist.
	Dir string
	// Env is the complete environment; nothing is inherited implicitly.
	Env []string
	// Stdin opens a pipe to the process's standard input.
	Stdin bool
	// Stderr, when set, also receives every byte the process writes to
	// stderr (the bounded Log gets them too). It should not block for long:
	// while it does, the process may block on a full pipe.
	Stderr io.Writer
}

// Options tune a process's lifecycle; zero values take defaults.
type Options struct {
	// Grace is how long Stop waits after SIGTERM before SIGKILL.
	Grace time.Duration
	// PipeWait bounds how long stderr is drained after the leader exited,
	// in case a process that escaped the group still holds it open.
	PipeWait time.Duration
}

// Exit is how a process ended.
type Exit struct {
	Code   int    // exit code, or -1 when killed by a signal
	Signal string // the signal that killed it, if any, in words ("killed")
	Err    error  // failure to wait for the process
	// Sig is the signal that killed it (0 if none); SignalName(Sig) names
	// it the conventional way ("SIGKILL").
	Sig syscall.Signal
}

func (e Exit) Success() bool { return e.Code == 0 && e.Signal == "" && e.Err == nil }

func (e Exit) String() string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// Process is a running child and its process group.
type Process struct {
	cmd  *exec.Cmd
	opts Options
	// Stdin is the write end of the process's standard input, nil unless
	// Spec.Stdin. Its dynamic type is *os.File, so writes can be given a
	// deadline (SetWriteDeadline) and Close unblocks a pending write.
	Stdin io.WriteCloser
	// Stdout is the read end of the process's standard output. It reaches
	// EOF once every process holding it has exited; the owner closes it.
	Stdout io.ReadCloser
	stderr *Log
	// pty is the terminal's master side for a process started by StartPTY.
	pty *ptyMaster

	done     chan struct{}
	exit     Exit
	stopOnce sync.Once
}

// Start runs spec. The process is not tied to ctx: it lives until Stop, or
// until it exits, so that it can outlive the request that started it.
func Start(ctx context.Context, spec Spec, opts Options) (*Process, error) {
	if opts.Grace <= 0 {
		opts.Grace = 5 * time.Second
	}
	if opts.PipeWait <= 0 {
		opts.PipeWait = 2 * time.Second
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkDir(spec.Dir); err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = append([]string{}, spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &Process{cmd: cmd, opts: opts, stderr: NewLog(), done: make(chan struct{})}
	// Our own pipes rather than exec's: exec's Wait would block on (or
	// close under a reader) pipes that descendants still hold.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = outW, errW
	var inR, inW *os.File
	if spec.Stdin {
		if inR, inW, err = os.Pipe(); err != nil {
			closeAll(outR, outW, errR, errW)
			return nil, fmt.Errorf("stdin pipe: %w", err)
		}
		cmd.Stdin = inR
	}
	if err := cmd.Start(); err != nil {
		closeAll(outR, outW, errR, errW, inR, inW)
		return nil, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	closeAll(outW, errW, inR) // the child has its copies
	if inW != nil {
		p.Stdin = inW
	}
	p.Stdout = outR
	var sink io.Writer = p.stderr
	if spec.Stderr != nil {
		sink = io.MultiWriter(p.stderr, spec.Stderr)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(sink, errR)
	}()
	go p.wait(errR, drained)
	return p, nil
}

// wait reaps the leader, then kills whatever is left of its group (a
// crashed agent must not leave its tools running) and drains stderr.
func (p *Process) wait(errR *os.File, drained <-chan struct{}) {
	err := p.cmd.Wait()
	if p.pty != nil {
		killSession(p.cmd.Process.Pid, p.opts.PipeWait)
		p.exit = exitOf(p.cmd.ProcessState, err)
		close(p.done)
		return
	}
	killGroup(p.cmd.Process.Pid, p.opts.PipeWait)
	p.exit = exitOf(p.cmd.ProcessState, err)
	select {
	case <-drained:
	case <-time.After(p.opts.PipeWait):
		p.stderr.Write([]byte("\n[agentd: stderr still held open by a process outside the group; stopped reading]\n"))
	}
	errR.Close()
	<-drained
	close(p.done)
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

func exitOf(st *os.ProcessState, err error) Exit {
	e := Exit{Code: -1}
	if st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			e.Signal, e.Sig = ws.Signal().String(), ws.Signal()
		} else {
			e.Code = st.ExitCode()
		}
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		e.Err = err
	}
	return e
}

// Pid is the leader's process id, which is also the group id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exit is how the process ended; valid after Done is closed.
func (p *Process) Exit() Exit {
	<-p.done
	return p.exit
}

// Stderr is what the process wrote to stderr, head and tail.
func (p *Process) Stderr() *Log { return p.stderr }

// Stop ends the whole process group: SIGTERM, then SIGKILL once the grace
// period is over or ctx ends. It returns after the leader is reaped.
func (p *Process) Stop(ctx context.Context) Exit {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		if p.pty != nil {
			// A terminal is hung up first: interactive shells ignore
			// SIGTERM, and their jobs sit in process groups of their own.
			signalSession(p.Pid(), syscall.SIGHUP)
			signalSession(p.Pid(), syscall.SIGCONT)
		}
		p.signalTree(syscall.SIGTERM)
		grace := time.NewTimer(p.opts.Grace)
		defer grace.Stop()
		select {
		case <-p.done:
		case <-grace.C:
		case <-ctx.Done():
		}
		p.signalTree(syscall.SIGKILL)
	})
	return p.Exit()
}

// Signal sends sig to the process's whole group (for a terminal, to every
// process of its session). It fails once the process has been reaped.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return ErrExited
	default:
	}
	if err := p.signalTree(sig); err != nil {
		return fmt.Errorf("signal %s: %w", sig, err)
	}
	return nil
}

// ErrExited is returned when signalling a process that has already ended.
var ErrExited = errors.New("process has exited")

func (p *Process) signalTree(sig syscall.Signal) error {
	if p.pty != nil {
		signalSession(p.Pid(), sig)
	}
	err := syscall.Kill(-p.Pid(), sig)
	if errors.Is(err, syscall.ESRCH) && p.pty != nil {
		return nil // the leader's group is gone; other groups of the session got it
	}
	return err
}

// killGroup SIGKILLs what is left of a group and waits, up to limit, until
// none of it runs any more, so that "exited" means the whole tree is gone.
// The kernel offers no notification for processes that are not our
// children, hence the short poll.
func killGroup(pgid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for syscall.Kill(-pgid, syscall.SIGKILL) == nil && groupRunning(pgid) && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
}

// killSession is killGroup for a terminal's session: a shell with job
// control runs its jobs in process groups of their own, all in the
// session its leader created.
func killSession(sid int, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for {
		signalSession(sid, syscall.SIGKILL)
		_ = syscall.Kill(-sid, syscall.SIGKILL)
		if !sessionRunning(sid) || !time.Now().Before(deadline) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// procStat is the part of /proc/<pid>/stat the runner looks at.
type procStat struct {
	pid, pgrp, session int
	live               bool // not a zombie
}

// eachProc calls fn for every process in /proc; without /proc (darwin)
// it does nothing.
func eachProc(fn func(procStat)) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name: state, ppid, pgrp, session, ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 4 {
			continue
		}
		pgrp, _ := strconv.Atoi(fields[2])
		sess, _ := strconv.Atoi(fields[3])
		fn(procStat{pid: pid, pgrp: pgrp, session: sess, live: fields[0] != "Z" && fields[0] != "X"})
	}
}

// groupRunning reports whether a process of the group is still running;
// zombies waiting for a reaper other than us do not count.
func groupRunning(pgid int) bool {
	running := false
	eachProc(func(s procStat) { running = running || (s.pgrp == pgid && s.live) })
	return running
}

// sessionRunning reports whether a process of the session still runs.
func sessionRunning(sid int) bool {
	running := false
	eachProc(func(s procStat) { running = running || (s.session == sid && s.live) })
	return running
}

// signalSession sends sig to every process of the session and its groups.
func signalSession(sid int, sig syscall.Signal) {
	eachProc(func(s procStat) {
		if s.session == sid && s.live {
			_ = syscall.Kill(s.pid, sig)
		}
	})
}

// LookPath finds a command on PATH, for packages that must not import
// os/exec themselves.
func LookPath(file string) (string, error) { return exec.LookPath(file) }

// DrainStdout hands everything the process writes to stdout to sink until
// EOF. After the process exits it waits at most wait for the rest, since
// something outside the group may still hold the pipe, and then closes it.
// It returns once the process has exited, reporting whether it read to EOF.
func (p *Process) DrainStdout(sink func([]byte), wait time.Duration) (whole bool) {
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 32<<10)
		for {
			n, err := p.Stdout.Read(buf)
			sink(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	<-p.Done()
	whole = true
	select {
	case <-copied:
	case <-time.After(wait):
		whole = false
	}
	p.Stdout.Close()
	<-copied
	return whole
}
