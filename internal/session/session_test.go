package session

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/schema"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scriptAgent is an adapter driven by the test: it hands the test its
// emitter and records what the engine asked of it.
type scriptAgent struct {
	info     adapters.Info
	startErr error

	mu       sync.Mutex
	emitters map[string]adapters.Emitter
	sent     []adapters.Message
	replies  []adapters.PermissionReply
	replyErr error
	stopped  int
}

func newScriptAgent() *scriptAgent {
	return &scriptAgent{
		info: adapters.Info{
			Installed: true, Runnable: true,
			Modes:           []adapters.Mode{{ID: "build"}, {ID: "plan"}},
			PermissionModes: map[string]string{"default": "default", "bypass": "bypass", "acceptEdits": "default"},
			DefaultModel:    "m1", Resumable: true,
		},
		emitters: map[string]adapters.Emitter{},
	}
}

func (a *scriptAgent) ID() string                         { return "script" }
func (a *scriptAgent) Info(context.Context) adapters.Info { return a.info }
func (a *scriptAgent) Start(_ context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	if a.startErr != nil {
		return nil, a.startErr
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.emitters[req.SessionID] = emit
	return &scriptSession{a: a, native: "native-" + req.SessionID}, nil
}

func (a *scriptAgent) emitter(id string) adapters.Emitter {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.emitters[id]
}

type scriptSession struct {
	a      *scriptAgent
	native string
}

func (s *scriptSession) NativeSessionID() string { return s.native }
func (s *scriptSession) Send(_ context.Context, m adapters.Message) error {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	s.a.sent = append(s.a.sent, m)
	return nil
}
func (s *scriptSession) ReplyPermission(_ context.Context, _ adapters.PermissionRequest, r adapters.PermissionReply) error {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	if s.a.replyErr != nil {
		return s.a.replyErr
	}
	s.a.replies = append(s.a.replies, r)
	return nil
}
func (s *scriptSession) ReplyQuestion(context.Context, adapters.QuestionRequest, [][]string) error {
	return nil
}
func (s *scriptSession) RejectQuestion(context.Context, adapters.QuestionRequest) error { return nil }
func (s *scriptSession) Stop(context.Context) error {
	s.a.mu.Lock()
	defer s.a.mu.Unlock()
	s.a.stopped++
	return nil
}

type fixture struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	log   *eventlog.Log
	m     *Manager
	agent *scriptAgent
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, dir: t.TempDir(), agent: newScriptAgent()}
	f.open()
	t.Cleanup(func() { f.log.Close() })
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	log, err := eventlog.Open(f.ctx, f.dir, eventlog.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	m, err := New(f.ctx, log, []adapters.Agent{f.agent})
	if err != nil {
		f.t.Fatal(err)
	}
	f.log, f.m = log, m
}

func (f *fixture) create(id string) *Session {
	f.t.Helper()
	if _, err := f.m.Create(f.ctx, id, CreateRequest{Agent: "script"}); err != nil {
		f.t.Fatal(err)
	}
	s, err := f.m.Get(id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// events returns the stored events of a session, decoded.
func (f *fixture) events(id string) []schema.UniversalEvent {
	f.t.Helper()
	recs, err := f.log.Read(f.ctx, id, 0, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]schema.UniversalEvent, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Body, &out[i]); err != nil {
			f.t.Fatal(err)
		}
	}
	return out
}

func types(evs []schema.UniversalEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.Type)
		if e.Synthetic {
			out[i] += "(d)"
		}
	}
	return out
}

func item(native string, kind schema.ItemKind, role schema.ItemRole, status schema.ItemStatus, parts ...schema.ContentPart) schema.ItemEventData {
	return schema.ItemEventData{Item: schema.UniversalItem{
		NativeItemID: schema.Ptr(native), Kind: kind, Role: schema.Ptr(role), Status: status, Content: parts,
	}}
}

func TestNormalisation(t *testing.T) {
	text := schema.TextPart("hello")
	tests := []struct {
		name   string
		events []adapters.Event
		want   []string
		check  func(t *testing.T, evs []schema.UniversalEvent)
	}{
		{
			name: "completion without start gets a synthetic start and delta",
			events: []adapters.Event{{Type: schema.EventItemCompleted,
				Data: item("a1", schema.KindMessage, schema.RoleAssistant, schema.StatusCompleted, text)}},
			want: []string{"item.started(d)", "item.delta(d)", "item.completed"},
			check: func(t *testing.T, evs []schema.UniversalEvent) {
				var d schema.ItemDeltaData
				mustDecode(t, evs[1].Data, &d)
				if d.ItemID != "itm_1" || d.Delta != "hello" || *d.NativeItemID != "a1" {
					t.Errorf("delta = %+v", d)
				}
			},
		},
		{
			name: "streamed message gets no synthetic delta; duplicate start dropped",
			events: []adapters.Event{
				{Type: schema.EventItemStarted, Data: item("a1", schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress)},
				{Type: schema.EventItemStarted, Data: item("a1", schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress)},
				{Type: schema.EventItemDelta, Data: schema.ItemDeltaData{NativeItemID: schema.Ptr("a1"), Delta: "hel"}},
				{Type: schema.EventItemCompleted, Data: item("a1", schema.KindMessage, schema.RoleAssistant, schema.StatusCompleted, text)},
			},
			want: []string{"item.started", "item.delta", "item.completed"},
		},
		{
			name: "user messages and tool items get no synthetic delta",
			events: []adapters.Event{
				{Type: schema.EventItemCompleted, Data: item("u1", schema.KindMessage, schema.RoleUser, schema.StatusCompleted, text)},
				{Type: schema.EventItemCompleted, Data: item("t1", schema.KindToolCall, schema.RoleAssistant, schema.StatusCompleted)},
			},
			want: []string{"item.started(d)", "item.completed", "item.started(d)", "item.completed"},
		},
		{
			name: "parent ids are mapped to item ids",
			events: []adapters.Event{{Type: schema.EventItemStarted, Data: schema.ItemEventData{Item: schema.UniversalItem{
				NativeItemID: schema.Ptr("child"), ParentID: schema.Ptr("msg_9"), Kind: schema.KindToolCall, Status: schema.StatusInProgress}}}},
			want: []string{"item.started"},
			check: func(t *testing.T, evs []schema.UniversalEvent) {
				var d schema.ItemEventData
				mustDecode(t, evs[0].Data, &d)
				if d.Item.ItemID != "itm_1" || *d.Item.ParentID != "itm_2" || d.Item.Content == nil {
					t.Errorf("item = %+v", d.Item)
				}
			},
		},
		{
			name: "the agent's own session.started and a resumable agent's session.ended are dropped",
			events: []adapters.Event{
				{Type: schema.EventSessionStarted, Data: schema.SessionStartedData{}},
				{Type: schema.EventSessionEnded, Data: schema.SessionEndedData{Reason: schema.EndCompleted, TerminatedBy: schema.ByAgent}},
			},
			want: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.create("s")
			if err := f.agent.emitter("s").Emit(f.ctx, tc.events...); err != nil {
				t.Fatal(err)
			}
			evs := f.events("s")[1:] // after session.started
			if got := types(evs); !slices.Equal(got, tc.want) {
				t.Fatalf("events = %v, want %v", got, tc.want)
			}
			for i, e := range evs {
				if e.Sequence != uint64(i+2) || e.EventID != schema.EventID(e.Sequence) {
					t.Errorf("event %d numbered %d (%s)", i, e.Sequence, e.EventID)
				}
				if e.NativeSessionID == nil || *e.NativeSessionID != "native-s" {
					t.Errorf("event %d native session id = %v", i, e.NativeSessionID)
				}
				if (e.Source == schema.SourceDaemon) != e.Synthetic {
					t.Errorf("event %d: source %s synthetic %v", i, e.Source, e.Synthetic)
				}
			}
			if tc.check != nil {
				tc.check(t, evs)
			}
		})
	}
}

func mustDecode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestCreateValidation(t *testing.T) {
	tests := []struct {
		name string
		id   string
		req  CreateRequest
		kind apierr.Kind
	}{
		{"unknown agent", "s", CreateRequest{Agent: "nope"}, apierr.UnsupportedAgent},
		{"unsupported agent mode", "s", CreateRequest{Agent: "script", AgentMode: "review"}, apierr.ModeNotSupported},
		{"invalid permission mode", "s", CreateRequest{Agent: "script", PermissionMode: "yolo"}, apierr.InvalidRequest},
		{"permission mode the agent lacks", "s", CreateRequest{Agent: "script", PermissionMode: "plan"}, apierr.ModeNotSupported},
		{"id with a control character", "a\nb", CreateRequest{Agent: "script"}, apierr.InvalidRequest},
		{"id too long", string(make([]byte, maxIDLen+1)), CreateRequest{Agent: "script"}, apierr.InvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, err := f.m.Create(f.ctx, tc.id, tc.req)
			if e, ok := apierr.As(err); !ok || e.Kind != tc.kind {
				t.Fatalf("err = %v, want kind %s", err, tc.kind)
			}
			if len(f.m.List()) != 0 {
				t.Fatal("a refused create left a session behind")
			}
		})
	}
}

func TestCreateNormalises(t *testing.T) {
	f := newFixture(t)
	info, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script", PermissionMode: "acceptEdits", Directory: "/w"})
	if err != nil {
		t.Fatal(err)
	}
	if info.AgentMode != "build" || info.PermissionMode != "default" || *info.Model != "m1" ||
		*info.NativeSessionID != "native-s" || *info.Directory != "/w" || info.EventCount != 1 {
		t.Fatalf("info = %+v", info)
	}
	evs := f.events("s")
	var started schema.SessionStartedData
	mustDecode(t, evs[0].Data, &started)
	if string(started.Metadata) != `{"agent":"script","agentMode":"build","model":"m1","permissionMode":"default","variant":null}` {
		t.Errorf("session.started metadata = %s", started.Metadata)
	}
	if *evs[0].NativeSessionID != "native-s" {
		t.Errorf("session.started native id = %v", evs[0].NativeSessionID)
	}
}

func TestConcurrentCreateOfOneID(t *testing.T) {
	f := newFixture(t)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.m.Create(f.ctx, "same", CreateRequest{Agent: "script"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		} else if e, isAPI := apierr.As(err); !isAPI || e.Kind != apierr.SessionAlreadyExists {
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want 1", ok)
	}
}

func TestStartFailureStoresNothing(t *testing.T) {
	f := newFixture(t)
	f.agent.startErr = adapters.ErrNotInstalled
	_, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script"})
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.AgentNotInstalled {
		t.Fatalf("err = %v", err)
	}
	if _, err := f.m.Get("s"); err == nil {
		t.Fatal("failed session is listed")
	}
}

func TestTerminate(t *testing.T) {
	f := newFixture(t)
	s := f.create("s")
	emit := f.agent.emitter("s")
	if err := s.Terminate(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Terminate(f.ctx); err != nil {
		t.Fatal("second terminate:", err)
	}
	if f.agent.stopped != 1 {
		t.Errorf("agent stopped %d times, want 1", f.agent.stopped)
	}
	late := adapters.Event{Type: schema.EventError, Data: schema.ErrorData{Message: "late"}}
	if err := emit.Emit(f.ctx, late); !errors.Is(err, errEnded) {
		t.Errorf("emit after end = %v, want errEnded", err)
	}
	if got := types(f.events("s")); !slices.Equal(got, []string{"session.started(d)", "session.ended(d)"}) {
		t.Fatalf("events = %v", got)
	}
	err := s.Send(f.ctx, adapters.Message{Text: "hi"})
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest || e.Detail != "invalid request: session terminated" {
		t.Fatalf("send after terminate = %v", err)
	}
}

func TestAgentErrorEndRefusesMessages(t *testing.T) {
	f := newFixture(t)
	s := f.create("s")
	code := 3
	end := adapters.Event{Type: schema.EventSessionEnded, Synthetic: true, Data: schema.SessionEndedData{
		Reason: schema.EndError, TerminatedBy: schema.ByAgent, ExitCode: &code, Message: schema.Ptr("boom")}}
	if err := f.agent.emitter("s").Emit(f.ctx, end); err != nil {
		t.Fatal(err)
	}
	err := s.Send(f.ctx, adapters.Message{Text: "hi"})
	e, ok := apierr.As(err)
	if !ok || e.Kind != apierr.AgentProcessExited || e.Details["exitCode"] != 3 || e.Details["stderr"] != "boom" {
		t.Fatalf("send after agent error = %#v", err)
	}
	if info := s.Info(); !info.Ended || info.EndReason != schema.EndError || info.TerminatedBy != schema.ByAgent {
		t.Fatalf("info = %+v", info)
	}
}

func permission(id, action string) adapters.Event {
	return adapters.Event{Type: schema.EventPermissionRequested, Data: schema.PermissionEventData{
		PermissionID: id, Action: action, Status: schema.PermissionRequested,
		Metadata: schema.RawJSON(`{"toolName":"Bash ls"}`)}}
}

func TestPermissionReplies(t *testing.T) {
	f := newFixture(t)
	s := f.create("s")
	emit := f.agent.emitter("s")
	if err := emit.Emit(f.ctx, permission("p1", "Bash")); err != nil {
		t.Fatal(err)
	}
	// A failed forward keeps the request pending, so it can be retried.
	f.agent.replyErr = errors.New("agent gone")
	if err := s.ReplyPermission(f.ctx, "p1", adapters.ReplyAlways); err == nil {
		t.Fatal("reply succeeded although the agent refused it")
	}
	f.agent.replyErr = nil
	if err := s.ReplyPermission(f.ctx, "p1", adapters.ReplyAlways); err != nil {
		t.Fatal(err)
	}
	err := s.ReplyPermission(f.ctx, "p1", adapters.ReplyOnce)
	if e, ok := apierr.As(err); !ok || e.Detail != "invalid request: unknown permission id: p1" {
		t.Fatalf("second reply = %v", err)
	}
	// Same category later: answered automatically.
	if err := emit.Emit(f.ctx, permission("p2", "bash")); err != nil {
		t.Fatal(err)
	}
	want := []string{"session.started(d)", "permission.requested", "permission.resolved(d)", "permission.requested", "permission.resolved(d)"}
	evs := f.events("s")
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events = %v, want %v", got, want)
	}
	var last schema.PermissionEventData
	mustDecode(t, evs[4].Data, &last)
	if last.PermissionID != "p2" || last.Status != schema.PermissionAcceptForSession || string(last.Metadata) != `{"toolName":"Bash ls"}` {
		t.Fatalf("auto-approval = %+v", last)
	}
	if !slices.Equal(f.agent.replies, []adapters.PermissionReply{adapters.ReplyAlways, adapters.ReplyAlways}) {
		t.Fatalf("agent got %v", f.agent.replies)
	}
}

func TestCacheKeys(t *testing.T) {
	tests := []struct {
		action, meta string
		want         []string
	}{
		{"command_execution", `{"codexRequestKind":"commandExecution","command":"ls"}`,
			[]string{"command_execution", "command_execution", "commandExecution", "commandexecution"}},
		{"Bash", `null`, []string{"Bash", "bash"}},
		{"mcp:server tool", `{"toolName":"mcp__x"}`, []string{"mcp:server tool", "mcp", "mcp__x", "mcp__x"}},
		{"  ", `{"permission":"héllo"}`, []string{"héllo"}},
	}
	for _, tc := range tests {
		if got := cacheKeys(tc.action, json.RawMessage(tc.meta)); !slices.Equal(got, tc.want) {
			t.Errorf("cacheKeys(%q, %s) = %q, want %q", tc.action, tc.meta, got, tc.want)
		}
	}
}

func TestQuestions(t *testing.T) {
	f := newFixture(t)
	s := f.create("s")
	q := func(id string) adapters.Event {
		return adapters.Event{Type: schema.EventQuestionRequested, Data: schema.QuestionEventData{
			QuestionID: id, Prompt: "Color?", Options: []string{"Red", "Blue"}, Status: schema.QuestionRequested}}
	}
	if err := f.agent.emitter("s").Emit(f.ctx, q("q1"), q("q2")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplyQuestion(f.ctx, "q1", [][]string{{"Blue", "Red"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.RejectQuestion(f.ctx, "q2"); err != nil {
		t.Fatal(err)
	}
	if err := s.RejectQuestion(f.ctx, "q2"); err == nil {
		t.Fatal("rejecting an answered question succeeded")
	}
	evs := f.events("s")
	var answered, rejected schema.QuestionEventData
	mustDecode(t, evs[3].Data, &answered)
	mustDecode(t, evs[4].Data, &rejected)
	if answered.Status != schema.QuestionAnswered || *answered.Response != "Blue" || answered.Prompt != "Color?" {
		t.Errorf("answered = %+v", answered)
	}
	if rejected.Status != schema.QuestionRejected || rejected.Response != nil {
		t.Errorf("rejected = %+v", rejected)
	}
}

func TestRestartEndsRunningSessions(t *testing.T) {
	f := newFixture(t)
	f.create("running")
	done := f.create("done")
	if err := done.Terminate(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.log.Close(); err != nil {
		t.Fatal(err)
	}
	f.open()
	for _, info := range f.m.List() {
		if !info.Ended {
			t.Errorf("%s not ended after restart", info.SessionID)
		}
	}
	running, _ := f.m.Get("running")
	info := running.Info()
	if info.EndReason != schema.EndError || info.TerminatedBy != schema.ByDaemon || info.EndMessage == "" || info.EventCount != 2 {
		t.Fatalf("running session after restart: %+v", info)
	}
	if got := types(f.events("done")); len(got) != 2 {
		t.Fatalf("terminated session got more events at restart: %v", got)
	}
}

func TestShutdownEndsSessions(t *testing.T) {
	f := newFixture(t)
	f.create("a")
	f.create("b")
	f.m.Shutdown(f.ctx)
	for _, info := range f.m.List() {
		if !info.Ended || info.EndReason != schema.EndTerminated || info.EndMessage != "agentd shut down" {
			t.Errorf("after shutdown: %+v", info)
		}
	}
	if _, err := f.m.Create(f.ctx, "c", CreateRequest{Agent: "script"}); err == nil {
		t.Fatal("create after shutdown succeeded")
	}
}

type interruptibleSession struct {
	*scriptSession
	interrupts int
}

func (s *interruptibleSession) Interrupt(context.Context) error {
	s.interrupts++
	return nil
}

func TestInterrupt(t *testing.T) {
	f := newFixture(t)
	s := f.create("s")
	err := s.Interrupt(f.ctx)
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
		t.Fatalf("interrupt of an agent that cannot = %v", err)
	}
	in := &interruptibleSession{scriptSession: &scriptSession{a: f.agent}}
	s.mu.Lock()
	s.agent = in
	s.mu.Unlock()
	if err := s.Interrupt(f.ctx); err != nil || in.interrupts != 1 {
		t.Fatalf("interrupt = %v, %d calls", err, in.interrupts)
	}
	if err := s.Terminate(f.ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Interrupt(f.ctx); err == nil {
		t.Fatal("interrupt of a terminated session succeeded")
	}
}

// resumableAgent is a scriptAgent that can resume native sessions.
type resumableAgent struct {
	*scriptAgent
	resumed []adapters.StartRequest
	natives []string
}

func (a *resumableAgent) Resume(ctx context.Context, req adapters.StartRequest, native string, emit adapters.Emitter) (adapters.Session, error) {
	a.mu.Lock()
	a.resumed, a.natives = append(a.resumed, req), append(a.natives, native)
	a.mu.Unlock()
	return a.Start(ctx, req, emit)
}

func TestResume(t *testing.T) {
	f := newFixture(t)
	agent := &resumableAgent{scriptAgent: f.agent}
	m, err := New(f.ctx, f.log, []adapters.Agent{agent, renamed{newScriptAgent(), "other"}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := m.Create(f.ctx, "first", CreateRequest{Agent: "script", Directory: dir}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Create(f.ctx, "other-1", CreateRequest{Agent: "other"}); err != nil {
		t.Fatal(err)
	}
	refused := func(id, resume, agent, why string) {
		t.Helper()
		_, err := m.Create(f.ctx, id, CreateRequest{Agent: agent, Resume: resume})
		if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest || !strings.Contains(e.Detail, why) {
			t.Fatalf("resume %s as %s: %v, want an invalid request saying %q", resume, agent, err, why)
		}
	}
	refused("x", "nope", "script", "no session nope")
	refused("x", "first", "script", "still running")
	refused("x", "other-1", "script", "is a other session")

	first, _ := m.Get("first")
	if err := first.Terminate(f.ctx); err != nil {
		t.Fatal(err)
	}
	info, err := m.Create(f.ctx, "second", CreateRequest{Agent: "script", Resume: "first"})
	if err != nil {
		t.Fatal(err)
	}
	if info.ResumedFrom != "first" || info.Directory == nil || *info.Directory != dir ||
		len(agent.natives) != 1 || agent.natives[0] != "native-first" || agent.resumed[0].Directory != dir {
		t.Fatalf("resumed %+v; agent saw %q %+v", info, agent.natives, agent.resumed)
	}
	refused("third", "first", "script", "already resumed by running session second")

	other, _ := m.Get("other-1")
	if err := other.Terminate(f.ctx); err != nil {
		t.Fatal(err)
	}
	refused("x", "other-1", "other", "other cannot resume sessions")
	m.Shutdown(f.ctx)
}

// renamed gives an agent another id.
type renamed struct {
	*scriptAgent
	id string
}

func (r renamed) ID() string { return r.id }
