package cli

// End-to-end tests of `agentd api`: TestMain builds the real binary once,
// the tests start `agentd server` and run `agentd api …` as a user would.
// Nothing sleeps: every wait is on a process's output or exit, bounded by
// a deadline.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// agentdBin is the binary TestMain built; empty under -short.
var agentdBin string

// buildErr is why building failed, reported by every e2e test.
var buildErr error

func TestMain(m *testing.M) {
	flag.Parse()
	code := func() int {
		if !testing.Short() {
			dir, err := os.MkdirTemp("", "agentd-cli-e2e-")
			if err != nil {
				fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
				return 1
			}
			defer os.RemoveAll(dir)
			agentdBin, buildErr = buildAgentdBin(dir)
		}
		code := m.Run()
		if code == 0 {
			if err := goleak.Find(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				return 1
			}
		}
		return code
	}()
	os.Exit(code)
}

// buildAgentdBin compiles cmd/agentd as users get it: static, without cgo.
func buildAgentdBin(dir string) (string, error) {
	bin := filepath.Join(dir, "agentd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "../../cmd/agentd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

const (
	e2eWait      = 90 * time.Second // a command, a daemon's start (agents list asks each real agent its --version: seconds each on a loaded machine)
	e2eStopGrace = 15 * time.Second // from SIGTERM to exit
)

func requireAgentdBin(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the built binary; skipped under -short")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// e2eEnv is the environment without AGENTD_* variables, with XDG_DATA_HOME
// in a temp dir, plus extra.
func e2eEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AGENTD_") && !strings.HasPrefix(kv, "XDG_DATA_HOME=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "XDG_DATA_HOME="+t.TempDir()), extra...)
}

// e2eDaemon is a running `agentd server`.
type e2eDaemon struct {
	URL    string
	cmd    *exec.Cmd
	exited chan struct{}
}

var listeningLine = regexp.MustCompile(`msg="agentd listening" addr=(http://\S+)`)

// startAgentdServer starts `agentd server -p 0 --data-dir <tmp> args…`, waits
// for its listening line and stops it with SIGTERM when the test ends.
func startAgentdServer(t *testing.T, args ...string) *e2eDaemon {
	t.Helper()
	requireAgentdBin(t)
	args = append([]string{"server", "-p", "0", "--data-dir", t.TempDir()}, args...)
	d := &e2eDaemon{cmd: exec.Command(agentdBin, args...), exited: make(chan struct{})}
	d.cmd.Env = e2eEnv(t)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(d.exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Logf("agentd server: %s", sc.Text())
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		_ = d.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
			if code := d.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("agentd server exited %d after SIGTERM", code)
			}
		case <-time.After(e2eStopGrace):
			t.Errorf("agentd server still running %s after SIGTERM; killing it", e2eStopGrace)
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	})
	select {
	case d.URL = <-addr:
	case <-d.exited:
		t.Fatal("agentd server exited before listening")
	case <-time.After(e2eWait):
		t.Fatal("agentd server did not log that it listens")
	}
	return d
}

// e2eResult is a finished run of the binary.
type e2eResult struct {
	code           int
	stdout, stderr string
}

// e2eRun runs the binary to completion with env added to a clean one.
func e2eRun(t *testing.T, env []string, args ...string) e2eResult {
	t.Helper()
	return e2eRunWithin(t, e2eWait, env, args...)
}

// e2eRunWithin is e2eRun with a deadline of its own, for commands that
// download.
func e2eRunWithin(t *testing.T, wait time.Duration, env []string, args ...string) e2eResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentdBin, args...)
	cmd.Env = e2eEnv(t, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("agentd %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("agentd %q did not finish within %s; stderr:\n%s", args, wait, stderr.String())
	}
	r := e2eResult{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	t.Logf("agentd %s → exit %d\nstdout: %.400s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	return r
}

// api runs `agentd api --endpoint <d> args…` and requires exit 0.
func (d *e2eDaemon) api(t *testing.T, args ...string) string {
	t.Helper()
	r := e2eRun(t, nil, append([]string{"api", "--endpoint", d.URL}, args...)...)
	if r.code != 0 {
		t.Fatalf("agentd api %s: exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	}
	return r.stdout
}

// e2eEvent is the part of an event the tests read.
type e2eEvent struct {
	Sequence uint64          `json:"sequence"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
}

func e2eDecode(t *testing.T, line string) e2eEvent {
	t.Helper()
	var ev e2eEvent
	if err := json.Unmarshal([]byte(line), &ev); err != nil {
		t.Fatalf("not an event: %q: %v", line, err)
	}
	return ev
}

// e2eLines splits output into its lines.
func e2eLines(out string) []string {
	out = strings.TrimSuffix(out, "\n")
	if out == "" {
		return nil
	}
	return strings.Split(out, "\n")
}

// e2eFollower is a running `agentd api sessions events --follow`.
type e2eFollower struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	lines  []string
	more   chan struct{} // closed and replaced on each line and at the end
	ended  bool
	exited chan struct{}
	stderr bytes.Buffer
}

func startE2EFollower(t *testing.T, d *e2eDaemon, id string) *e2eFollower {
	t.Helper()
	f := &e2eFollower{more: make(chan struct{}), exited: make(chan struct{})}
	f.cmd = exec.Command(agentdBin, "api", "--endpoint", d.URL, "sessions", "events", id, "--follow")
	f.cmd.Env = e2eEnv(t)
	f.cmd.Stderr = &f.stderr
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(f.exited)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 4<<20)
		for sc.Scan() {
			f.add(sc.Text(), false)
		}
		f.add("", true)
		_ = f.cmd.Wait()
	}()
	t.Cleanup(func() {
		select {
		case <-f.exited:
		default:
			_ = f.cmd.Process.Kill()
			<-f.exited
		}
	})
	return f
}

func (f *e2eFollower) add(line string, end bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if end {
		f.ended = true
	} else {
		f.lines = append(f.lines, line)
	}
	close(f.more)
	f.more = make(chan struct{})
}

// waitFor returns the printed lines once one matches, failing at the
// deadline or if the e2eFollower stops first.
func (f *e2eFollower) waitFor(t *testing.T, match func(e2eEvent) bool) []string {
	t.Helper()
	deadline := time.After(e2eWait)
	for seen := 0; ; {
		f.mu.Lock()
		got, ended, more := f.lines, f.ended, f.more
		f.mu.Unlock()
		for ; seen < len(got); seen++ {
			if match(e2eDecode(t, got[seen])) {
				return got[:seen+1]
			}
		}
		if ended {
			t.Fatalf("follower stopped first; stderr: %s", f.stderr.String())
		}
		select {
		case <-more:
		case <-deadline:
			t.Fatalf("follower printed no such event within %s", e2eWait)
		}
	}
}

func e2eOfType(typ string) func(e2eEvent) bool { return func(e e2eEvent) bool { return e.Type == typ } }

// TestAPIE2E drives a mock session through every session command.
func TestAPIE2E(t *testing.T) {
	d := startAgentdServer(t, "--no-token")

	var health struct{ Status, Version string }
	if err := json.Unmarshal([]byte(d.api(t, "health")), &health); err != nil || health.Status != "ok" {
		t.Fatalf("health: %+v %v", health, err)
	}
	var agentList struct{ Agents []struct{ ID string } }
	if err := json.Unmarshal([]byte(d.api(t, "agents", "list")), &agentList); err != nil || len(agentList.Agents) != 7 {
		t.Fatalf("agents list: %+v %v", agentList, err)
	}
	if out := d.api(t, "agents", "modes", "mock"); !strings.Contains(out, `"id":"plan"`) {
		t.Errorf("modes: %s", out)
	}
	if out := d.api(t, "agents", "models", "mock"); !strings.Contains(out, `"defaultModel":"mock"`) {
		t.Errorf("models: %s", out)
	}
	if out := d.api(t, "agents", "install", "mock"); out != "" {
		t.Errorf("install prints %q", out)
	}

	if out := d.api(t, "sessions", "create", "s1", "--agent", "mock", "--agent-mode", "plan", "--title", "e2e"); out != `{"healthy":true,"nativeSessionId":"mock-s1"}`+"\n" {
		t.Errorf("create: %q", out)
	}
	var list struct {
		Sessions []struct {
			SessionID string `json:"sessionId"`
			AgentMode string `json:"agentMode"`
			Title     string `json:"title"`
		}
	}
	if err := json.Unmarshal([]byte(d.api(t, "sessions", "list")), &list); err != nil || len(list.Sessions) != 1 ||
		list.Sessions[0].SessionID != "s1" || list.Sessions[0].AgentMode != "plan" || list.Sessions[0].Title != "e2e" {
		t.Errorf("list: %+v %v", list, err)
	}

	// A turn through send-message-stream: one event per line, ending at
	// the turn's end.
	turn := e2eLines(d.api(t, "sessions", "send-message-stream", "s1", "echo hello"))
	if len(turn) < 3 || e2eDecode(t, turn[0]).Type != "turn.started" || e2eDecode(t, turn[len(turn)-1]).Type != "turn.ended" {
		t.Fatalf("send-message-stream printed:\n%s", strings.Join(turn, "\n"))
	}

	// The demo through send-message, watched by events --follow.
	f := startE2EFollower(t, d, "s1")
	f.waitFor(t, e2eOfType("turn.ended")) // the replay reached the end of the first turn
	if out := d.api(t, "sessions", "send-message", "s1", "demo"); out != "" {
		t.Errorf("send-message prints %q", out)
	}
	var perms, questions []string
	for _, line := range f.waitFor(t, func(e e2eEvent) bool { return e.Type == "turn.ended" && e.Sequence > uint64(len(turn)+1) }) {
		var data struct {
			PermissionID string `json:"permission_id"`
			QuestionID   string `json:"question_id"`
		}
		ev := e2eDecode(t, line)
		_ = json.Unmarshal(ev.Data, &data)
		switch ev.Type {
		case "permission.requested":
			perms = append(perms, data.PermissionID)
		case "question.requested":
			questions = append(questions, data.QuestionID)
		}
	}
	if len(perms) != 2 || len(questions) != 2 {
		t.Fatalf("demo asked permissions %q and questions %q, want two of each", perms, questions)
	}
	d.api(t, "sessions", "reply-permission", "s1", perms[0], "once")
	d.api(t, "sessions", "reply-permission", "s1", perms[1], "reject")
	d.api(t, "sessions", "reply-question", "s1", questions[0], "--answer", "Red")
	d.api(t, "sessions", "reject-question", "s1", questions[1])
	f.waitFor(t, func(e e2eEvent) bool {
		return e.Type == "question.resolved" && strings.Contains(string(e.Data), questions[1])
	})
	d.api(t, "sessions", "terminate", "s1")

	// The e2eFollower ends by itself once the session has ended.
	select {
	case <-f.exited:
	case <-time.After(e2eWait):
		t.Fatal("events --follow did not end after the session did")
	}
	if code := f.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("events --follow exited %d: %s", code, f.stderr.String())
	}
	// It printed every stored event once, in order.
	var page struct {
		Events  []json.RawMessage `json:"events"`
		HasMore bool              `json:"hasMore"`
	}
	if err := json.Unmarshal([]byte(d.api(t, "sessions", "events", "s1")), &page); err != nil || page.HasMore {
		t.Fatalf("events: %v (hasMore %v)", err, page.HasMore)
	}
	f.mu.Lock()
	followed := f.lines
	f.mu.Unlock()
	if len(followed) != len(page.Events) {
		t.Fatalf("follow printed %d events, the log has %d", len(followed), len(page.Events))
	}
	for i, raw := range page.Events {
		var want bytes.Buffer
		_ = json.Compact(&want, raw)
		if followed[i] != want.String() {
			t.Fatalf("followed event %d:\n %s\nwant\n %s", i+1, followed[i], want.String())
		}
		if seq := e2eDecode(t, followed[i]).Sequence; seq != uint64(i+1) {
			t.Fatalf("followed event %d has sequence %d", i+1, seq)
		}
	}
	last := e2eDecode(t, followed[len(followed)-1])
	if last.Type != "session.ended" {
		t.Errorf("last event %s, want session.ended", last.Type)
	}

	// Paging with --offset and --limit.
	if err := json.Unmarshal([]byte(d.api(t, "sessions", "events", "s1", "--offset", "2", "--limit", "3")), &page); err != nil ||
		len(page.Events) != 3 || !page.HasMore || e2eDecode(t, string(page.Events[0])).Sequence != 3 {
		t.Errorf("events --offset 2 --limit 3: %d events, hasMore %v, %v", len(page.Events), page.HasMore, err)
	}
}

func TestAPIE2EErrors(t *testing.T) {
	d := startAgentdServer(t, "--no-token")

	r := e2eRun(t, nil, "api", "--endpoint", d.URL, "sessions", "send-message", "nope", "hi")
	if r.code != 3 || !strings.Contains(r.stderr, "session not found: nope") {
		t.Errorf("unknown session: exit %d, stderr %q", r.code, r.stderr)
	}
	var problem struct {
		Type, Title, Detail string
		Status              int
	}
	first, _, _ := strings.Cut(r.stderr, "\n")
	if err := json.Unmarshal([]byte(first), &problem); err != nil || problem.Status != 404 || problem.Type != "urn:sandbox-agent:error:session_not_found" {
		t.Errorf("stderr does not start with the problem JSON: %q (%v)", r.stderr, err)
	}
	r = e2eRun(t, nil, "api", "--endpoint", d.URL, "sessions", "create", "s1", "--agent", "nosuch")
	if r.code != 3 || !strings.Contains(r.stderr, "Unsupported Agent") {
		t.Errorf("unknown agent: exit %d, stderr %q", r.code, r.stderr)
	}

	for _, args := range [][]string{
		{"api", "sessions", "events", "s1", "--limit", "many"},
		{"api", "sessions", "create", "s1"},
		{"api", "sessions", "reply-permission", "s1", "p1", "perhaps"},
		{"api", "sessions", "terminate"},
		{"api", "nosuch"},
		{"api", "--endpoint", "127.0.0.1:2468", "health"},
	} {
		if r := e2eRun(t, nil, args...); r.code != 2 || r.stdout != "" {
			t.Errorf("%q: exit %d, want 2 (usage)", args, r.code)
		}
	}

	// A daemon that is gone: the message names the endpoint.
	d2 := startAgentdServer(t, "--no-token")
	down := d2.URL
	_ = d2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d2.exited:
	case <-time.After(e2eStopGrace):
		t.Fatal("daemon did not stop")
	}
	for _, args := range [][]string{{"health"}, {"sessions", "list"}, {"sessions", "send-message-stream", "s1", "hi"}} {
		r := e2eRun(t, nil, append([]string{"api", "--endpoint", down}, args...)...)
		if r.code != 4 || !strings.Contains(r.stderr, "cannot reach agentd at "+down) {
			t.Errorf("%q with the daemon down: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestAPIE2EToken(t *testing.T) {
	d := startAgentdServer(t, "--token", "s3cret")
	env := []string{"AGENTD_ENDPOINT=" + d.URL}

	r := e2eRun(t, env, "api", "sessions", "list")
	if r.code != 3 || !strings.Contains(r.stderr, "401") {
		t.Errorf("without a token: exit %d, stderr %q", r.code, r.stderr)
	}
	r = e2eRun(t, append(env, "AGENTD_TOKEN=s3cret"), "api", "sessions", "list")
	if r.code != 0 || r.stdout != `{"sessions":[]}`+"\n" {
		t.Errorf("with AGENTD_TOKEN: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	r = e2eRun(t, append(env, "AGENTD_TOKEN=wrong"), "api", "--token", "s3cret", "sessions", "list")
	if r.code != 0 {
		t.Errorf("--token over a wrong AGENTD_TOKEN: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := e2eRun(t, env, "api", "health"); r.code != 0 {
		t.Errorf("health needs no token: exit %d", r.code)
	}
}

func TestAPIE2ECompletion(t *testing.T) {
	requireAgentdBin(t)
	r := e2eRun(t, nil, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_agentd") {
		t.Errorf("completion bash: exit %d, %d bytes", r.code, len(r.stdout))
	}
	r = e2eRun(t, nil, "__complete", "api", "sessions", "reply-permission", "s1", "p1", "")
	if r.code != 0 || !strings.Contains(r.stdout, "once\nalways\nreject\n") {
		t.Errorf("completing a permission reply: %q", r.stdout)
	}
	r = e2eRun(t, nil, "__complete", "api", "agents", "models", "co")
	if !strings.Contains(r.stdout, "codex") {
		t.Errorf("completing an agent: %q", r.stdout)
	}
}
