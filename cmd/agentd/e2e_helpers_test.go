package main

// Helpers for the end-to-end tests: they build the real binary once, run it
// as a user would and talk to it over HTTP and SSE. Nothing here sleeps:
// every wait is on a log line, an SSE frame, an HTTP response or the
// process's exit, bounded by a context deadline.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// agentdBin is the binary built by TestMain; empty under -short.
var agentdBin string

// buildErr is why building failed, reported by every e2e test.
var buildErr error

const (
	startTimeout = 30 * time.Second // until "agentd listening"
	stopTimeout  = 15 * time.Second // from SIGTERM to exit, in cleanup
)

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "agentd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: temp dir:", err)
		os.Exit(1)
	}
	agentdBin, buildErr = build(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles this package as users get it: a static, cgo-free binary.
func build(dir string) (string, error) {
	bin := filepath.Join(dir, "agentd")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// requireBinary skips under -short and fails if the build failed.
func requireBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test of the built binary; skipped under -short")
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

// deadline is a context that ends after d or when the test ends.
func deadline(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// baseEnv is the test's environment without any AGENTD_* variable, with
// XDG_DATA_HOME pointing into a temp dir so that no run ever touches the
// user's real data dir, then extra (later entries win).
func baseEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AGENTD_") || strings.HasPrefix(kv, "XDG_DATA_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "XDG_DATA_HOME="+t.TempDir())
	return append(env, extra...)
}

// runResult is a finished one-shot run of the binary.
type runResult struct {
	code           int
	stdout, stderr string
}

// runAgentd runs the binary to completion with the given extra env.
func runAgentd(t *testing.T, env []string, args ...string) runResult {
	t.Helper()
	ctx := deadline(t, startTimeout)
	cmd := exec.CommandContext(ctx, agentdBin, args...)
	cmd.Env = baseEnv(t, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("run agentd %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("agentd %q did not finish within %s; stderr:\n%s", args, startTimeout, stderr.String())
	}
	res := runResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	t.Logf("agentd %s → exit %d\nstdout (%d bytes): %.300s\nstderr: %s", strings.Join(args, " "), res.code, len(res.stdout), res.stdout, res.stderr)
	return res
}

// lineLog collects the daemon's stderr lines and lets tests wait for one.
type lineLog struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{} // closed (and replaced) when a line arrives or the stream ends
	ended bool
}

func newLineLog() *lineLog { return &lineLog{more: make(chan struct{})} }

func (l *lineLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	close(l.more)
	l.more = make(chan struct{})
}

func (l *lineLog) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ended = true
	close(l.more)
	l.more = make(chan struct{})
}

// wait returns the first line (from the start) that match accepts. It fails
// when ctx ends or stderr is closed without such a line.
func (l *lineLog) wait(ctx context.Context, match func(string) bool) (string, error) {
	seen := 0
	for {
		l.mu.Lock()
		lines, ended, more := l.lines, l.ended, l.more
		l.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if match(lines[seen]) {
				return lines[seen], nil
			}
		}
		if ended {
			return "", errors.New("stderr closed")
		}
		select {
		case <-more:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// serverConfig says how to start `agentd server`.
type serverConfig struct {
	// args replaces the default "--no-token -p 0".
	args []string
	// dataDir is passed as --data-dir; "" means a fresh t.TempDir(), and
	// noDataDir leaves the flag out.
	dataDir   string
	noDataDir bool
	env       []string
}

// daemon is a running `agentd server`.
type daemon struct {
	t       *testing.T
	cmd     *exec.Cmd
	URL     string // http://127.0.0.1:PORT
	DataDir string
	logs    *lineLog
	client  *http.Client
	exited  chan struct{} // closed once the process has been waited for
	waitErr error
}

var listeningRE = regexp.MustCompile(`msg="agentd listening" addr=(http://\S+)`)

// startServer starts the daemon, waits for its "agentd listening" line and
// stops it (SIGTERM, then SIGKILL) when the test ends.
func startServer(t *testing.T, cfg serverConfig) *daemon {
	t.Helper()
	requireBinary(t)
	args := cfg.args
	if args == nil {
		args = []string{"--no-token", "-p", "0"}
	}
	d := &daemon{t: t, logs: newLineLog(), exited: make(chan struct{})}
	if !cfg.noDataDir {
		d.DataDir = cfg.dataDir
		if d.DataDir == "" {
			d.DataDir = t.TempDir()
		}
		args = append(args, "--data-dir", d.DataDir)
	}
	d.cmd = exec.Command(agentdBin, append([]string{"server"}, args...)...)
	d.cmd.Env = baseEnv(t, cfg.env...)
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Logf("started agentd server %s (pid %d)", strings.Join(args, " "), d.cmd.Process.Pid)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer d.logs.end()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			t.Logf("agentd[%d]: %s", d.cmd.Process.Pid, sc.Text())
			d.logs.add(sc.Text())
		}
	}()
	go func() {
		<-readDone // Wait must follow the last read from the pipe
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	d.client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	t.Cleanup(d.stop)

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	line, err := d.logs.wait(ctx, listeningRE.MatchString)
	if err != nil {
		t.Fatalf("agentd did not log that it listens (%v); stderr:\n%s", err, d.logs)
	}
	d.URL = listeningRE.FindStringSubmatch(line)[1]
	return d
}

// stop is the cleanup: SIGTERM, wait, then SIGKILL. A daemon that needs the
// SIGKILL or exits non-zero after SIGTERM fails the test.
func (d *daemon) stop() {
	t := d.t
	d.client.CloseIdleConnections()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("agentd exited %d after SIGTERM (%v)", code, d.waitErr)
		}
		return
	case <-time.After(stopTimeout):
	}
	t.Errorf("agentd did not exit within %s of SIGTERM; killing it", stopTimeout)
	_ = d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(stopTimeout):
		t.Errorf("agentd did not exit after SIGKILL")
	}
}

// signal sends sig to the daemon.
func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (d *daemon) kill(ctx context.Context) {
	d.t.Helper()
	d.signal(syscall.SIGKILL)
	if _, err := d.waitExit(ctx); err != nil {
		d.t.Fatal(err)
	}
}

// waitExit waits for the process to exit and returns its exit code (-1 when
// a signal ended it).
func (d *daemon) waitExit(ctx context.Context) (int, error) {
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		return 0, fmt.Errorf("agentd still running: %w", ctx.Err())
	}
}

// request sends one request and returns the response with its body read.
func (d *daemon) request(ctx context.Context, method, path string, body string, header http.Header) (*http.Response, []byte) {
	d.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.URL+path, rd)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, b
}

// expect sends a request and fails unless it gets status.
func (d *daemon) expect(ctx context.Context, status int, method, path, body string) []byte {
	d.t.Helper()
	resp, b := d.request(ctx, method, path, body, nil)
	if resp.StatusCode != status {
		d.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, resp.StatusCode, status, b)
	}
	return b
}

func (d *daemon) createMockSession(ctx context.Context, id string) {
	d.t.Helper()
	d.expect(ctx, http.StatusOK, http.MethodPost, "/v1/sessions/"+url.PathEscape(id), `{"agent":"mock"}`)
}

func (d *daemon) sendMessage(ctx context.Context, id, text string) {
	d.t.Helper()
	body, _ := json.Marshal(map[string]string{"message": text})
	d.expect(ctx, http.StatusNoContent, http.MethodPost, "/v1/sessions/"+url.PathEscape(id)+"/messages", string(body))
}

// sessionInfo is the part of SessionInfo the tests look at.
type sessionInfo struct {
	SessionID    string `json:"sessionId"`
	Ended        bool   `json:"ended"`
	EventCount   uint64 `json:"eventCount"`
	EndReason    string `json:"endReason"`
	TerminatedBy string `json:"terminatedBy"`
	EndMessage   string `json:"endMessage"`
}

// session finds one session in GET /v1/sessions.
func (d *daemon) session(ctx context.Context, id string) sessionInfo {
	d.t.Helper()
	var list struct {
		Sessions []sessionInfo `json:"sessions"`
	}
	b := d.expect(ctx, http.StatusOK, http.MethodGet, "/v1/sessions", "")
	if err := json.Unmarshal(b, &list); err != nil {
		d.t.Fatalf("decode session list: %v; body: %s", err, b)
	}
	for _, s := range list.Sessions {
		if s.SessionID == id {
			return s
		}
	}
	d.t.Fatalf("session %q not listed; body: %s", id, b)
	return sessionInfo{}
}

// event is the part of a UniversalEvent the tests look at.
type event struct {
	EventID   string `json:"event_id"`
	Sequence  uint64 `json:"sequence"`
	SessionID string `json:"session_id"`
	Synthetic bool   `json:"synthetic"`
	Source    string `json:"source"`
	Type      string `json:"type"`
	Data      struct {
		Reason       string  `json:"reason"`
		TerminatedBy string  `json:"terminated_by"`
		Message      *string `json:"message"`
		Detail       *string `json:"detail"`
	} `json:"data"`
}

func decodeEvent(t *testing.T, raw []byte) event {
	t.Helper()
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("decode event: %v; %s", err, raw)
	}
	return ev
}

// events returns GET /v1/sessions/{id}/events as the exact bytes of each
// event and decoded, after checking that they are 1..M without a gap.
func (d *daemon) events(ctx context.Context, id string) ([]json.RawMessage, []event) {
	d.t.Helper()
	var page struct {
		Events  []json.RawMessage `json:"events"`
		HasMore bool              `json:"hasMore"`
	}
	b := d.expect(ctx, http.StatusOK, http.MethodGet, "/v1/sessions/"+url.PathEscape(id)+"/events", "")
	if err := json.Unmarshal(b, &page); err != nil {
		d.t.Fatalf("decode events: %v; body: %s", err, b)
	}
	if page.HasMore {
		d.t.Errorf("events of %s: hasMore without a limit", id)
	}
	evs := make([]event, len(page.Events))
	for i, raw := range page.Events {
		evs[i] = decodeEvent(d.t, raw)
		want := uint64(i + 1)
		if evs[i].Sequence != want || evs[i].EventID != fmt.Sprintf("evt_%d", want) {
			d.t.Fatalf("events of %s: event #%d has sequence %d, id %q: want %d (no gap)", id, i, evs[i].Sequence, evs[i].EventID, want)
		}
		if evs[i].SessionID != id {
			d.t.Errorf("event %d: session_id %q, want %q", want, evs[i].SessionID, id)
		}
	}
	return page.Events, evs
}

// sseFrame is one dispatched SSE event.
type sseFrame struct {
	ID   string
	Data string
}

// sseStream reads frames of an open SSE response.
type sseStream struct {
	resp *http.Response
	r    *bufio.Reader
}

// openSSE subscribes to a session's events. lastEventID, if not empty, is
// sent as Last-Event-ID. The caller checks resp.StatusCode; the body is
// closed at the end of the test.
func (d *daemon) openSSE(ctx context.Context, id, lastEventID string) *sseStream {
	d.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/v1/sessions/"+url.PathEscape(id)+"/events/sse", nil)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("open SSE on %s: %v", id, err)
	}
	d.t.Cleanup(func() { resp.Body.Close() })
	return &sseStream{resp: resp, r: bufio.NewReader(resp.Body)}
}

// next returns the next frame carrying data; comments (keep-alives) and
// frames without data are skipped. At the end of the stream it returns
// io.EOF; if the stream is cut it returns that error.
func (s *sseStream) next() (sseFrame, error) {
	var f sseFrame
	var data []string
	hasData := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && !hasData && f.ID == "" {
				return sseFrame{}, io.EOF
			}
			if err == io.EOF {
				return sseFrame{}, fmt.Errorf("stream ended inside a frame: %w", io.ErrUnexpectedEOF)
			}
			return sseFrame{}, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if hasData {
				f.Data = strings.Join(data, "\n")
				return f, nil
			}
			f = sseFrame{}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			f.ID = value
		case "data":
			data = append(data, value)
			hasData = true
		}
	}
}

// getJSON decodes a JSON body into any, for semantic comparisons.
func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("not JSON: %v; %.200s", err, b)
	}
	return v
}

// jsonDiff names the first place where two decoded JSON values differ.
func jsonDiff(path string, got, want any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %T, want an object", path, got)
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				return fmt.Sprintf("%s.%s: missing", path, k)
			case !wok:
				return fmt.Sprintf("%s.%s: not in the committed document", path, k)
			case !reflect.DeepEqual(gv, wv):
				return jsonDiff(path+"."+k, gv, wv)
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: got %.200v, want %.200v", path, got, want)
		}
		for i := range w {
			if !reflect.DeepEqual(g[i], w[i]) {
				return jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])
			}
		}
	}
	return fmt.Sprintf("%s: got %.200v, want %.200v", path, got, want)
}
