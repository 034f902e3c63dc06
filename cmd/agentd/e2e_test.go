package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/docs"
)

// readFrames reads SSE frames until at least n have arrived, checking that
// their ids continue from after without a gap. It returns the frames' data
// by id and the last id.
func readFrames(t *testing.T, s *sseStream, after uint64, n int, seen map[uint64]string) uint64 {
	t.Helper()
	last := after
	for got := 0; got < n; got++ {
		f, err := s.next()
		if err != nil {
			t.Fatalf("SSE: after id %d: %v", last, err)
		}
		id, err := strconv.ParseUint(f.ID, 10, 64)
		if err != nil || id != last+1 {
			t.Fatalf("SSE: frame id %q after %d, want %d", f.ID, last, last+1)
		}
		if ev := decodeEvent(t, []byte(f.Data)); ev.Sequence != id {
			t.Fatalf("SSE: frame id %d carries sequence %d", id, ev.Sequence)
		}
		seen[id] = f.Data
		last = id
	}
	return last
}

// expectStreamEnd reads the rest of a stream: exactly the events from..to,
// byte-identical to want (indexed by sequence-1), then a clean end.
func expectStreamEnd(t *testing.T, s *sseStream, from, to uint64, want []json.RawMessage) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		f, err := s.next()
		if err != nil {
			t.Fatalf("SSE: waiting for id %d: %v", seq, err)
		}
		if f.ID != strconv.FormatUint(seq, 10) {
			t.Fatalf("SSE: frame id %q, want %d", f.ID, seq)
		}
		if f.Data != string(want[seq-1]) {
			t.Errorf("SSE frame %d differs from GET /events:\n sse: %s\nlog: %s", seq, f.Data, want[seq-1])
		}
	}
	if f, err := s.next(); err != io.EOF {
		t.Fatalf("SSE: after the last event (%d) want the stream to end, got frame %+v, err %v", to, f, err)
	}
}

// TestKill9MidStream kills the daemon while a demo turn streams, restarts
// it on the same data dir and checks that nothing committed was lost, the
// session is ended by the daemon, and SSE resumes exactly where it left off.
func TestKill9MidStream(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	ctx := deadline(t, 90*time.Second)
	dir := t.TempDir()
	const id = "crash-me"

	d := startServer(t, serverConfig{dataDir: dir})
	d.createMockSession(ctx, id)
	sse := d.openSSE(ctx, id, "")
	if sse.resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE status %d", sse.resp.StatusCode)
	}
	if ct := sse.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("SSE content type %q", ct)
	}
	d.sendMessage(ctx, id, "demo")
	seen := map[uint64]string{}
	n := readFrames(t, sse, 0, 10, seen)
	d.kill(ctx)
	// The old stream is cut; it must not hang.
	for {
		if _, err := sse.next(); err != nil {
			break
		}
	}

	d2 := startServer(t, serverConfig{dataDir: dir})

	info := d2.session(ctx, id)
	raws, evs := d2.events(ctx, id)
	m := uint64(len(evs))
	t.Logf("%d events seen before kill -9; %d in the log after the restart", n, m)
	if m <= n {
		t.Fatalf("after restart %d events, want more than the %d seen before the kill (they end with session.ended)", m, n)
	}
	if !info.Ended || info.EndReason != "error" || info.TerminatedBy != "daemon" ||
		!strings.Contains(info.EndMessage, "agentd stopped while the session was running") {
		t.Errorf("session after restart = %+v, want ended:true endReason:error terminatedBy:daemon endMessage saying agentd stopped", info)
	}
	if info.EventCount != m {
		t.Errorf("eventCount %d, want %d", info.EventCount, m)
	}
	for seq, data := range seen {
		if string(raws[seq-1]) != data {
			t.Errorf("event %d changed across the restart:\nbefore: %s\n after: %s", seq, data, raws[seq-1])
		}
	}
	last := evs[m-1]
	if last.Type != "session.ended" || !last.Synthetic || last.Source != "daemon" ||
		last.Data.Reason != "error" || last.Data.TerminatedBy != "daemon" ||
		last.Data.Detail == nil || !strings.Contains(*last.Data.Detail, "agentd stopped") || last.Data.Message == nil {
		t.Errorf("last event after restart: %s\nwant the daemon's session.ended {reason:error, terminated_by:daemon, message, detail: agentd stopped…}", raws[m-1])
	}
	for _, ev := range evs[:m-1] {
		if ev.Type == "session.ended" {
			t.Errorf("session.ended at %d before the last event %d", ev.Sequence, m)
		}
	}

	// Resume from the last event seen before the kill.
	nID := strconv.FormatUint(n, 10)
	resumed := d2.openSSE(ctx, id, nID)
	if resumed.resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE with Last-Event-ID %d: status %d", n, resumed.resp.StatusCode)
	}
	expectStreamEnd(t, resumed, n+1, m, raws)

	// The same resume by ?offset= (what a client without EventSource does).
	resp, body := d2.request(ctx, http.MethodGet, "/v1/sessions/"+id+"/events/sse?offset="+nID, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("SSE ?offset=%d: status %d", n, resp.StatusCode)
	} else {
		expectStreamEnd(t, &sseStream{r: bufio.NewReader(bytes.NewReader(body))}, n+1, m, raws)
	}

	// A full replay after the restart is byte-identical too.
	full := d2.openSSE(ctx, id, "")
	expectStreamEnd(t, full, 1, m, raws)

	// Nothing more will come: 204 tells EventSource to stop reconnecting.
	done := d2.openSSE(ctx, id, strconv.FormatUint(m, 10))
	if done.resp.StatusCode != http.StatusNoContent {
		t.Errorf("SSE with Last-Event-ID %d (the end): status %d, want 204", m, done.resp.StatusCode)
	}

	// The ended session refuses messages as a daemon-ended one does.
	resp, body = d2.request(ctx, http.MethodPost, "/v1/sessions/"+id+"/messages", `{"message":"hello"}`, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_request") {
		t.Errorf("message to the interrupted session: %d %s, want 400 invalid_request", resp.StatusCode, body)
	}

	// A graceful stop and another start add nothing: the end is not redone.
	d2.signal(syscall.SIGTERM)
	if code, err := d2.waitExit(ctx); err != nil || code != 0 {
		t.Fatalf("second daemon after SIGTERM: code %d, %v", code, err)
	}
	d3 := startServer(t, serverConfig{dataDir: dir})
	raws3, _ := d3.events(ctx, id)
	if len(raws3) != len(raws) {
		t.Fatalf("after a second restart %d events, want %d", len(raws3), len(raws))
	}
	for i := range raws {
		if !bytes.Equal(raws[i], raws3[i]) {
			t.Errorf("event %d changed across the second restart", i+1)
		}
	}
}

// TestSIGTERMGraceful stops the daemon while a demo turn streams to an open
// SSE client: it exits 0 within the grace, the stream ends instead of
// holding shutdown, and the session is ended "terminated" as its last event.
func TestSIGTERMGraceful(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	ctx := deadline(t, 90*time.Second)
	dir := t.TempDir()
	const id = "stop-me"
	const grace = 5 * time.Second

	d := startServer(t, serverConfig{dataDir: dir, args: []string{"--no-token", "-p", "0", "--shutdown-grace", grace.String()}})
	d.createMockSession(ctx, id)
	sse := d.openSSE(ctx, id, "")
	if sse.resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE status %d", sse.resp.StatusCode)
	}
	d.sendMessage(ctx, id, "demo")
	seen := map[uint64]string{}
	n := readFrames(t, sse, 0, 5, seen)

	type streamEnd struct {
		last uint64
		err  error
	}
	ended := make(chan streamEnd, 1)
	start := time.Now()
	d.signal(syscall.SIGTERM)
	go func() {
		last := n
		for {
			f, err := sse.next()
			if err != nil {
				ended <- streamEnd{last, err}
				return
			}
			id, _ := strconv.ParseUint(f.ID, 10, 64)
			if id != last+1 {
				ended <- streamEnd{last, errors.New("gap: frame " + f.ID)}
				return
			}
			seen[id], last = f.Data, id
		}
	}()
	exitCtx, cancel := context.WithTimeout(ctx, grace+5*time.Second)
	defer cancel()
	code, err := d.waitExit(exitCtx)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
	if took >= grace {
		t.Errorf("shutdown took %s, not within the %s grace (an open stream held it?)", took, grace)
	}
	t.Logf("exited %d, %s after SIGTERM", code, took)
	var end streamEnd
	select {
	case end = <-ended:
	case <-exitCtx.Done():
		t.Fatal("the SSE stream did not end at shutdown")
	}
	if end.err != io.EOF {
		t.Errorf("SSE stream ended with %v, want a clean end (EOF)", end.err)
	}
	for _, want := range []string{`msg="agentd shutting down"`, `msg="agentd stopped"`} {
		if !strings.Contains(d.logs.String(), want) {
			t.Errorf("stderr lacks %s", want)
		}
	}

	d2 := startServer(t, serverConfig{dataDir: dir})
	raws, evs := d2.events(ctx, id)
	m := uint64(len(evs))
	if m <= end.last {
		t.Fatalf("after restart %d events, the client saw %d", m, end.last)
	}
	for seq, data := range seen {
		if string(raws[seq-1]) != data {
			t.Errorf("event %d changed across the restart:\nbefore: %s\n after: %s", seq, data, raws[seq-1])
		}
	}
	last := evs[m-1]
	if last.Type != "session.ended" || last.Source != "daemon" || !last.Synthetic ||
		last.Data.Reason != "terminated" || last.Data.TerminatedBy != "daemon" ||
		last.Data.Detail == nil || *last.Data.Detail != "agentd shut down" {
		t.Errorf("last event: %s\nwant the daemon's session.ended {reason:terminated, terminated_by:daemon, detail:\"agentd shut down\"}", raws[m-1])
	}
	for _, ev := range evs[:m-1] {
		if ev.Type == "session.ended" {
			t.Errorf("an event follows session.ended %d", ev.Sequence)
		}
	}
	info := d2.session(ctx, id)
	if !info.Ended || info.EndReason != "terminated" || info.TerminatedBy != "daemon" || info.EndMessage != "agentd shut down" || info.EventCount != m {
		t.Errorf("session after restart = %+v, want ended terminated by the daemon, \"agentd shut down\", eventCount %d", info, m)
	}
	t.Logf("client saw %d events (%d before SIGTERM); the log holds %d", end.last, n, m)

	// EventSource reconnecting after the restart gets the rest, then the end.
	rest := d2.openSSE(ctx, id, strconv.FormatUint(end.last, 10))
	if rest.resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE with Last-Event-ID %d: status %d", end.last, rest.resp.StatusCode)
	}
	expectStreamEnd(t, rest, end.last+1, m, raws)
	if s := d2.openSSE(ctx, id, strconv.FormatUint(m, 10)); s.resp.StatusCode != http.StatusNoContent {
		t.Errorf("SSE from the end: status %d, want 204", s.resp.StatusCode)
	}
}

// freePort returns a port nothing listens on (the kernel's pick, released).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestFlagsAndEnv(t *testing.T) {
	requireBinary(t)
	t.Parallel()

	usage := func(t *testing.T, res runResult, words ...string) {
		t.Helper()
		if res.code != 2 {
			t.Errorf("exit code %d, want 2 (usage)", res.code)
		}
		for _, w := range words {
			if !strings.Contains(res.stderr, w) {
				t.Errorf("stderr does not mention %q:\n%s", w, res.stderr)
			}
		}
		if strings.Contains(res.stderr, "agentd listening") {
			t.Errorf("it started listening")
		}
	}

	t.Run("no token choice", func(t *testing.T) {
		t.Parallel()
		res := runAgentd(t, nil, "server", "-p", "0", "--data-dir", t.TempDir())
		usage(t, res, "--token", "--no-token")
	})
	t.Run("token and no-token", func(t *testing.T) {
		t.Parallel()
		usage(t, runAgentd(t, nil, "server", "--token", "x", "--no-token", "-p", "0", "--data-dir", t.TempDir()), "--token", "--no-token")
		usage(t, runAgentd(t, nil, "server", "-t", "x", "-n", "-p", "0", "--data-dir", t.TempDir()), "--token", "--no-token")
		usage(t, runAgentd(t, []string{"AGENTD_TOKEN=x"}, "server", "--no-token", "-p", "0", "--data-dir", t.TempDir()), "--token", "--no-token")
	})
	t.Run("AGENTD_TOKEN", func(t *testing.T) {
		t.Parallel()
		ctx := deadline(t, 30*time.Second)
		d := startServer(t, serverConfig{args: []string{"-p", "0"}, env: []string{"AGENTD_TOKEN=secret"}})
		if line, _ := d.logs.wait(ctx, listeningRE.MatchString); !strings.Contains(line, "auth=true") {
			t.Errorf("listening line does not say auth=true: %s", line)
		}
		resp, body := d.request(ctx, http.MethodGet, "/v1/agents", "", nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "urn:sandbox-agent:error:token_invalid") {
			t.Errorf("GET /v1/agents without a token: %d %s, want 401 token_invalid", resp.StatusCode, body)
		}
		resp, _ = d.request(ctx, http.MethodGet, "/v1/agents", "", http.Header{"Authorization": {"Bearer wrong"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET /v1/agents with a wrong token: %d, want 401", resp.StatusCode)
		}
		resp, body = d.request(ctx, http.MethodGet, "/v1/agents", "", http.Header{"Authorization": {"Bearer secret"}})
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"mock"`) {
			t.Errorf("GET /v1/agents with the token: %d %s, want 200 listing mock", resp.StatusCode, body)
		}
		resp, _ = d.request(ctx, http.MethodGet, "/v1/health", "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /v1/health without a token: %d, want 200", resp.StatusCode)
		}
	})
	t.Run("AGENTD_NO_TOKEN", func(t *testing.T) {
		t.Parallel()
		ctx := deadline(t, 30*time.Second)
		d := startServer(t, serverConfig{args: []string{"-p", "0"}, env: []string{"AGENTD_NO_TOKEN=true"}})
		if resp, _ := d.request(ctx, http.MethodGet, "/v1/agents", "", nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET /v1/agents: %d, want 200", resp.StatusCode)
		}
	})
	t.Run("AGENTD_PORT", func(t *testing.T) {
		t.Parallel()
		ctx := deadline(t, 30*time.Second)
		port := freePort(t)
		d := startServer(t, serverConfig{args: []string{"--no-token"}, env: []string{"AGENTD_PORT=" + strconv.Itoa(port)}})
		if want := "http://127.0.0.1:" + strconv.Itoa(port); d.URL != want {
			t.Errorf("listening on %s, want %s", d.URL, want)
		}
		d.expect(ctx, http.StatusOK, http.MethodGet, "/v1/health", "")
	})
	t.Run("flag -p wins over AGENTD_PORT", func(t *testing.T) {
		t.Parallel()
		ctx := deadline(t, 30*time.Second)
		// AGENTD_PORT names a port that is taken: only -p 0 lets it start.
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		takenPort := strconv.Itoa(taken.Addr().(*net.TCPAddr).Port)
		d := startServer(t, serverConfig{args: []string{"--no-token", "-p", "0"}, env: []string{"AGENTD_PORT=" + takenPort}})
		if strings.HasSuffix(d.URL, ":"+takenPort) {
			t.Errorf("listening on %s, the AGENTD_PORT port", d.URL)
		}
		d.expect(ctx, http.StatusOK, http.MethodGet, "/v1/health", "")
		// And the flag wins even when the env value is not a number.
		d2 := startServer(t, serverConfig{args: []string{"--no-token", "--port", "0"}, env: []string{"AGENTD_PORT=abc"}})
		d2.expect(ctx, http.StatusOK, http.MethodGet, "/v1/health", "")
	})
	t.Run("bad AGENTD_PORT", func(t *testing.T) {
		t.Parallel()
		usage(t, runAgentd(t, []string{"AGENTD_PORT=abc"}, "server", "--no-token", "--data-dir", t.TempDir()), "AGENTD_PORT", "abc")
	})
	t.Run("bad port flag", func(t *testing.T) {
		t.Parallel()
		usage(t, runAgentd(t, nil, "server", "--no-token", "-p", "abc", "--data-dir", t.TempDir()), "abc")
		usage(t, runAgentd(t, nil, "server", "--no-token", "-p", "70000", "--data-dir", t.TempDir()), "70000")
		usage(t, runAgentd(t, []string{"AGENTD_PORT=70000"}, "server", "--no-token", "--data-dir", t.TempDir()), "70000")
	})
	t.Run("unknown flag", func(t *testing.T) {
		t.Parallel()
		usage(t, runAgentd(t, nil, "server", "--no-token", "--frobnicate"), "--frobnicate")
	})
	t.Run("version", func(t *testing.T) {
		t.Parallel()
		res := runAgentd(t, nil, "version")
		if res.code != 0 || res.stdout != "agentd "+api.Version+"\n" {
			t.Errorf("agentd version: exit %d, stdout %q, want 0 and %q", res.code, res.stdout, "agentd "+api.Version+"\n")
		}
	})
	t.Run("openapi", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			args []string
			want []byte
		}{{[]string{"openapi"}, docs.OpenAPI}, {[]string{"openapi", "--3.0"}, docs.OpenAPI30}} {
			res := runAgentd(t, nil, c.args...)
			if res.code != 0 {
				t.Errorf("agentd %v: exit %d", c.args, res.code)
				continue
			}
			if got, want := decodeAny(t, []byte(res.stdout)), decodeAny(t, c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("agentd %v differs from the committed document (run go generate ./docs): %s", c.args, jsonDiff("$", got, want))
			} else if !bytes.Equal(bytes.TrimSpace([]byte(res.stdout)), bytes.TrimSpace(c.want)) {
				t.Errorf("agentd %v: same JSON as the committed document but not the same bytes", c.args)
			}
		}
	})
	t.Run("unknown command", func(t *testing.T) {
		t.Parallel()
		res := runAgentd(t, nil, "frobnicate")
		if res.code == 0 || !strings.Contains(res.stderr, `unknown command "frobnicate"`) {
			t.Errorf("agentd frobnicate: exit %d, stderr %q; want non-zero naming the command", res.code, res.stderr)
		}
	})
}

func TestCORS(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	const origin = "http://example.com"
	const vary = "origin, access-control-request-method, access-control-request-headers"

	check := func(t *testing.T, d *daemon, auth http.Header) {
		ctx := deadline(t, 30*time.Second)
		preflight := http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"content-type"},
		}
		resp, _ := d.request(ctx, http.MethodOptions, "/v1/agents", "", preflight)
		want := map[string]string{
			"Access-Control-Allow-Origin":  origin,
			"Access-Control-Allow-Methods": "GET,POST",
			"Access-Control-Allow-Headers": "content-type,authorization",
			"Vary":                         vary,
		}
		if resp.StatusCode != http.StatusOK {
			t.Errorf("preflight: status %d, want 200", resp.StatusCode)
		}
		for k, v := range want {
			if got := strings.Join(resp.Header.Values(k), ", "); got != v {
				t.Errorf("preflight %s = %q, want %q", k, got, v)
			}
		}

		h := http.Header{"Origin": {origin}}
		for k, v := range auth {
			h[k] = v
		}
		resp, _ = d.request(ctx, http.MethodGet, "/v1/health", "", h)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin ||
			strings.Join(resp.Header.Values("Vary"), ", ") != vary {
			t.Errorf("GET /v1/health from %s: %d, allow-origin %q, vary %q", origin, resp.StatusCode,
				resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Values("Vary"))
		}

		other := http.Header{"Origin": {"http://evil.example"}}
		resp, _ = d.request(ctx, http.MethodGet, "/v1/health", "", other)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET from an unlisted origin carries allow-origin %q", got)
		}
		other.Set("Access-Control-Request-Method", "POST")
		resp, _ = d.request(ctx, http.MethodOptions, "/v1/agents", "", other)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("preflight from an unlisted origin carries allow-origin %q", got)
		}
		if got := resp.Header.Get("Access-Control-Allow-Methods"); got != "" {
			t.Errorf("preflight from an unlisted origin carries allow-methods %q", got)
		}
	}

	t.Run("flags", func(t *testing.T) {
		t.Parallel()
		d := startServer(t, serverConfig{args: []string{"--no-token", "-p", "0",
			"-O", origin, "-M", "GET,POST", "-A", "content-type,authorization"}})
		check(t, d, nil)
	})
	t.Run("env with a token", func(t *testing.T) {
		// Preflights are answered before auth (spec §3).
		t.Parallel()
		d := startServer(t, serverConfig{args: []string{"-p", "0"}, env: []string{
			"AGENTD_TOKEN=secret", "AGENTD_CORS_ALLOW_ORIGIN=" + origin,
			"AGENTD_CORS_ALLOW_METHOD=GET,POST", "AGENTD_CORS_ALLOW_HEADER=content-type,authorization",
		}})
		check(t, d, http.Header{"Authorization": {"Bearer secret"}})
	})
}

// TestDefaultDataDir runs without --data-dir: the log goes under
// $XDG_DATA_HOME/agentd, or ~/.local/share/agentd without it, and survives
// a restart there. Stopping by SIGINT is covered here too.
func TestDefaultDataDir(t *testing.T) {
	requireBinary(t)
	t.Parallel()

	// stopSig is how the first daemon is stopped: SIGINT (Ctrl-C) must be
	// as clean as SIGTERM.
	run := func(t *testing.T, env []string, want string, stopSig syscall.Signal) {
		ctx := deadline(t, 60*time.Second)
		d := startServer(t, serverConfig{noDataDir: true, env: env})
		d.createMockSession(ctx, "kept")
		if _, err := os.Stat(filepath.Join(want, "agentd.db")); err != nil {
			t.Fatalf("no event log under %s: %v", want, err)
		}
		if line, _ := d.logs.wait(ctx, listeningRE.MatchString); !strings.Contains(line, "data_dir="+want) {
			t.Errorf("listening line does not name data_dir=%s: %s", want, line)
		}
		d.signal(stopSig)
		if code, err := d.waitExit(ctx); err != nil || code != 0 {
			t.Fatalf("%v: exit %d, %v", stopSig, code, err)
		}
		d2 := startServer(t, serverConfig{noDataDir: true, env: env})
		if info := d2.session(ctx, "kept"); !info.Ended || info.EndReason != "terminated" {
			t.Errorf("session after restart = %+v, want ended by the shutdown", info)
		}
	}

	t.Run("XDG_DATA_HOME", func(t *testing.T) {
		t.Parallel()
		xdg := t.TempDir()
		run(t, []string{"XDG_DATA_HOME=" + xdg}, filepath.Join(xdg, "agentd"), syscall.SIGTERM)
	})
	t.Run("HOME", func(t *testing.T) {
		t.Parallel()
		home := t.TempDir()
		run(t, []string{"XDG_DATA_HOME=", "HOME=" + home}, filepath.Join(home, ".local", "share", "agentd"), syscall.SIGINT)
	})
}
