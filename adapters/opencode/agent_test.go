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
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	"github.com/agentd-dev/agentd/schema"
)

// wait is the deadline of every wait on the real binary: generous, for a
// loaded machine.
const wait = 3 * time.Minute

// opencodeBin finds the real binary or skips the test.
func opencodeBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real-agent test: skipped under -short")
	}
	bin, err := DefaultResolver(t.Context())
	if err != nil {
		t.Skipf("real-agent test: opencode not found (%v); run .ci/agents.sh or set AGENTD_OPENCODE_BIN", err)
	}
	return bin
}

// recorder is the engine's side of a session: it keeps every event and
// wakes waiters.
type recorder struct {
	mu     sync.Mutex
	events []adapters.Event
	wake   chan struct{}
}

func newRecorder() *recorder { return &recorder{wake: make(chan struct{})} }

func (r *recorder) Emit(_ context.Context, evs ...adapters.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, evs...)
	close(r.wake)
	r.wake = make(chan struct{})
	return nil
}

func (r *recorder) snapshot() ([]adapters.Event, chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]adapters.Event(nil), r.events...), r.wake
}

// waitFor waits until n events satisfy pred, and returns all events so far.
func (r *recorder) waitFor(t *testing.T, what string, n int, pred func(adapters.Event) bool) []adapters.Event {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		evs, wake := r.snapshot()
		got := 0
		for _, ev := range evs {
			if pred(ev) {
				got++
			}
		}
		if got >= n {
			return evs
		}
		select {
		case <-wake:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; events:\n%s", what, skeleton(evs))
		}
	}
}

func isType(typ schema.EventType) func(adapters.Event) bool {
	return func(ev adapters.Event) bool { return ev.Type == typ }
}

func (r *recorder) turns(t *testing.T, n int) []adapters.Event {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%d turn.ended", n), n, isType(schema.EventTurnEnded))
}

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

func startSession(t *testing.T, a *Agent, mode string) (adapters.Session, *recorder, string) {
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
	tmpDirs   = regexp.MustCompile(`/tmp/[^\s"']*`)
)

// skeleton renders a universal stream without what varies between runs
// (ids, paths, timings): one line per event, consecutive deltas of an item
// joined.
func skeleton(evs []adapters.Event) string {
	var b strings.Builder
	for i := 0; i < len(evs); i++ {
		ev := evs[i]
		line := string(ev.Type)
		switch d := ev.Data.(type) {
		case schema.ItemEventData:
			it := d.Item
			line += fmt.Sprintf(" %s/%s %s", it.Kind, *it.Role, it.Status)
			for _, p := range it.Content {
				line += " " + partText(p)
			}
		case schema.ItemDeltaData:
			text := d.Delta
			for i+1 < len(evs) && evs[i+1].Type == schema.EventItemDelta &&
				*evs[i+1].Data.(schema.ItemDeltaData).NativeItemID == *d.NativeItemID {
				i++
				text += evs[i].Data.(schema.ItemDeltaData).Delta
			}
			line += fmt.Sprintf(" %q", text)
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
		t.Errorf("stream differs from %s (rerun with -update and review):\n%s", path, firstDiff(string(want), got))
	}
}

func TestRealText(t *testing.T) {
	a := sharedAgent(t)
	t.Logf("opencode serve ready in %v", shared.start)
	s, rec, _ := startSession(t, a, "")
	send(t, s, "SCN:text Say hello.")
	evs := rec.turns(t, 1)
	checkGolden(t, "text", evs)
}
