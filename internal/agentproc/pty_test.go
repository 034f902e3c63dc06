package agentproc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readUntil reads the terminal until its output matches re, or fails at the
// context's deadline.
func readUntil(t *testing.T, ctx context.Context, p *Process, seen *bytes.Buffer, re *regexp.Regexp) []string {
	t.Helper()
	dl, _ := ctx.Deadline()
	m := p.Stdout.(interface{ SetReadDeadline(time.Time) error })
	if err := m.SetReadDeadline(dl); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	for {
		if sub := re.FindStringSubmatch(seen.String()); sub != nil {
			return sub
		}
		n, err := p.Stdout.Read(buf)
		seen.Write(buf[:n])
		if err != nil {
			t.Fatalf("waiting for %s: %v; output so far %q", re, err, seen.String())
		}
	}
}

func startShell(t *testing.T, script string, size Winsize) *Process {
	t.Helper()
	p, err := StartPTY(testCtx(t), Spec{Path: "/bin/sh", Args: []string{"-c", script}, Dir: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin", "TERM=dumb"}}, size, Options{Grace: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop(context.Background())
		p.Stdout.Close()
	})
	return p
}

func TestPTYEchoAndResize(t *testing.T) {
	ctx := testCtx(t)
	p := startShell(t, `stty size; while read -r line; do [ "$line" = size ] && stty size; [ "$line" = quit ] && exit 7; echo "got:$line"; done`, Winsize{Rows: 24, Cols: 80})
	if !p.Terminal() {
		t.Fatal("Terminal() = false")
	}
	var seen bytes.Buffer
	readUntil(t, ctx, p, &seen, regexp.MustCompile(`24 80`))
	if _, err := io.WriteString(p.Stdin, "hello\n"); err != nil {
		t.Fatal(err)
	}
	readUntil(t, ctx, p, &seen, regexp.MustCompile(`got:hello`))
	if err := p.Resize(Winsize{Rows: 40, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(p.Stdin, "size\n")
	readUntil(t, ctx, p, &seen, regexp.MustCompile(`40 132`))
	io.WriteString(p.Stdin, "quit\n")
	<-p.Done()
	if e := p.Exit(); e.Code != 7 {
		t.Fatalf("exit = %+v, want 7", e)
	}
	// After the exit the terminal reads to EOF (EIO mapped).
	p.Stdout.(interface{ SetReadDeadline(time.Time) error }).SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, p.Stdout); err != nil {
		t.Fatalf("drain after exit: %v", err)
	}
}

func TestPTYResizeRefusesZero(t *testing.T) {
	if _, err := StartPTY(testCtx(t), Spec{Path: "/bin/true"}, Winsize{}, Options{}); err == nil {
		t.Fatal("a zero-size terminal was accepted")
	}
	p := sh(t, `exit 0`, Options{})
	if err := p.Resize(Winsize{Rows: 1, Cols: 1}); !errors.Is(err, ErrNotTerminal) {
		t.Fatalf("resize of a pipe process: %v", err)
	}
}

// TestPTYStopKillsJobsInOtherGroups runs a job-control shell: its
// background job gets a process group of its own, which a group kill
// would miss. Stop must take the whole session down.
func TestPTYStopKillsJobsInOtherGroups(t *testing.T) {
	ctx := testCtx(t)
	p := startShell(t, `set -m; trap '' TERM HUP; sleep 300 & echo "job:$!"; wait`, Winsize{Rows: 24, Cols: 80})
	var seen bytes.Buffer
	sub := readUntil(t, ctx, p, &seen, regexp.MustCompile(`job:(\d+)`))
	job, _ := strconv.Atoi(sub[1])
	if pgid, err := syscall.Getpgid(job); err != nil || pgid == p.Pid() {
		t.Fatalf("job pgid %d (err %v); the test needs it outside the leader's group %d", pgid, err, p.Pid())
	}
	p.Stop(ctx)
	if alive(p.Pid()) || alive(job) {
		t.Fatal("a process of the terminal's session survived Stop")
	}
}

func TestSignalGroupAndExited(t *testing.T) {
	p := sh(t, `trap 'echo usr1; exit 4' USR1; echo ready; while :; do sleep 0.01; done`, Options{})
	line, _, err := NewLineReader(p.Stdout, 64).Next()
	if err != nil || string(line) != "ready" {
		t.Fatalf("first line %q %v", line, err)
	}
	if err := p.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if e := p.Exit(); e.Code != 4 {
		t.Fatalf("exit = %+v", e)
	}
	if err := p.Signal(syscall.SIGUSR1); !errors.Is(err, ErrExited) {
		t.Fatalf("signal after exit: %v", err)
	}
}

func TestStderrTeeAndStdinDeadline(t *testing.T) {
	var tee bytes.Buffer
	p, err := Start(testCtx(t), Spec{Path: "/bin/sh", Args: []string{"-c", `printf 'to stderr' >&2; sleep 300`}, Env: []string{"PATH=/usr/bin:/bin"}, Stdin: true, Stderr: &tee}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(context.Background())
	// Nobody reads stdin: a write that fills the pipe blocks until its
	// deadline rather than forever.
	f, ok := p.Stdin.(*os.File)
	if !ok {
		t.Fatalf("Stdin is %T, want *os.File", p.Stdin)
	}
	if err := f.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(make([]byte, 4<<20))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("blocked write: %v", err)
	}
	p.Stop(testCtx(t))
	if !strings.Contains(tee.String(), "to stderr") {
		t.Fatalf("tee = %q", tee.String())
	}
}

func TestSignalNames(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "int": syscall.SIGINT, "9": syscall.SIGKILL, "Term": syscall.SIGTERM} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("%s = %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "65", "BOGUS"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if SignalName(syscall.SIGKILL) != "SIGKILL" || SignalName(syscall.Signal(40)) != "SIG40" {
		t.Error(SignalName(syscall.SIGKILL), SignalName(syscall.Signal(40)))
	}
	p := sh(t, `kill -KILL $$`, Options{})
	if e := p.Exit(); e.Sig != syscall.SIGKILL || e.Signal != "killed" || e.Code != -1 {
		t.Fatalf("exit = %+v", e)
	}
}
