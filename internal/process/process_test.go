package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	if opts.Dir == "" {
		opts.Dir = filepath.Join(t.TempDir(), "processes")
	}
	if opts.Grace == 0 {
		opts.Grace = 200 * time.Millisecond
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}

func start(t *testing.T, s *Service, script string, mod ...func(*StartRequest)) *Process {
	t.Helper()
	req := StartRequest{Argv: []string{"/bin/sh", "-c", script}, Cwd: t.TempDir()}
	for _, m := range mod {
		m(&req)
	}
	info, err := s.Start(testCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Get(info.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// follow reads every chunk after cursor as a follower does (read, then wait
// for a change) until match accepts what was read, or the deadline.
func follow(t *testing.T, p *Process, after uint64, match func(stdout, stderr string) bool) (string, string) {
	t.Helper()
	ctx := testCtx(t)
	var out, errOut bytes.Buffer
	for {
		last, complete, changed := p.Cursor()
		for after < last {
			chunks, err := p.Read(after, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range chunks {
				if c.Seq != after+1 {
					t.Fatalf("chunk %d after %d", c.Seq, after)
				}
				after = c.Seq
				if c.Stream == Stdout {
					out.Write(c.Data)
				} else {
					errOut.Write(c.Data)
				}
			}
		}
		if match(out.String(), errOut.String()) {
			return out.String(), errOut.String()
		}
		if complete {
			t.Fatalf("output ended without a match: stdout %q stderr %q", out.String(), errOut.String())
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waiting for output: stdout %q stderr %q", out.String(), errOut.String())
		}
	}
}

func contains(s string) func(string, string) bool {
	return func(out, _ string) bool { return strings.Contains(out, s) }
}

func wait(t *testing.T, p *Process) Info {
	t.Helper()
	select {
	case <-p.Ended():
	case <-testCtx(t).Done():
		t.Fatal("process did not end")
	}
	return p.Info()
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func TestRunOutputAndExit(t *testing.T) {
	s := newService(t, Options{})
	t.Setenv("AGENTD_TOKEN", "secret-token")
	p := start(t, s, `echo "out:$PWD"; echo err >&2; echo "tok:$AGENTD_TOKEN x:$X"; printf '\000\377'; exit 3`, func(r *StartRequest) {
		r.Env = map[string]string{"X": "y"}
	})
	info := wait(t, p)
	if info.Status != Exited || info.ExitCode == nil || *info.ExitCode != 3 || info.Signal != "" || info.EndedAt == nil {
		t.Fatalf("info = %+v", info)
	}
	tail := p.Output()
	if !strings.Contains(string(tail.Stdout), "out:"+info.Cwd) || !strings.Contains(string(tail.Stdout), "tok: x:y") ||
		!bytes.HasSuffix(tail.Stdout, []byte{0, 0xff}) || string(tail.Stderr) != "err\n" || tail.Truncated {
		t.Fatalf("tail = %+v", tail)
	}
	if info.StdoutBytes != int64(len(tail.Stdout)) || info.StderrBytes != 4 {
		t.Fatalf("sizes %d %d", info.StdoutBytes, info.StderrBytes)
	}
	// The whole log is on disk too.
	b, err := os.ReadFile(p.LogPath(Stdout))
	if err != nil || !bytes.Equal(b, tail.Stdout) {
		t.Fatalf("log = %q %v", b, err)
	}
	if list := s.List(); len(list) != 1 || list[0].ID != info.ID {
		t.Fatalf("list = %+v", list)
	}
	if _, err := s.Get("proc_nope"); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("get unknown: %v", err)
	}
}

func TestStartErrors(t *testing.T) {
	s := newService(t, Options{MaxRunning: 1})
	ctx := testCtx(t)
	for _, req := range []StartRequest{
		{},
		{Argv: []string{""}},
		{Argv: []string{"/nonexistent/binary"}},
		{Argv: []string{"/bin/true"}, Cwd: "/nonexistent"},
		{Argv: []string{"/bin/true"}, Env: map[string]string{"A=B": "x"}},
		{Argv: []string{"/bin/true"}, Timeout: -1},
	} {
		if _, err := s.Start(ctx, req); err == nil {
			t.Errorf("started %+v", req)
		}
	}
	start(t, s, `sleep 300`)
	if _, err := s.Start(ctx, StartRequest{Argv: []string{"/bin/true"}}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("over MaxRunning: %v", err)
	}
}

// TestFollowResume reads the output in two halves, the second from the
// chunk after the last one read; with a tiny ring, old chunks come from
// the disk. Together they are the whole output, once, in order.
func TestFollowResume(t *testing.T) {
	for _, ring := range []int{1 << 20, 16} {
		t.Run(strconv.Itoa(ring), func(t *testing.T) {
			s := newService(t, Options{RingBytes: ring})
			// cat echoes each line as it comes: one chunk per line.
			p := start(t, s, `cat`, func(r *StartRequest) { r.Stdin = true })
			var want strings.Builder
			for i := 1; i <= 50; i++ {
				line := fmt.Sprintf("line %d\n", i)
				want.WriteString(line)
				if _, err := p.WriteStdin(testCtx(t), strings.NewReader(line), i == 50); err != nil {
					t.Fatal(err)
				}
				follow(t, p, 0, contains(line))
			}
			wait(t, p)
			// The first five chunks, one read each, then the rest from there.
			var first strings.Builder
			var cursor uint64
			for cursor < 5 {
				chunks, err := p.Read(cursor, 1)
				if err != nil || len(chunks) != 1 || chunks[0].Seq != cursor+1 {
					t.Fatalf("read after %d: %+v %v", cursor, chunks, err)
				}
				if chunks[0].Stream == Stdout {
					first.Write(chunks[0].Data)
				}
				cursor = chunks[0].Seq
			}
			rest, _ := follow(t, p, cursor, func(out, _ string) bool { return strings.HasSuffix(out, "line 50\n") })
			if got := first.String() + rest; got != want.String() {
				t.Fatalf("resumed output differs:\n%q", got)
			}
		})
	}
}

func TestManyFollowersSlowOneDoesNotBlock(t *testing.T) {
	s := newService(t, Options{RingBytes: 1024})
	p := start(t, s, `cat`, func(r *StartRequest) { r.Stdin = true })
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { follow(t, p, 0, contains("end\n")) })
	}
	// A follower that never reads: the process and the others go on.
	_, _, _ = p.Cursor()
	payload := strings.Repeat("x", 256<<10) + "end\n"
	if _, err := p.WriteStdin(testCtx(t), strings.NewReader(payload), true); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if out, _ := follow(t, p, 0, contains("end\n")); out != payload {
		t.Fatalf("late reader from disk: %d bytes", len(out))
	}
}

func TestStdin(t *testing.T) {
	s := newService(t, Options{})
	ctx := testCtx(t)
	p := start(t, s, `wc -c`, func(r *StartRequest) { r.Stdin = true })
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB, more than any pipe holds
	if n, err := p.WriteStdin(ctx, bytes.NewReader(big), false); err != nil || n != int64(len(big)) {
		t.Fatalf("write = %d %v", n, err)
	}
	if _, err := p.WriteStdin(ctx, strings.NewReader(""), true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteStdin(ctx, strings.NewReader("more"), false); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("write after close: %v", err)
	}
	follow(t, p, 0, contains(strconv.Itoa(len(big))))
	wait(t, p)

	// Without stdin: true, stdin is empty and not writable.
	q := start(t, s, `cat; echo done`)
	follow(t, q, 0, contains("done"))
	if _, err := q.WriteStdin(ctx, strings.NewReader("x"), false); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("write to a process without stdin: %v", err)
	}
}

// TestStdinWriteEndsWithContext: a process that never reads cannot hold a
// writer forever.
func TestStdinWriteEndsWithContext(t *testing.T) {
	s := newService(t, Options{})
	p := start(t, s, `sleep 300`, func(r *StartRequest) { r.Stdin = true })
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := p.WriteStdin(ctx, bytes.NewReader(make([]byte, 4<<20)), false)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	case <-testCtx(t).Done():
		t.Fatal("blocked stdin write did not end")
	}
}

func TestSignalAndKill(t *testing.T) {
	s := newService(t, Options{})
	p := start(t, s, `trap 'echo got-usr1; exit 5' USR1; echo ready; while :; do sleep 0.01; done`)
	follow(t, p, 0, contains("ready"))
	if err := p.Signal("usr1"); err != nil {
		t.Fatal(err)
	}
	if info := wait(t, p); info.ExitCode == nil || *info.ExitCode != 5 {
		t.Fatalf("info = %+v", info)
	}
	if err := p.Signal("SIGTERM"); !errors.As(err, new(*ConflictError)) {
		t.Fatalf("signal after exit: %v", err)
	}
	if err := p.Signal("SIGNOPE"); err == nil {
		t.Fatal("unknown signal accepted")
	}

	// Kill takes the whole group down, a child that ignores SIGTERM too.
	q := start(t, s, `trap '' TERM; sleep 300 & echo "child:$!"; wait`)
	out, _ := follow(t, q, 0, contains("\n"))
	child, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "child:")))
	info, err := q.Kill(testCtx(t))
	if err != nil || info.Status != Exited || info.Signal != "SIGKILL" {
		t.Fatalf("kill = %+v %v", info, err)
	}
	if alive(info.Pid) || alive(child) {
		t.Fatal("a process of the group survived the kill")
	}
}

func TestTimeoutKills(t *testing.T) {
	s := newService(t, Options{})
	p := start(t, s, `sleep 300`, func(r *StartRequest) { r.Timeout = 50 * time.Millisecond })
	info := wait(t, p)
	if !info.TimedOut || info.Signal != "SIGTERM" || info.ExitCode != nil {
		t.Fatalf("info = %+v", info)
	}
}

// TestForkAndExit: a leader that leaves a background child behind takes
// it along when it exits; the output still reaches EOF.
func TestForkAndExit(t *testing.T) {
	s := newService(t, Options{})
	p := start(t, s, `sleep 300 & echo "child:$!"`)
	info := wait(t, p)
	out := string(p.Output().Stdout)
	child, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "child:")))
	if info.ExitCode == nil || *info.ExitCode != 0 || child == 0 || alive(child) {
		t.Fatalf("info %+v, child %d alive %v", info, child, alive(child))
	}
}

// TestOutlivesStartContext: the request that started a process ending
// does not end the process.
func TestOutlivesStartContext(t *testing.T) {
	s := newService(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	info, err := s.Start(ctx, StartRequest{Argv: []string{"/bin/sh", "-c", `read x; echo "got $x"`}, Cwd: t.TempDir(), Stdin: true})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	p, _ := s.Get(info.ID)
	if _, err := p.WriteStdin(testCtx(t), strings.NewReader("later\n"), true); err != nil {
		t.Fatal(err)
	}
	follow(t, p, 0, contains("got later"))
	if info := wait(t, p); *info.ExitCode != 0 {
		t.Fatalf("info = %+v", info)
	}
}

func TestShutdownStopsEverything(t *testing.T) {
	s := newService(t, Options{})
	var pids []int
	for range 3 {
		p := start(t, s, `trap '' TERM; sleep 300 & echo "child:$!"; wait`)
		out, _ := follow(t, p, 0, contains("\n"))
		child, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out, "child:")))
		pids = append(pids, p.Info().Pid, child)
	}
	s.Shutdown(testCtx(t))
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("pid %d survived shutdown", pid)
		}
	}
	for _, info := range s.List() {
		if info.Status != Exited {
			t.Fatalf("after shutdown: %+v", info)
		}
	}
	if _, err := s.Start(testCtx(t), StartRequest{Argv: []string{"/bin/true"}}); !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("start after shutdown: %v", err)
	}
}

func TestLogCapAndRetention(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	advance := func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
	s := newService(t, Options{MaxLogBytes: 1000, MaxRetained: 2, Retain: time.Minute, Now: clock})
	p := start(t, s, `head -c 5000 /dev/zero`)
	info := wait(t, p)
	if info.StdoutBytes > 1000 || info.DroppedBytes == 0 || info.StdoutBytes+info.DroppedBytes != 5000 {
		t.Fatalf("info = %+v", info)
	}
	if !p.Output().Truncated {
		t.Fatal("tail does not say output was dropped")
	}
	dir := filepath.Dir(p.LogPath(Stdout))
	// Two more exits: the first process is the oldest beyond MaxRetained.
	for range 2 {
		advance(time.Second)
		wait(t, start(t, s, `true`))
	}
	if _, err := s.Get(info.ID); err == nil {
		t.Fatal("the oldest exited process was kept beyond MaxRetained")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("its log directory is still there: %v", err)
	}
	advance(2 * time.Minute)
	if list := s.List(); len(list) != 0 {
		t.Fatalf("kept past Retain: %+v", list)
	}
}

func TestRemove(t *testing.T) {
	s := newService(t, Options{})
	p := start(t, s, `sleep 300`)
	info, err := s.Remove(testCtx(t), p.Info().ID)
	if err != nil || info.Status != Exited || alive(info.Pid) {
		t.Fatalf("remove = %+v %v", info, err)
	}
	if _, err := os.Stat(filepath.Dir(p.LogPath(Stdout))); !os.IsNotExist(err) {
		t.Fatal("log directory left behind")
	}
	if _, err := p.Read(0, 10); err == nil {
		t.Fatal("read of a removed process")
	}
	if _, err := s.Remove(testCtx(t), info.ID); !errors.As(err, new(*NotFoundError)) {
		t.Fatalf("second remove: %v", err)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"SIGINT": syscall.SIGINT, "int": syscall.SIGINT, "9": syscall.SIGKILL, "Term": syscall.SIGTERM} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("%s = %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "100", "BOGUS"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
