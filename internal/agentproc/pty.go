package agentproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Winsize is a terminal's size in character cells.
type Winsize struct {
	Rows, Cols uint16
}

// ErrNotTerminal is returned when resizing a process that has no terminal.
var ErrNotTerminal = errors.New("process has no terminal")

// StartPTY runs spec on a new pseudo-terminal of the given size. The child
// leads a new session (Setsid) whose controlling terminal is the PTY
// (Setctty), so its session is what Stop and Signal take down: a shell's
// jobs run in process groups of their own, but all in that session.
//
// Stdin and Stdout are then the same object, the terminal's master side:
// input is written to it and output read from it (the terminal merges
// stdout and stderr). Reads end with io.EOF once no process holds the
// terminal any more. The owner closes it, after Stop or Done, never
// before: descendants are killed before their terminal goes away.
// spec.Stdin and spec.Stderr are ignored.
func StartPTY(ctx context.Context, spec Spec, size Winsize, opts Options) (*Process, error) {
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
	// pty.Open opens the master with os.OpenFile, which registers it with
	// the runtime poller: Close interrupts a pending Read. Calling Fd()
	// would turn that off, so the master is only touched through
	// SyscallConn.
	master, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("open pty: %w", err)
	}
	m := &ptyMaster{f: master}
	if err := m.resize(size); err != nil {
		closeAll(master, tty)
		return nil, err
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Dir = spec.Dir
	cmd.Env = append([]string{}, spec.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// Ctty 0 is the child's stdin, the terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		closeAll(master, tty)
		return nil, fmt.Errorf("start %s: %w", spec.Path, err)
	}
	tty.Close() // the child has its copy
	p := &Process{cmd: cmd, opts: opts, stderr: NewLog(), done: make(chan struct{}), pty: m}
	p.Stdin, p.Stdout = m, m
	go p.wait(nil, nil)
	return p, nil
}

func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("working directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("working directory %s is not a directory", dir)
	}
	return nil
}

// Resize changes the terminal's size; the kernel then sends SIGWINCH to
// its foreground process group.
func (p *Process) Resize(size Winsize) error {
	if p.pty == nil {
		return ErrNotTerminal
	}
	return p.pty.resize(size)
}

// Terminal reports whether the process runs on a PTY.
func (p *Process) Terminal() bool { return p.pty != nil }

// ptyMaster is a terminal's master side. Reading it fails with EIO once
// every slave descriptor is closed; that is the terminal's end of file.
type ptyMaster struct {
	f *os.File
}

func (m *ptyMaster) Read(b []byte) (int, error) {
	n, err := m.f.Read(b)
	if err != nil && errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

func (m *ptyMaster) Write(b []byte) (int, error) { return m.f.Write(b) }

func (m *ptyMaster) Close() error { return m.f.Close() }

// SetWriteDeadline bounds a write to a terminal whose input nobody reads.
func (m *ptyMaster) SetWriteDeadline(t time.Time) error { return m.f.SetWriteDeadline(t) }

// SetReadDeadline bounds a read.
func (m *ptyMaster) SetReadDeadline(t time.Time) error { return m.f.SetReadDeadline(t) }

func (m *ptyMaster) resize(size Winsize) error {
	if size.Rows == 0 || size.Cols == 0 {
		return fmt.Errorf("terminal size %dx%d: rows and cols must be positive", size.Cols, size.Rows)
	}
	sc, err := m.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	var ioErr error
	err = sc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: size.Rows, Col: size.Cols})
	})
	if err == nil {
		err = ioErr
	}
	if err != nil {
		return fmt.Errorf("resize terminal: %w", err)
	}
	return nil
}
