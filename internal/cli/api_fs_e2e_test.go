package cli

// End-to-end tests of `agentd api fs` through the built binary against a
// real daemon confined to a temporary root.

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// binaryBytes is file content no text layer would leave alone: NUL bytes,
// invalid UTF-8, a lone CR and no final newline.
var binaryBytes = []byte("\x00\xff\xfeagentd\x00\r\n\x80\xc3\x28 end\r")

// e2eRunIn runs the binary like e2eRun, with stdin as its standard input.
func e2eRunIn(t *testing.T, stdin []byte, args ...string) e2eResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), e2eWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentdBin, args...)
	cmd.Env = e2eEnv(t)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("agentd %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("agentd %q did not finish within %s; stderr:\n%s", args, e2eWait, stderr.String())
	}
	r := e2eResult{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	t.Logf("agentd %s → exit %d\nstdout: %.400q\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// apiIn runs `agentd api --endpoint <d> args…` with stdin and requires exit 0.
func (d *e2eDaemon) apiIn(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	r := e2eRunIn(t, stdin, append([]string{"api", "--endpoint", d.URL}, args...)...)
	if r.code != 0 {
		t.Fatalf("agentd api %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// e2eProblem is the problem document an api command prints first on
// stderr when it exits 3.
type e2eProblem struct {
	Type, Title, Detail string
	Status              int
}

// apiFails runs an api command that must fail with an API error (exit 3)
// of the given status, and returns the problem.
func (d *e2eDaemon) apiFails(t *testing.T, status int, args ...string) e2eProblem {
	t.Helper()
	r := e2eRun(t, nil, append([]string{"api", "--endpoint", d.URL}, args...)...)
	var p e2eProblem
	first, _, _ := strings.Cut(r.stderr, "\n")
	if err := json.Unmarshal([]byte(first), &p); err != nil || r.code != 3 || p.Status != status {
		t.Fatalf("agentd api %s: exit %d, stderr %q; want exit 3 with a %d problem first", strings.Join(args, " "), r.code, r.stderr, status)
	}
	return p
}

func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not the JSON expected: %q: %v", out, err)
	}
	return v
}

// e2eStream is a running api command whose output lines are read as they
// come (a follower or a watcher).
type e2eStream struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	more   chan struct{} // closed and replaced on each line and at the end
	ended  bool
	exited chan struct{}
	stderr bytes.Buffer
}

func startE2EStream(t *testing.T, d *e2eDaemon, args ...string) *e2eStream {
	t.Helper()
	s := &e2eStream{more: make(chan struct{}), exited: make(chan struct{})}
	s.cmd = exec.Command(agentdBin, append([]string{"api", "--endpoint", d.URL}, args...)...)
	s.cmd.Env = e2eEnv(t)
	s.cmd.Stderr = &s.stderr
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			s.add(sc.Text(), false)
		}
		s.add("", true)
		_ = s.cmd.Wait()
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *e2eStream) add(line string, end bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if end {
		s.ended = true
	} else {
		s.lines = append(s.lines, line)
	}
	close(s.more)
	s.more = make(chan struct{})
}

// waitFor returns the lines up to the first that match accepts, failing
// at the deadline or if the command ends first.
func (s *e2eStream) waitFor(t *testing.T, match func(string) bool) []string {
	t.Helper()
	deadline := time.After(e2eWait)
	for seen := 0; ; {
		s.mu.Lock()
		got, ended, more := s.lines, s.ended, s.more
		s.mu.Unlock()
		for ; seen < len(got); seen++ {
			if match(got[seen]) {
				return got[:seen+1]
			}
		}
		if ended {
			t.Fatalf("%v ended first; printed %q; stderr: %s", s.cmd.Args[3:], got, s.stderr.String())
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("%v printed no such line within %s; printed %q", s.cmd.Args[3:], e2eWait, got)
		}
	}
}

// wait waits for the command to exit by itself and returns its exit code.
func (s *e2eStream) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(e2eWait):
		t.Fatalf("%v still running after %s; stderr: %s", s.cmd.Args[3:], e2eWait, s.stderr.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

// output is every line printed so far.
func (s *e2eStream) output() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lines
}

func (s *e2eStream) stop() {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func contains(sub string) func(string) bool {
	return func(line string) bool { return strings.Contains(line, sub) }
}

func TestAPIFsE2E(t *testing.T) {
	root := t.TempDir()
	d := startAgentdServer(t, "--no-token", "--fs-root", root)
	local := t.TempDir()
	src := filepath.Join(local, "src.bin")
	if err := os.WriteFile(src, binaryBytes, 0o644); err != nil {
		t.Fatal(err)
	}

	// write from a file and from stdin, read back byte for byte.
	type written struct {
		Path         string
		BytesWritten int
	}
	w := decodeJSON[written](t, d.api(t, "fs", "write", "data.bin", src))
	if w.Path != filepath.Join(root, "data.bin") || w.BytesWritten != len(binaryBytes) {
		t.Fatalf("write from a file: %+v", w)
	}
	w = decodeJSON[written](t, d.apiIn(t, binaryBytes, "fs", "write", "nested/new/stdin.bin", "-"))
	if w.Path != filepath.Join(root, "nested/new/stdin.bin") || w.BytesWritten != len(binaryBytes) {
		t.Fatalf("write from stdin: %+v", w)
	}
	d.apiIn(t, []byte("replaced"), "fs", "write", "nested/implicit.txt") // no file argument: stdin
	for _, tc := range []struct {
		name string
		args []string
		want []byte
	}{
		{"file", []string{"data.bin"}, binaryBytes},
		{"from stdin", []string{filepath.Join(root, "nested/new/stdin.bin")}, binaryBytes},
		{"implicit stdin", []string{"nested/implicit.txt"}, []byte("replaced")},
		{"range", []string{"data.bin", "--range", "1-3"}, binaryBytes[1:4]},
		{"open range", []string{"data.bin", "--range", "15-"}, binaryBytes[15:]},
		{"suffix", []string{"data.bin", "--range", "-4"}, binaryBytes[len(binaryBytes)-4:]},
	} {
		if got := d.api(t, append([]string{"fs", "read"}, tc.args...)...); got != string(tc.want) {
			t.Errorf("read %s: %q, want %q", tc.name, got, tc.want)
		}
	}
	out := filepath.Join(local, "out.bin")
	if got := d.api(t, "fs", "read", "data.bin", "-o", out); got != "" {
		t.Errorf("read -o printed %q", got)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, binaryBytes) {
		t.Errorf("read -o wrote %q (%v)", got, err)
	}

	type stat struct {
		Path, EntryType, Modified string
		Size                      int
	}
	if s := decodeJSON[stat](t, d.api(t, "fs", "stat", "data.bin")); s.EntryType != "file" || s.Size != len(binaryBytes) || s.Modified == "" {
		t.Errorf("stat: %+v", s)
	}
	if got := d.api(t, "fs", "mkdir", "dir/sub"); got != `{"path":"`+filepath.Join(root, "dir/sub")+`"}`+"\n" {
		t.Errorf("mkdir: %q", got)
	}
	type entry struct{ Name, EntryType string }
	var names []string
	for _, e := range decodeJSON[[]entry](t, d.api(t, "fs", "entries")) {
		names = append(names, e.Name+":"+e.EntryType)
	}
	if strings.Join(names, " ") != "data.bin:file dir:directory nested:directory" {
		t.Errorf("entries: %q", names)
	}

	// move: an existing destination needs --overwrite.
	d.api(t, "fs", "write", "dir/sub/moved.bin", src)
	p := d.apiFails(t, 400, "fs", "move", "data.bin", "dir/sub/moved.bin")
	if !strings.Contains(p.Detail, "destination already exists") {
		t.Errorf("move onto an existing file: %+v", p)
	}
	type moved struct{ From, To string }
	if m := decodeJSON[moved](t, d.api(t, "fs", "move", "data.bin", "dir/sub/moved.bin", "--overwrite")); m.To != filepath.Join(root, "dir/sub/moved.bin") {
		t.Errorf("move --overwrite: %+v", m)
	}

	// archive → upload restores the tree, bytes intact.
	tgz := filepath.Join(local, "dir.tar.gz")
	d.api(t, "fs", "archive", "dir", "-o", tgz)
	type uploaded struct {
		Paths     []string
		Truncated bool
	}
	u := decodeJSON[uploaded](t, d.api(t, "fs", "upload", "restored", tgz))
	if !strings.Contains(strings.Join(u.Paths, " "), filepath.Join(root, "restored/sub/moved.bin")) || u.Truncated {
		t.Errorf("upload: %+v", u)
	}
	tarball, err := os.ReadFile(tgz)
	if err != nil {
		t.Fatal(err)
	}
	d.apiIn(t, tarball, "fs", "upload", "from-stdin", "-")
	for _, path := range []string{"restored/sub/moved.bin", "from-stdin/sub/moved.bin"} {
		if got := d.api(t, "fs", "read", path); got != string(binaryBytes) {
			t.Errorf("%s after the round trip: %q", path, got)
		}
	}
	zipped := d.api(t, "fs", "archive", "dir", "--format", "zip") // to stdout: a pipe
	zr, err := zip.NewReader(strings.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("archive --format zip: %v", err)
	}
	var zipNames []string
	for _, f := range zr.File {
		zipNames = append(zipNames, f.Name)
	}
	if !strings.Contains(strings.Join(zipNames, " "), "sub/moved.bin") {
		t.Errorf("zip holds %q", zipNames)
	}

	// delete: a non-empty directory needs --recursive.
	d.apiFails(t, 400, "fs", "delete", "dir")
	d.api(t, "fs", "delete", "dir", "--recursive")
	if p := d.apiFails(t, 400, "fs", "stat", "dir"); !strings.Contains(p.Detail, "path not found") {
		t.Errorf("stat of a deleted path: %+v", p)
	}

	// Nothing outside the root: .., absolute paths and symlinks leading out.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(root, filepath.Join(outside, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"fs", "read", rel},
		{"fs", "read", filepath.Join(outside, "secret")},
		{"fs", "read", "escape/secret"},
		{"fs", "write", "../planted", src},
		{"fs", "entries", ".."},
		{"fs", "mkdir", "escape/new"},
		{"fs", "move", "nested", "../moved-out"},
		{"fs", "archive", "escape", "-o", filepath.Join(local, "x.tgz")},
	} {
		r := e2eRun(t, nil, append([]string{"api", "--endpoint", d.URL}, args...)...)
		if r.code != 3 || !strings.Contains(r.stderr, `"status":400`) || r.stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want a 400 problem", args, r.code, r.stdout, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "planted")); !os.IsNotExist(err) {
		t.Errorf("a write escaped the root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(local, "x.tgz")); !os.IsNotExist(err) {
		t.Errorf("a refused archive left %s behind: %v", "x.tgz", err)
	}

	// An unknown session is a 404; bad flags are usage errors.
	d.apiFails(t, 404, "fs", "entries", "--session", "nope")
	for _, args := range [][]string{
		{"fs", "read", "x", "--range", "bytes"},
		{"fs", "archive", "x", "--format", "rar"},
		{"fs", "move", "a"},
		{"fs", "write", "x", filepath.Join(local, "missing")},
	} {
		r := e2eRun(t, nil, append([]string{"api", "--endpoint", d.URL}, args...)...)
		wantCode := 2
		if args[1] == "write" {
			wantCode = 1 // a local file that is not there
		}
		if r.code != wantCode {
			t.Errorf("%q: exit %d, want %d; stderr %q", args, r.code, wantCode, r.stderr)
		}
	}
}

func TestAPIFsWatchE2E(t *testing.T) {
	root := t.TempDir()
	d := startAgentdServer(t, "--no-token", "--fs-root", root, "--fs-watch-interval", "50ms")
	d.api(t, "fs", "mkdir", "watched")
	w := startE2EStream(t, d, "fs", "watch", "watched")
	w.waitFor(t, contains(`"event":"ready"`))
	d.apiIn(t, []byte("x"), "fs", "write", "watched/new.txt")
	line := w.waitFor(t, contains(`"event":"change"`))
	type frame struct {
		Event string
		Data  struct{ Type, Path, EntryType string }
	}
	f := decodeJSON[frame](t, line[len(line)-1])
	if f.Data.Type != "created" || f.Data.Path != filepath.Join(root, "watched/new.txt") || f.Data.EntryType != "file" {
		t.Errorf("change: %+v", f)
	}
	// Removing the directory ends the stream with an error: exit 1.
	d.api(t, "fs", "delete", "watched", "--recursive")
	if code := w.wait(t); code != 1 || !strings.Contains(w.stderr.String(), "watch ended") {
		t.Errorf("watch of a removed directory: exit %d, stderr %q", code, w.stderr.String())
	}
	if last := w.output()[len(w.output())-1]; !strings.Contains(last, `"event":"error"`) {
		t.Errorf("last line %q, want the error frame", last)
	}

	d.apiFails(t, 400, "fs", "watch", "nowhere")
}
