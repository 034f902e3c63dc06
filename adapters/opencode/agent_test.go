package opencode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/adaptertest"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	"github.com/agentd-dev/agentd/schema"
)

// wait is the deadline of every wait on the real binary: generous, for a
// loaded machine.
const wait = 3 * time.Minute

// opencodeBin finds the real binary or skips the test.
func opencodeBin(t *testing.T) string {
	return adaptertest.Binary(t, "opencode", "run .ci/agents.sh or set AGENTD_OPENCODE_BIN", DefaultResolver)
}

// newRecorder is the engine's side of a session: it keeps every event
// and lets a test wait for them.
func newRecorder() *adaptertest.Collector {
	c := adaptertest.NewCollector(wait)
	c.Describe = skeleton
	return c
}

var isType = adaptertest.IsType

// fakeScenarios are the scripted model's replies the tests use beyond the
// built-ins.
func fakeScenarios() []fakemodel.Scenario {
	return []fakemodel.Scenario{
		{Name: "two_bash", Turns: []fakemodel.Turn{
			{fakemodel.Shell("echo one", "First command")},
			{fakemodel.Shell("echo two", "Second command")},
			{fakemodel.Text(fakemodel.StepDoneText)},
		}},
	}
}

// testAgent is an Agent on the fake model with a private state directory;
// its server is stopped when the test ends.
func testAgent(t *testing.T) (*Agent, *fakemodel.Server) {
	t.Helper()
	bin := opencodeBin(t)
	fake := fakemodel.New(fakemodel.WithScenarios(fakeScenarios()...))
	base, err := fake.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	a := New(WithResolver(func(context.Context) (string, error) { return bin, nil }), WithStateDir(t.TempDir()),
		WithProvider(Provider{ID: "fake", BaseURL: base + "/v1", APIKey: "x", Models: []string{"fake-model"}}),
		WithGrace(2*time.Second))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a, fake
}

var shared struct {
	once  sync.Once
	agent *Agent
	fake  *fakemodel.Server
	start time.Duration
}

// sharedAgent is one Agent for the tests that do not kill its server: its
// sessions share one OpenCode server, as in the daemon.
func sharedAgent(t *testing.T) *Agent {
	t.Helper()
	bin := opencodeBin(t)
	shared.once.Do(func() {
		fake := fakemodel.New(fakemodel.WithScenarios(fakeScenarios()...))
		base, err := fake.Start(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		dir, err := os.MkdirTemp("", "agentd-opencode-test-")
		if err != nil {
			t.Fatal(err)
		}
		shared.fake = fake
		shared.agent = New(WithResolver(func(context.Context) (string, error) { return bin, nil }), WithStateDir(dir),
			WithProvider(Provider{ID: "fake", BaseURL: base + "/v1", APIKey: "x", Models: []string{"fake-model"}}),
			WithGrace(2*time.Second))
		begin := time.Now()
		if _, err := shared.agent.server(t.Context()); err != nil {
			t.Fatal(err)
		}
		shared.start = time.Since(begin)
	})
	if shared.agent == nil {
		t.Fatal("shared agent failed to start")
	}
	return shared.agent
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.agent != nil {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_ = shared.agent.Close(ctx)
		cancel()
		shared.fake.Close()
		_ = os.RemoveAll(shared.agent.stateDir)
	}
	os.Exit(code)
}

func startSession(t *testing.T, a *Agent, mode string) (adapters.Session, *adaptertest.Collector, string) {
	t.Helper()
	rec := newRecorder()
	dir := t.TempDir()
	s, err := a.Start(t.Context(), adapters.StartRequest{SessionID: t.Name(), PermissionMode: mode, Directory: dir,
		Model: "fake/fake-model"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return s, rec, dir
}

func send(t *testing.T, s adapters.Session, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := s.Send(ctx, adapters.Message{Text: text}); err != nil {
		t.Fatal(err)
	}
}

var (
	nativeIDs = regexp.MustCompile(`\b(msg|prt|per|que|call|ses)_[A-Za-z0-9_]+`)
	tmpDirs   = regexp.MustCompile(`/tmp/[^\s"')]*`)
)

// skeleton renders a universal stream without what varies between runs
// (ids, paths, timings): one line per event, except that all deltas of an
// item are joined at the first one. How OpenCode batches deltas depends on
// the load (a last chunk may come only with the part's final text, after
// the tool call that follows it).
func skeleton(evs []adapters.Event) string {
	var b strings.Builder
	joined := map[string]bool{}
	for i := 0; i < len(evs); i++ {
		ev := evs[i]
		if d, ok := ev.Data.(schema.ItemDeltaData); ok && joined[*d.NativeItemID] {
			continue
		}
		line := string(ev.Type)
		switch d := ev.Data.(type) {
		case schema.ItemEventData:
			it := d.Item
			line += fmt.Sprintf(" %s/%s %s", it.Kind, *it.Role, it.Status)
			for _, p := range it.Content {
				line += " " + partText(p)
			}
		case schema.ItemDeltaData:
			joined[*d.NativeItemID] = true
			var text strings.Builder
			for _, later := range evs[i:] {
				if ld, ok := later.Data.(schema.ItemDeltaData); ok && *ld.NativeItemID == *d.NativeItemID {
					text.WriteString(ld.Delta)
				}
			}
			line += fmt.Sprintf(" %q", text.String())
		case schema.TurnEventData:
			var m struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(d.Metadata, &m)
			if m.Status != "" {
				line += " status=" + m.Status
			}
		case schema.PermissionEventData:
			line += " " + d.Action
		case schema.QuestionEventData:
			line += fmt.Sprintf(" %q %q", d.Prompt, d.Options)
		case schema.ErrorData:
			line += fmt.Sprintf(" code=%s %q", deref(d.Code), d.Message)
		case schema.SessionEndedData:
			line += fmt.Sprintf(" %s by %s", d.Reason, d.TerminatedBy)
		case schema.AgentUnparsedData:
			line += " " + d.Error
		}
		if ev.Synthetic {
			line += " (synthetic)"
		}
		b.WriteString(tmpDirs.ReplaceAllString(nativeIDs.ReplaceAllString(line, "$1_*"), "<tmp>"))
		b.WriteByte('\n')
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func partText(p schema.ContentPart) string {
	switch p.Type {
	case schema.PartText, schema.PartReasoning:
		return fmt.Sprintf("%s%q", p.Type, p.Text)
	case schema.PartToolCall:
		return fmt.Sprintf("tool_call(%s)", p.Name)
	case schema.PartToolResult:
		return fmt.Sprintf("tool_result%q", truncateText(p.Output, 80))
	case schema.PartFileRef:
		return fmt.Sprintf("file_ref(%s %s)", p.Action, p.Path)
	case schema.PartStatus:
		return "status(" + p.Label + ")"
	}
	return string(p.Type)
}

// checkGolden compares a run's skeleton with testdata/real/<name>.golden.
func checkGolden(t *testing.T, name string, evs []adapters.Event) {
	t.Helper()
	for _, ev := range evs {
		checkPayload(t, ev)
	}
	got := skeleton(evs)
	path := filepath.Join("testdata", "real", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (rerun with -update)", err)
	}
	if got != string(want) {
		t.Errorf("stream differs from %s (rerun with -update and review):\n%s\nwhole stream:\n%s", path, firstDiff(string(want), got), got)
	}
}

func TestRealText(t *testing.T) {
	a := sharedAgent(t)
	t.Logf("opencode serve ready in %v", shared.start)
	s, rec, _ := startSession(t, a, "")
	send(t, s, "SCN:text Say hello.")
	evs := rec.WaitTurns(t, t.Context(), 1)
	checkGolden(t, "text", evs)
}

// hitl keeps the human-in-the-loop events out of a golden stream: OpenCode
// sends permission.asked and the tool part's running state concurrently,
// so their order varies between runs. The tests assert them directly.
func hitl(evs []adapters.Event) (rest []adapters.Event, asked []adapters.Event) {
	for _, ev := range evs {
		if ev.Type == schema.EventPermissionRequested || ev.Type == schema.EventQuestionRequested {
			asked = append(asked, ev)
		} else {
			rest = append(rest, ev)
		}
	}
	return rest, asked
}

func permissions(t *testing.T, rec *adaptertest.Collector, n int) []schema.PermissionEventData {
	t.Helper()
	var out []schema.PermissionEventData
	for _, ev := range rec.WaitFor(t, t.Context(), "permission.requested", n, isType(schema.EventPermissionRequested)) {
		if d, ok := ev.Data.(schema.PermissionEventData); ok {
			out = append(out, d)
		}
	}
	return out
}

func replyPermission(t *testing.T, s adapters.Session, id string, reply adapters.PermissionReply) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := s.ReplyPermission(ctx, adapters.PermissionRequest{ID: id}, reply); err != nil {
		t.Fatal(err)
	}
}

func TestRealThinking(t *testing.T) {
	t.Parallel()
	s, rec, _ := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:thinking Think, then answer.")
	checkGolden(t, "thinking", rec.WaitTurns(t, t.Context(), 1))
}

func TestRealPermissionOnce(t *testing.T) {
	t.Parallel()
	s, rec, dir := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:tool_bash Run a command.")
	p := permissions(t, rec, 1)[0]
	if p.Action != "bash" || !strings.Contains(string(p.Metadata), "echo hi-from-tool") {
		t.Fatalf("permission: %+v", p)
	}
	replyPermission(t, s, p.PermissionID, adapters.ReplyOnce)
	rest, asked := hitl(rec.WaitTurns(t, t.Context(), 1))
	if len(asked) != 1 {
		t.Errorf("%d requests, want 1", len(asked))
	}
	checkGolden(t, "permission_once", rest)
	if b, err := os.ReadFile(filepath.Join(dir, "tool_out.txt")); err != nil || string(b) != "hi-from-tool\n" {
		t.Errorf("the command did not run in the session's directory: %q %v", b, err)
	}
}

// TestRealPermissionAlways: "always" allows the request's patterns for the
// rest of the session, so the second command does not ask.
func TestRealPermissionAlways(t *testing.T) {
	t.Parallel()
	s, rec, _ := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:two_bash Run two commands.")
	p := permissions(t, rec, 1)[0]
	replyPermission(t, s, p.PermissionID, adapters.ReplyAlways)
	rest, asked := hitl(rec.WaitTurns(t, t.Context(), 1))
	if len(asked) != 1 {
		t.Errorf("%d requests, want 1: the second command asked again", len(asked))
	}
	checkGolden(t, "permission_always", rest)
}

// TestRealPermissionReject: OpenCode ends the turn on a rejected permission.
func TestRealPermissionReject(t *testing.T) {
	t.Parallel()
	s, rec, dir := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:tool_bash Run a command.")
	p := permissions(t, rec, 1)[0]
	replyPermission(t, s, p.PermissionID, adapters.ReplyReject)
	rest, _ := hitl(rec.WaitTurns(t, t.Context(), 1))
	checkGolden(t, "permission_reject", rest)
	if _, err := os.Stat(filepath.Join(dir, "tool_out.txt")); err == nil {
		t.Error("the rejected command ran")
	}
	// A request answered once cannot be answered again.
	if err := s.ReplyPermission(t.Context(), adapters.PermissionRequest{ID: p.PermissionID}, adapters.ReplyOnce); err == nil {
		t.Error("a second reply was accepted")
	}
}

// TestRealBypass: in bypass mode nothing asks.
func TestRealBypass(t *testing.T) {
	t.Parallel()
	s, rec, dir := startSession(t, sharedAgent(t), "bypass")
	send(t, s, "SCN:tool_bash Run a command.")
	rest, asked := hitl(rec.WaitTurns(t, t.Context(), 1))
	if len(asked) != 0 {
		t.Errorf("bypass asked: %+v", asked)
	}
	checkGolden(t, "bypass", rest)
	if _, err := os.Stat(filepath.Join(dir, "tool_out.txt")); err != nil {
		t.Errorf("the command did not run: %v", err)
	}
}

func TestRealFileEdit(t *testing.T) {
	t.Parallel()
	s, rec, dir := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:file_edit Create hello.txt.")
	p := permissions(t, rec, 1)[0]
	if p.Action != "edit" {
		t.Fatalf("permission: %+v", p)
	}
	replyPermission(t, s, p.PermissionID, adapters.ReplyOnce)
	rest, _ := hitl(rec.WaitTurns(t, t.Context(), 1))
	checkGolden(t, "file_edit", rest)
	if b, err := os.ReadFile(filepath.Join(dir, "hello.txt")); err != nil || string(b) != "hello from fake model" {
		t.Errorf("hello.txt: %q %v", b, err)
	}
}

func TestRealQuestion(t *testing.T) {
	t.Parallel()
	for _, reject := range []bool{false, true} {
		name := "question_reply"
		if reject {
			name = "question_reject"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, rec, _ := startSession(t, sharedAgent(t), "")
			send(t, s, "SCN:ask_question Ask me something.")
			evs := rec.WaitFor(t, t.Context(), "question.requested", 1, isType(schema.EventQuestionRequested))
			var q schema.QuestionEventData
			for _, ev := range evs {
				if ev.Type == schema.EventQuestionRequested {
					q = ev.Data.(schema.QuestionEventData)
				}
			}
			if q.Prompt != "Which colour should the widget be?" || strings.Join(q.Options, ",") != "Red,Blue" {
				t.Fatalf("question: %+v", q)
			}
			ctx, cancel := context.WithTimeout(t.Context(), wait)
			defer cancel()
			req := adapters.QuestionRequest{ID: q.QuestionID}
			var err error
			if reject {
				err = s.RejectQuestion(ctx, req)
			} else {
				err = s.ReplyQuestion(ctx, req, [][]string{{"Red"}})
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := hitl(rec.WaitTurns(t, t.Context(), 1))
			checkGolden(t, name, rest)
		})
	}
}

func TestRealError(t *testing.T) {
	t.Parallel()
	s, rec, _ := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:error401 This will fail.")
	checkGolden(t, "error401", rec.WaitTurns(t, t.Context(), 1))
}

// TestRealAbort interrupts a turn whose model call stalls, then runs
// another turn in the same session.
func TestRealAbort(t *testing.T) {
	t.Parallel()
	s, rec, _ := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:stall Start working.")
	rec.WaitFor(t, t.Context(), "the first delta", 1, isType(schema.EventItemDelta))
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := s.(adapters.Interrupter).Interrupt(ctx); err != nil {
		t.Fatal(err)
	}
	rec.WaitTurns(t, t.Context(), 1)
	send(t, s, "SCN:text Now something short.")
	checkGolden(t, "abort", rec.WaitTurns(t, t.Context(), 2))
}

// TestRealTwoTurns sends the second message while the first turn runs: it
// is queued and posted when the first turn ends.
func TestRealTwoTurns(t *testing.T) {
	t.Parallel()
	s, rec, _ := startSession(t, sharedAgent(t), "")
	send(t, s, "SCN:text First turn.")
	send(t, s, "SCN:text Second turn.")
	checkGolden(t, "two_turns", rec.WaitTurns(t, t.Context(), 2))
}

// TestRealStopOneSession: stopping a session leaves the shared server and
// its other sessions running.
func TestRealStopOneSession(t *testing.T) {
	t.Parallel()
	a := sharedAgent(t)
	pid := a.ServerPid()
	first, _, _ := startSession(t, a, "")
	if err := first.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := first.Send(t.Context(), adapters.Message{Text: "SCN:text late"}); err == nil {
		t.Error("a stopped session accepted a message")
	}
	s, rec, _ := startSession(t, a, "")
	send(t, s, "SCN:text Still there?")
	rec.WaitTurns(t, t.Context(), 1)
	if a.ServerPid() != pid {
		t.Errorf("server pid %d, was %d", a.ServerPid(), pid)
	}
}

// TestRealServerCrash kills the server: every session on it ends with a
// clear reason, and a new session starts a new server. Close leaves no
// process of the group behind.
func TestRealServerCrash(t *testing.T) {
	t.Parallel()
	a, _ := testAgent(t)
	busy, busyRec, _ := startSession(t, a, "")
	_, idleRec, _ := startSession(t, a, "")
	send(t, busy, "SCN:stall Start working.")
	busyRec.WaitFor(t, t.Context(), "the first delta", 1, isType(schema.EventItemDelta))
	pid := a.ServerPid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*adaptertest.Collector{busyRec, idleRec} {
		evs := rec.WaitFor(t, t.Context(), "session.ended", 1, isType(schema.EventSessionEnded))
		var errEv *schema.ErrorData
		for _, ev := range evs {
			if d, ok := ev.Data.(schema.ErrorData); ok {
				errEv = &d
			}
		}
		end := evs[len(evs)-1].Data.(schema.SessionEndedData)
		if errEv == nil || deref(errEv.Code) != "server_exit" || !strings.Contains(errEv.Message, "SIGKILL") ||
			end.Reason != schema.EndError || end.TerminatedBy != schema.ByDaemon {
			t.Errorf("end of a session on the dead server:\n%s", skeleton(evs))
		}
	}
	ended := busyRec.Events()
	checkGolden(t, "crash", ended)
	if err := busy.Send(t.Context(), adapters.Message{Text: "SCN:text again"}); err == nil {
		t.Error("a session of the dead server accepted a message")
	}
	s, rec, _ := startSession(t, a, "")
	send(t, s, "SCN:text After the crash.")
	rec.WaitTurns(t, t.Context(), 1)
	newPid := a.ServerPid()
	if newPid == pid || newPid == 0 {
		t.Fatalf("server pid %d after the crash, was %d", newPid, pid)
	}
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-newPid, 0); err == nil {
		t.Errorf("process group %d still has members after Close", newPid)
	}
}
