package codex

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
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
// input line it came from, and the event without its raw payload and
// native session id, which checkEvent verifies instead.
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

// answered returns the ids of the server requests a capture's driver
// answered (its stdin.jsonl, when there is one).
func answered(t testing.TB, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	path := filepath.Join(dir, "stdin.jsonl")
	if _, err := os.Stat(path); err != nil {
		return out
	}
	for _, l := range readLines(t, path) {
		var m envelope
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if m.Method == "" && m.Result != nil {
			out[requestKey(m.ID)] = true
		}
	}
	return out
}

// replay translates a capture line by line, as a session reads it; the
// requests the driver answered are answered as they arrive.
func replay(t testing.TB, path string) []goldenEvent {
	t.Helper()
	tr := NewTranslator()
	replied := answered(t, filepath.Dir(path))
	var out []goldenEvent
	for i, line := range readLines(t, path) {
		for _, ev := range tr.Line(line) {
			checkEvent(t, ev, line)
			out = append(out, goldenEvent{Line: i + 1, Type: ev.Type, Synthetic: ev.Synthetic, Data: ev.Data})
			answer(tr, ev, replied)
		}
		tr.takeEffects()
	}
	return out
}

// answer takes a request the driver answered out of the pending set, as
// the session does when it writes the answer.
func answer(tr *Translator, ev adapters.Event, replied map[string]bool) {
	var id string
	switch d := ev.Data.(type) {
	case schema.PermissionEventData:
		id = d.PermissionID
	case schema.QuestionEventData:
		id = d.QuestionID
	}
	if id != "" && replied[id] {
		tr.resolve(id)
	}
}

// checkEvent verifies what every event must satisfy: a payload that fits
// its type and encodes, and a raw payload that is the native line (as a
// JSON string when it is not JSON), valid JSON and UTF-8.
func checkEvent(t testing.TB, ev adapters.Event, line []byte) {
	t.Helper()
	checkPayload(t, ev)
	clean := bytes.ToValidUTF8(bytes.TrimSpace(line), []byte("\uFFFD"))
	if ev.Raw == nil && len(clean) > rawShareLimit {
		return // a huge line's raw is on the line's last event only
	}
	if json.Valid(clean) {
		if !bytes.Equal(ev.Raw, clean) {
			t.Fatalf("%s: raw is not the line", ev.Type)
		}
	} else if len(ev.Raw) == 0 || ev.Raw[0] != '"' {
		t.Fatalf("%s: raw of a non-JSON line is not a string: %s", ev.Type, ev.Raw)
	}
}

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
	if ev.Raw != nil && (!json.Valid(ev.Raw) || !utf8.Valid(ev.Raw)) {
		t.Fatalf("%s: raw is not valid JSON/UTF-8: %q", ev.Type, ev.Raw)
	}
}

func TestTranslateGolden(t *testing.T) {
	ins, err := filepath.Glob("testdata/*/input.jsonl")
	if err != nil || len(ins) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range ins {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got, err := json.MarshalIndent(replay(t, in), "", "  ")
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
				t.Fatalf("%v (run go test ./adapters/codex -run TestTranslateGolden -update)", err)
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
			return "line " + strconv.Itoa(i+1) + ":\n- " + a + "\n+ " + b
		}
	}
	return ""
}

// TestEffects: responses go to the session, unsupported server requests
// are answered with an error, and the requests the user answers stay
// pending until then, except one Codex withdrew.
func TestEffects(t *testing.T) {
	tr := NewTranslator()
	var fx effects
	ended := 0
	for _, line := range readLines(t, "testdata/edge_cases/input.jsonl") {
		tr.Line(line)
		f := tr.takeEffects()
		fx.responses = append(fx.responses, f.responses...)
		fx.replies = append(fx.replies, f.replies...)
		if f.turnEnded {
			ended++
		}
	}
	if len(fx.responses) != 2 || fx.responses[0].id != "2" || fx.responses[1].err == nil ||
		fx.responses[1].err.Message != "turn already running" {
		t.Errorf("responses %+v", fx.responses)
	}
	if len(fx.replies) != 1 || !bytes.Contains(fx.replies[0], []byte(`"id":9`)) || !bytes.Contains(fx.replies[0], []byte(`"error"`)) {
		t.Errorf("replies %q", fx.replies)
	}
	if ended != 1 {
		t.Errorf("%d turns ended", ended)
	}
	if _, ok := tr.pendingRequest("7"); ok {
		t.Error("a withdrawn request is still pending")
	}
	q, ok := tr.pendingRequest("8")
	if !ok || q.kind != pendingQuestion || strings.Join(q.questionIDs, ",") != "size,name" || string(q.rpcID) != "8" {
		t.Errorf("question %+v", q)
	}
	if p, ok := tr.pendingRequest("10"); !ok || p.kind != pendingPermission || p.action != "fileChange" {
		t.Errorf("file change %+v", p)
	}
	if tr.NativeSessionID() != "th-edge" {
		t.Errorf("thread %q", tr.NativeSessionID())
	}
}

// TestHugeLineRawOnce: a huge line yielding several events keeps its raw
// on the last of them only.
func TestHugeLineRawOnce(t *testing.T) {
	out := strings.Repeat("x", rawShareLimit)
	line, _ := json.Marshal(map[string]any{"method": "item/completed", "params": map[string]any{"item": map[string]any{
		"type": "commandExecution", "id": "c", "command": "yes", "status": "completed", "aggregatedOutput": out, "exitCode": 0}}})
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

// TestTruncatedLine: a cut line is reported with its start, bounded.
func TestTruncatedLine(t *testing.T) {
	tr := NewTranslator()
	evs := tr.Truncated(bytes.Repeat([]byte("\xff{"), 3000), 2048)
	if len(evs) != 1 || evs[0].Type != schema.EventAgentUnparsed || len(evs[0].Raw) > 4096 || evs[0].Raw[0] != '"' {
		t.Fatalf("%+v", evs)
	}
	checkPayload(t, evs[0])
	if !strings.Contains(evs[0].Data.(schema.AgentUnparsedData).Error, "2048") {
		t.Errorf("error does not name the limit: %+v", evs[0].Data)
	}
}

// deltaLine and its baseline are the benchmarks' input: the most frequent
// Codex message, a text delta, as captured.
var deltaLine = []byte(`{"method":"item/agentMessage/delta","params":{"threadId":"01a206ee-505f-7491-96a9-1161fcf5ec30","turnId":"01a206ee-5087-7052-9218-858509a469d1","itemId":"msg_fake_0032","delta":"Hello from the "},"emittedAtMs":1795412611324}`)

func BenchmarkTranslate(b *testing.B) {
	tr := NewTranslator()
	tr.Line([]byte(`{"method":"item/started","params":{"item":{"type":"agentMessage","id":"msg_fake_0032","text":""}}}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(deltaLine)))
	for b.Loop() {
		if len(tr.Line(deltaLine)) != 1 {
			b.Fatal("no delta")
		}
		if tr.open["msg_fake_0032"].buf.Len() > 1<<20 {
			tr.open["msg_fake_0032"].buf.Reset()
		}
	}
}

// BenchmarkBaselineUnmarshal is the floor BenchmarkTranslate is compared
// with: a plain json.Unmarshal of the same line into a generic value.
func BenchmarkBaselineUnmarshal(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(deltaLine)))
	for b.Loop() {
		var v map[string]any
		if json.Unmarshal(deltaLine, &v) != nil {
			b.Fatal("decode")
		}
	}
}

// FuzzTranslate feeds arbitrary input, line by line, to one translator: it
// must never panic, and every event must be valid.
func FuzzTranslate(f *testing.F) {
	ins, _ := filepath.Glob("testdata/*/input.jsonl")
	for _, in := range ins {
		for _, line := range readLines(f, in) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := NewTranslator()
		for _, line := range bytes.Split(data, []byte("\n")) {
			for _, ev := range tr.Line(line) {
				checkEvent(t, ev, line)
			}
			tr.takeEffects()
		}
		for _, ev := range tr.closeOpen() {
			checkPayload(t, ev)
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

func (a *stubAgent) ID() string { return "codex" }
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
// once, and carry itm_ ids; every turn that started ends).
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
	ins, _ := filepath.Glob("testdata/*/input.jsonl")
	for _, in := range ins {
		id := filepath.Base(filepath.Dir(in))
		t.Run(id, func(t *testing.T) {
			if _, err := m.Create(ctx, id, engine.CreateRequest{Agent: "codex"}); err != nil {
				t.Fatal(err)
			}
			emit := stub.emits[id]
			tr := NewTranslator()
			replied := answered(t, filepath.Dir(in))
			for i, line := range readLines(t, in) {
				evs := tr.Line(line)
				for _, ev := range evs {
					answer(tr, ev, replied)
				}
				if len(evs) > 0 {
					if err := emit.Emit(ctx, evs...); err != nil {
						t.Fatalf("line %d: %v", i+1, err)
					}
				}
				tr.takeEffects()
			}
			recs, err := log.Read(ctx, id, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			started, ended := 0, 0
			evs := make([]event, len(recs))
			for i, r := range recs {
				evs[i] = decode(t, r)
				switch evs[i].Type {
				case schema.EventTurnStarted:
					started++
				case schema.EventTurnEnded:
					ended++
				}
			}
			checkItemOrder(t, evs)
			if started == 0 || ended != started {
				t.Errorf("%d turns ended of %d", ended, started)
			}
		})
	}
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

func decode(t testing.TB, r eventlog.Record) event {
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

// checkItemOrder: every delta and completion follows its item's start, and
// no item completes twice.
func checkItemOrder(t testing.TB, evs []event) {
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

// TestAcceptEdits: in the acceptEdits mode a file change is approved for
// the session without a permission event; commands are still asked for.
func TestAcceptEdits(t *testing.T) {
	tr := NewTranslator()
	tr.acceptEdits = true
	if evs := tr.Line([]byte(`{"method":"item/fileChange/requestApproval","id":3,"params":{"itemId":"c"}}`)); len(evs) != 0 {
		t.Errorf("events %+v", evs)
	}
	fx := tr.takeEffects()
	if len(fx.replies) != 1 || string(fx.replies[0]) != `{"id":3,"result":{"decision":"acceptForSession"}}` {
		t.Errorf("replies %q", fx.replies)
	}
	evs := tr.Line([]byte(`{"method":"item/commandExecution/requestApproval","id":4,"params":{"itemId":"d","command":"ls"}}`))
	if len(evs) != 1 || evs[0].Type != schema.EventPermissionRequested {
		t.Errorf("command approval %+v", evs)
	}
}
