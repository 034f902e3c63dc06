package agentproc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sh(t *testing.T, script string, opts Options) *Process {
	t.Helper()
	p, err := Start(testCtx(t), Spec{Path: "/bin/sh", Args: []string{"-c", script}, Dir: t.TempDir(), Env: []string{"PATH=/usr/bin:/bin"}, Stdin: true}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p
}

// alive reports whether pid is a live process: zombies waiting for a
// reaper that is not ours do not count.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// readLine reads the first stdout line (a pid printed by the script).
func readPid(t *testing.T, p *Process) int {
	t.Helper()
	line, _, err := NewLineReader(p.Stdout, 64).Next()
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(line))
	if err != nil {
		t.Fatalf("pid line %q: %v", line, err)
	}
	return pid
}

func TestStopKillsTheWholeGroup(t *testing.T) {
	// The child ignores SIGTERM, so only the SIGKILL after the grace ends it.
	p := sh(t, `trap '' TERM; sleep 300 & echo $!; wait`, Options{Grace: 100 * time.Millisecond})
	child := readPid(t, p)
	exit := p.Stop(testCtx(t))
	if exit.Success() {
		t.Fatalf("exit = %+v, want a signal", exit)
	}
	if alive(p.Pid()) || alive(child) {
		t.Fatal("a process of the group survived Stop")
	}
}

func TestLeaderCrashTakesDescendantsDown(t *testing.T) {
	p := sh(t, `sleep 300 & echo $!; exit 3`, Options{})
	child := readPid(t, p)
	<-p.Done()
	if e := p.Exit(); e.Code != 3 {
		t.Fatalf("exit = %+v, want code 3", e)
	}
	if alive(child) {
		t.Fatal("the crashed leader's child is still running")
	}
}

func TestExitAndStderrReport(t *testing.T) {
	p := sh(t, `for i in $(seq 1 100); do echo "line $i" >&2; done; printf 'no newline' >&2; exit 2`, Options{})
	<-p.Done()
	if e := p.Exit(); e.Code != 2 || e.Signal != "" || e.Success() {
		t.Fatalf("exit = %+v", e)
	}
	r := p.Stderr().Report()
	if !r.Truncated || r.TotalLines != 101 {
		t.Fatalf("report = %+v", r)
	}
	if !strings.HasPrefix(r.Head, "line 1\n") || strings.Count(r.Head, "\n") != headLines-1 {
		t.Errorf("head = %q", r.Head)
	}
	if !strings.HasSuffix(r.Tail, "line 100\nno newline") || strings.Count(r.Tail, "\n") != tailLines-1 {
		t.Errorf("tail = %q", r.Tail)
	}
}

func TestStderrShortAndMultibyteCut(t *testing.T) {
	l := NewLog()
	long := strings.Repeat("é", 400) // 800 bytes, cut inside a rune must not happen
	fmt.Fprintf(l, "a\r\n%s\nb\n", long)
	r := l.Report()
	lines := strings.Split(r.Head, "\n")
	if r.Truncated || r.TotalLines != 3 || len(lines) != 3 || lines[0] != "a" || lines[2] != "b" {
		t.Fatalf("report = %+v", r)
	}
	if !strings.HasSuffix(lines[1], "...") || len(lines[1]) > maxLineSize+3 || !strings.HasPrefix(lines[1], "éé") {
		t.Fatalf("long line = %q", lines[1])
	}
	for _, r := range strings.TrimSuffix(lines[1], "...") {
		if r != 'é' {
			t.Fatalf("cut split a rune: %q", lines[1])
		}
	}
}

func TestHugeLineDoesNotHang(t *testing.T) {
	p := sh(t, `head -c 10485760 /dev/zero | tr '\0' x; echo; echo after`, Options{})
	lr := NewLineReader(p.Stdout, 1<<20)
	line, truncated, err := lr.Next()
	if err != nil || !truncated || len(line) != 1<<20 {
		t.Fatalf("huge line: len %d truncated %v err %v", len(line), truncated, err)
	}
	line, truncated, err = lr.Next()
	if err != nil || truncated || string(line) != "after" {
		t.Fatalf("next line = %q %v %v", line, truncated, err)
	}
	if _, _, err := lr.Next(); err != io.EOF {
		t.Fatalf("end = %v", err)
	}
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
		cut  []bool
	}{
		{"a\nbb\r\n\nccc", 10, []string{"a", "bb", "", "ccc"}, []bool{false, false, false, false}},
		{"abcdef\nxy\n", 3, []string{"abc", "xy"}, []bool{true, false}},
		{"abc\n", 3, []string{"abc"}, []bool{false}},
		{"abcd", 3, []string{"abc"}, []bool{true}},
	}
	for _, tc := range tests {
		lr := NewLineReader(strings.NewReader(tc.in), tc.max)
		for i, want := range tc.want {
			line, cut, err := lr.Next()
			if err != nil || string(line) != want || cut != tc.cut[i] {
				t.Errorf("%q line %d = %q cut %v err %v, want %q cut %v", tc.in, i, line, cut, err, want, tc.cut[i])
			}
		}
		if _, _, err := lr.Next(); err != io.EOF {
			t.Errorf("%q: end = %v", tc.in, err)
		}
	}
}

func TestEnvAndDir(t *testing.T) {
	t.Setenv("AGENTD_SECRET_TEST", "leak")
	dir := t.TempDir()
	p, err := Start(testCtx(t), Spec{Path: "/bin/sh", Args: []string{"-c", `pwd; env`}, Dir: dir, Env: []string{"ONLY=1"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(p.Stdout)
	<-p.Done()
	real, _ := filepath.EvalSymlinks(dir)
	if !bytes.HasPrefix(out, []byte(real+"\n")) || !bytes.Contains(out, []byte("ONLY=1")) || bytes.Contains(out, []byte("leak")) {
		t.Fatalf("output = %s", out)
	}
}

func TestMissingDirIsRefused(t *testing.T) {
	_, err := Start(testCtx(t), Spec{Path: "/bin/true", Dir: filepath.Join(t.TempDir(), "nope")}, Options{})
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("err = %v", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}
