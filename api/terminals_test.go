package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/workspace"
)

type termInfo struct {
	ID       string `json:"id"`
	Pid      int    `json:"pid"`
	Cols     int    `json:"cols"`
	Rows     int    `json:"rows"`
	Status   string `json:"status"`
	ExitCode *int   `json:"exitCode"`
	Readers  int    `json:"readers"`
	Bytes    int64  `json:"bytes"`
}

// termStream follows a terminal's SSE output.
type termStream struct {
	s    *namedStream
	seen bytes.Buffer
	last string // id of the last output frame
	exit *termInfo
}

// until reads output frames until what was seen matches re.
func (ts *termStream) until(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(ts.seen.String()); m != nil {
			return m
		}
		f := ts.s.must(t)
		switch f.Event {
		case "output":
			var o struct {
				Offset int64  `json:"offset"`
				Data   string `json:"data"`
			}
			json.Unmarshal([]byte(f.Data), &o)
			b, _ := base64.StdEncoding.DecodeString(o.Data)
			if want := strconv.FormatInt(o.Offset+int64(len(b)), 10); f.ID != want {
				t.Fatalf("frame id %s, want the offset after it %s", f.ID, want)
			}
			ts.seen.Write(b)
			ts.last = f.ID
		case "exit":
			var info termInfo
			json.Unmarshal([]byte(f.Data), &info)
			ts.exit = &info
			if re.String() == "EXIT" {
				return nil
			}
			t.Fatalf("terminal exited before %s; output %q", re, ts.seen.String())
		default:
			t.Fatalf("unexpected frame %+v", f)
		}
	}
}

func (sb *sandbox) typeInto(t *testing.T, ctx context.Context, id, text string) {
	t.Helper()
	res := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/terminals/"+id+"/input", text, "Content-Type", "application/octet-stream"))
	if res["bytesWritten"] != float64(len(text)) {
		t.Fatalf("input %v", res)
	}
}

// TestTerminalSession: a real shell over the HTTP API: type, read the
// echo, resize and check `stty size`, reconnect and see the replay,
// resume by offset, close and see the session gone.
func TestTerminalSession(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	info := decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/terminals", `{"argv":["/bin/sh","-i"],"cols":90,"rows":20}`))
	if info.Status != "running" || info.Cols != 90 || info.Rows != 20 || info.Pid == 0 {
		t.Fatalf("created %+v", info)
	}
	path := "/v1/terminals/" + info.ID
	out := &termStream{s: sb.openNamed(t, ctx, path+"/output/sse")}
	sb.typeInto(t, ctx, info.ID, "echo hi-$((40+2))\n")
	out.until(t, regexp.MustCompile(`hi-42`))
	sb.typeInto(t, ctx, info.ID, "stty size\n")
	out.until(t, regexp.MustCompile(`20 90`))
	resized := decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodPost, path+"/resize", `{"cols":132,"rows":43}`))
	if resized.Cols != 132 || resized.Rows != 43 {
		t.Fatalf("resize %+v", resized)
	}
	sb.typeInto(t, ctx, info.ID, "stty size\n")
	out.until(t, regexp.MustCompile(`43 132`))
	if got := decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodGet, path, "")); got.Readers != 1 || got.Bytes == 0 {
		t.Fatalf("get %+v", got)
	}

	// A second client replays the screen so far.
	replay := &termStream{s: sb.openNamed(t, ctx, path+"/output/sse")}
	replay.until(t, regexp.MustCompile(`(?s)hi-42.*43 132`))
	// Resuming from the first stream's last id sends only what follows.
	resume := &termStream{s: sb.openNamed(t, ctx, path+"/output/sse", "Last-Event-ID", out.last)}
	sb.typeInto(t, ctx, info.ID, "echo after-$((1+1))\n")
	resume.until(t, regexp.MustCompile(`after-2`))
	if strings.Contains(resume.seen.String(), "hi-42") {
		t.Fatalf("resume replayed old output: %q", resume.seen.String())
	}
	byQuery := &termStream{s: sb.openNamed(t, ctx, path+"/output/sse?offset="+out.last)}
	byQuery.until(t, regexp.MustCompile(`after-2`))

	// Background job in its own group; closing the terminal ends it too.
	sb.typeInto(t, ctx, info.ID, "set -m; sleep 300 & echo job:$!\n")
	job, _ := strconv.Atoi(out.until(t, regexp.MustCompile(`job:(\d+)`))[1])
	closed := decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodDelete, path, ""))
	if closed.Status != "exited" {
		t.Fatalf("close %+v", closed)
	}
	if processAlive(info.Pid) || processAlive(job) {
		t.Fatal("a process of the terminal survived its close")
	}
	out.until(t, regexp.MustCompile("EXIT"))
	out.s.expectEnd(t)
	checkProblem(t, sb.request(t, ctx, http.MethodGet, path, ""), frameworkError(404, "terminal not found: "+info.ID))
	checkProblem(t, sb.request(t, ctx, http.MethodPost, path+"/input", "x"), frameworkError(404, "terminal not found: "+info.ID))
}

func TestTerminalExitAndErrors(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	info := decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/terminals", `{"argv":["/bin/sh","-c","read x; exit 5"]}`))
	if info.Cols != 80 || info.Rows != 24 {
		t.Fatalf("default size %+v", info)
	}
	out := &termStream{s: sb.openNamed(t, ctx, "/v1/terminals/"+info.ID+"/output/sse")}
	sb.typeInto(t, ctx, info.ID, "go\n")
	out.until(t, regexp.MustCompile("EXIT"))
	if out.exit.Status != "exited" || out.exit.ExitCode == nil || *out.exit.ExitCode != 5 {
		t.Fatalf("exit %+v", out.exit)
	}
	out.s.expectEnd(t)
	sb.must(t, ctx, 204, http.MethodGet, "/v1/terminals/"+info.ID+"/output/sse", "", "Last-Event-ID", "exit")
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/terminals/"+info.ID+"/input", "x"), frameworkError(409, "terminal has exited: "+info.ID))
	if list := decodeJSON[struct{ Terminals []termInfo }](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/terminals", "")); len(list.Terminals) != 1 {
		t.Fatalf("list %+v", list)
	}
	for body, want := range map[string]int{
		`{"argv":["/nonexistent"]}`:            400,
		`{"cwd":"../outside"}`:                 400,
		`{"cols":0}`:                           422,
		`{"argv":["/bin/sh"],"sessionId":"x"}`: 404,
	} {
		if res := sb.request(t, ctx, http.MethodPost, "/v1/terminals", body); res.Status != want {
			t.Errorf("%s: %d %s", body, res.Status, res.Body)
		}
	}
	big := strings.Repeat("x", 1<<20+1)
	info = decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/terminals", `{"argv":["/bin/cat"]}`))
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/terminals/"+info.ID+"/input", big), frameworkError(413, "input is over the 1 MiB limit"))
}

// TestTerminalWebSocket: type over the socket, read the echo, resize
// with a control message, and get the exit message when the program ends.
func TestTerminalWebSocket(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	info := decodeJSON[termInfo](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/terminals", `{"argv":["/bin/sh"]}`))
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(sb.URL, "http")+"/v1/terminals/"+info.ID+"/ws", &websocket.DialOptions{HTTPClient: sb.Client})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var seen bytes.Buffer
	readUntil := func(re *regexp.Regexp) {
		t.Helper()
		for !re.MatchString(seen.String()) {
			typ, msg, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v; output %q", err, seen.String())
			}
			if typ != websocket.MessageBinary {
				t.Fatalf("text message before the exit: %s", msg)
			}
			seen.Write(msg)
		}
	}
	if err := conn.Write(ctx, websocket.MessageBinary, []byte("echo ws-$((2*21))\n")); err != nil {
		t.Fatal(err)
	}
	readUntil(regexp.MustCompile(`ws-42`))
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"resize","cols":101,"rows":33}`))
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"input","data":"stty size\n"}`))
	readUntil(regexp.MustCompile(`33 101`))
	conn.Write(ctx, websocket.MessageBinary, []byte("exit 2\n"))
	for {
		typ, msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if typ == websocket.MessageText {
			var c struct {
				Type     string   `json:"type"`
				Terminal termInfo `json:"terminal"`
			}
			json.Unmarshal(msg, &c)
			if c.Type != "exit" || c.Terminal.ExitCode == nil || *c.Terminal.ExitCode != 2 {
				t.Fatalf("exit message %s", msg)
			}
			break
		}
	}
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after exit: %v", err)
	}
}

// BenchmarkTerminalEchoWebSocket measures keystroke echo latency over the
// WebSocket: one byte typed into cat on a terminal (the line discipline
// echoes it) until the echo arrives. Reports p50/p99 in microseconds.
func BenchmarkTerminalEchoWebSocket(b *testing.B) {
	ctx := context.Background()
	url, client := benchSandbox(b)
	res, err := client.Post(url+"/v1/terminals", "application/json", strings.NewReader(`{"argv":["/bin/sh","-c","stty -icanon; exec cat >/dev/null"]}`))
	if err != nil {
		b.Fatal(err)
	}
	var info termInfo
	json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/v1/terminals/"+info.ID+"/ws", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		key := []byte{'a' + byte(i%26)}
		start := time.Now()
		if err := conn.Write(ctx, websocket.MessageBinary, key); err != nil {
			b.Fatal(err)
		}
		for {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if bytes.Contains(msg, key) {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// TestTerminalWebSocketToken: a browser cannot send an Authorization header
// on a WebSocket, so the token may come as an offered subprotocol.
func TestTerminalWebSocketToken(t *testing.T) {
	ctx := testCtx(t)
	const token = "s3cret/+token"
	sb := newSandbox(t, workspace.Options{}, func(d *api.Deps) { d.Auth = api.AuthConfig{Token: token} })
	res := sb.must(t, ctx, 200, http.MethodPost, "/v1/terminals", `{"argv":["/bin/sh"]}`, "Authorization", "Bearer "+token)
	info := decodeJSON[termInfo](t, res)
	url := "ws" + strings.TrimPrefix(sb.URL, "http") + "/v1/terminals/" + info.ID + "/ws"
	dial := func(protocols ...string) (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: sb.Client, Subprotocols: protocols})
	}
	enc := base64.RawURLEncoding.EncodeToString
	conn, _, err := dial(api.WebSocketProtocol, "agentd.bearer."+enc([]byte(token)))
	if err != nil {
		t.Fatal(err)
	}
	if conn.Subprotocol() != api.WebSocketProtocol {
		t.Errorf("subprotocol %q", conn.Subprotocol())
	}
	conn.CloseNow()
	for _, offered := range [][]string{nil, {api.WebSocketProtocol}, {api.WebSocketProtocol, "agentd.bearer." + enc([]byte("wrong"))},
		{api.WebSocketProtocol, "agentd.bearer." + token}} {
		_, res, err := dial(offered...)
		if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
			t.Errorf("offered %q: %v, %v", offered, err, res)
		}
	}
}
