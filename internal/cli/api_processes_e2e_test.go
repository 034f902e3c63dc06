package cli

// End-to-end tests of `agentd api processes` and `agentd api terminals`
// through the built binary against a real daemon.

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// e2eProcess is the part of a ProcessInfo or TerminalInfo the tests read.
type e2eProcess struct {
	ID        string
	Argv      []string
	Cwd       string
	Status    string
	ExitCode  *int
	Signal    *string
	TimedOut  bool
	StdinOpen bool
	Cols      int
	Rows      int
}

type e2eFrame struct {
	Event string
	Data  struct {
		e2eProcess
		Seq    uint64
		Stream string
		Offset int64
		Data   string
	}
}

func TestAPIProcessesE2E(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "work"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := startAgentdServer(t, "--no-token", "--fs-root", root)

	// A command with binary output on both streams and an exit code.
	script := `printf 'out\000\377'; printf 'err\n' >&2; printf '%s' "$GREETING"; pwd >&2; exit 3`
	p := decodeJSON[e2eProcess](t, d.api(t, "processes", "start", "--cwd", "work", "--env", "GREETING=hi there", "--", "sh", "-c", script))
	if !strings.HasPrefix(p.ID, "proc_") || p.Cwd != filepath.Join(root, "work") || len(p.Argv) != 3 {
		t.Fatalf("start: %+v", p)
	}
	wantOut, wantErr := "out\x00\xffhi there", "err\n"+filepath.Join(root, "work")+"\n"

	// follow in JSON: the output frames, then the exit.
	lines := e2eLines(d.api(t, "processes", "follow", p.ID))
	var stdout, stderr strings.Builder
	for _, line := range lines[:len(lines)-1] {
		f := decodeJSON[e2eFrame](t, line)
		b, err := base64.StdEncoding.DecodeString(f.Data.Data)
		if f.Event != "output" || err != nil {
			t.Fatalf("frame %q", line)
		}
		map[string]*strings.Builder{"stdout": &stdout, "stderr": &stderr}[f.Data.Stream].Write(b)
	}
	last := decodeJSON[e2eFrame](t, lines[len(lines)-1])
	if last.Event != "exit" || last.Data.ExitCode == nil || *last.Data.ExitCode != 3 || last.Data.Status != "exited" {
		t.Errorf("last frame %q", lines[len(lines)-1])
	}
	if stdout.String() != wantOut || stderr.String() != wantErr {
		t.Errorf("followed stdout %q stderr %q", stdout.String(), stderr.String())
	}

	// The same bytes raw, from follow, output and logs.
	for _, args := range [][]string{
		{"processes", "follow", p.ID, "--raw"},
		{"processes", "output", p.ID, "--raw"},
	} {
		r := e2eRun(t, nil, append([]string{"api", "--endpoint", d.URL}, args...)...)
		if r.code != 0 || r.stdout != wantOut || !strings.HasPrefix(r.stderr, wantErr) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
		if args[1] == "follow" && !strings.HasSuffix(r.stderr, "["+p.ID+" exited: 3]\n") {
			t.Errorf("follow --raw does not report the exit: %q", r.stderr)
		}
	}
	type output struct{ Stdout, Stderr, Encoding string }
	if o := decodeJSON[output](t, d.api(t, "processes", "output", p.ID)); o.Stdout != "out\x00\ufffdhi there" || o.Encoding != "utf8" {
		t.Errorf("output: %+v", o)
	}
	if o := decodeJSON[output](t, d.api(t, "processes", "output", p.ID, "--encoding", "base64")); o.Stdout != base64.StdEncoding.EncodeToString([]byte(wantOut)) {
		t.Errorf("output --encoding base64: %+v", o)
	}
	if got := d.api(t, "processes", "logs", p.ID, "stdout"); got != wantOut {
		t.Errorf("logs stdout: %q", got)
	}
	logFile := filepath.Join(t.TempDir(), "stderr.log")
	d.api(t, "processes", "logs", p.ID, "stderr", "-o", logFile)
	if got, err := os.ReadFile(logFile); err != nil || string(got) != wantErr {
		t.Errorf("logs stderr -o: %q %v", got, err)
	}
	if got := decodeJSON[e2eProcess](t, d.api(t, "processes", "get", p.ID)); got.Status != "exited" || *got.ExitCode != 3 {
		t.Errorf("get: %+v", got)
	}

	// stdin: text, then binary bytes streamed from our stdin, then close.
	cat := decodeJSON[e2eProcess](t, d.api(t, "processes", "start", "--stdin", "--", "cat"))
	if !cat.StdinOpen {
		t.Fatalf("start --stdin: %+v", cat)
	}
	if got := d.api(t, "processes", "stdin", cat.ID, "line\n"); got != `{"bytesWritten":5}`+"\n" {
		t.Errorf("stdin text: %q", got)
	}
	d.apiIn(t, binaryBytes, "processes", "stdin", cat.ID, "-", "--close")
	r := e2eRun(t, nil, "api", "--endpoint", d.URL, "processes", "follow", cat.ID, "--raw")
	if r.code != 0 || r.stdout != "line\n"+string(binaryBytes) || r.stderr != "["+cat.ID+" exited: 0]\n" {
		t.Errorf("cat echoed %q, stderr %q", r.stdout, r.stderr)
	}
	d.apiFails(t, 409, "processes", "stdin", cat.ID, "more")

	// signal, kill, timeout, delete.
	sleeper := decodeJSON[e2eProcess](t, d.api(t, "processes", "start", "--", "sleep", "60"))
	d.api(t, "processes", "signal", sleeper.ID, "INT")
	if last := e2eLines(d.api(t, "processes", "follow", sleeper.ID)); !strings.Contains(last[len(last)-1], `"signal":"SIGINT"`) {
		t.Errorf("after signal INT: %q", last)
	}
	d.apiFails(t, 409, "processes", "signal", sleeper.ID, "TERM")
	sleeper = decodeJSON[e2eProcess](t, d.api(t, "processes", "start", "--", "sleep", "60"))
	if k := decodeJSON[e2eProcess](t, d.api(t, "processes", "kill", sleeper.ID)); k.Status != "exited" || k.Signal == nil {
		t.Errorf("kill: %+v", k)
	}
	timed := decodeJSON[e2eProcess](t, d.api(t, "processes", "start", "--timeout", "200ms", "--", "sleep", "60"))
	if last := e2eLines(d.api(t, "processes", "follow", timed.ID)); !strings.Contains(last[len(last)-1], `"timedOut":true`) {
		t.Errorf("after --timeout: %q", last)
	}
	list := decodeJSON[struct{ Processes []e2eProcess }](t, d.api(t, "processes", "list"))
	if len(list.Processes) != 5 {
		t.Errorf("list: %d processes, want 5", len(list.Processes))
	}
	d.api(t, "processes", "delete", p.ID)
	for _, args := range [][]string{
		{"processes", "get", p.ID}, {"processes", "follow", p.ID}, {"processes", "logs", p.ID, "stdout"},
		{"processes", "output", p.ID}, {"processes", "kill", "proc_nope"}, {"processes", "delete", "proc_nope"},
	} {
		d.apiFails(t, 404, args...)
	}

	// The working directory stays inside the root.
	for _, cwd := range []string{"..", "/", "work/../../x"} {
		d.apiFails(t, 400, "processes", "start", "--cwd", cwd, "--", "true")
	}
	for _, args := range [][]string{
		{"processes", "start"},
		{"processes", "start", "--env", "NOVALUE", "--", "true"},
		{"processes", "logs", "proc_x", "stdall"},
		{"processes", "output", "proc_x", "--encoding", "utf16"},
	} {
		if r := e2eRun(t, nil, append([]string{"api", "--endpoint", d.URL}, args...)...); r.code != 2 {
			t.Errorf("%q: exit %d, want 2", args, r.code)
		}
	}
}

func TestAPITerminalsE2E(t *testing.T) {
	root := t.TempDir()
	d := startAgentdServer(t, "--no-token", "--fs-root", root)

	script := `printf 'ready\n'; read line; printf 'got:%s\n' "$line"; exit 4`
	term := decodeJSON[e2eProcess](t, d.api(t, "terminals", "create", "--cols", "100", "--rows", "30", "--", "sh", "-c", script))
	if !strings.HasPrefix(term.ID, "term_") || term.Cols != 100 || term.Rows != 30 || term.Status != "running" || term.Cwd != root {
		t.Fatalf("create: %+v", term)
	}
	follower := startE2EStream(t, d, "terminals", "follow", term.ID, "--raw")
	follower.waitFor(t, contains("ready"))
	if got := decodeJSON[e2eProcess](t, d.api(t, "terminals", "resize", term.ID, "--cols", "50", "--rows", "20")); got.Cols != 50 || got.Rows != 20 {
		t.Errorf("resize: %+v", got)
	}
	if got := decodeJSON[e2eProcess](t, d.api(t, "terminals", "get", term.ID)); got.Cols != 50 || got.Status != "running" {
		t.Errorf("get: %+v", got)
	}
	if got := d.api(t, "terminals", "input", term.ID, "abc\r"); got != `{"bytesWritten":4}`+"\n" {
		t.Errorf("input: %q", got)
	}
	follower.waitFor(t, contains("got:abc"))
	if code := follower.wait(t); code != 0 || !strings.Contains(follower.stderr.String(), "["+term.ID+" exited: 4]") {
		t.Errorf("follow --raw: exit %d, stderr %q", code, follower.stderr.String())
	}
	// In JSON, from the start: the same output, then the exit.
	var screen strings.Builder
	lines := e2eLines(d.api(t, "terminals", "follow", term.ID))
	for _, line := range lines[:len(lines)-1] {
		b, _ := base64.StdEncoding.DecodeString(decodeJSON[e2eFrame](t, line).Data.Data)
		screen.Write(b)
	}
	if last := decodeJSON[e2eFrame](t, lines[len(lines)-1]); last.Event != "exit" || *last.Data.ExitCode != 4 ||
		!strings.Contains(screen.String(), "ready") || !strings.Contains(screen.String(), "got:abc") {
		t.Errorf("follow: screen %q, last %q", screen.String(), lines[len(lines)-1])
	}
	// --offset skips what was already seen.
	if lines := e2eLines(d.api(t, "terminals", "follow", term.ID, "--offset", "3")); !strings.Contains(lines[0], `"offset":3`) {
		t.Errorf("follow --offset 3 starts with %q", lines[0])
	}
	d.apiFails(t, 409, "terminals", "input", term.ID, "late")

	// A shell read from our stdin, closed while it waits.
	shell := decodeJSON[e2eProcess](t, d.api(t, "terminals", "create", "--", "sh"))
	d.apiIn(t, []byte("echo from-stdin\n"), "terminals", "input", shell.ID, "-")
	list := decodeJSON[struct{ Terminals []e2eProcess }](t, d.api(t, "terminals", "list"))
	if len(list.Terminals) != 2 {
		t.Errorf("list: %+v", list)
	}
	if closed := decodeJSON[e2eProcess](t, d.api(t, "terminals", "close", shell.ID)); closed.Status != "exited" {
		t.Errorf("close: %+v", closed)
	}
	d.apiFails(t, 404, "terminals", "get", shell.ID)
	d.apiFails(t, 404, "terminals", "follow", "term_nope")
	d.apiFails(t, 400, "terminals", "create", "--cwd", "..")
	if r := e2eRun(t, nil, "api", "--endpoint", d.URL, "terminals", "resize", term.ID, "--cols", "10"); r.code != 2 {
		t.Errorf("resize without --rows: exit %d, want 2", r.code)
	}
}
