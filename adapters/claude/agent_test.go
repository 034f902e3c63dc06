package claude

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// These tests drive the real claude binary against the scripted model
// (internal/fakemodel), through the real engine. They are skipped under
// -short and when the binary is missing; install it with
//
//	npm install --prefix ~/.cache/agentd/npm @anthropic-ai/claude-code-linux-x64@2.1.330
//
// or point AGENTD_CLAUDE_BIN at it. Waits are on the event log (Changed),
// bounded by a deadline; nothing sleeps.

const waitLong = 90 * time.Second

func claudeBinary(t *testing.T) string {
	return adaptertest.Binary(t, "claude", "set AGENTD_CLAUDE_BIN or npm install it under ~/.cache/agentd/npm", DefaultResolver)
}

// recorder is the agent the engine sees: the Claude agent, keeping the
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
	base  string
	home  string
	agent *recorder
}

// testEnv points Claude at the fake model, with no other credential.
func testEnv(base string) []string {
	return []string{"ANTHROPIC_BASE_URL=" + base, "ANTHROPIC_API_KEY=x", "ANTHROPIC_AUTH_TOKEN=",
		"CLAUDE_CODE_OAUTH_TOKEN=", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"}
}

func newHarness(t *testing.T, opts ...fakemodel.Opt) *harness {
	t.Helper()
	bin := claudeBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	h := &harness{t: t, ctx: ctx, home: t.TempDir()}
	h.fake = fakemodel.New(opts...)
	base, err := h.fake.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.base = base
	t.Cleanup(h.fake.Close)
	h.agent = &recorder{Agent: New(
		WithResolver(func(context.Context) (string, error) { return bin, nil }),
		WithHome(h.home), WithEnv(testEnv(base)...), WithGrace(3*time.Second))}
	h.Engine = adaptertest.NewEngine(t, ctx, []adapters.Agent{h.agent}, "claude", t.TempDir())
	return h
}

// event is a stored event, decoded.
type event struct {
	schema.UniversalEvent
	item  schema.UniversalItem
	delta schema.ItemDeltaData
	turn  schema.TurnEventData
	err   schema.ErrorData
	perm  schema.PermissionEventData
	quest schema.QuestionEventData
	end   schema.SessionEndedData
}

func decode(t *testing.T, r eventlog.Record) event {
	t.Helper()
	var e event
	if err := json.Unmarshal(r.Body, &e.UniversalEvent); err != nil {
		t.Fatal(err)
	}
	var into any
	switch e.Type {
	case schema.EventItemStarted, schema.EventItemCompleted:
		var d schema.ItemEventData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		e.item = d.Item
		return e
	case schema.EventItemDelta:
		into = &e.delta
	case schema.EventTurnStarted, schema.EventTurnEnded:
		into = &e.turn
	case schema.EventError:
		into = &e.err
	case schema.EventPermissionRequested, schema.EventPermissionResolved:
		into = &e.perm
	case schema.EventQuestionRequested, schema.EventQuestionResolved:
		into = &e.quest
	case schema.EventSessionEnded:
		into = &e.end
	default:
		return e
	}
	if err := json.Unmarshal(e.Data, into); err != nil {
		t.Fatal(err)
	}
	return e
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
	var m struct {
		Status string `json:"status"`
	}
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

// checkItemOrder: every delta and completion follows its item's start, and
// no item completes twice.
func checkItemOrder(t *testing.T, evs []event) {
	t.Helper()
	started, completed := map[string]bool{}, map[string]bool{}
	for _, e := range evs {
		switch e.Type {
		case schema.EventItemStarted:
			started[e.item.ItemID] = true
		case schema.EventItemDelta:
			if !started[e.delta.ItemID] || completed[e.delta.ItemID] {
				t.Errorf("delta %d on %s outside its item", e.Sequence, e.delta.ItemID)
			}
		case schema.EventItemCompleted:
			if !started[e.item.ItemID] || completed[e.item.ItemID] {
				t.Errorf("completion %d of %s: started %v, completed before %v", e.Sequence, e.item.ItemID,
					started[e.item.ItemID], completed[e.item.ItemID])
			}
			completed[e.item.ItemID] = true
			if !strings.HasPrefix(e.item.ItemID, "itm_") {
				t.Errorf("item id %q", e.item.ItemID)
			}
		}
	}
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

func TestRealClaude(t *testing.T) {
	claudeBinary(t)

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("text", engine.CreateRequest{})
		h.Send(s, "SCN:text Say hello.")
		end := h.turnEnded("text", 0)
		if turnStatus(end) != "completed" {
			t.Errorf("turn.ended: %s", end.Data)
		}
		evs := h.events("text")
		checkItemOrder(t, evs)
		var got []string
		for _, e := range evs {
			got = append(got, string(e.Type))
		}
		want := []string{"session.started", "turn.started", "item.started", "item.completed", "item.started"}
		if len(got) < len(want) || strings.Join(got[:len(want)], " ") != strings.Join(want, " ") {
			t.Errorf("events start %v", got)
		}
		if txt := assistantText(evs); len(txt) != 1 || txt[0] != "Hello from the fake model. This is reply number 1." {
			t.Errorf("assistant text %q", txt)
		}
		deltas := 0
		for _, e := range evs {
			if e.Type == schema.EventItemDelta && !e.Synthetic {
				deltas++
			}
		}
		if deltas < 2 {
			t.Errorf("%d streamed deltas", deltas)
		}
		if n := s.Info().NativeSessionID; n == nil || *n == "" {
			t.Error("no native session id")
		}
		user := completedItems(evs, schema.KindMessage)[0]
		if *user.Role != schema.RoleUser || user.Content[0].Text != "SCN:text Say hello." {
			t.Errorf("user item %+v", user)
		}
	})

	t.Run("thinking", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("think", engine.CreateRequest{})
		h.Send(s, "SCN:thinking Think, then answer.")
		h.turnEnded("think", 0)
		evs := h.events("think")
		checkItemOrder(t, evs)
		var reasoning string
		var reasoningID string
		for _, it := range completedItems(evs, schema.KindMessage) {
			for _, p := range it.Content {
				if p.Type == schema.PartReasoning {
					reasoning, reasoningID = p.Text, it.ItemID
				}
			}
		}
		if reasoning != "Let me think about this. The user wants a short answer." {
			t.Errorf("reasoning %q", reasoning)
		}
		var streamed string
		for _, e := range evs {
			if e.Type == schema.EventItemDelta && e.delta.ItemID == reasoningID {
				streamed += e.delta.Delta
			}
		}
		if streamed != reasoning {
			t.Errorf("reasoning deltas %q", streamed)
		}
		if txt := assistantText(evs); len(txt) != 1 || txt[0] != "After thinking: the answer is 42." {
			t.Errorf("assistant text %q", txt)
		}
	})

	// bash runs the tool_bash scenario and answers its permission request.
	bash := func(t *testing.T, reply adapters.PermissionReply) (*harness, []event) {
		h := newHarness(t)
		s := h.Create("bash", engine.CreateRequest{})
		h.Send(s, "SCN:tool_bash Run a command.")
		req := h.waitFor("bash", 0, "permission.requested", isType(schema.EventPermissionRequested))
		if req.perm.Action != "Bash" {
			t.Errorf("permission %+v", req.perm)
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
		evs := h.events("bash")
		checkItemOrder(t, evs)
		return h, evs
	}

	t.Run("tool_bash_once", func(t *testing.T) {
		t.Parallel()
		h, evs := bash(t, adapters.ReplyOnce)
		results := completedItems(evs, schema.KindToolResult)
		if len(results) != 1 || results[0].Status != schema.StatusCompleted || results[0].Content[0].Output != "hi-from-tool" {
			t.Errorf("tool results %+v", results)
		}
		calls := completedItems(evs, schema.KindToolCall)
		if len(calls) != 1 || results[0].ParentID == nil || *results[0].ParentID != calls[0].ItemID {
			t.Errorf("tool result not linked to its call: %+v %+v", calls, results)
		}
		trs := h.fake.ToolResults()
		if len(trs) != 1 || trs[0].Content != "hi-from-tool" || trs[0].IsError {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		if out, err := os.ReadFile(filepath.Join(h.Directory, "tool_out.txt")); err != nil || string(out) != "hi-from-tool\n" {
			t.Errorf("tool_out.txt in the session directory: %q %v", out, err)
		}
		resolved := h.waitFor("bash", 0, "permission.resolved", isType(schema.EventPermissionResolved))
		if resolved.perm.Status != schema.PermissionAccept {
			t.Errorf("resolved %+v", resolved.perm)
		}
	})

	t.Run("tool_bash_reject", func(t *testing.T) {
		t.Parallel()
		h, evs := bash(t, adapters.ReplyReject)
		results := completedItems(evs, schema.KindToolResult)
		if len(results) != 1 || results[0].Status != schema.StatusFailed || results[0].Content[0].Output != denyPermission {
			t.Errorf("tool results %+v", results)
		}
		trs := h.fake.ToolResults()
		if len(trs) != 1 || !trs[0].IsError || trs[0].Content != denyPermission {
			t.Errorf("the denial did not reach the model: %+v", trs)
		}
		if _, err := os.Stat(filepath.Join(h.Directory, "tool_out.txt")); err == nil {
			t.Error("the denied command ran")
		}
	})

	t.Run("tool_bash_always", func(t *testing.T) {
		t.Parallel()
		h, evs := bash(t, adapters.ReplyAlways)
		last := evs[len(evs)-1].Sequence
		s, _ := h.M.Get("bash")
		h.Send(s, "SCN:tool_bash Once more.")
		h.turnEnded("bash", last)
		for _, e := range between(h.events("bash"), last, 1<<62) {
			if e.Type == schema.EventPermissionRequested {
				t.Errorf("asked again after always: %s", e.Data)
			}
		}
		if trs := h.fake.ToolResults(); len(trs) != 2 || trs[1].IsError {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
	})

	t.Run("file_edit", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("edit", engine.CreateRequest{})
		h.Send(s, "SCN:file_edit Create hello.txt.")
		req := h.waitFor("edit", 0, "permission.requested", isType(schema.EventPermissionRequested))
		if req.perm.Action != "Write" {
			t.Errorf("permission %+v", req.perm)
		}
		if err := s.ReplyPermission(h.ctx, req.perm.PermissionID, adapters.ReplyOnce); err != nil {
			t.Fatal(err)
		}
		h.turnEnded("edit", req.Sequence)
		path := filepath.Join(h.Directory, "hello.txt")
		if b, err := os.ReadFile(path); err != nil || string(b) != "hello from fake model" {
			t.Errorf("hello.txt: %q %v", b, err)
		}
		results := completedItems(h.events("edit"), schema.KindToolResult)
		if len(results) != 1 || len(results[0].Content) != 2 || results[0].Content[1].Type != schema.PartFileRef ||
			results[0].Content[1].Path != path || results[0].Content[1].Action != schema.FileWrite {
			t.Errorf("tool result %+v", results)
		}
	})

	t.Run("ask_question", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("ask", engine.CreateRequest{})
		h.Send(s, "SCN:ask_question Ask me something.")
		q := h.waitFor("ask", 0, "question.requested", isType(schema.EventQuestionRequested))
		if q.quest.Prompt != "Which colour should the widget be?" || strings.Join(q.quest.Options, ",") != "Red,Blue" {
			t.Errorf("question %+v", q.quest)
		}
		if err := s.ReplyQuestion(h.ctx, q.quest.QuestionID, [][]string{{"Red"}}); err != nil {
			t.Fatal(err)
		}
		h.turnEnded("ask", q.Sequence)
		trs := h.fake.ToolResults()
		if len(trs) != 1 || trs[0].IsError || !strings.Contains(trs[0].Content, `"Which colour should the widget be?"="Red"`) {
			t.Errorf("the answer did not reach the model: %+v", trs)
		}
		for _, e := range h.events("ask") {
			if e.Type == schema.EventPermissionRequested {
				t.Errorf("the question also surfaced as a permission: %s", e.Data)
			}
		}
	})

	t.Run("ask_question_reject", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("ask", engine.CreateRequest{})
		h.Send(s, "SCN:ask_question Ask me something.")
		q := h.waitFor("ask", 0, "question.requested", isType(schema.EventQuestionRequested))
		if err := s.RejectQuestion(h.ctx, q.quest.QuestionID); err != nil {
			t.Fatal(err)
		}
		h.turnEnded("ask", q.Sequence)
		trs := h.fake.ToolResults()
		if len(trs) != 1 || !trs[0].IsError || trs[0].Content != declineAnswer {
			t.Errorf("the refusal did not reach the model: %+v", trs)
		}
	})

	t.Run("plan_mode", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, fakemodel.WithScenarios(fakemodel.Scenario{Name: "plan_exit", Turns: []fakemodel.Turn{
			{fakemodel.ToolCall("ExitPlanMode", map[string]string{"plan": "1. Write the file."})},
			{fakemodel.Text(fakemodel.StepDoneText)},
		}}))
		s := h.Create("plan", engine.CreateRequest{AgentMode: "plan"})
		h.Send(s, "SCN:plan_exit Make a plan.")
		q := h.waitFor("plan", 0, "question.requested", isType(schema.EventQuestionRequested))
		// This CLI version keeps the plan in a file and sends ExitPlanMode
		// with an empty input, so the prompt has no plan text to show.
		if !strings.HasPrefix(q.quest.Prompt, planPrompt) || strings.Join(q.quest.Options, ",") != "approve,reject" {
			t.Errorf("question %+v", q.quest)
		}
		if err := s.ReplyQuestion(h.ctx, q.quest.QuestionID, [][]string{{"approve"}}); err != nil {
			t.Fatal(err)
		}
		h.turnEnded("plan", q.Sequence)
		trs := h.fake.ToolResults()
		if len(trs) != 1 || trs[0].IsError {
			t.Errorf("the approval did not reach the model: %+v", trs)
		}
	})

	t.Run("error500", func(t *testing.T) {
		t.Parallel()
		// A 500 on the first model call only: the prompt after the failed
		// one travels in the same user message as the failed one (Claude
		// merges them), so the marker of the first picks the scenario.
		h := newHarness(t, fakemodel.WithScenarios(fakemodel.Scenario{Name: "error500_once", Turns: []fakemodel.Turn{{
			func() fakemodel.Step {
				st := fakemodel.HTTPError(fakemodel.ErrorSpec{Status: 500, Message: "Internal server error (fake)."})
				st.Times = 1
				return st
			}(),
			fakemodel.Text("Recovered after the error."),
		}}}))
		s := h.Create("e500", engine.CreateRequest{})
		h.Send(s, "SCN:error500_once This will fail.")
		end := h.turnEnded("e500", 0)
		if turnStatus(end) != "error" {
			t.Errorf("turn.ended %s", end.Data)
		}
		errs := 0
		for _, e := range h.events("e500") {
			if e.Type == schema.EventError {
				errs++
				if !strings.Contains(e.err.Message, "500") || e.err.Code == nil || *e.err.Code != "server_error" {
					t.Errorf("error %s", e.Data)
				}
			}
		}
		if errs != 1 {
			t.Errorf("%d error events", errs)
		}
		// The session stays usable.
		h.Send(s, "And now?")
		end2 := h.turnEnded("e500", end.Sequence)
		if turnStatus(end2) != "completed" || s.Info().Ended {
			t.Errorf("turn after the error: %s", end2.Data)
		}
		if txt := assistantText(between(h.events("e500"), end.Sequence, end2.Sequence)); len(txt) != 1 ||
			txt[0] != "Recovered after the error." {
			t.Errorf("reply after the error %q", txt)
		}
	})

	t.Run("interrupt", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("int", engine.CreateRequest{})
		h.Send(s, "SCN:slow Write a long answer.")
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
		checkItemOrder(t, h.events("int"))
		// Nothing to interrupt now.
		if err := h.agent.Last().Interrupt(h.ctx); err != nil {
			t.Errorf("interrupt while idle: %v", err)
		}
	})

	t.Run("two_turns_queued", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("two", engine.CreateRequest{})
		// The second message is sent while the first turn runs: it waits.
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
		// The second prompt's user item follows the first turn's end.
		var users []string
		for _, it := range completedItems(after, schema.KindMessage) {
			if *it.Role == schema.RoleUser {
				users = append(users, it.Content[0].Text)
			}
		}
		if len(users) != 1 || users[0] != "SCN:text Second turn." {
			t.Errorf("user items of the second turn %q", users)
		}
		if n := h.agent.Len(); n != 1 {
			t.Errorf("%d processes for one session", n)
		}
	})

	t.Run("terminate", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("term", engine.CreateRequest{})
		h.Send(s, "SCN:text Hello.")
		h.turnEnded("term", 0)
		pgid := h.agent.Last().Pid()
		if groupProcesses(t, pgid) == 0 {
			t.Fatal("the claude process is not running")
		}
		if err := s.Terminate(h.ctx); err != nil {
			t.Fatal(err)
		}
		if n := groupProcesses(t, pgid); n != 0 {
			t.Errorf("%d processes of the group left after terminate", n)
		}
		evs := h.events("term")
		last := evs[len(evs)-1]
		if last.Type != schema.EventSessionEnded || last.end.Reason != schema.EndTerminated || last.end.TerminatedBy != schema.ByDaemon {
			t.Errorf("last event %s %s", last.Type, last.Data)
		}
		for _, e := range evs {
			if e.Type == schema.EventError {
				t.Errorf("error at terminate: %s", e.Data)
			}
		}
	})

	t.Run("crash", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("crash", engine.CreateRequest{})
		h.Send(s, "SCN:text Hello.")
		end := h.turnEnded("crash", 0)
		pid := h.agent.Last().Pid()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ended := h.waitFor("crash", end.Sequence, "session.ended", isType(schema.EventSessionEnded))
		if ended.end.Reason != schema.EndError || ended.end.TerminatedBy != schema.ByAgent || ended.end.Stderr == nil ||
			ended.end.ExitCode == nil || ended.end.Message == nil || !ended.Synthetic {
			t.Errorf("session.ended %s", ended.Data)
		}
		errs := between(h.events("crash"), end.Sequence, ended.Sequence)
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

	t.Run("resume", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		s := h.Create("first", engine.CreateRequest{})
		h.Send(s, "SCN:text First.")
		h.turnEnded("first", 0)
		native := *s.Info().NativeSessionID
		if err := s.Terminate(h.ctx); err != nil {
			t.Fatal(err)
		}
		// A new process continues the native session.
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
		evs := c.WaitTurns(t, h.ctx, 1)
		var text string
		for _, ev := range evs {
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

// fakeBinary writes a shell script standing in for claude.
func fakeBinary(t *testing.T, script string) func(context.Context) (string, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "claude")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return func(context.Context) (string, error) { return p, nil }
}

func startFake(t *testing.T, script string, opts ...Option) (*session, *adaptertest.Collector) {
	t.Helper()
	return startFakeIn(t, t.TempDir(), script, append([]Option{WithEnv("ANTHROPIC_API_KEY=x")}, opts...)...)
}

func startFakeIn(t *testing.T, dir, script string, opts ...Option) (*session, *adaptertest.Collector) {
	t.Helper()
	a := New(append([]Option{WithResolver(fakeBinary(t, script)), WithGrace(2 * time.Second)}, opts...)...)
	c := newCollector()
	s, err := a.Start(context.Background(), adapters.StartRequest{SessionID: "s", Directory: dir}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s.(*session), c
}

// TestUnexpectedExit: a process that dies on its own ends the session with
// an error carrying its exit code and stderr.
func TestUnexpectedExit(t *testing.T) {
	s, c := startFake(t, `read line; echo "fatal: the model exploded" >&2; echo "second line" >&2; exit 3`)
	if err := s.Send(t.Context(), adapters.Message{Text: "go"}); err != nil {
		t.Fatal(err)
	}
	evs := c.WaitFor(t, t.Context(), "session.ended", 1, func(ev adapters.Event) bool { return ev.Type == schema.EventSessionEnded })
	n := len(evs)
	if evs[n-2].Type != schema.EventError || !evs[n-2].Synthetic {
		t.Fatalf("no error before the end: %+v", evs[n-2])
	}
	if d := evs[n-2].Data.(schema.ErrorData); *d.Code != "process_exit" || !strings.Contains(d.Message, "exit code 3") {
		t.Errorf("error %+v", d)
	}
	end := evs[n-1].Data.(schema.SessionEndedData)
	if end.Reason != schema.EndError || end.TerminatedBy != schema.ByAgent || *end.ExitCode != 3 || end.Stderr == nil ||
		*end.Stderr.Head != "fatal: the model exploded\nsecond line" || *end.Stderr.TotalLines != 2 || !evs[n-1].Synthetic {
		t.Errorf("session.ended %+v stderr %+v", end, end.Stderr)
	}
	if err := s.Send(t.Context(), adapters.Message{Text: "again"}); err == nil {
		t.Error("send after the exit was accepted")
	}
}

// TestStopIsQuiet: stopping the session reports nothing, and replies to
// unknown requests are refused.
func TestStopIsQuiet(t *testing.T) {
	s, c := startFake(t, `while read line; do :; done; exit 0`)
	if err := s.ReplyPermission(t.Context(), adapters.PermissionRequest{ID: "nope"}, adapters.ReplyOnce); err == nil {
		t.Error("reply to an unknown permission accepted")
	}
	if err := s.ReplyQuestion(t.Context(), adapters.QuestionRequest{ID: "nope"}, nil); err == nil {
		t.Error("reply to an unknown question accepted")
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

// TestHostileOutput: a 10 MB line, a non-UTF-8 line and a non-JSON line
// each become agent.unparsed, and reading goes on to the result.
func TestHostileOutput(t *testing.T) {
	script := `read line
head -c 10000000 /dev/zero | tr '\0' 'a'; echo
printf '{"type":"keep_alive","x":"\377\376"}\n'
printf 'plain text \377\n'
echo '{"type":"result","subtype":"success","is_error":false,"result":"ok","session_id":"s1"}'
while read line; do :; done`
	s, c := startFake(t, script, WithMaxLine(1<<20))
	if err := s.Send(t.Context(), adapters.Message{Text: "go"}); err != nil {
		t.Fatal(err)
	}
	evs := c.WaitTurns(t, t.Context(), 1)
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
	if len(unparsed) != 2 || !strings.Contains(unparsed[0], "longer than 1048576") || unparsed[1] != "not JSON" {
		t.Errorf("unparsed %q", unparsed)
	}
}

// TestStartErrors: a missing binary or directory fails at Start.
func TestStartErrors(t *testing.T) {
	missing := New(WithResolver(func(context.Context) (string, error) { return "", adapters.ErrNotInstalled }))
	if info := missing.Info(t.Context()); info.Installed || !info.Runnable {
		t.Errorf("info %+v", info)
	}
	if _, err := missing.Start(t.Context(), adapters.StartRequest{}, newCollector()); !errors.Is(err, adapters.ErrNotInstalled) {
		t.Errorf("start without a binary: %v", err)
	}
	a := New(WithResolver(fakeBinary(t, "exit 0")))
	_, err := a.Start(t.Context(), adapters.StartRequest{Directory: filepath.Join(t.TempDir(), "nope")}, newCollector())
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
		t.Errorf("start in a missing directory: %v", err)
	}
}

// TestEnvironment: the agent gets a clean environment: the listed daemon
// variables, ANTHROPIC_*/CLAUDE_*, the overrides, and nothing else.
func TestEnvironment(t *testing.T) {
	t.Setenv("ANTHROPIC_API_KEY", "secret")
	t.Setenv("CLAUDE_CODE_X", "1")
	t.Setenv("AGENTD_TOKEN", "daemon-secret")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "nope")
	t.Setenv("IS_SANDBOX", "")
	a := New(WithHome("/home/elsewhere"), WithEnv("EXTRA=1"))
	env := a.environ(true)
	for _, want := range []string{"ANTHROPIC_API_KEY=secret", "CLAUDE_CODE_X=1", "HOME=/home/elsewhere", "EXTRA=1", "IS_SANDBOX=1"} {
		if !contains(env, want) {
			t.Errorf("%s missing from %q", want, env)
		}
	}
	for _, k := range []string{"AGENTD_TOKEN", "AWS_SECRET_ACCESS_KEY"} {
		if agentproc.Getenv(env, k) != "" {
			t.Errorf("%s passed to the agent", k)
		}
	}
	if agentproc.Getenv(env, "PATH") == "" {
		t.Error("no PATH")
	}
	if !a.credentialsAvailable() {
		t.Error("credentials not seen")
	}
	if got := fmt.Sprint(args(adapters.StartRequest{Model: "sonnet", PermissionMode: "bypass"}, "abc")); !strings.HasSuffix(got,
		"--include-partial-messages --model sonnet --permission-mode bypassPermissions --resume abc]") {
		t.Errorf("args %s", got)
	}
	if got := fmt.Sprint(args(adapters.StartRequest{Model: "default", AgentMode: "plan"}, "")); !strings.HasSuffix(got, "--permission-mode plan]") {
		t.Errorf("args %s", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestInfo: the real binary's version, read once.
func TestInfo(t *testing.T) {
	bin := claudeBinary(t)
	a := New(WithResolver(func(context.Context) (string, error) { return bin, nil }))
	info := a.Info(t.Context())
	if !info.Installed || info.Path != bin || info.Version == "" || strings.Contains(info.Version, "(") {
		t.Errorf("info %+v", info)
	}
	if !info.Capabilities.ItemStarted || !info.Capabilities.Reasoning || !info.NativeTurns || !info.Resumable {
		t.Errorf("capabilities %+v", info.Capabilities)
	}
}

// noCredentials blanks every variable Claude could take a credential from.
var noCredentials = WithEnv("ANTHROPIC_API_KEY=", "CLAUDE_API_KEY=", "CLAUDE_CODE_OAUTH_TOKEN=", "ANTHROPIC_AUTH_TOKEN=",
	"CLAUDE_CODE_USE_BEDROCK=", "CLAUDE_CODE_USE_VERTEX=")

// TestMissingCredentialsFailFast: with no key anywhere the session is
// refused before a process starts, with a problem naming the variables.
func TestMissingCredentialsFailFast(t *testing.T) {
	a := New(WithResolver(fakeBinary(t, `touch started; while read line; do :; done`)), WithHome(t.TempDir()), noCredentials)
	if a.Info(t.Context()).CredentialsAvailable {
		t.Fatal("credentials reported available")
	}
	dir := t.TempDir()
	_, err := a.Start(t.Context(), adapters.StartRequest{SessionID: "s", Directory: dir}, newCollector())
	e, ok := apierr.As(err)
	if !ok || e.Kind != apierr.InvalidRequest || !strings.Contains(e.Detail, "ANTHROPIC_API_KEY") || e.Details["missingCredentials"] == nil {
		t.Fatalf("error %#v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
		t.Fatal("the agent was started without credentials")
	}
}

// TestCredentialFromAnotherAgent: a key Claude would not find by itself
// (OpenCode's login file) is handed to it as ANTHROPIC_API_KEY.
func TestCredentialFromAnotherAgent(t *testing.T) {
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".local/share/opencode"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".local/share/opencode/auth.json"), []byte(`{"anthropic":{"type":"api","key":"from-opencode"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, c := startFakeIn(t, t.TempDir(), `read line; echo "key=$ANTHROPIC_API_KEY"; while read line; do :; done`, WithHome(home), noCredentials)
	if err := s.Send(t.Context(), adapters.Message{Text: "go"}); err != nil {
		t.Fatal(err)
	}
	evs := c.WaitFor(t, t.Context(), "agent.unparsed", 1, func(ev adapters.Event) bool { return ev.Type == schema.EventAgentUnparsed })
	if got := string(evs[len(evs)-1].Raw); !strings.Contains(got, "key=from-opencode") {
		t.Fatalf("the agent saw %s", got)
	}
}
