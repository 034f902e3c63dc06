package amp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/adaptertest"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

// waitLong bounds every wait: generous, so a loaded machine does not flake.
const waitLong = 60 * time.Second

// newCollector is an Emitter that lets a test wait for events.
func newCollector() *adaptertest.Collector { return adaptertest.NewCollector(waitLong) }

// assistantText lists the text of completed assistant messages.
func assistantText(evs []adapters.Event) []string {
	var out []string
	for _, ev := range evs {
		d, ok := ev.Data.(schema.ItemEventData)
		if ev.Type != schema.EventItemCompleted || !ok || d.Item.Kind != schema.KindMessage ||
			d.Item.Role == nil || *d.Item.Role != schema.RoleAssistant {
			continue
		}
		for _, p := range d.Item.Content {
			if p.Type == schema.PartText {
				out = append(out, p.Text)
			}
		}
	}
	return out
}

// fake is the stand-in amp (testdata/fake_amp.sh) of one test, with its log.
type fake struct {
	log string
	env []string
}

func newFake(t *testing.T, recording string, env ...string) *fake {
	t.Helper()
	rec, err := filepath.Abs(filepath.Join("testdata", recording))
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{log: filepath.Join(t.TempDir(), "amp.log")}
	f.env = append([]string{"AMP_API_KEY=test-key", "FAKE_AMP_LOG=" + f.log, "FAKE_AMP_RECORDING=" + rec}, env...)
	return f
}

func (f *fake) agent(t *testing.T) *Agent {
	t.Helper()
	bin, err := filepath.Abs("testdata/fake_amp.sh")
	if err != nil {
		t.Fatal(err)
	}
	return New(WithResolver(func(context.Context) (string, error) { return bin, nil }),
		WithEnv(f.env...), WithGrace(2*time.Second))
}

// entries returns the values of the log lines starting with "<key>: ".
func (f *fake) entries(t *testing.T, key string) []string {
	t.Helper()
	b, err := os.ReadFile(f.log)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), key+": "); ok {
			out = append(out, v)
		}
	}
	return out
}

func start(t *testing.T, a *Agent, req adapters.StartRequest) (*session, *adaptertest.Collector) {
	t.Helper()
	if req.Directory == "" {
		req.Directory = t.TempDir()
	}
	c := newCollector()
	s, err := a.Start(t.Context(), req, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	return s.(*session), c
}

func send(t *testing.T, s adapters.Session, text string) {
	t.Helper()
	if err := s.Send(t.Context(), adapters.Message{Text: text}); err != nil {
		t.Fatal(err)
	}
}

// alive reports whether a process runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

func current(s *session) *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}

func childPid(t *testing.T, f *fake) int {
	t.Helper()
	children := f.entries(t, "child")
	if len(children) != 1 {
		t.Fatalf("children %q", children)
	}
	pid, err := strconv.Atoi(children[0])
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestLifecycle: one process serves every turn: it is started with the
// documented flags in the session's directory, with the key, on the first
// message; each prompt is a JSON user line on its stdin; the turns'
// events arrive in order (a message sent during a turn waits for it); the
// thread id becomes the native session id; Stop takes the whole process
// group down and reports nothing.
func TestLifecycle(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to see processes")
	}
	f := newFake(t, "synthesized_multi_turn.jsonl", "FAKE_AMP_CHILD=1")
	dir := t.TempDir()
	s, c := start(t, f.agent(t), adapters.StartRequest{SessionID: "s", Directory: dir, PermissionMode: "bypass"})
	if current(s) != nil {
		t.Fatal("amp started before the first message")
	}
	send(t, s, "first")
	send(t, s, "second") // queued behind the first turn
	evs := c.WaitTurns(t, t.Context(), 2)
	if got := assistantText(evs); !slices.Equal(got, []string{"First answer.", "Second answer, in the same thread."}) {
		t.Errorf("answers %q", got)
	}
	var users []string
	for _, ev := range evs {
		if d, ok := ev.Data.(schema.ItemEventData); ok && ev.Type == schema.EventItemCompleted && *d.Item.Role == schema.RoleUser {
			users = append(users, d.Item.Content[0].Text)
		}
	}
	if !slices.Equal(users, []string{"first", "second"}) {
		t.Errorf("user items %q", users)
	}
	// The second turn starts only after the first ended.
	if i := slices.IndexFunc(evs, adaptertest.IsType(schema.EventTurnEnded)); adaptertest.Count(evs[:i], adaptertest.IsType(schema.EventTurnStarted)) != 1 {
		t.Errorf("a turn started inside the first one")
	}
	if got := s.NativeSessionID(); got != "T-1f8a5c3d-4e7b-4a29-b6d0-8c3e9f2a5d61" {
		t.Errorf("native session id %q", got)
	}
	argv := f.entries(t, "argv")
	if want := "-x --stream-json --stream-json-thinking --stream-json-input --no-archive-after-execute --dangerously-allow-all"; !slices.Equal(argv, []string{want}) {
		t.Errorf("argv %q, want one process with %q", argv, want)
	}
	if cwd := f.entries(t, "cwd"); len(cwd) != 1 || cwd[0] != dir {
		t.Errorf("cwd %q, want %s", cwd, dir)
	}
	if key := f.entries(t, "key"); len(key) != 1 || key[0] != "test-key" {
		t.Errorf("AMP_API_KEY %q", key)
	}
	for i, line := range f.entries(t, "stdin") {
		var in userMessage
		if err := json.Unmarshal([]byte(line), &in); err != nil || in.Type != "user" || in.Message.Role != "user" ||
			in.Message.Content != []string{"first", "second"}[i] {
			t.Errorf("stdin line %d: %s (%v)", i, line, err)
		}
	}
	child := childPid(t, f)
	pgid := current(s).proc.Pid()
	if !alive(child) || !alive(pgid) {
		t.Fatal("amp or its child is not running before Stop")
	}
	before := len(c.Events())
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if alive(child) || alive(pgid) {
		t.Errorf("left running after Stop: child %v, amp %v", alive(child), alive(pgid))
	}
	after := len(c.Events())
	if after != before {
		t.Errorf("Stop reported %d events", after-before)
	}
	if err := s.Send(t.Context(), adapters.Message{Text: "late"}); err == nil {
		t.Error("send after Stop accepted")
	}
}

// TestContinueThread: when amp exits 0 after a turn, the next message runs
// `amp threads continue <thread id>`, whether it was sent after the exit
// or queued during the turn (then written to the exiting process, which
// never read it, and written again to its successor).
func TestContinueThread(t *testing.T) {
	const thread = "T-1f8a5c3d-4e7b-4a29-b6d0-8c3e9f2a5d61"
	continued := "threads continue " + thread + " -x --stream-json --stream-json-thinking --stream-json-input"
	for _, queued := range []bool{false, true} {
		t.Run(fmt.Sprintf("queued=%v", queued), func(t *testing.T) {
			f := newFake(t, "synthesized_multi_turn.jsonl", "FAKE_AMP_ONE_TURN=1")
			s, c := start(t, f.agent(t), adapters.StartRequest{SessionID: "s"})
			send(t, s, "first")
			if !queued {
				c.WaitTurns(t, t.Context(), 1)
			}
			send(t, s, "second")
			evs := c.WaitTurns(t, t.Context(), 2)
			if got := assistantText(evs); !slices.Equal(got, []string{"First answer.", "Second answer, in the same thread."}) {
				t.Errorf("answers %q", got)
			}
			if n := adaptertest.Count(evs, adaptertest.IsType(schema.EventError)) + adaptertest.Count(evs, adaptertest.IsType(schema.EventSessionEnded)); n != 0 {
				t.Errorf("%d errors or ends", n)
			}
			argv := f.entries(t, "argv")
			if len(argv) != 2 || strings.Contains(argv[0], "threads") || argv[1] != continued {
				t.Errorf("argv %q", argv)
			}
			if users := adaptertest.Count(evs, func(ev adapters.Event) bool {
				d, ok := ev.Data.(schema.ItemEventData)
				return ok && ev.Type == schema.EventItemCompleted && *d.Item.Role == schema.RoleUser
			}); users != 2 {
				t.Errorf("%d user items: a prompt written again was recorded again", users)
			}
		})
	}
}

// TestInterrupt: interrupting a turn stops amp and its tools; the turn
// ends marked interrupted with what it had said, the session stays open,
// and the prompt queued behind it runs in a continued thread.
func TestInterrupt(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to see processes")
	}
	const thread = "T-1f8a5c3d-4e7b-4a29-b6d0-8c3e9f2a5d61"
	f := newFake(t, "synthesized_multi_turn.jsonl", "FAKE_AMP_HANG=1", "FAKE_AMP_CHILD=1")
	s, c := start(t, f.agent(t), adapters.StartRequest{SessionID: "s"})
	if err := s.Interrupt(t.Context()); err != nil {
		t.Fatalf("interrupt without a turn: %v", err)
	}
	send(t, s, "first")
	c.WaitFor(t, t.Context(), "the first answer", 1, func(ev adapters.Event) bool {
		d, ok := ev.Data.(schema.ItemEventData)
		return ok && !ev.Synthetic && *d.Item.Role == schema.RoleAssistant
	})
	send(t, s, "second") // queued behind the hanging turn
	child := childPid(t, f)
	if err := s.Interrupt(t.Context()); err != nil {
		t.Fatal(err)
	}
	if alive(child) {
		t.Error("amp's child outlived the interrupt")
	}
	evs := c.WaitTurns(t, t.Context(), 2)
	first := slices.IndexFunc(evs, adaptertest.IsType(schema.EventTurnEnded))
	if d := evs[first].Data.(schema.TurnEventData); !evs[first].Synthetic || !strings.Contains(string(d.Metadata), `"status":"interrupted"`) {
		t.Errorf("first turn.ended %+v %s", evs[first], d.Metadata)
	}
	if got := assistantText(evs[:first]); !slices.Equal(got, []string{"First answer."}) {
		t.Errorf("interrupted turn said %q", got)
	}
	if got := assistantText(evs[first:]); !slices.Equal(got, []string{"Second answer, in the same thread."}) {
		t.Errorf("second turn said %q", got)
	}
	if n := adaptertest.Count(evs, adaptertest.IsType(schema.EventError)) + adaptertest.Count(evs, adaptertest.IsType(schema.EventSessionEnded)); n != 0 {
		t.Errorf("%d errors or ends", n)
	}
	if argv := f.entries(t, "argv"); len(argv) != 2 || !strings.HasPrefix(argv[1], "threads continue "+thread+" ") {
		t.Errorf("argv %q", argv)
	}
}

// TestResume: a resumed session continues its thread from the first message.
func TestResume(t *testing.T) {
	const thread = "T-1f8a5c3d-4e7b-4a29-b6d0-8c3e9f2a5d61"
	f := newFake(t, "synthesized_multi_turn.jsonl")
	c := newCollector()
	s, err := f.agent(t).Resume(t.Context(), adapters.StartRequest{SessionID: "s", Directory: t.TempDir()}, thread, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(context.Background()) })
	if s.NativeSessionID() != thread {
		t.Errorf("native session id %q", s.NativeSessionID())
	}
	send(t, s, "again")
	c.WaitTurns(t, t.Context(), 1)
	if argv := f.entries(t, "argv"); len(argv) != 1 || !strings.HasPrefix(argv[0], "threads continue "+thread+" -x ") ||
		strings.Contains(argv[0], "--no-archive-after-execute") || strings.Contains(argv[0], "--dangerously-allow-all") {
		t.Errorf("argv %q", argv)
	}
}

// TestCrash: amp ending mid-turn, however it ends, ends the session with
// an error carrying its exit code and stderr; its tools die with it; later
// sends fail.
func TestCrash(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc to see processes")
	}
	for _, tc := range []struct{ how, msg string }{
		{"3", "amp exited unexpectedly with exit code 3"},
		{"0", "amp exited with exit code 0 before its turn ended"},
		{"kill", "amp was killed by signal (killed)"},
	} {
		t.Run(tc.how, func(t *testing.T) {
			f := newFake(t, "synthesized_text.jsonl", "FAKE_AMP_CRASH="+tc.how, "FAKE_AMP_CHILD=1")
			s, c := start(t, f.agent(t), adapters.StartRequest{SessionID: "s"})
			send(t, s, "go")
			evs := c.WaitFor(t, t.Context(), "session.ended", 1, adaptertest.IsType(schema.EventSessionEnded))
			n := len(evs)
			if evs[n-2].Type != schema.EventError || !evs[n-2].Synthetic {
				t.Fatalf("no error before the end: %+v", evs[n-2])
			}
			if d := evs[n-2].Data.(schema.ErrorData); *d.Code != "process_exit" || d.Message != tc.msg {
				t.Errorf("error %+v", d)
			}
			end := evs[n-1].Data.(schema.SessionEndedData)
			if end.Reason != schema.EndError || end.TerminatedBy != schema.ByAgent || *end.Message != tc.msg || end.Stderr == nil ||
				*end.Stderr.Head != "Error: lost the connection to the Amp server\nsecond line" || !evs[n-1].Synthetic {
				t.Errorf("session.ended %+v stderr %+v", end, end.Stderr)
			}
			if alive(childPid(t, f)) {
				t.Error("amp's child outlived it")
			}
			err := s.Send(t.Context(), adapters.Message{Text: "again"})
			if e, ok := apierr.As(err); !ok || e.Kind != apierr.AgentProcessExited {
				t.Errorf("send after the crash: %v", err)
			}
		})
	}
}

// TestStartChecks: a missing binary, key or directory fails at Start, and
// nothing can be answered that Amp never asked.
func TestStartChecks(t *testing.T) {
	t.Setenv("AMP_API_KEY", "")
	missing := New(WithResolver(func(context.Context) (string, error) { return "", adapters.ErrNotInstalled }))
	info := missing.Info(t.Context())
	if info.Installed || !info.Runnable || info.CredentialsAvailable || !info.Resumable || !info.NativeTurns ||
		info.DefaultModel != "amp-default" || len(info.Modes) != 1 || info.Modes[0].ID != "build" {
		t.Errorf("info %+v", info)
	}
	if m := info.PermissionModes; len(m) != 3 || m["bypass"] != "bypass" || m["acceptEdits"] != "default" || m["plan"] != "" {
		t.Errorf("permission modes %v", m)
	}
	if c := info.Capabilities; c.Permissions || c.Questions || c.PlanMode || c.StreamingDeltas || !c.ToolCalls || !c.Reasoning {
		t.Errorf("capabilities %+v", c)
	}
	if _, err := missing.Start(t.Context(), adapters.StartRequest{}, newCollector()); !errors.Is(err, adapters.ErrNotInstalled) {
		t.Errorf("start without a binary: %v", err)
	}
	f := newFake(t, "synthesized_text.jsonl")
	noKey := New(WithResolver(f.agent(t).resolve))
	_, err := noKey.Start(t.Context(), adapters.StartRequest{Directory: t.TempDir()}, newCollector())
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest || !strings.Contains(err.Error(), "AMP_API_KEY") ||
		fmt.Sprint(e.Details["missingCredentials"]) != "[AMP_API_KEY]" {
		t.Errorf("start without a key: %v", err)
	}
	_, err = f.agent(t).Start(t.Context(), adapters.StartRequest{Directory: filepath.Join(t.TempDir(), "nope")}, newCollector())
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
		t.Errorf("start in a missing directory: %v", err)
	}
	s, _ := start(t, f.agent(t), adapters.StartRequest{})
	if err := s.ReplyPermission(t.Context(), adapters.PermissionRequest{ID: "x"}, adapters.ReplyOnce); err == nil {
		t.Error("permission reply accepted")
	}
	if err := s.ReplyQuestion(t.Context(), adapters.QuestionRequest{ID: "x"}, nil); err == nil {
		t.Error("question reply accepted")
	}
	if err := s.RejectQuestion(t.Context(), adapters.QuestionRequest{ID: "x"}); err == nil {
		t.Error("question rejection accepted")
	}
	if err := s.Send(t.Context(), adapters.Message{Text: "  "}); err == nil {
		t.Error("empty message accepted")
	}
	if f.entries(t, "argv") != nil {
		t.Error("amp ran")
	}
}

// TestEnvironment: the agent gets a clean environment: the listed daemon
// variables, AMP_*, the overrides, and nothing else; the key is what
// CredentialsAvailable reports.
func TestEnvironment(t *testing.T) {
	t.Setenv("AMP_API_KEY", "secret")
	t.Setenv("AMP_URL", "https://amp.example/")
	t.Setenv("AGENTD_TOKEN", "daemon-secret")
	t.Setenv("ANTHROPIC_API_KEY", "not-for-amp")
	a := New(WithEnv("EXTRA=1"))
	env := a.environ()
	for _, want := range []string{"AMP_API_KEY=secret", "AMP_URL=https://amp.example/", "EXTRA=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("%s missing from the environment", want)
		}
	}
	for _, k := range []string{"AGENTD_TOKEN", "ANTHROPIC_API_KEY"} {
		if agentproc.Getenv(env, k) != "" {
			t.Errorf("%s passed to the agent", k)
		}
	}
	if agentproc.Getenv(env, "PATH") == "" || agentproc.Getenv(env, "HOME") == "" {
		t.Error("no PATH or HOME")
	}
	if !a.Info(t.Context()).CredentialsAvailable {
		t.Error("AMP_API_KEY not seen")
	}
	if New(WithEnv("AMP_API_KEY=")).Info(t.Context()).CredentialsAvailable {
		t.Error("an empty AMP_API_KEY counts as a credential")
	}
}
