package claude

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/eventlog"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*/events.golden.json")

// goldenEvent is one translated event as the golden files show it: the
// input line it came from (0 for the user item the session emits when it
// sends a prompt), and the event without its raw payload and native session
// id, which checkEvent verifies instead.
type goldenEvent struct {
	Line      int              `json:"line"`
	Type      schema.EventType `json:"type"`
	Synthetic bool             `json:"synthetic,omitempty"`
	Data      schema.Payload   `json:"data"`
}

// readLines returns the lines of a file, keeping their bytes as they are.
func readLines(t testing.TB, path string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// prompts returns the text of the user lines the capture wrote to stdin.
func prompts(t testing.TB, path string) []string {
	t.Helper()
	var out []string
	for _, l := range readLines(t, path) {
		var in struct {
			Type    string `json:"type"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		}
		if err := json.Unmarshal(l, &in); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if in.Type == "user" {
			out = append(out, in.Message.Content)
		}
	}
	return out
}

// replay translates a capture the way a session would see it: each prompt
// is sent (its user item emitted) before the output of its turn.
func replay(t testing.TB, dir string) []goldenEvent {
	t.Helper()
	users := prompts(t, filepath.Join(dir, "stdin.jsonl"))
	tr := NewTranslator()
	var out []goldenEvent
	add := func(n int, line []byte, evs []adapters.Event) {
		for _, ev := range evs {
			checkEvent(t, ev, line)
			out = append(out, goldenEvent{Line: n, Type: ev.Type, Synthetic: ev.Synthetic, Data: ev.Data})
		}
	}
	send := func() {
		if len(users) > 0 {
			add(0, nil, tr.UserMessage(users[0]))
			users = users[1:]
		}
	}
	send()
	for i, line := range readLines(t, filepath.Join(dir, "input.jsonl")) {
		add(i+1, line, tr.Line(line))
		if tr.takeEffects().turnEnded {
			send()
		}
	}
	return out
}

// checkEvent verifies what every event must satisfy: a payload that fits
// its type and encodes, and a raw payload that is the native line (as a
// JSON string when it is not JSON), valid JSON and UTF-8.
func checkEvent(t testing.TB, ev adapters.Event, line []byte) {
	t.Helper()
	checkPayload(t, ev)
	if line == nil {
		if ev.Raw != nil || !ev.Synthetic {
			t.Fatalf("%s made by the session must be synthetic without raw", ev.Type)
		}
		return
	}
	// Invalid UTF-8 is replaced, so that raw is always valid.
	clean := bytes.ToValidUTF8(bytes.TrimSpace(line), []byte("\uFFFD"))
	if ev.Raw == nil && len(clean) > rawShareLimit {
		return // a huge line's raw is on the line's last event only
	}
	if json.Valid(clean) {
		if !bytes.Equal(ev.Raw, clean) {
			t.Fatalf("%s: raw is not the line", ev.Type)
		}
	} else if ev.Raw[0] != '"' {
		t.Fatalf("%s: raw of a non-JSON line is not a string: %s", ev.Type, ev.Raw)
	}
}

// checkPayload verifies an event's payload and, for events from a line,
// that its raw payload is valid JSON and UTF-8.
func checkPayload(t testing.TB, ev adapters.Event) {
	t.Helper()
	if ev.Data == nil {
		t.Fatalf("%s without data", ev.Type)
	}
	if err := schema.PayloadMatches(ev.Type, ev.Data); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(ev.Data)
	if err != nil {
		t.Fatalf("%s: encode data: %v", ev.Type, err)
	}
	if !utf8.Valid(data) {
		t.Fatalf("%s: data is not UTF-8: %q", ev.Type, data)
	}
	if ev.Synthetic || ev.Raw == nil { // checkEvent says when raw may be missing
		return
	}
	if !json.Valid(ev.Raw) || !utf8.Valid(ev.Raw) {
		t.Fatalf("%s: raw is not valid JSON/UTF-8: %q", ev.Type, ev.Raw)
	}
}

func TestTranslateGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.jsonl")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got, err := json.MarshalIndent(replay(t, dir), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join(dir, "events.golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./adapters/claude -run TestTranslateGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("events differ from %s (rerun with -update and review the diff):\n%s", path, firstDiff(string(want), string(got)))
			}
		})
	}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// TestNativeSessionID: every event after the first line with a session id
// carries it, and the user items sent before it carry none.
func TestNativeSessionID(t *testing.T) {
	tr := NewTranslator()
	if evs := tr.UserMessage("hi"); evs[0].NativeSessionID != "" {
		t.Fatalf("user item before init: %q", evs[0].NativeSessionID)
	}
	for _, line := range readLines(t, "testdata/text/input.jsonl") {
		for _, ev := range tr.Line(line) {
			if ev.NativeSessionID != "f52c23e1-105f-42db-a41f-3a38d76c35b9" {
				t.Fatalf("%s: native session id %q", ev.Type, ev.NativeSessionID)
			}
		}
	}
	if tr.NativeSessionID() != "f52c23e1-105f-42db-a41f-3a38d76c35b9" {
		t.Fatal(tr.NativeSessionID())
	}
}

// TestTruncatedLine: a cut line is reported, not parsed, and the next line
// translates normally.
func TestTruncatedLine(t *testing.T) {
	tr := NewTranslator()
	long := append([]byte(`{"type":"user","message":{"content":"`), bytes.Repeat([]byte("\xff"), 3000)...)
	evs := tr.Truncated(long, 2048)
	if len(evs) != 1 || evs[0].Type != schema.EventAgentUnparsed {
		t.Fatalf("%+v", evs)
	}
	checkPayload(t, evs[0])
	if evs[0].Raw[0] != '"' {
		t.Errorf("raw of a cut line: %s", evs[0].Raw)
	}
	if !strings.Contains(evs[0].Data.(schema.AgentUnparsedData).Error, "2048") {
		t.Errorf("error does not name the limit: %+v", evs[0].Data)
	}
	if len(evs[0].Raw) > 4*1024 {
		t.Errorf("raw of a cut line keeps %d bytes", len(evs[0].Raw))
	}
	if evs := tr.Line([]byte(`{"type":"keep_alive"}`)); len(evs) != 0 {
		t.Errorf("keep_alive: %+v", evs)
	}
}

// TestPending: requests are kept until answered, the right one per id.
func TestPending(t *testing.T) {
	tr := NewTranslator()
	for _, line := range readLines(t, "testdata/edge_cases/input.jsonl") {
		tr.Line(line)
	}
	q, ok := tr.pendingRequest("req-q")
	if !ok || q.kind != pendingQuestion || len(q.questions) != 2 || q.questions[1] != "Pick toppings?" {
		t.Fatalf("question: %+v %v", q, ok)
	}
	if _, ok := tr.pendingRequest("req-p"); ok {
		t.Error("a cancelled request is still pending")
	}
	fx := tr.takeEffects()
	if len(fx.replies) != 1 || !bytes.Contains(fx.replies[0], []byte(`"request_id":"req-hook"`)) ||
		!bytes.Contains(fx.replies[0], []byte(`"subtype":"error"`)) {
		t.Errorf("unsupported control request not answered: %q", fx.replies)
	}
	if len(fx.acks) != 1 || fx.acks[0].id != "agentd_interrupt_1" || fx.acks[0].err == nil {
		t.Errorf("acks: %+v", fx.acks)
	}
}

func BenchmarkTranslateDelta(b *testing.B) {
	line := []byte(`{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello from the "}},"session_id":"f52c23e1-105f-42db-a41f-3a38d76c35b9","parent_tool_use_id":null,"uuid":"86164930-2ead-4386-820d-08574c40f79d","api_message_id":"msg_fake_0005"}`)
	tr := NewTranslator()
	tr.Line([]byte(`{"type":"stream_event","event":{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},"session_id":"s","api_message_id":"msg_fake_0005"}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if len(tr.Line(line)) != 1 {
			b.Fatal("no delta")
		}
	}
}

// BenchmarkBaselineDecode is the floor BenchmarkTranslateDelta compares
// with: decoding only the type of the same line.
func BenchmarkBaselineDecode(b *testing.B) {
	line := []byte(`{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello from the "}},"session_id":"f52c23e1-105f-42db-a41f-3a38d76c35b9","parent_tool_use_id":null,"uuid":"86164930-2ead-4386-820d-08574c40f79d","api_message_id":"msg_fake_0005"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		var v struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(line, &v) != nil {
			b.Fatal("decode")
		}
	}
}

// FuzzTranslate feeds arbitrary input, line by line, to one translator: it
// must never panic, and every event must be valid.
func FuzzTranslate(f *testing.F) {
	dirs, _ := filepath.Glob("testdata/*/input.jsonl")
	for _, in := range dirs {
		for _, line := range readLines(f, in) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := NewTranslator()
		tr.UserMessage(string(data))
		for _, line := range bytes.Split(data, []byte("\n")) {
			for _, ev := range tr.Line(line) {
				checkEvent(t, ev, line)
			}
			tr.takeEffects()
		}
		for _, ev := range tr.Truncated(data, 10) {
			checkPayload(t, ev)
		}
	})
}

// stubAgent hands the test the engine's emitter for each session.
type stubAgent struct {
	mu    sync.Mutex
	emits map[string]adapters.Emitter
}

func (a *stubAgent) ID() string { return "claude" }
func (a *stubAgent) Info(ctx context.Context) adapters.Info {
	info := New(WithResolver(func(context.Context) (string, error) { return "", adapters.ErrNotInstalled })).Info(ctx)
	info.Installed = true
	return info
}
func (a *stubAgent) Start(_ context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.emits[req.SessionID] = emit
	return stubSession{}, nil
}

type stubSession struct{}

func (stubSession) NativeSessionID() string                                        { return "" }
func (stubSession) Send(context.Context, adapters.Message) error                   { return nil }
func (stubSession) Stop(context.Context) error                                     { return nil }
func (stubSession) RejectQuestion(context.Context, adapters.QuestionRequest) error { return nil }
func (stubSession) ReplyQuestion(context.Context, adapters.QuestionRequest, [][]string) error {
	return nil
}
func (stubSession) ReplyPermission(context.Context, adapters.PermissionRequest, adapters.PermissionReply) error {
	return nil
}

// TestCapturesThroughEngine records every capture's translation through
// the real engine: the engine accepts every batch, and the stored stream
// is well formed (items start before their deltas and completion, complete
// once, and carry itm_ ids; turns end).
func TestCapturesThroughEngine(t *testing.T) {
	ctx := t.Context()
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	stub := &stubAgent{emits: map[string]adapters.Emitter{}}
	m, err := engine.New(ctx, log, []adapters.Agent{stub})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown(ctx)
	dirs, _ := filepath.Glob("testdata/*/input.jsonl")
	for _, in := range dirs {
		dir := filepath.Dir(in)
		id := filepath.Base(dir)
		t.Run(id, func(t *testing.T) {
			if _, err := m.Create(ctx, id, engine.CreateRequest{Agent: "claude"}); err != nil {
				t.Fatal(err)
			}
			emit := stub.emits[id]
			users := prompts(t, filepath.Join(dir, "stdin.jsonl"))
			tr := NewTranslator()
			turns := 0
			send := func() {
				if len(users) > 0 {
					if err := emit.Emit(ctx, tr.UserMessage(users[0])...); err != nil {
						t.Fatal(err)
					}
					users = users[1:]
					turns++
				}
			}
			send()
			for i, line := range readLines(t, in) {
				if evs := tr.Line(line); len(evs) > 0 {
					if err := emit.Emit(ctx, evs...); err != nil {
						t.Fatalf("line %d: %v", i+1, err)
					}
				}
				if tr.takeEffects().turnEnded {
					send()
				}
			}
			recs, err := log.Read(ctx, id, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			evs := make([]event, len(recs))
			ended := 0
			for i, r := range recs {
				evs[i] = decode(t, r)
				if evs[i].Type == schema.EventTurnEnded {
					ended++
				}
			}
			checkItemOrder(t, evs)
			if ended != turns {
				t.Errorf("%d turns ended of %d", ended, turns)
			}
		})
	}
}

// TestHugeLineRawOnce: a huge line yielding several events is kept as raw
// once, on its last event.
func TestHugeLineRawOnce(t *testing.T) {
	big := strings.Repeat("x", rawShareLimit)
	line, _ := json.Marshal(map[string]any{"type": "user", "session_id": "s", "message": map[string]any{"role": "user",
		"content": []any{
			map[string]any{"type": "tool_result", "tool_use_id": "a", "content": big},
			map[string]any{"type": "tool_result", "tool_use_id": "b", "content": "small"},
		}}})
	evs := NewTranslator().Line(line)
	if len(evs) != 4 {
		t.Fatalf("%d events", len(evs))
	}
	for i, ev := range evs {
		checkEvent(t, ev, line)
		if (ev.Raw != nil) != (i == len(evs)-1) {
			t.Errorf("event %d raw %d bytes", i, len(ev.Raw))
		}
	}
}

// Each model call's usage is an effect as soon as its message_delta comes
// (message_start's counts completed by it), and the calls add up to the
// turn's usage in the result: tool_bash_allow makes two calls.
func TestCallUsageEffects(t *testing.T) {
	tr := NewTranslator()
	var calls []schema.Usage
	var turn *schema.Usage
	for _, line := range readLines(t, filepath.Join("testdata", "tool_bash_allow", "input.jsonl")) {
		for _, ev := range tr.Line(line) {
			if td, ok := ev.Data.(schema.TurnEventData); ok && ev.Type == schema.EventTurnEnded {
				turn = td.Usage
			}
		}
		calls = append(calls, tr.takeEffects().calls...)
	}
	one := schema.Usage{InputTokens: 120, OutputTokens: 25, CacheReadTokens: 30, TotalTokens: 175, Source: schema.UsageFromAgent}
	if len(calls) != 2 || calls[0] != one || calls[1] != one {
		t.Fatalf("calls = %+v, want two of %+v", calls, one)
	}
	if sum := calls[0].Plus(calls[1]); turn == nil || turn.TotalTokens != sum.TotalTokens || turn.InputTokens != sum.InputTokens {
		t.Errorf("turn usage %+v is not the calls' sum %+v", turn, sum)
	}
}
