package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/internal/workspace"
)

// procInfo is the part of ProcessInfo the tests look at.
type procInfo struct {
	ID        string   `json:"id"`
	Argv      []string `json:"argv"`
	Cwd       string   `json:"cwd"`
	Pid       int      `json:"pid"`
	Status    string   `json:"status"`
	ExitCode  *int     `json:"exitCode"`
	Signal    *string  `json:"signal"`
	TimedOut  bool     `json:"timedOut"`
	StdinOpen bool     `json:"stdinOpen"`
	EndedAt   *int64   `json:"endedAt"`
}

type outputFrame struct {
	Seq    uint64 `json:"seq"`
	Stream string `json:"stream"`
	Offset int64  `json:"offset"`
	Data   string `json:"data"`
}

func (sb *sandbox) startProc(t *testing.T, ctx context.Context, body map[string]any) procInfo {
	t.Helper()
	return decodeJSON[procInfo](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/processes", mustJSON(body)))
}

func shell(script string) map[string]any {
	return map[string]any{"argv": []string{"/bin/sh", "-c", script}}
}

// followOutput reads a process's SSE stream until the exit event, and
// returns stdout, stderr, the frames and the exit.
func followOutput(t *testing.T, s *namedStream) (string, string, []outputFrame, procInfo) {
	t.Helper()
	var out, errOut bytes.Buffer
	var frames []outputFrame
	for {
		f := s.must(t)
		switch f.Event {
		case "output":
			var o outputFrame
			if err := json.Unmarshal([]byte(f.Data), &o); err != nil {
				t.Fatal(err)
			}
			if f.ID != strconv.FormatUint(o.Seq, 10) {
				t.Fatalf("frame id %s carries chunk %d", f.ID, o.Seq)
			}
			b, _ := base64.StdEncoding.DecodeString(o.Data)
			if o.Stream == "stdout" {
				out.Write(b)
			} else {
				errOut.Write(b)
			}
			frames = append(frames, o)
		case "exit":
			if f.ID != "exit" {
				t.Fatalf("exit frame id %q", f.ID)
			}
			var info procInfo
			json.Unmarshal([]byte(f.Data), &info)
			s.expectEnd(t)
			return out.String(), errOut.String(), frames, info
		default:
			t.Fatalf("unexpected frame %+v", f)
		}
	}
}

func TestProcessLifecycle(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	os.Mkdir(sb.path("work"), 0o755)
	p := sb.startProc(t, ctx, map[string]any{"argv": []string{"/bin/sh", "-c", `pwd; echo "v=$V"; echo oops >&2; exit 4`},
		"cwd": "work", "env": map[string]string{"V": "1"}})
	if p.Status != "running" && p.Status != "exited" || p.Cwd != sb.path("work") || p.Pid == 0 || p.StdinOpen {
		t.Fatalf("started %+v", p)
	}
	out, errOut, frames, exit := followOutput(t, sb.openNamed(t, ctx, "/v1/processes/"+p.ID+"/output/sse"))
	if out != sb.path("work")+"\nv=1\n" || errOut != "oops\n" || len(frames) == 0 || frames[0].Seq != 1 {
		t.Fatalf("output %q %q %+v", out, errOut, frames)
	}
	if exit.Status != "exited" || exit.ExitCode == nil || *exit.ExitCode != 4 || exit.EndedAt == nil {
		t.Fatalf("exit %+v", exit)
	}
	got := decodeJSON[procInfo](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/processes/"+p.ID, ""))
	if got.Status != "exited" || *got.ExitCode != 4 {
		t.Fatalf("get %+v", got)
	}
	list := decodeJSON[struct{ Processes []procInfo }](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/processes", ""))
	if len(list.Processes) != 1 || list.Processes[0].ID != p.ID {
		t.Fatalf("list %+v", list)
	}
	tail := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/processes/"+p.ID+"/output", ""))
	if tail["stdout"] != out || tail["stderr"] != "oops\n" || tail["truncated"] != false || tail["encoding"] != "utf8" {
		t.Fatalf("tail %v", tail)
	}
	tail = decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/processes/"+p.ID+"/output?encoding=base64", ""))
	if tail["stderr"] != base64.StdEncoding.EncodeToString([]byte("oops\n")) {
		t.Fatalf("base64 tail %v", tail)
	}
	// The whole log, with Range.
	log := sb.must(t, ctx, 206, http.MethodGet, "/v1/processes/"+p.ID+"/logs/stdout", "", "Range", "bytes=0-3")
	if string(log.Body) != out[:4] {
		t.Fatalf("log range %q", log.Body)
	}
	if string(sb.must(t, ctx, 200, http.MethodGet, "/v1/processes/"+p.ID+"/logs/stderr", "").Body) != "oops\n" {
		t.Fatal("stderr log")
	}
	// A finished stream reconnecting with the exit's id: 204, EventSource stops.
	sb.must(t, ctx, 204, http.MethodGet, "/v1/processes/"+p.ID+"/output/sse", "", "Last-Event-ID", "exit")
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/processes/"+p.ID+"/signal", `{"signal":"TERM"}`), frameworkError(409, "process has exited: "+p.ID))
	deleted := decodeJSON[procInfo](t, sb.must(t, ctx, 200, http.MethodDelete, "/v1/processes/"+p.ID, ""))
	if deleted.ID != p.ID {
		t.Fatalf("delete %+v", deleted)
	}
	checkProblem(t, sb.request(t, ctx, http.MethodGet, "/v1/processes/"+p.ID, ""), frameworkError(404, "process not found: "+p.ID))
}

func TestProcessStartErrors(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	for body, want := range map[string]int{
		`{"argv":[]}`: 422,
		mustJSON(map[string]any{"argv": []string{"/bin/true"}, "cwd": "../outside"}):               400,
		mustJSON(map[string]any{"argv": []string{"/bin/true"}, "cwd": sb.outside}):                 400,
		mustJSON(map[string]any{"argv": []string{"/bin/true"}, "cwd": "missing"}):                  400,
		mustJSON(map[string]any{"argv": []string{"/nonexistent/x"}}):                               400,
		mustJSON(map[string]any{"argv": []string{"/bin/true"}, "sessionId": "nope"}):               404,
		mustJSON(map[string]any{"argv": []string{"/bin/true"}, "env": map[string]any{"A=B": "c"}}): 400,
	} {
		if res := sb.request(t, ctx, http.MethodPost, "/v1/processes", body); res.Status != want {
			t.Errorf("%s: %d %s", body, res.Status, res.Body)
		}
	}
	// cwd relative to a session's directory.
	os.Mkdir(sb.path("proj"), 0o755)
	sb.must(t, ctx, 200, http.MethodPost, "/v1/sessions/s1", mustJSON(map[string]string{"agent": "mock", "directory": sb.path("proj")}))
	p := sb.startProc(t, ctx, map[string]any{"argv": []string{"/bin/true"}, "sessionId": "s1"})
	if p.Cwd != sb.path("proj") {
		t.Fatalf("cwd %s", p.Cwd)
	}
}

// TestProcessResume disconnects after a few chunks and resumes with
// Last-Event-ID and with ?after: both continue right after, so the
// output is whole, once, in order.
func TestProcessResume(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	p := sb.startProc(t, ctx, map[string]any{"argv": []string{"cat"}, "stdin": true})
	first := sb.openNamed(t, ctx, "/v1/processes/"+p.ID+"/output/sse")
	var want strings.Builder
	var got strings.Builder
	var last string
	for i := 1; i <= 3; i++ {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		sb.must(t, ctx, 200, http.MethodPost, "/v1/processes/"+p.ID+"/stdin", line)
		for !strings.HasSuffix(got.String(), line) {
			f := first.must(t)
			var o outputFrame
			json.Unmarshal([]byte(f.Data), &o)
			b, _ := base64.StdEncoding.DecodeString(o.Data)
			got.WriteString(string(b))
			last = f.ID
		}
	}
	first.res.Body.Close()
	for i := 4; i <= 6; i++ {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		sb.must(t, ctx, 200, http.MethodPost, "/v1/processes/"+p.ID+"/stdin"+q("close", strconv.FormatBool(i == 6)), line)
	}
	for _, header := range [][]string{{"Last-Event-ID", last}, nil} {
		path := "/v1/processes/" + p.ID + "/output/sse"
		if header == nil {
			path += "?after=" + last
		}
		rest, _, frames, exit := followOutput(t, sb.openNamed(t, ctx, path, header...))
		if got.String()+rest != want.String() {
			t.Fatalf("resumed %v: %q + %q", header, got.String(), rest)
		}
		if lastSeq, _ := strconv.ParseUint(last, 10, 64); frames[0].Seq != lastSeq+1 {
			t.Fatalf("resumed at chunk %d after %s", frames[0].Seq, last)
		}
		if *exit.ExitCode != 0 {
			t.Fatalf("exit %+v", exit)
		}
	}
}

// TestProcessOutlivesRequest: the start request returns while the process
// runs; another client sees it and talks to it; killing it takes its whole
// group down.
func TestProcessOutlivesRequestAndKill(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	p := sb.startProc(t, ctx, map[string]any{"argv": []string{"/bin/sh", "-c", `trap '' TERM; sleep 300 & echo "child:$!"; read x; echo "read $x"; wait`}, "stdin": true})
	s := sb.openNamed(t, ctx, "/v1/processes/"+p.ID+"/output/sse")
	var o outputFrame
	json.Unmarshal([]byte(s.must(t).Data), &o)
	b, _ := base64.StdEncoding.DecodeString(o.Data)
	child, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(b), "child:")))
	if got := decodeJSON[procInfo](t, sb.must(t, ctx, 200, http.MethodGet, "/v1/processes/"+p.ID, "")); got.Status != "running" || !got.StdinOpen {
		t.Fatalf("after its request: %+v", got)
	}
	w := decodeJSON[map[string]any](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/processes/"+p.ID+"/stdin", "hi\n"))
	if w["bytesWritten"] != float64(3) {
		t.Fatalf("stdin %v", w)
	}
	json.Unmarshal([]byte(s.must(t).Data), &o)
	if b, _ := base64.StdEncoding.DecodeString(o.Data); string(b) != "read hi\n" {
		t.Fatalf("echo %q", b)
	}
	killed := decodeJSON[procInfo](t, sb.must(t, ctx, 200, http.MethodPost, "/v1/processes/"+p.ID+"/kill", ""))
	if killed.Status != "exited" || killed.Signal == nil || *killed.Signal != "SIGKILL" {
		t.Fatalf("kill %+v", killed)
	}
	if processAlive(killed.Pid) || processAlive(child) {
		t.Fatal("the process group survived the kill")
	}
	if f := s.must(t); f.Event != "exit" {
		t.Fatalf("follower got %+v", f)
	}
}

func TestProcessSignalTimeoutAndShutdown(t *testing.T) {
	ctx := testCtx(t)
	sb := newSandbox(t, workspace.Options{})
	p := sb.startProc(t, ctx, shell(`trap 'echo usr1; exit 9' USR1; echo ready; while :; do sleep 0.01; done`))
	s := sb.openNamed(t, ctx, "/v1/processes/"+p.ID+"/output/sse")
	s.must(t) // ready
	sb.must(t, ctx, 200, http.MethodPost, "/v1/processes/"+p.ID+"/signal", `{"signal":"SIGUSR1"}`)
	out, _, _, exit := followOutput(t, s)
	if out != "usr1\n" || *exit.ExitCode != 9 {
		t.Fatalf("after signal: %q %+v", out, exit)
	}
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/processes/"+p.ID+"/signal", `{"signal":"BOGUS"}`), invalidRequest(`unknown signal "BOGUS"`))

	body := shell(`sleep 300`)
	body["timeoutMs"] = 50
	p = sb.startProc(t, ctx, body)
	_, _, _, exit = followOutput(t, sb.openNamed(t, ctx, "/v1/processes/"+p.ID+"/output/sse"))
	if !exit.TimedOut || exit.Signal == nil || *exit.Signal != "SIGTERM" {
		t.Fatalf("timeout exit %+v", exit)
	}

	// Shutdown leaves nothing running, however it was started.
	var pids []int
	for range 3 {
		p := sb.startProc(t, ctx, shell(`trap '' TERM; sleep 300 & echo $!; wait`))
		s := sb.openNamed(t, ctx, "/v1/processes/"+p.ID+"/output/sse")
		var o outputFrame
		json.Unmarshal([]byte(s.must(t).Data), &o)
		b, _ := base64.StdEncoding.DecodeString(o.Data)
		child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		pids = append(pids, p.Pid, child)
	}
	sb.procs.Shutdown(ctx)
	for _, pid := range pids {
		if processAlive(pid) {
			t.Fatalf("pid %d survived shutdown", pid)
		}
	}
	checkProblem(t, sb.request(t, ctx, http.MethodPost, "/v1/processes", mustJSON(shell("true"))), frameworkError(503, "the daemon is shutting down"))
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}
