package terminal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const waitLong = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLong)
	t.Cleanup(cancel)
	return ctx
}

func newService(t *testing.T, opts Options) *Service {
	t.Helper()
	if opts.Grace == 0 {
		opts.Grace = 200 * time.Millisecond
	}
	if opts.Environ == nil {
		opts.Environ = func() []string { return []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "PS1=$ "} }
	}
	s := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func create(t *testing.T, s *Service, req CreateRequest) *Terminal {
	t.Helper()
	if req.Cwd == "" {
		req.Cwd = t.TempDir()
	}
	info, err := s.Create(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	term, err := s.Get(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	return term
}

// reader follows a terminal from an offset, as the API's streams do.
type reader struct {
	t    *Terminal
	from int64
	seen bytes.Buffer
	gap  bool
}

// until reads until the output seen so far matches re, and returns the
// submatches; it fails at the deadline or when the output ends first.
func (r *reader) until(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	ctx := testCtx(t)
	for {
		if m := re.FindStringSubmatch(r.seen.String()); m != nil {
			return m
		}
		end, complete, changed := r.t.Cursor()
		if r.from < end {
			data, at, gap := r.t.Read(r.from, 4096)
			r.gap = r.gap || gap
			r.seen.Write(data)
			r.from = at + int64(len(data))
			continue
		}
		if complete {
			t.Fatalf("terminal ended before %s; output %q", re, r.seen.String())
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waiting for %s; output %q", re, r.seen.String())
		}
	}
}

func typeLine(t *testing.T, term *Terminal, line string) {
	t.Helper()
	if _, err := term.Write(testCtx(t), []byte(line+"\n")); err != nil {
		t.Fatal(err)
	}
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// TestShellEchoResizeReplay is a real shell session: type a command, read
// its output, resize and check stty, then a second reader joins and
// replays what the first saw.
func TestShellEchoResizeReplay(t *testing.T) {
	s := newService(t, Options{})
	term := create(t, s, CreateRequest{Argv: []string{"/bin/sh"}, Cols: 100, Rows: 30})
	r := &reader{t: term, from: -1}
	typeLine(t, term, "echo hello-$((6*7))")
	r.until(t, regexp.MustCompile(`hello-42`))
	typeLine(t, term, "stty size")
	r.until(t, regexp.MustCompile(`30 100`))
	if err := term.Resize(120, 40); err != nil {
		t.Fatal(err)
	}
	if info := term.Info(); info.Cols != 120 || info.Rows != 40 {
		t.Fatalf("info = %+v", info)
	}
	typeLine(t, term, "stty size")
	r.until(t, regexp.MustCompile(`40 120`))

	late := &reader{t: term, from: -1}
	late.until(t, regexp.MustCompile(`(?s)hello-42.*40 120`))
	if late.gap {
		t.Fatal("replay reported a gap with a ring big enough for everything")
	}
	typeLine(t, term, "exit 3")
	select {
	case <-term.Ended():
	case <-testCtx(t).Done():
		t.Fatal("shell did not exit")
	}
	if info := term.Info(); info.Status != Exited || info.ExitCode == nil || *info.ExitCode != 3 {
		t.Fatalf("info = %+v", info)
	}
	if _, err := term.Write(testCtx(t), []byte("x")); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("write after exit: %v", err)
	}
	if err := term.Resize(10, 10); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("resize after exit: %v", err)
	}
}

func TestRingKeepsTheNewestBytes(t *testing.T) {
	s := newService(t, Options{RingBytes: 1024})
	term := create(t, s, CreateRequest{Argv: []string{"/bin/sh", "-c", `head -c 5000 /dev/zero | tr '\0' a; echo; echo END`}})
	<-term.Ended()
	data, from, gap := term.Read(0, 1<<20)
	end, complete, _ := term.Cursor()
	if !gap || from != end-1024 || len(data) != 1024 || !complete || !strings.HasSuffix(string(data), "END\r\n") {
		t.Fatalf("read: %d bytes from %d (end %d), gap %v", len(data), from, end, gap)
	}
	if data, from, gap := term.Read(end+100, 10); len(data) != 0 || from != end || gap {
		t.Fatalf("read past the end: %q %d %v", data, from, gap)
	}
}

// TestManyReadersOneSlow: readers keep their own offsets; one that never
// reads holds up no one.
func TestManyReadersOneSlow(t *testing.T) {
	s := newService(t, Options{RingBytes: 4096})
	term := create(t, s, CreateRequest{Argv: []string{"/bin/sh"}})
	idle := term.Attach() // attached, never reading
	defer idle()
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			r := &reader{t: term, from: -1}
			r.until(t, regexp.MustCompile(`done-7`))
		})
	}
	typeLine(t, term, "seq 1 2000; echo done-$((3+4))")
	wg.Wait()
	if info := term.Info(); info.Readers != 1 {
		t.Fatalf("readers = %d", info.Readers)
	}
}

// TestCloseKillsTheSession: a job-control shell puts its background job in
// a process group of its own; closing the terminal still ends it.
func TestCloseKillsTheSession(t *testing.T) {
	s := newService(t, Options{})
	term := create(t, s, CreateRequest{Argv: []string{"/bin/sh", "-i"}})
	r := &reader{t: term, from: -1}
	typeLine(t, term, "set -m; sleep 300 & echo job:$!")
	job, _ := strconv.Atoi(r.until(t, regexp.MustCompile(`job:(\d+)`))[1])
	shell := term.Info().Pid
	if pgid, _ := syscall.Getpgid(job); pgid == shell {
		t.Logf("job shares the shell's group (no job control); still a fine test")
	}
	info, err := s.Close(testCtx(t), term.ID())
	if err != nil || info.Status != Exited {
		t.Fatalf("close = %+v %v", info, err)
	}
	if alive(shell) || alive(job) {
		t.Fatal("a process of the terminal survived its close")
	}
	if _, err := s.Get(term.ID()); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("closed terminal still listed: %v", err)
	}
}

// TestIdleTerminalIsClosed: a terminal nobody follows or types into is
// closed after the idle timeout, so a dead client leaves nothing behind.
func TestIdleTerminalIsClosed(t *testing.T) {
	s := newService(t, Options{IdleTimeout: 100 * time.Millisecond})
	term := create(t, s, CreateRequest{Argv: []string{"/bin/sh"}})
	// An attached reader holds it open: the idle timer is not pending.
	detach := term.Attach()
	term.mu.Lock()
	pending := term.idle.Stop()
	term.mu.Unlock()
	if pending {
		t.Fatal("the idle timer runs while a reader is attached")
	}
	detach()
	select {
	case <-term.Ended():
	case <-testCtx(t).Done():
		t.Fatal("idle terminal was not closed")
	}
	if alive(term.Info().Pid) {
		t.Fatal("idle terminal's shell survived")
	}
}

func TestCreateErrorsAndLimits(t *testing.T) {
	s := newService(t, Options{MaxTerminals: 1})
	ctx := testCtx(t)
	if _, err := s.Create(ctx, CreateRequest{Argv: []string{"/nonexistent"}, Cwd: t.TempDir()}); err == nil {
		t.Fatal("started a missing program")
	}
	if _, err := s.Create(ctx, CreateRequest{Argv: []string{"/bin/sh"}, Env: map[string]string{"": "x"}}); err == nil {
		t.Fatal("accepted an empty variable name")
	}
	term := create(t, s, CreateRequest{Env: map[string]string{"FOO": "bar"}})
	if info := term.Info(); info.Cols != DefaultCols || info.Rows != DefaultRows || len(info.Argv) != 1 {
		t.Fatalf("defaults: %+v", info)
	}
	if _, err := s.Create(ctx, CreateRequest{Argv: []string{"/bin/sh"}}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("over MaxTerminals: %v", err)
	}
	if err := term.Resize(0, 10); err == nil {
		t.Fatal("zero size accepted")
	}
	r := &reader{t: term, from: -1}
	typeLine(t, term, "echo FOO=$FOO TERM=$TERM")
	r.until(t, regexp.MustCompile(`FOO=bar TERM=xterm-256color`))
	if list := s.List(); len(list) != 1 || list[0].ID != term.ID() {
		t.Fatalf("list = %+v", list)
	}
	s.Shutdown(ctx)
	if alive(term.Info().Pid) {
		t.Fatal("shutdown left the shell running")
	}
	if _, err := s.Create(ctx, CreateRequest{}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("create after shutdown: %v", err)
	}
}
