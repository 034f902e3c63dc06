package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/adapters/catalog"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/api/client"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
)

// apiWait bounds every wait of a test.
const apiWait = 30 * time.Second

func apiTestCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), apiWait)
	t.Cleanup(cancel)
	return ctx
}

// clearAPIEnv unsets the variables the api commands read, for the test.
func clearAPIEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{"AGENTD_ENDPOINT", "AGENTD_TOKEN"} {
		t.Setenv(name, "")
	}
}

// apiExitCodeOf maps an error as Main does.
func apiExitCodeOf(err error) int {
	if err == nil {
		return exitOK
	}
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	return exitCode(err)
}

// executeAPI runs cmd with args as Main would and returns the exit code.
func executeAPI(t *testing.T, cmd *cobra.Command, args ...string) (int, error) {
	t.Helper()
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	err := cmd.ExecuteContext(apiTestCtx(t))
	return apiExitCodeOf(err), err
}

// TestAPIFlags checks what each command makes of its arguments, flags and
// environment, with a runF that only captures the options.
func TestAPIFlags(t *testing.T) {
	type result struct {
		code int
		opts any
	}
	// tree builds `api` with the commands under test, each capturing its
	// options without the shared factory.
	tree := func(f *apiFactory, got *any) *cobra.Command {
		root := newAPIRootCmd(f)
		capture := func(o any) error { *got = o; return nil }
		agents := apiGroup("agents", "", "")
		agents.AddCommand(
			newAPIAgentsInstallCmd(f, func(_ context.Context, o *apiAgentsInstallOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
		)
		sessions := apiGroup("sessions", "", "")
		sessions.AddCommand(
			newAPISessionsCreateCmd(f, func(_ context.Context, o *apiSessionsCreateOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
			newAPISessionsSendMessageCmd(f, func(_ context.Context, o *apiSessionsSendMessageOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
			newAPISessionsSendMessageStreamCmd(f, func(_ context.Context, o *apiSessionsSendMessageStreamOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
			newAPISessionsEventsCmd(f, func(_ context.Context, o *apiSessionsEventsOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
			newAPISessionsReplyPermissionCmd(f, func(_ context.Context, o *apiSessionsReplyPermissionOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
			newAPISessionsReplyQuestionCmd(f, func(_ context.Context, o *apiSessionsReplyQuestionOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
			newAPISessionsRejectQuestionCmd(f, func(_ context.Context, o *apiSessionsRejectQuestionOptions) error {
				c := *o
				c.apiFactory = nil
				return capture(c)
			}),
		)
		root.AddCommand(newAPIHealthCmd(f, func(_ context.Context, o *apiHealthOptions) error { c := *o; c.apiFactory = nil; return capture(c) }), agents, sessions)
		return root
	}
	tests := []struct {
		name  string
		args  string
		stdin string
		want  result
	}{
		{"create", "sessions create s1 --agent mock --agent-mode plan --permission-mode bypass --model m --variant high --directory /w --title T",
			"", result{0, apiSessionsCreateOptions{SessionID: "s1", Agent: "mock", AgentMode: "plan",
				PermissionMode: "bypass", Model: "m", Variant: "high", Directory: "/w", Title: "T"}}},
		{"create short agent", "sessions create s2 -a codex", "", result{0, apiSessionsCreateOptions{SessionID: "s2", Agent: "codex"}}},
		{"create without agent", "sessions create s1", "", result{code: 2}},
		{"create without id", "sessions create --agent mock", "", result{code: 2}},
		{"create unknown flag", "sessions create s1 --agent mock --colour red", "", result{code: 2}},
		{"install", "agents install claude --reinstall", "", result{0, apiAgentsInstallOptions{Agent: "claude", Reinstall: true}}},
		{"send", "sessions send-message s1 hello --attachment a.txt --attachment b.png", "",
			result{0, apiSessionsSendMessageOptions{SessionID: "s1", Message: "hello", Attachments: []string{"a.txt", "b.png"}}}},
		{"send from stdin", "sessions send-message s1 -", "from stdin\n",
			result{0, apiSessionsSendMessageOptions{SessionID: "s1", Message: "from stdin"}}},
		{"send without text", "sessions send-message s1", "", result{code: 2}},
		{"stream", "sessions send-message-stream s1 hi --include-raw", "",
			result{0, apiSessionsSendMessageStreamOptions{SessionID: "s1", Message: "hi", IncludeRaw: true}}},
		{"events page", "sessions events s1 --offset 5 --limit 0 --include-raw", "",
			result{0, apiSessionsEventsOptions{SessionID: "s1", Offset: 5, LimitSet: true, IncludeRaw: true}}},
		{"events follow", "sessions events s1 -f --offset 2", "",
			result{0, apiSessionsEventsOptions{SessionID: "s1", Offset: 2, Follow: true}}},
		{"events follow with limit", "sessions events s1 --follow --limit 3", "", result{code: 2}},
		{"events bad offset", "sessions events s1 --offset -1", "", result{code: 2}},
		{"permission", "sessions reply-permission s1 p1 always", "",
			result{0, apiSessionsReplyPermissionOptions{SessionID: "s1", PermissionID: "p1", Reply: "always"}}},
		{"permission bad reply", "sessions reply-permission s1 p1 sometimes", "", result{code: 2}},
		{"question", "sessions reply-question s1 q1 --answer Red --answer Blue", "",
			result{0, apiSessionsReplyQuestionOptions{SessionID: "s1", QuestionID: "q1", Answers: [][]string{{"Red", "Blue"}}}}},
		{"question json", `sessions reply-question s1 q1 --answers [["Yes"],["A","B"]]`, "",
			result{0, apiSessionsReplyQuestionOptions{SessionID: "s1", QuestionID: "q1", Answers: [][]string{{"Yes"}, {"A", "B"}}}}},
		{"question without answer", "sessions reply-question s1 q1", "", result{code: 2}},
		{"question both", `sessions reply-question s1 q1 --answer A --answers [["B"]]`, "", result{code: 2}},
		{"reject", "sessions reject-question s1 q1", "",
			result{0, apiSessionsRejectQuestionOptions{SessionID: "s1", QuestionID: "q1"}}},
		{"unknown command", "sessions fork s1", "", result{code: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearAPIEnv(t)
			f := &apiFactory{IO: IO{In: strings.NewReader(tc.stdin), Out: io.Discard, Err: io.Discard}}
			var got any
			code, err := executeAPI(t, tree(f, &got), strings.Fields(tc.args)...)
			if code != tc.want.code {
				t.Fatalf("exit %d (%v), want %d", code, err, tc.want.code)
			}
			if tc.want.opts == nil {
				return
			}
			if !reflect.DeepEqual(got, tc.want.opts) {
				t.Errorf("options\n got %+v\nwant %+v", got, tc.want.opts)
			}
		})
	}
}

// TestAPIGlobalFlags checks --endpoint, --token and --json and their
// environment variables; a flag wins over the variable.
func TestAPIGlobalFlags(t *testing.T) {
	tests := []struct {
		name            string
		env             map[string]string
		args            string
		endpoint, token string
		json            bool
	}{
		{"defaults", nil, "health", defaultEndpoint, "", false},
		{"flags", nil, "--endpoint http://h:1 --token T --json health", "http://h:1", "T", true},
		{"flags after the command", nil, "health -e http://h:2 -t U", "http://h:2", "U", false},
		{"env", map[string]string{"AGENTD_ENDPOINT": "http://env:3", "AGENTD_TOKEN": "E"}, "health", "http://env:3", "E", false},
		{"flag over env", map[string]string{"AGENTD_ENDPOINT": "http://env:3", "AGENTD_TOKEN": "E"}, "health --token F", "http://env:3", "F", false},
		{"other env ignored", map[string]string{"AGENTD_JSON": "true", "AGENTD_MODEL": "x"}, "health", defaultEndpoint, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clearAPIEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := &apiFactory{IO: IO{Out: io.Discard, Err: io.Discard}}
			root := newAPIRootCmd(f)
			var got *apiHealthOptions
			root.AddCommand(newAPIHealthCmd(f, func(_ context.Context, o *apiHealthOptions) error { got = o; return nil }))
			if code, err := executeAPI(t, root, strings.Fields(tc.args)...); code != 0 {
				t.Fatalf("exit %d: %v", code, err)
			}
			if got.Endpoint != tc.endpoint || got.Token != tc.token || got.JSON != tc.json {
				t.Errorf("endpoint %q token %q json %v, want %q %q %v", got.Endpoint, got.Token, got.JSON, tc.endpoint, tc.token, tc.json)
			}
		})
	}
	t.Run("bad endpoint", func(t *testing.T) {
		clearAPIEnv(t)
		f := &apiFactory{IO: IO{Out: io.Discard, Err: io.Discard}}
		if code, err := executeAPI(t, newAPICmdWith(f), "--endpoint", "localhost:2468", "health"); code != exitUsage {
			t.Errorf("exit %d (%v), want %d", code, err, exitUsage)
		}
	})
}

func TestSSEReader(t *testing.T) {
	stream := ": keep-alive\n\n" +
		"id: 1\ndata: {\"a\":1}\n\n" +
		"id:2\r\ndata:one\r\ndata: two\r\nevent: custom\r\n\r\n" +
		"id: 3\n\n" + // no data: not dispatched, but the id counts
		"retry: 10\nfield without colon\ndata: x\n\n" +
		"data: cut off"
	r := newSSEReader(strings.NewReader(stream))
	want := []sseFrame{
		{ID: "1", Data: `{"a":1}`},
		{ID: "2", Event: "custom", Data: "one\ntwo"},
		{ID: "3", Data: "x"},
	}
	for i, w := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if got != w {
			t.Errorf("frame %d: %+v, want %+v", i, got, w)
		}
	}
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

// apiDaemon is an in-process agentd: event log in a temp dir, the mock agent
// playing scripts without pauses, the real HTTP API.
type apiDaemon struct {
	URL    string
	client *client.ClientWithResponses
}

func newAPIDaemon(t *testing.T, token string) *apiDaemon {
	t.Helper()
	ctx := context.Background()
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatalf("open event log: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	manager, err := session.New(ctx, log, catalog.Agents(mock.New(mock.WithPause(0))), session.WithLogger(logger))
	if err != nil {
		_ = log.Close()
		t.Fatalf("start session manager: %v", err)
	}
	done := make(chan struct{})
	handler, _ := api.New(api.Deps{Sessions: manager, Log: log, Logger: logger, Done: done, Auth: api.AuthConfig{Token: token}})
	srv := httptest.NewServer(handler)
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		close(done)
		srv.Close()
		shutCtx, cancel := context.WithTimeout(context.Background(), apiWait)
		defer cancel()
		manager.Shutdown(shutCtx)
		if err := log.Close(); err != nil {
			t.Errorf("close event log: %v", err)
		}
	})
	c, err := client.NewClientWithResponses(srv.URL, client.WithHTTPClient(hc),
		client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return &apiDaemon{URL: srv.URL, client: c}
}

// waitFor reads the session's events from the start until one of type typ
// whose data contains about arrives, and returns the events up to it.
func (d *apiDaemon) waitFor(t *testing.T, id, typ, about string) []streamEvent {
	t.Helper()
	res, err := d.client.GetEventsSse(apiTestCtx(t), id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	r := newSSEReader(res.Body)
	var evs []streamEvent
	for {
		fr, err := r.Next()
		if err != nil {
			t.Fatalf("waiting for %s in %s: %v", typ, id, err)
		}
		var ev streamEvent
		if err := json.Unmarshal([]byte(fr.Data), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		if ev.Type == typ && strings.Contains(string(ev.Data), about) {
			return evs
		}
	}
}

// allEvents is every stored event of a session, as JSON lines.
func (d *apiDaemon) allEvents(t *testing.T, id string) []string {
	t.Helper()
	res, err := d.client.GetEventsWithResponse(apiTestCtx(t), id, nil)
	if err != nil || res.JSON200 == nil {
		t.Fatalf("events of %s: %v %s", id, err, res.Body)
	}
	var page struct{ Events []json.RawMessage }
	if err := json.Unmarshal(res.Body, &page); err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(page.Events))
	for i, e := range page.Events {
		var buf bytes.Buffer
		_ = json.Compact(&buf, e)
		lines[i] = buf.String()
	}
	return lines
}

// apiRun is the outcome of one command run in-process.
type apiRun struct {
	code        int
	out, errOut string
}

// runAPI runs `agentd api <args>` in-process against endpoint; terminal
// says whether stdout counts as a terminal.
func runAPI(t *testing.T, endpoint string, terminal bool, args ...string) apiRun {
	t.Helper()
	clearAPIEnv(t)
	var out, errOut bytes.Buffer
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	f := &apiFactory{IO: IO{In: strings.NewReader(""), Out: &out, Err: &errOut}, HTTPClient: hc,
		Backoff: time.Millisecond, Retries: 3, terminal: func() bool { return terminal }}
	code, err := executeAPI(t, newAPICmdWith(f), append([]string{"--endpoint", endpoint}, args...)...)
	if err != nil {
		errOut.WriteString("agentd: " + err.Error() + "\n")
	}
	t.Logf("agentd api %s → %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return apiRun{code, out.String(), errOut.String()}
}

func TestAPIHumanOutput(t *testing.T) {
	d := newAPIDaemon(t, "")
	run := func(args ...string) string {
		t.Helper()
		r := runAPI(t, d.URL, true, args...)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.errOut)
		}
		return r.out
	}
	contains := func(out string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("output lacks %q:\n%s", w, out)
			}
		}
	}
	contains(run("health"), "ok (agentd ", "at "+d.URL)
	contains(run("agents", "list"), "AGENT", "mock      yes")
	contains(run("agents", "modes", "mock"), "build  Build")
	contains(run("agents", "models", "mock"), "mock   Mock")
	contains(run("agents", "install", "mock"), "mock is installed")
	contains(run("sessions", "create", "s1", "--agent", "mock", "--title", "hello"), "created session s1 (mock), native session mock-s1")
	contains(run("sessions", "send-message-stream", "s1", "echo hi"), "turn.started", `itm_2 message/assistant completed "hi"`, "turn.ended")
	contains(run("sessions", "events", "s1", "--limit", "2"), "    1  session.started      agent=mock model=mock", "more events follow: --offset 2")
	contains(run("sessions", "list"), "s1", "running", "hello")
	contains(run("sessions", "send-message", "s1", "question"), "sent to s1")
	d.waitFor(t, "s1", "question.requested", "mock_2_question_reject")
	contains(run("sessions", "reply-question", "s1", "mock_2_question", "--answer", "Red"), "answered mock_2_question")
	contains(run("sessions", "reject-question", "s1", "mock_2_question_reject"), "rejected mock_2_question_reject")
	contains(run("sessions", "terminate", "s1"), "terminated s1")
	// --json wins over the terminal.
	if out := run("--json", "health"); !strings.HasPrefix(out, "{\n") {
		t.Errorf("--json on a terminal: %q, want indented JSON", out)
	}
}

func TestAPIJSONOutput(t *testing.T) {
	d := newAPIDaemon(t, "")
	r := runAPI(t, d.URL, false, "sessions", "create", "s1", "--agent", "mock")
	if r.code != 0 || r.out != `{"healthy":true,"nativeSessionId":"mock-s1"}`+"\n" {
		t.Fatalf("create: %d %q", r.code, r.out)
	}
	r = runAPI(t, d.URL, false, "sessions", "send-message-stream", "s1", "echo hi")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if want := d.allEvents(t, "s1")[1:]; !reflect.DeepEqual(lines, want) {
		t.Errorf("send-message-stream printed\n%s\nwant\n%s", r.out, strings.Join(want, "\n"))
	}
	r = runAPI(t, d.URL, false, "sessions", "reply-permission", "s1", "nope", "once")
	if r.code != exitAPI {
		t.Fatalf("reply to an unknown permission: exit %d, want %d", r.code, exitAPI)
	}
	first, _, _ := strings.Cut(r.errOut, "\n")
	var p client.ProblemDetails
	if err := json.Unmarshal([]byte(first), &p); err != nil || p.Status != 400 || p.Detail == nil || !strings.Contains(*p.Detail, "nope") {
		t.Errorf("stderr does not start with the problem: %q", r.errOut)
	}
	if !strings.Contains(r.errOut, "agentd: Invalid Request (400): ") {
		t.Errorf("stderr lacks the problem's title and detail: %q", r.errOut)
	}
}

func TestAPIErrors(t *testing.T) {
	d := newAPIDaemon(t, "s3cret")
	r := runAPI(t, d.URL, true, "sessions", "list")
	if r.code != exitAPI || !strings.Contains(r.errOut, "(401)") || !strings.Contains(r.errOut, "AGENTD_TOKEN") || strings.Contains(r.errOut, "{") {
		t.Errorf("without a token: exit %d, stderr %q", r.code, r.errOut)
	}
	r = runAPI(t, d.URL, true, "--token", "s3cret", "sessions", "events", "nope")
	if r.code != exitAPI || !strings.Contains(r.errOut, "Session Not Found (404): session not found: nope") {
		t.Errorf("unknown session: exit %d, stderr %q", r.code, r.errOut)
	}
	r = runAPI(t, d.URL, true, "--token", "s3cret", "sessions", "events", "nope", "--follow")
	if r.code != exitAPI {
		t.Errorf("following an unknown session: exit %d, want %d", r.code, exitAPI)
	}
	down := closedPortURL(t)
	for _, args := range [][]string{{"health"}, {"sessions", "events", "s1", "--follow"}, {"sessions", "send-message-stream", "s1", "hi"}} {
		r = runAPI(t, down, false, args...)
		if r.code != exitNetwork || !strings.Contains(r.errOut, "cannot reach agentd at "+down) {
			t.Errorf("%v with the apiDaemon down: exit %d, stderr %q", args, r.code, r.errOut)
		}
	}
}

// closedPortURL is the URL of a local port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// flakyProxy forwards to a apiDaemon, but breaks the first response of a
// path matched by cut after n SSE frames, as a dropped connection would.
type flakyProxy struct {
	t       *testing.T
	backend *url.URL
	cut     func(*http.Request) bool
	n       int

	mu       sync.Mutex
	cutDone  bool
	requests []string // method, path and Last-Event-ID of each request
}

func newFlakyProxy(t *testing.T, backend string, n int, cut func(*http.Request) bool) (*flakyProxy, string) {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{t: t, backend: u, cut: cut, n: n}
	tr := &http.Transport{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = tr
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Last-Event-ID"))
		breakIt := !p.cutDone && p.cut(r)
		p.cutDone = p.cutDone || breakIt
		p.mu.Unlock()
		if !breakIt {
			rp.ServeHTTP(w, r)
			return
		}
		p.forwardFrames(w, r, tr)
	}))
	t.Cleanup(func() {
		srv.Close()
		tr.CloseIdleConnections()
	})
	t.Cleanup(func() { t.Logf("proxy saw %q", p.seen()) })
	return p, srv.URL
}

func (p *flakyProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// forwardFrames sends the request on, copies n frames of the answer and
// then aborts the connection.
func (p *flakyProxy) forwardFrames(w http.ResponseWriter, r *http.Request, tr http.RoundTripper) {
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.RequestURI = p.backend.Scheme, p.backend.Host, ""
	res, err := tr.RoundTrip(out)
	if err != nil {
		p.t.Errorf("proxy: %v", err)
		panic(http.ErrAbortHandler)
	}
	defer res.Body.Close()
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	br := bufio.NewReader(res.Body)
	for frames := 0; frames < p.n; {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		_, _ = io.WriteString(w, line)
		if line == "\n" {
			frames++
		}
	}
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler) // the client sees the connection break mid-stream
}

func TestAPIFollowResumes(t *testing.T) {
	d := newAPIDaemon(t, "")
	if r := runAPI(t, d.URL, false, "sessions", "create", "s1", "--agent", "mock"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	if r := runAPI(t, d.URL, false, "sessions", "send-message", "s1", "demo"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	d.waitFor(t, "s1", "turn.ended", "")
	if r := runAPI(t, d.URL, false, "sessions", "terminate", "s1"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	proxy, proxyURL := newFlakyProxy(t, d.URL, 5, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/events/sse") })

	r := runAPI(t, proxyURL, false, "sessions", "events", "s1", "--follow")
	if r.code != 0 {
		t.Fatalf("follow: exit %d: %s", r.code, r.errOut)
	}
	want := d.allEvents(t, "s1")
	if got := strings.Split(strings.TrimSpace(r.out), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("follow printed %d lines, want the %d stored events once each, in order\n%s", len(got), len(want), r.out)
	}
	// First connection cut after 5 events, the second resumes after 5 and
	// ends with the session, the third is told there is nothing more.
	seen := proxy.seen()
	wantSeen := []string{"GET /v1/sessions/s1/events/sse ", "GET /v1/sessions/s1/events/sse 5", "GET /v1/sessions/s1/events/sse " + lastSequence(t, want)}
	if !reflect.DeepEqual(seen, wantSeen) {
		t.Errorf("requests %q, want %q", seen, wantSeen)
	}

	// --offset starts later; a follow of an ended session from its end
	// prints nothing and succeeds.
	r = runAPI(t, d.URL, false, "sessions", "events", "s1", "--follow", "--offset", lastSequence(t, want))
	if r.code != 0 || r.out != "" {
		t.Errorf("follow from the end: exit %d, out %q", r.code, r.out)
	}
}

func lastSequence(t *testing.T, lines []string) string {
	t.Helper()
	var ev streamEvent
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &ev); err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(ev.Sequence, 10)
}

func TestAPISendMessageStreamResumes(t *testing.T) {
	d := newAPIDaemon(t, "")
	if r := runAPI(t, d.URL, false, "sessions", "create", "s1", "--agent", "mock"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	proxy, proxyURL := newFlakyProxy(t, d.URL, 2, func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/messages/stream") })
	r := runAPI(t, proxyURL, false, "sessions", "send-message-stream", "s1", "Answer briefly and include your reasoning.")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.errOut)
	}
	want := d.allEvents(t, "s1")[1:] // all but session.started: the turn
	got := strings.Split(strings.TrimSpace(r.out), "\n")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("printed\n%s\nwant\n%s", r.out, strings.Join(want, "\n"))
	}
	if seen := proxy.seen(); len(seen) != 2 || seen[1] != "GET /v1/sessions/s1/events/sse 3" {
		t.Errorf("requests %q: want the stream, then a resume after event 3", seen)
	}
}

// TestAPIFollowStopsOnCancel: a follow of a live session runs until its
// context ends, then returns cleanly.
func TestAPIFollowStopsOnCancel(t *testing.T) {
	d := newAPIDaemon(t, "")
	if r := runAPI(t, d.URL, false, "sessions", "create", "s1", "--agent", "mock"); r.code != 0 {
		t.Fatal(r.errOut)
	}
	ctx, cancel := context.WithCancel(apiTestCtx(t))
	defer cancel()
	pr, pw := io.Pipe()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	f := &apiFactory{IO: IO{Out: pw, Err: io.Discard}, Endpoint: d.URL, HTTPClient: hc, Backoff: time.Millisecond, Retries: 3}
	done := make(chan error, 1)
	go func() {
		done <- runAPISessionsEvents(ctx, &apiSessionsEventsOptions{apiFactory: f, SessionID: "s1", Follow: true})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.Contains(line, `"session.started"`) {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("follow ended with %v, want nil", err)
		}
	case <-time.After(apiWait):
		t.Fatal("follow did not stop when its context ended")
	}
}
