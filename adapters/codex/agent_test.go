package codex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/adaptertest"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// These tests drive the real codex binary against the scripted model
// (internal/fakemodel), through the real engine. They are skipped under
// -short and when the binary is missing; install it with
//
//	npm install --prefix ~/.cache/agentd/npm @openai/codex@0.169.0-linux-x64
//
// or point AGENTD_CODEX_BIN at it. Waits are on the event log (Changed),
// bounded by a deadline; nothing sleeps.

const waitLong = 90 * time.Second

func codexBinary(t *testing.T) string {
	return adaptertest.Binary(t, "codex", "set AGENTD_CODEX_BIN or npm install it under ~/.cache/agentd/npm", DefaultResolver)
}

// recorder is the agent the engine sees: the Codex agent, keeping the
// sessions it starts so a test can reach their process.
type recorder struct {
	*Agent
	adaptertest.Sessions[*session]
}

func (r *recorder) Start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	s, err := r.Agent.Start(ctx, req, emit)
	if err != nil {
		return nil, err
	}
	r.Add(s.(*session))
	return s, nil
}

type harness struct {
	*adaptertest.Engine
	t     *testing.T
	ctx   context.Context
	fake  *fakemodel.Server
	home  string
	agent *recorder
}

// testOptions point Codex at the fake model with the capture's settings:
// no retries, and (for the default permission mode, which leaves both to
// the configuration) approval asked for every command, no sandbox.
func testOptions(base, home string) []Option {
	return []Option{
		WithHome(home),
		WithProvider(Provider{ID: "fake", Name: "Fake", BaseURL: base + "/v1", EnvKey: "FAKE_API_KEY"}),
		WithConfig(`model="gpt-5.5"`, "model_providers.fake.request_max_retries=0", "model_providers.fake.stream_max_retries=0"),
		WithDefaultPolicy("untrusted", "danger-full-access"),
		WithEnv("FAKE_API_KEY=x", "OPENAI_API_KEY=", "CODEX_API_KEY="),
		WithGrace(3 * time.Second),
	}
}

func newHarness(t *testing.T, opts ...fakemodel.Opt) *harness {
	t.Helper()
	bin := codexBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, home: t.TempDir()}
	h.fake = fakemodel.New(opts...)
	base, err := h.fake.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.fake.Close)
	h.agent = &recorder{Agent: New(append(testOptions(base, h.home),
		WithResolver(func(context.Context) (string, error) { return bin, nil }))...)}
	h.Engine = adaptertest.NewEngine(t, ctx, []adapters.Agent{h.agent}, "codex", t.TempDir())
	return h
}

func (h *harness) events(id string) []event {
	h.t.Helper()
	recs := h.Records(id)
	out := make([]event, len(recs))
	for i, r := range recs {
		out[i] = decode(h.t, r)
	}
	return out
}

// waitFor returns the first event after sequence from that matches, waiting
// for it to be recorded.
func (h *harness) waitFor(id string, from uint64, what string, match func(event) bool) event {
	h.t.Helper()
	return decode(h.t, h.WaitRecord(id, from, waitLong, what, func(r eventlog.Record) bool { return match(decode(h.t, r)) }))
}

func isType(typ schema.EventType) func(event) bool {
	return func(e event) bool { return e.Type == typ }
}

func (h *harness) turnEnded(id string, from uint64) event {
	h.t.Helper()
	return h.waitFor(id, from, "turn.ended", isType(schema.EventTurnEnded))
}

func turnStatus(e event) string {
	var m turnMetadata
	_ = json.Unmarshal(e.turn.Metadata, &m)
	return m.Status
}

// between returns the events with from < sequence <= to.
func between(evs []event, from, to uint64) []event {
	var out []event
	for _, e := range evs {
		if e.Sequence > from && e.Sequence <= to {
			out = append(out, e)
		}
	}
	return out
}

func completedItems(evs []event, kind schema.ItemKind) []schema.UniversalItem {
	var out []schema.UniversalItem
	for _, e := range evs {
		if e.Type == schema.EventItemCompleted && e.item.Kind == kind {
			out = append(out, e.item)
		}
	}
	return out
}

func assistantText(evs []event) []string {
	var out []string
	for _, it := range completedItems(evs, schema.KindMessage) {
		if it.Role != nil && *it.Role == schema.RoleAssistant {
			for _, p := range it.Content {
				if p.Type == schema.PartText {
					out = append(out, p.Text)
				}
			}
		}
	}
	return out
}

func userText(evs []event) []string {
	var out []string
	for _, it := range completedItems(evs, schema.KindMessage) {
		if it.Role != nil && *it.Role == schema.RoleUser && len(it.Content) > 0 {
			out = append(out, it.Content[0].Text)
		}
	}
	return out
}

// groupProcesses counts the live processes of a process group.
func groupProcesses(t *testing.T, pgid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc to count processes")
	}
	n := 0
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" && fields[0] != "X" {
			n++
		}
	}
	return n
}

// writeGolden records a real run's stream as the golden of a live
// scenario: event types, kinds, roles, statuses and texts, without the
// ids, times and paths that change between runs, and without the engine's
// record of a reply, which races with what Codex does next (the tests
// check it).
func writeGolden(t *testing.T, name string, evs []event) {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		if e.Synthetic && (e.Type == schema.EventPermissionResolved || e.Type == schema.EventQuestionResolved) {
			continue
		}
		b.WriteString(summary(e))
		b.WriteByte('\n')
	}
	got := b.String()
	path := filepath.Join("testdata", "live", name+".golden.txt")
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
		t.Fatalf("%v (run the test with -update)", err)
	}
	if string(want) != got {
		t.Errorf("stream differs from %s (rerun with -update and review the diff):\n%s", path, firstDiff(string(want), got))
	}
}

// summary is one event as the live goldens show it.
func summary(e event) string {
	src := "a"
	if e.Synthetic {
		src = "d"
	}
	s := string(e.Type) + " " + src
	switch e.Type {
	case schema.EventItemStarted, schema.EventItemCompleted:
		role := ""
		if e.item.Role != nil {
			role = string(*e.item.Role)
		}
		s += " " + string(e.item.Kind) + "/" + role + " " + string(e.item.Status)
		for _, p := range e.item.Content {
			s += " [" + string(p.Type) + " " + partText(p) + "]"
		}
	case schema.EventItemDelta:
		s += " " + strconv.Quote(scrub(e.delta.Delta))
	case schema.EventTurnEnded:
		s += " " + turnStatus(e)
	case schema.EventError:
		code := ""
		if e.err.Code != nil {
			code = *e.err.Code
		}
		s += " " + code
	case schema.EventPermissionRequested, schema.EventPermissionResolved:
		s += " " + e.perm.Action + " " + string(e.perm.Status)
	case schema.EventQuestionRequested, schema.EventQuestionResolved:
		s += " " + strconv.Quote(e.quest.Prompt) + " " + string(e.quest.Status)
	case schema.EventSessionEnded:
		s += " " + string(e.end.Reason) + " " + string(e.end.TerminatedBy)
	}
	return s
}

func partText(p schema.ContentPart) string {
	switch p.Type {
	case schema.PartText, schema.PartReasoning:
		return strconv.Quote(scrub(p.Text))
	case schema.PartToolCall:
		return p.Name
	case schema.PartToolResult:
		return strconv.Quote(scrub(p.Output))
	case schema.PartFileRef:
		return filepath.Base(p.Path) + " " + string(p.Action)
	case schema.PartStatus:
		return p.Label
	}
	return ""
}

// volatile matches what changes between runs in texts that quote tool
// output: chunk ids, wall times, temporary paths.
var volatile = regexp.MustCompile(`Chunk ID: [0-9a-f]+|Wall time: [0-9.]+|/tmp/[^\s'"\\]*`)

// scrub replaces what changes between runs.
func scrub(s string) string {
	return volatile.ReplaceAllStringFunc(s, func(m string) string {
		if k, _, ok := strings.Cut(m, ": "); ok {
			return k + ": …"
		}
		return "/tmp/…"
	})
}

func TestRealCodex(t *testing.T) {
	codexBinary(t)

	// text, then thinking, in one session.
	t.Run("text_thinking", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("text", engine.CreateRequest{})
		if n := s.Info().NativeSessionID; n == nil || *n == "" {
			t.Error("no native session id at creation")
		}
		h.Send(s, "SCN:text Say hello.")
		end := h.turnEnded("text", 0)
		if turnStatus(end) != "completed" {
			t.Errorf("turn.ended: %s", end.Data)
		}
		evs := h.events("text")
		checkItemOrder(t, evs)
		if txt := assistantText(evs); len(txt) != 1 || txt[0] != "Hello from the fake model. This is reply number 1." {
			t.Errorf("assistant text %q", txt)
		}
		if u := userText(evs); len(u) != 1 || u[0] != "SCN:text Say hello." {
			t.Errorf("user items %q", u)
		}
		writeGolden(t, "text", evs)

		h.Send(s, "SCN:thinking Think, then answer.")
		end2 := h.turnEnded("text", end.Sequence)
		evs = between(h.events("text"), end.Sequence, end2.Sequence)
		var parts []string
		var reasoningID string
		for _, it := range completedItems(evs, schema.KindMessage) {
			for _, p := range it.Content {
				if p.Type == schema.PartReasoning {
					parts = append(parts, string(p.Visibility)+":"+p.Text)
					reasoningID = it.ItemID
				}
			}
		}
		if strings.Join(parts, "|") != "public:Let me think about this. The user wants a short answer.|private:Raw chain of thought: 6 times 7." {
			t.Errorf("reasoning %q", parts)
		}
		var streamed string
		for _, e := range evs {
			if e.Type == schema.EventItemDelta && e.delta.ItemID == reasoningID {
				streamed += e.delta.Delta
			}
		}
		if streamed != "Let me think about this. The user wants a short answer.Raw chain of thought: 6 times 7." {
			t.Errorf("reasoning deltas %q", streamed)
		}
		if txt := assistantText(evs); len(txt) != 1 || txt[0] != "After thinking: the answer is 42." {
			t.Errorf("assistant text %q", txt)
		}
		writeGolden(t, "thinking", evs)
	})

	// bash runs the tool_bash scenario and answers its permission request.
	bash := func(t *testing.T, reply adapters.PermissionReply) (*harness, []event) {
		h := newHarness(t)
		s := h.Create("bash", engine.CreateRequest{})
		h.Send(s, "SCN:tool_bash Run a command.")
		req := h.waitFor("bash", 0, "permission.requested", isType(schema.EventPermissionRequested))
		if req.perm.Action != "commandExecution" || !bytes.Contains(req.perm.Metadata, []byte("echo hi-from-tool | tee tool_out.txt")) {
			t.Errorf("permission %+v %s", req.perm, req.perm.Metadata)
		}
		if err := s.ReplyPermission(h.ctx, req.perm.PermissionID, reply); err != nil {
			t.Fatal(err)
		}
		// A second answer to the same request is refused.
		if err := h.agent.Last().ReplyPermission(h.ctx, adapters.PermissionRequest{ID: req.perm.PermissionID}, reply); err == nil {
			t.Error("a second answer to one request was accepted")
		}
		end := h.turnEnded("bash", req.Sequence)
		if turnStatus(end) != "completed" {
			t.Errorf("turn.ended %s", end.Data)
		}
		want := map[adapters.PermissionReply]schema.PermissionStatus{adapters.ReplyOnce: schema.PermissionAccept,
			adapters.ReplyAlways: schema.PermissionAcceptForSession, adapters.ReplyReject: schema.PermissionReject}[reply]
		if res := h.waitFor("bash", req.Sequence, "permission.resolved", isType(schema.EventPermissionResolved)); res.perm.Status != want {
			t.Errorf("resolved %+v", res.perm)
		}
		evs := h.events("bash")
		checkItemOrder(t, evs)
		return h, evs
	}

	t.Run("tool_bash_once", func(t *testing.T) {
		t.Parallel()
		h, evs := bash(t, adapters.ReplyOnce)
		results := completedItems(evs, schema.KindToolResult)
		if len(results) != 1 || results[0].Status != schema.StatusCompleted || len(results[0].Content) == 0 || results[0].Content[0].Output != "hi-from-tool\n" {
			t.Errorf("tool results %+v", results)
		}
		calls := completedItems(evs, schema.KindToolCall)
		if len(calls) != 1 || len(results) != 1 || results[0].ParentID == nil || *results[0].ParentID != calls[0].ItemID {
			t.Errorf("tool result not linked to its call: %+v %+v", calls, results)
		}
		if trs := h.fake.ToolResults(); len(trs) != 1 || !strings.Contains(trs[0].Content, "hi-from-tool") {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		if out, err := os.ReadFile(filepath.Join(h.Directory, "tool_out.txt")); err != nil || string(out) != "hi-from-tool\n" {
			t.Errorf("tool_out.txt in the session directory: %q %v", out, err)
		}
		writeGolden(t, "tool_bash_once", evs)
	})

	t.Run("tool_bash_reject", func(t *testing.T) {
		t.Parallel()
		h, evs := bash(t, adapters.ReplyReject)
		results := completedItems(evs, schema.KindToolResult)
		if len(results) != 1 || results[0].Status != schema.StatusFailed {
			t.Errorf("tool results %+v", results)
		}
		if trs := h.fake.ToolResults(); len(trs) != 1 || strings.Contains(trs[0].Content, "hi-from-tool\n") {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		if _, err := os.Stat(filepath.Join(h.Directory, "tool_out.txt")); err == nil {
			t.Error("the declined command ran")
		}
		writeGolden(t, "tool_bash_reject", evs)
	})

	t.Run("tool_bash_always", func(t *testing.T) {
		t.Parallel()
		h, evs := bash(t, adapters.ReplyAlways)
		last := evs[len(evs)-1].Sequence
		s, _ := h.M.Get("bash")
		h.Send(s, "SCN:tool_bash Once more.")
		h.turnEnded("bash", last)
		after := between(h.events("bash"), last, 1<<62)
		for _, e := range after {
			if e.Type == schema.EventPermissionRequested && !e.Synthetic {
				// Codex asks again for the same command only if it did not
				// take acceptForSession; the engine would answer it anyway.
				if res := h.waitFor("bash", e.Sequence, "permission.resolved", isType(schema.EventPermissionResolved)); res.perm.Status != schema.PermissionAcceptForSession {
					t.Errorf("second request resolved %+v", res.perm)
				}
			}
		}
		if trs := h.fake.ToolResults(); len(trs) != 2 || !strings.Contains(trs[1].Content, "hi-from-tool") {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		writeGolden(t, "tool_bash_always", h.events("bash"))
	})

	fileEdit := func(t *testing.T, reply adapters.PermissionReply) (*harness, []event) {
		h := newHarness(t)
		s := h.Create("edit", engine.CreateRequest{})
		h.Send(s, "SCN:file_edit Create hello.txt.")
		req := h.waitFor("edit", 0, "permission.requested", isType(schema.EventPermissionRequested))
		if req.perm.Action != "fileChange" || !bytes.Contains(req.perm.Metadata, []byte(filepath.Join(h.Directory, "hello.txt"))) {
			t.Errorf("permission %+v %s", req.perm, req.perm.Metadata)
		}
		if err := s.ReplyPermission(h.ctx, req.perm.PermissionID, reply); err != nil {
			t.Fatal(err)
		}
		h.turnEnded("edit", req.Sequence)
		evs := h.events("edit")
		checkItemOrder(t, evs)
		return h, evs
	}

	t.Run("file_edit_accept", func(t *testing.T) {
		t.Parallel()
		h, evs := fileEdit(t, adapters.ReplyOnce)
		path := filepath.Join(h.Directory, "hello.txt")
		if b, err := os.ReadFile(path); err != nil || string(b) != "hello from fake model\n" {
			t.Errorf("hello.txt: %q %v", b, err)
		}
		results := completedItems(evs, schema.KindToolResult)
		if len(results) != 1 || len(results[0].Content) != 2 || results[0].Content[1].Type != schema.PartFileRef ||
			results[0].Content[1].Path != path || results[0].Content[1].Action != schema.FileWrite ||
			results[0].Content[1].Diff == nil || *results[0].Content[1].Diff != "hello from fake model\n" {
			t.Errorf("tool result %+v", results)
		}
		writeGolden(t, "file_edit_accept", evs)
	})

	t.Run("file_edit_decline", func(t *testing.T) {
		t.Parallel()
		h, evs := fileEdit(t, adapters.ReplyReject)
		if _, err := os.Stat(filepath.Join(h.Directory, "hello.txt")); err == nil {
			t.Error("the declined change was made")
		}
		if results := completedItems(evs, schema.KindToolResult); len(results) != 1 || results[0].Status != schema.StatusFailed {
			t.Errorf("tool result %+v", results)
		}
		writeGolden(t, "file_edit_decline", evs)
	})

	// acceptEdits: file changes are approved without asking; Codex makes
	// the change.
	t.Run("accept_edits", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("ae", engine.CreateRequest{PermissionMode: "acceptEdits"})
		h.Send(s, "SCN:file_edit Create hello.txt.")
		h.turnEnded("ae", 0)
		if b, err := os.ReadFile(filepath.Join(h.Directory, "hello.txt")); err != nil || string(b) != "hello from fake model\n" {
			t.Errorf("hello.txt: %q %v", b, err)
		}
		for _, e := range h.events("ae") {
			if e.Type == schema.EventPermissionRequested {
				t.Errorf("file change asked for in acceptEdits: %s", e.Data)
			}
		}
	})

	// bypass: Codex never asks (approval policy never, no sandbox).
	t.Run("bypass", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("by", engine.CreateRequest{PermissionMode: "bypass"})
		h.Send(s, "SCN:tool_bash Run a command.")
		h.turnEnded("by", 0)
		if out, err := os.ReadFile(filepath.Join(h.Directory, "tool_out.txt")); err != nil || string(out) != "hi-from-tool\n" {
			t.Errorf("tool_out.txt: %q %v", out, err)
		}
		for _, e := range h.events("by") {
			if e.Type == schema.EventPermissionRequested {
				t.Errorf("asked in bypass: %s", e.Data)
			}
		}
	})

	// errors: a 500, then a 401, each reported once and ending its turn;
	// the session stays usable.
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("err", engine.CreateRequest{})
		var from uint64
		for _, c := range []struct{ scenario, code, contains string }{
			{"error500", "internalServerError", ""},
			{"error401", "httpConnectionFailed", "Incorrect API key provided (fake)."},
		} {
			h.Send(s, "SCN:"+c.scenario+" This will fail.")
			end := h.turnEnded("err", from)
			if turnStatus(end) != "error" {
				t.Errorf("turn.ended %s", end.Data)
			}
			evs := between(h.events("err"), from, end.Sequence)
			var errs []schema.ErrorData
			for _, e := range evs {
				if e.Type == schema.EventError {
					errs = append(errs, e.err)
				}
			}
			if len(errs) != 1 || errs[0].Code == nil || *errs[0].Code != c.code || errs[0].Message == "" ||
				!strings.Contains(errs[0].Message, c.contains) {
				t.Errorf("%s: errors %+v", c.scenario, errs)
			}
			writeGolden(t, c.scenario, evs)
			from = end.Sequence
		}
		h.Send(s, "SCN:text And now?")
		end := h.turnEnded("err", from)
		if turnStatus(end) != "completed" || s.Info().Ended {
			t.Errorf("turn after the errors: %s", end.Data)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		t.Parallel()
		release := make(chan struct{})
		defer close(release)
		h := newHarness(t, fakemodel.WithScenarios(fakemodel.Scenario{Name: "stall_here", Turns: []fakemodel.Turn{{
			fakemodel.Text("Working on it"), fakemodel.StallUntil(release)}}}))
		s := h.Create("int", engine.CreateRequest{})
		h.Send(s, "SCN:stall_here Write a long answer.")
		h.waitFor("int", 0, "item.delta", isType(schema.EventItemDelta))
		if err := h.agent.Last().Interrupt(h.ctx); err != nil {
			t.Fatal(err)
		}
		end := h.turnEnded("int", 0)
		if turnStatus(end) != "interrupted" {
			t.Errorf("turn.ended %s", end.Data)
		}
		for _, e := range h.events("int") {
			if e.Type == schema.EventError {
				t.Errorf("an interrupt is not an error: %s", e.Data)
			}
		}
		h.Send(s, "SCN:text Now something short.")
		end2 := h.turnEnded("int", end.Sequence)
		if turnStatus(end2) != "completed" {
			t.Errorf("turn after the interrupt %s", end2.Data)
		}
		evs := h.events("int")
		checkItemOrder(t, evs)
		if err := h.agent.Last().Interrupt(h.ctx); err != nil {
			t.Errorf("interrupt while idle: %v", err)
		}
		writeGolden(t, "interrupt", evs)
	})

	// ask_question: answered in one turn, declined in the next.
	t.Run("ask_question", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("ask", engine.CreateRequest{AgentMode: "plan"})
		var from uint64
		for i, answer := range []func(q event) error{
			func(q event) error { return s.ReplyQuestion(h.ctx, q.quest.QuestionID, [][]string{{"Red"}}) },
			func(q event) error { return s.RejectQuestion(h.ctx, q.quest.QuestionID) },
		} {
			h.Send(s, "SCN:ask_question Ask me something.")
			q := h.waitFor("ask", from, "question.requested", isType(schema.EventQuestionRequested))
			if q.quest.Prompt != "Which colour should the widget be?" || strings.Join(q.quest.Options, ",") != "Red,Blue" {
				t.Errorf("question %+v", q.quest)
			}
			if err := answer(q); err != nil {
				t.Fatal(err)
			}
			end := h.turnEnded("ask", q.Sequence)
			if turnStatus(end) != "completed" {
				t.Errorf("turn.ended %s", end.Data)
			}
			evs := between(h.events("ask"), from, end.Sequence)
			checkItemOrder(t, evs)
			if u := userText(evs); len(u) != 1 || u[0] != planPrefix+"SCN:ask_question Ask me something." {
				t.Errorf("user items %q", u)
			}
			trs := h.fake.ToolResults()
			if i == 0 {
				if len(trs) != 1 || trs[0].Content != `{"answers":{"colour":{"answers":["Red"]}}}` {
					t.Errorf("the answer did not reach the model: %+v", trs)
				}
				writeGolden(t, "ask_question", evs)
			} else {
				if len(trs) != 2 || !strings.Contains(trs[1].Content, declineAnswer) {
					t.Errorf("the refusal did not reach the model: %+v", trs)
				}
				writeGolden(t, "ask_question_reject", evs)
			}
			from = end.Sequence
		}
	})

	// two_turns_queued: the second message waits for the first turn; then
	// the process is killed.
	t.Run("two_turns_queued", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("two", engine.CreateRequest{})
		h.Send(s, "SCN:text First turn.")
		h.Send(s, "SCN:text Second turn.")
		first := h.turnEnded("two", 0)
		second := h.turnEnded("two", first.Sequence)
		evs := h.events("two")
		checkItemOrder(t, evs)
		if txt := assistantText(between(evs, 0, first.Sequence)); len(txt) != 1 || txt[0] != "Hello from the fake model. This is reply number 1." {
			t.Errorf("first turn %q", txt)
		}
		after := between(evs, first.Sequence, second.Sequence)
		if txt := assistantText(after); len(txt) != 1 || txt[0] != "Hello from the fake model. This is reply number 2." {
			t.Errorf("second turn %q", txt)
		}
		if u := userText(after); len(u) != 1 || u[0] != "SCN:text Second turn." {
			t.Errorf("user items of the second turn %q", u)
		}
		if n := h.agent.Len(); n != 1 {
			t.Errorf("%d processes for one session", n)
		}
		writeGolden(t, "two_turns", evs)

		// The process dies: the session ends with a clear error, no
		// process of its group is left, and nothing can be sent.
		pid := h.agent.Last().Pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ended := h.waitFor("two", second.Sequence, "session.ended", isType(schema.EventSessionEnded))
		if ended.end.Reason != schema.EndError || ended.end.TerminatedBy != schema.ByAgent || ended.end.Stderr == nil ||
			ended.end.ExitCode == nil || ended.end.Message == nil || !strings.Contains(*ended.end.Message, "killed") || !ended.Synthetic {
			t.Errorf("session.ended %s", ended.Data)
		}
		errs := between(h.events("two"), second.Sequence, ended.Sequence)
		if len(errs) != 2 || errs[0].Type != schema.EventError || errs[0].err.Code == nil || *errs[0].err.Code != "process_exit" {
			t.Errorf("events before the end: %+v", errs)
		}
		if n := groupProcesses(t, pid); n != 0 {
			t.Errorf("%d processes of the group left after the crash", n)
		}
		err := s.Send(h.ctx, adapters.Message{Text: "SCN:text Still there?"})
		if e, ok := apierr.As(err); !ok || e.Kind != apierr.AgentProcessExited {
			t.Errorf("send after the crash: %v", err)
		}
	})

	// resume: terminating a session stops its whole process group quietly;
	// a new process continues the thread with its history.
	t.Run("resume", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("first", engine.CreateRequest{})
		h.Send(s, "SCN:text First.")
		h.turnEnded("first", 0)
		native := *s.Info().NativeSessionID
		pgid := h.agent.Last().Pid()
		if groupProcesses(t, pgid) == 0 {
			t.Fatal("the codex process is not running")
		}
		if err := s.Terminate(h.ctx); err != nil {
			t.Fatal(err)
		}
		if n := groupProcesses(t, pgid); n != 0 {
			t.Errorf("%d processes of the group left after terminate", n)
		}
		evs := h.events("first")
		if last := evs[len(evs)-1]; last.Type != schema.EventSessionEnded || last.end.Reason != schema.EndTerminated ||
			last.end.TerminatedBy != schema.ByDaemon {
			t.Errorf("last event %s %s", last.Type, last.Data)
		}
		for _, e := range evs {
			if e.Type == schema.EventError {
				t.Errorf("error at terminate: %s", e.Data)
			}
		}
		// A new process continues the thread.
		c := newCollector()
		resumed, err := h.agent.Resume(h.ctx, adapters.StartRequest{SessionID: "again", Directory: h.Directory}, native, c)
		if err != nil {
			t.Fatal(err)
		}
		defer resumed.Stop(context.Background())
		if resumed.NativeSessionID() != native {
			t.Errorf("native id %q, want %q", resumed.NativeSessionID(), native)
		}
		if err := resumed.Send(h.ctx, adapters.Message{Text: "SCN:text Continue."}); err != nil {
			t.Fatal(err)
		}
		var text string
		for _, ev := range c.WaitTurns(t, h.ctx, 1) {
			if ev.Type == schema.EventItemCompleted {
				it := ev.Data.(schema.ItemEventData).Item
				if *it.Role == schema.RoleAssistant && len(it.Content) > 0 {
					text = it.Content[0].Text
				}
			}
			if ev.NativeSessionID != "" && ev.NativeSessionID != native {
				t.Errorf("native id changed to %q", ev.NativeSessionID)
			}
		}
		if text != "Hello from the fake model. This is reply number 2." {
			t.Errorf("resumed reply %q (the earlier turn was not in the history)", text)
		}
	})
}

// newCollector is an Emitter for tests that run the adapter without the
// engine.
func newCollector() *adaptertest.Collector { return adaptertest.NewCollector(waitLong) }

// TestStartErrors: a missing binary or directory fails at Start, and a
// process that dies in the handshake is reported with its stderr.
func TestStartErrors(t *testing.T) {
	missing := New(WithResolver(func(context.Context) (string, error) { return "", adapters.ErrNotInstalled }))
	if info := missing.Info(t.Context()); info.Installed || !info.Runnable || !info.NativeTurns || !info.Resumable {
		t.Errorf("info %+v", info)
	}
	if _, err := missing.Start(t.Context(), adapters.StartRequest{}, newCollector()); !errors.Is(err, adapters.ErrNotInstalled) {
		t.Errorf("start without a binary: %v", err)
	}
	a := New(WithResolver(fakeBinary(t, "exit 0")), WithHome(t.TempDir()))
	_, err := a.Start(t.Context(), adapters.StartRequest{Directory: filepath.Join(t.TempDir(), "nope")}, newCollector())
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
		t.Errorf("start in a missing directory: %v", err)
	}
	dies := New(WithResolver(fakeBinary(t, `echo "no config for you" >&2; exit 1`)), WithHome(t.TempDir()), WithEnv("OPENAI_API_KEY=k"))
	_, err = dies.Start(t.Context(), adapters.StartRequest{Directory: t.TempDir()}, newCollector())
	if err == nil || !strings.Contains(err.Error(), "no config for you") {
		t.Errorf("start of a dying process: %v", err)
	}
}

// TestCredentials: a session is refused before Codex starts unless its
// model provider has a credential, and the problem names the variables
// that would give it one.
func TestCredentials(t *testing.T) {
	noKeys := WithEnv("OPENAI_API_KEY=", "CODEX_API_KEY=")
	keyed := WithProvider(Provider{ID: "gw", BaseURL: "http://gw/v1", EnvKey: "GW_KEY"})
	tests := []struct {
		name    string
		opts    []Option
		auth    string   // CODEX_HOME/auth.json; "" writes none
		env     []string // the session's own variables
		missing []string // nil: the session starts
	}{
		{name: "nothing", missing: []string{"OPENAI_API_KEY", "CODEX_API_KEY"}},
		{name: "OPENAI_API_KEY", opts: []Option{WithEnv("OPENAI_API_KEY=k")}},
		{name: "CODEX_API_KEY", opts: []Option{WithEnv("CODEX_API_KEY=k")}},
		{name: "the session's own key", env: []string{"OPENAI_API_KEY=k"}},
		{name: "chatgpt login", auth: `{"OPENAI_API_KEY":null,"tokens":{"access_token":"a"}}`},
		{name: "logged out", auth: `{"OPENAI_API_KEY":null,"tokens":null}`, missing: []string{"OPENAI_API_KEY", "CODEX_API_KEY"}},
		{name: "the session's own CODEX_HOME", env: []string{"CODEX_HOME=" + writeAuth(t, `{"OPENAI_API_KEY":"k"}`)}},
		{name: "provider with its key", opts: []Option{keyed, WithEnv("GW_KEY=k")}},
		{name: "provider without its key", opts: []Option{keyed, WithEnv("OPENAI_API_KEY=k")}, missing: []string{"GW_KEY"}},
		{name: "provider that needs no key", opts: []Option{WithProvider(Provider{BaseURL: "http://local/v1"})}},
		{name: "provider from WithConfig", opts: []Option{WithConfig(`model_provider="ollama"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			if tt.auth != "" {
				home = writeAuth(t, tt.auth)
			}
			a := New(append([]Option{WithResolver(fakeBinary(t, "touch started\n"+handshake+"while read l; do :; done")), WithHome(home),
				WithGrace(2 * time.Second), noKeys}, tt.opts...)...)
			// The daemon-wide answer knows nothing of a session's own variables.
			if got, want := a.Info(t.Context()).CredentialsAvailable, tt.missing == nil && tt.env == nil; got != want {
				t.Errorf("credentialsAvailable %v, want %v", got, want)
			}
			dir := t.TempDir()
			s, err := a.Start(t.Context(), adapters.StartRequest{SessionID: "s", Directory: dir, Env: tt.env}, newCollector())
			if tt.missing == nil {
				if err != nil {
					t.Fatal(err)
				}
				_ = s.Stop(context.Background())
				return
			}
			e, ok := apierr.As(err)
			if !ok || e.Kind != apierr.InvalidRequest || !reflect.DeepEqual(e.Details["missingCredentials"], tt.missing) {
				t.Fatalf("error %#v", err)
			}
			for _, v := range tt.missing {
				if !strings.Contains(e.Detail, v) {
					t.Errorf("detail %q does not name %s", e.Detail, v)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
				t.Error("codex was started without credentials")
			}
		})
	}
}

// writeAuth makes a Codex home holding auth.json.
func writeAuth(t *testing.T, body string) string {
	t.Helper()
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "auth.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// fakeBinary writes a shell script standing in for codex.
func fakeBinary(t *testing.T, script string) func(context.Context) (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "codex")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return func(context.Context) (string, error) { return p, nil }
}

// TestEnvironment: the agent gets a clean environment: the listed daemon
// variables, OPENAI_*/CODEX_*, its CODEX_HOME, the overrides, and nothing
// else; the provider is given as config overrides.
func TestEnvironment(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "secret")
	t.Setenv("AGENTD_TOKEN", "daemon-secret")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "nope")
	a := New(WithHome("/data/codex"), WithEnv("EXTRA=1", "K=k"),
		WithProvider(Provider{BaseURL: `http://h/v1"x`, EnvKey: "K"}), WithConfig(`model="m"`))
	env := a.environ()
	for _, want := range []string{"OPENAI_API_KEY=secret", "CODEX_HOME=/data/codex", "EXTRA=1"} {
		if agentproc.Getenv(env, strings.Split(want, "=")[0]) != strings.SplitN(want, "=", 2)[1] {
			t.Errorf("%s missing from the environment", want)
		}
	}
	for _, k := range []string{"AGENTD_TOKEN", "AWS_SECRET_ACCESS_KEY"} {
		if agentproc.Getenv(env, k) != "" {
			t.Errorf("%s passed to the agent", k)
		}
	}
	if !a.credentialsAvailable() {
		t.Error("credentials not seen")
	}
	want := `app-server -c model_provider="agentd" -c model_providers.agentd.name="agentd" ` +
		`-c model_providers.agentd.base_url="http://h/v1\"x" -c model_providers.agentd.wire_api="responses" ` +
		`-c model_providers.agentd.env_key="K" -c model="m"`
	if got := strings.Join(a.args(), " "); got != want {
		t.Errorf("args\n got %s\nwant %s", got, want)
	}
	for mode, want := range map[string][2]string{"default": {}, "acceptEdits": {}, "plan": {"untrusted", "read-only"},
		"bypass": {"never", "danger-full-access"}} {
		if ap, sb := a.policy(adapters.StartRequest{PermissionMode: mode}); ap != want[0] || sb != want[1] {
			t.Errorf("%s: %s %s", mode, ap, sb)
		}
	}
}

// TestInfo: the real binary's version, read once.
func TestInfo(t *testing.T) {
	bin := codexBinary(t)
	a := New(WithResolver(func(context.Context) (string, error) { return bin, nil }), WithHome(t.TempDir()))
	info := a.Info(t.Context())
	if !info.Installed || info.Path != bin || info.Version != "0.169.0" {
		t.Errorf("info %+v", info)
	}
}

// handshake is the start of a scripted app-server: it answers initialize
// and thread/start (ids 1 and 2, as the session numbers them).
const handshake = `read l; echo '{"id":1,"result":{}}'
read l
read l; echo '{"id":2,"result":{"thread":{"id":"th1"},"model":"m"}}'
`

func startScripted(t *testing.T, script string, opts ...Option) (*session, *adaptertest.Collector) {
	t.Helper()
	a := New(append([]Option{WithResolver(fakeBinary(t, handshake+script)), WithHome(t.TempDir()), WithGrace(2 * time.Second),
		WithEnv("OPENAI_API_KEY=k")}, opts...)...)
	c := newCollector()
	s, err := a.Start(t.Context(), adapters.StartRequest{SessionID: "s", Directory: t.TempDir()}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s.(*session), c
}

// TestHostileOutputThenExit: a 10 MB line, a non-UTF-8 line and a non-JSON
// line each become agent.unparsed and reading goes on to the turn's end;
// then the process dies on its own, which ends the session with an error
// carrying its exit code and stderr, and nothing can be sent any more.
func TestHostileOutputThenExit(t *testing.T) {
	script := `read l; echo '{"id":3,"result":{"turn":{"id":"t1"}}}'
echo '{"method":"turn/started","params":{"threadId":"th1","turn":{"id":"t1","status":"inProgress"}}}'
head -c 10000000 /dev/zero | tr '\0' 'a'; echo
printf '{"method":"some/thing","params":{"x":"\377\376"}}\n'
printf 'plain text \377\n'
echo '{"method":"turn/completed","params":{"threadId":"th1","turn":{"id":"t1","status":"completed"}}}'
echo "fatal: the model exploded" >&2; echo "second line" >&2; exit 3`
	s, c := startScripted(t, script, WithMaxLine(1<<20))
	if s.NativeSessionID() != "th1" {
		t.Errorf("native id %q", s.NativeSessionID())
	}
	if err := s.Send(t.Context(), adapters.Message{Text: "go"}); err != nil {
		t.Fatal(err)
	}
	evs := c.WaitFor(t, t.Context(), "session.ended", 1, func(ev adapters.Event) bool { return ev.Type == schema.EventSessionEnded })
	var unparsed []string
	for _, ev := range evs {
		if err := schema.PayloadMatches(ev.Type, ev.Data); err != nil {
			t.Error(err)
		}
		if ev.Type == schema.EventAgentUnparsed {
			unparsed = append(unparsed, ev.Data.(schema.AgentUnparsedData).Error)
			if !json.Valid(ev.Raw) || len(ev.Raw) > 4096 {
				t.Errorf("raw of an unparsed line: %d bytes, valid %v", len(ev.Raw), json.Valid(ev.Raw))
			}
		}
	}
	if len(unparsed) != 3 || !strings.Contains(unparsed[0], "longer than 1048576") ||
		!strings.Contains(unparsed[1], `"some/thing"`) || unparsed[2] != "not JSON" {
		t.Errorf("unparsed %q", unparsed)
	}
	n := len(evs)
	if evs[n-3].Type != schema.EventTurnEnded || evs[n-2].Type != schema.EventError || !evs[n-2].Synthetic {
		t.Fatalf("the end: %+v %+v", evs[n-3], evs[n-2])
	}
	if d := evs[n-2].Data.(schema.ErrorData); *d.Code != "process_exit" || !strings.Contains(d.Message, "exit code 3") {
		t.Errorf("error %+v", d)
	}
	end := evs[n-1].Data.(schema.SessionEndedData)
	if end.Reason != schema.EndError || end.TerminatedBy != schema.ByAgent || *end.ExitCode != 3 || end.Stderr == nil ||
		!strings.Contains(*end.Stderr.Head, "fatal: the model exploded\nsecond line") || !evs[n-1].Synthetic {
		t.Errorf("session.ended %+v stderr %+v", end, end.Stderr)
	}
	err := s.Send(t.Context(), adapters.Message{Text: "again"})
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.AgentProcessExited {
		t.Errorf("send after the exit: %v", err)
	}
}

// TestTurnRefused: Codex's JSON-RPC error to turn/start is the error Send
// returns, and the session can start the next turn.
func TestTurnRefused(t *testing.T) {
	script := `read l; echo '{"id":3,"error":{"code":-32600,"message":"no such thread"}}'
read l; echo '{"id":4,"result":{"turn":{"id":"t2"}}}'
while read l; do :; done`
	s, _ := startScripted(t, script)
	err := s.Send(t.Context(), adapters.Message{Text: "go"})
	if err == nil || !strings.Contains(err.Error(), "no such thread") {
		t.Errorf("send refused: %v", err)
	}
	if err := s.Send(t.Context(), adapters.Message{Text: "again"}); err != nil {
		t.Errorf("send after a refusal: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.turns.Busy() || s.turnID != "t2" {
		t.Errorf("busy %v turn %q", s.turns.Busy(), s.turnID)
	}
}

// TestStopIsQuiet: stopping the session reports nothing, and replies to
// unknown requests are refused.
func TestStopIsQuiet(t *testing.T) {
	s, c := startScripted(t, `while read l; do :; done; exit 0`)
	if err := s.ReplyPermission(t.Context(), adapters.PermissionRequest{ID: "0"}, adapters.ReplyOnce); err == nil {
		t.Error("reply to an unknown permission accepted")
	}
	if err := s.ReplyQuestion(t.Context(), adapters.QuestionRequest{ID: "0"}, nil); err == nil {
		t.Error("reply to an unknown question accepted")
	}
	if err := s.Interrupt(t.Context()); err != nil {
		t.Errorf("interrupt while idle: %v", err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if evs := c.Events(); len(evs) != 0 {
		t.Errorf("events after stop: %+v", evs)
	}
}
