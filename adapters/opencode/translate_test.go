package opencode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*/events.golden.json")

// goldenEvent is one translated event as the golden files show it: the
// SSE event it came from (0 for the events the session makes when it sends
// a prompt), and the event without raw and native session id, which
// checkEvent verifies instead.
type goldenEvent struct {
	Event     int              `json:"event"`
	Type      schema.EventType `json:"type"`
	Synthetic bool             `json:"synthetic,omitempty"`
	Data      schema.Payload   `json:"data"`
}

// sseEvents returns the data of every event of an SSE capture.
func sseEvents(t testing.TB, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	r := newSSEReader(f, 64<<20)
	for {
		data, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bytes.Clone(data))
	}
}

var promptCall = regexp.MustCompile(`^### POST /session/(ses_[A-Za-z0-9]+)/prompt_async$`)

// capturedPrompts returns the session the capture prompted and the texts of
// its prompts, from the driver's HTTP log.
func capturedPrompts(t testing.TB, path string) (string, []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var session string
	var texts []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	prompt := false
	for sc.Scan() {
		line := sc.Text()
		if m := promptCall.FindStringSubmatch(line); m != nil {
			session, prompt = m[1], true
			continue
		}
		if body, ok := strings.CutPrefix(line, "request: "); ok && prompt {
			var req struct {
				Parts []struct {
					Text string `json:"text"`
				} `json:"parts"`
			}
			if err := json.Unmarshal([]byte(body), &req); err != nil || len(req.Parts) == 0 {
				t.Fatalf("%s: prompt body %q: %v", path, body, err)
			}
			texts = append(texts, req.Parts[0].Text)
			prompt = false
		}
	}
	if session == "" {
		t.Fatalf("%s: no prompt", path)
	}
	return session, texts
}

// replay translates a capture the way a session sees it: each prompt is
// sent (its turn opened) before the events of its turn, the next one as
// soon as a turn ends.
func replay(t testing.TB, dir string) []goldenEvent {
	t.Helper()
	session, prompts := capturedPrompts(t, filepath.Join(dir, "calls.http.txt"))
	tr := NewTranslator(session)
	var out []goldenEvent
	add := func(n int, data []byte, evs []adapters.Event) {
		for _, ev := range evs {
			checkEvent(t, ev, data, session)
			out = append(out, goldenEvent{Event: n, Type: ev.Type, Synthetic: ev.Synthetic, Data: ev.Data})
		}
	}
	send := func() {
		if len(prompts) > 0 {
			add(0, nil, tr.UserMessage(adapters.Message{Text: prompts[0]}))
			prompts = prompts[1:]
		}
	}
	send()
	for i, data := range sseEvents(t, filepath.Join(dir, "input.sse")) {
		add(i+1, data, tr.Event(data))
		if tr.takeEffects().turnEnded {
			send()
		}
	}
	if len(prompts) > 0 {
		t.Fatalf("%d prompts never sent: a turn did not end", len(prompts))
	}
	return out
}

// checkEvent verifies what every event must satisfy: a payload that fits
// its type and encodes, the native session id, and a raw payload that is
// the native event (as a JSON string when it is not JSON).
func checkEvent(t testing.TB, ev adapters.Event, data []byte, session string) {
	t.Helper()
	checkPayload(t, ev)
	if ev.NativeSessionID != session {
		t.Fatalf("%s: native session id %q, want %q", ev.Type, ev.NativeSessionID, session)
	}
	if data == nil {
		if ev.Raw != nil || !ev.Synthetic {
			t.Fatalf("%s made by the session must be synthetic without raw", ev.Type)
		}
		return
	}
	if ev.Raw == nil {
		t.Fatalf("%s without raw", ev.Type)
	}
	clean := bytes.ToValidUTF8(bytes.TrimSpace(data), []byte("\uFFFD"))
	if json.Valid(clean) {
		if !bytes.Contains(clean, ev.Raw) {
			t.Fatalf("%s: raw is not the event: %s", ev.Type, ev.Raw)
		}
	} else if ev.Raw[0] != '"' {
		t.Fatalf("%s: raw of a non-JSON event is not a string: %s", ev.Type, ev.Raw)
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

// checkStream verifies the shape of a translated stream: every item starts
// before its deltas and its completion and completes once; every turn that
// starts ends, and never two at once.
func checkStream(t testing.TB, evs []goldenEvent) {
	t.Helper()
	state := map[string]string{}
	open := false
	for i, ev := range evs {
		switch d := ev.Data.(type) {
		case schema.ItemEventData:
			id := ""
			if d.Item.NativeItemID != nil {
				id = *d.Item.NativeItemID
			}
			switch ev.Type {
			case schema.EventItemStarted:
				if state[id] != "" {
					t.Fatalf("event %d: item %s started twice", i, id)
				}
				state[id] = "started"
			case schema.EventItemCompleted:
				if state[id] != "started" {
					t.Fatalf("event %d: item %s completed while %q", i, id, state[id])
				}
				state[id] = "completed"
			}
		case schema.ItemDeltaData:
			if state[*d.NativeItemID] != "started" {
				t.Fatalf("event %d: delta on item %s while %q", i, *d.NativeItemID, state[*d.NativeItemID])
			}
		case schema.TurnEventData:
			if (ev.Type == schema.EventTurnStarted) == open {
				t.Fatalf("event %d: %s while a turn is open=%v", i, ev.Type, open)
			}
			open = ev.Type == schema.EventTurnStarted
		}
	}
	for id, s := range state {
		if s != "completed" {
			t.Errorf("item %s never completed", id)
		}
	}
	if open {
		t.Error("a turn never ended")
	}
}

func TestTranslateGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/input.sse")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, in := range dirs {
		dir := filepath.Dir(in)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			evs := replay(t, dir)
			checkStream(t, evs)
			got, err := json.MarshalIndent(evs, "", "  ")
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
				t.Fatalf("%v (run go test ./adapters/opencode -run TestTranslateGolden -update)", err)
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

// TestTranslateCases covers what the captures do not: each case is a
// sequence of payloads and the event types they must yield, in order.
func TestTranslateCases(t *testing.T) {
	const s = "ses_1"
	cases := []struct {
		name   string
		events []string
		want   []schema.EventType
	}{
		{"other session and global events", []string{
			`{"type":"session.status","properties":{"sessionID":"ses_2","status":{"type":"busy"}}}`,
			`{"type":"server.connected","properties":{}}`,
			`{"type":"plugin.added","properties":{"name":"x"}}`,
		}, nil},
		{"not JSON", []string{`{"type":`}, []schema.EventType{schema.EventAgentUnparsed}},
		{"wrong shape", []string{`{"type":"session.idle","properties":[]}`}, []schema.EventType{schema.EventAgentUnparsed}},
		{"unknown type of the session", []string{`{"type":"session.weird","properties":{"sessionID":"ses_1"}}`},
			[]schema.EventType{schema.EventAgentUnparsed}},
		{"global envelope", []string{`{"directory":"/w","payload":{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}}`},
			[]schema.EventType{schema.EventTurnStarted}},
		{"idle before the turn ran is stale", []string{`{"type":"session.idle","properties":{"sessionID":"ses_1"}}`}, nil},
		{"message id only in info", []string{
			`{"type":"message.updated","properties":{"info":{"id":"msg_1","role":"assistant","sessionID":"ses_1","time":{"created":1}}}}`,
			`{"type":"session.idle","properties":{"sessionID":"ses_1"}}`,
		}, []schema.EventType{schema.EventTurnStarted, schema.EventItemStarted, schema.EventItemCompleted, schema.EventTurnEnded}},
		{"final text without deltas", []string{
			`{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"id":"p1","messageID":"msg_1","sessionID":"ses_1","type":"text","text":"hi","time":{"start":1,"end":2}}}}`,
		}, []schema.EventType{schema.EventTurnStarted, schema.EventItemStarted, schema.EventItemDelta}},
		{"delta of an unknown part", []string{
			`{"type":"message.part.delta","properties":{"sessionID":"ses_1","messageID":"msg_1","partID":"p9","field":"text","delta":"x"}}`,
		}, []schema.EventType{schema.EventAgentUnparsed}},
		{"abandoned tool call closed at idle", []string{
			`{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}`,
			`{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"id":"p1","messageID":"msg_1","sessionID":"ses_1","type":"tool","tool":"bash","callID":"c1","state":{"status":"pending","input":{}}}}}`,
			`{"type":"session.error","properties":{"sessionID":"ses_1","error":{"name":"MessageAbortedError","data":{"message":"Aborted"}}}}`,
			`{"type":"session.idle","properties":{"sessionID":"ses_1"}}`,
		}, []schema.EventType{schema.EventTurnStarted, schema.EventItemStarted, schema.EventItemStarted,
			schema.EventItemCompleted, schema.EventItemCompleted, schema.EventTurnEnded}},
		{"failed message before its session.error: one error, first", []string{
			`{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}`,
			`{"type":"message.updated","properties":{"info":{"id":"msg_1","role":"assistant","sessionID":"ses_1","time":{"created":1},"error":{"name":"APIError","data":{"message":"bad key"}}}}}`,
			`{"type":"session.error","properties":{"sessionID":"ses_1","error":{"name":"APIError","data":{"message":"bad key"}}}}`,
			`{"type":"session.idle","properties":{"sessionID":"ses_1"}}`,
		}, []schema.EventType{schema.EventTurnStarted, schema.EventItemStarted, schema.EventError, schema.EventItemCompleted,
			schema.EventTurnEnded}},
		{"unknown part type", []string{
			`{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"id":"p1","messageID":"msg_1","sessionID":"ses_1","type":"hologram"}}}`,
		}, []schema.EventType{schema.EventAgentUnparsed}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := NewTranslator(s)
			var got []schema.EventType
			for _, e := range c.events {
				for _, ev := range tr.Event([]byte(e)) {
					checkEvent(t, ev, []byte(e), s)
					got = append(got, ev.Type)
				}
			}
			if strings.Join(typeNames(got), ",") != strings.Join(typeNames(c.want), ",") {
				t.Errorf("got %v\nwant %v", got, c.want)
			}
		})
	}
}

// TestLateTextPart: a text part OpenCode publishes after its message was
// completed (seen on a loaded machine) is an item of its own, with its
// deltas and its final text, rather than lost.
func TestLateTextPart(t *testing.T) {
	const s = "ses_1"
	tr := NewTranslator(s)
	var evs []adapters.Event
	for _, e := range []string{
		`{"type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}`,
		`{"type":"message.updated","properties":{"info":{"id":"msg_1","role":"assistant","sessionID":"ses_1","time":{"created":1,"completed":2}}}}`,
		`{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"id":"p1","messageID":"msg_1","sessionID":"ses_1","type":"text","text":"","time":{"start":1}}}}`,
		`{"type":"message.part.delta","properties":{"sessionID":"ses_1","messageID":"msg_1","partID":"p1","field":"text","delta":"Step 1 "}}`,
		`{"type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"id":"p1","messageID":"msg_1","sessionID":"ses_1","type":"text","text":"Step 1 done.","time":{"start":1,"end":3}}}}`,
		`{"type":"session.idle","properties":{"sessionID":"ses_1"}}`,
	} {
		for _, ev := range tr.Event([]byte(e)) {
			checkEvent(t, ev, []byte(e), s)
			evs = append(evs, ev)
		}
	}
	var got []string
	for _, ev := range evs {
		line := string(ev.Type)
		switch d := ev.Data.(type) {
		case schema.ItemEventData:
			line += " " + *d.Item.NativeItemID + " " + string(d.Item.Status)
			for _, c := range d.Item.Content {
				line += " " + strconv.Quote(c.Text)
			}
		case schema.ItemDeltaData:
			line += " " + strconv.Quote(d.Delta)
		}
		got = append(got, line)
	}
	want := []string{"turn.started", "item.started msg_1 in_progress", "item.completed msg_1 completed",
		"item.started p1 in_progress", `item.delta "Step 1 "`, `item.delta "done."`, `item.completed p1 completed "Step 1 done."`,
		"turn.ended"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func typeNames(ts []schema.EventType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// TestPending: asked requests are pending until replied.
func TestPending(t *testing.T) {
	session, _ := capturedPrompts(t, "testdata/ask_question/calls.http.txt")
	tr := NewTranslator(session)
	asked := false
	for _, data := range sseEvents(t, "testdata/ask_question/input.sse") {
		for _, ev := range tr.Event(data) {
			if ev.Type == schema.EventQuestionRequested {
				id := ev.Data.(schema.QuestionEventData).QuestionID
				if !tr.isPending(id, pendingQuestion) || tr.isPending(id, pendingPermission) {
					t.Fatalf("question %s not pending as a question", id)
				}
				asked = true
			}
		}
	}
	if !asked || len(tr.pending) != 0 {
		t.Fatalf("asked %v, still pending %v", asked, tr.pending)
	}
}

// TestSSEReader: the format's corners: multi-line data, comments, other
// fields, CRLF, a cut event, and an unterminated last event.
func TestSSEReader(t *testing.T) {
	in := ": keep-alive\r\n\r\nevent: x\r\nid: 3\r\ndata: {\"a\":\r\ndata:1}\r\n\r\ndata-x: no\n\ndata: " + strings.Repeat("y", 40) + "\n\ndata: last"
	r := newSSEReader(strings.NewReader(in), 16)
	var got []string
	var cut []bool
	for {
		data, truncated, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(data))
		cut = append(cut, truncated)
	}
	want := []string{"{\"a\":\n1}", strings.Repeat("y", 10)} // the limit counts the line's "data: "
	if strings.Join(got, "|") != strings.Join(want, "|") || cut[0] || !cut[1] {
		t.Fatalf("got %q cut %v", got, cut)
	}
}

func BenchmarkTranslate(b *testing.B) {
	data := []byte(`{"id":"evt_206f01214001mGJPNojpU9fr7k","type":"message.part.delta","properties":{"sessionID":"ses_df90fee93ffeVYymhNlFtAWwq8","messageID":"msg_206f0118b001rLRV7DAXrgNrHN","partID":"prt_206f01210001dBXYiQQYnLAglf","field":"text","delta":"Hello from the "}}`)
	tr := NewTranslator("ses_df90fee93ffeVYymhNlFtAWwq8")
	tr.Event([]byte(`{"type":"message.part.updated","properties":{"sessionID":"ses_df90fee93ffeVYymhNlFtAWwq8","part":{"id":"prt_206f01210001dBXYiQQYnLAglf","messageID":"msg_206f0118b001rLRV7DAXrgNrHN","sessionID":"ses_df90fee93ffeVYymhNlFtAWwq8","type":"text","text":""}}}`))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if len(tr.Event(data)) != 1 {
			b.Fatal("no delta")
		}
	}
}

// BenchmarkBaselineUnmarshal is the floor BenchmarkTranslate compares with:
// json.Unmarshal of the same event into a generic value.
func BenchmarkBaselineUnmarshal(b *testing.B) {
	data := []byte(`{"id":"evt_206f01214001mGJPNojpU9fr7k","type":"message.part.delta","properties":{"sessionID":"ses_df90fee93ffeVYymhNlFtAWwq8","messageID":"msg_206f0118b001rLRV7DAXrgNrHN","partID":"prt_206f01210001dBXYiQQYnLAglf","field":"text","delta":"Hello from the "}}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var v map[string]any
		if json.Unmarshal(data, &v) != nil {
			b.Fatal("decode")
		}
	}
}

// FuzzTranslate feeds an arbitrary SSE stream to the reader and one
// translator: nothing may panic, and every event must be valid.
func FuzzTranslate(f *testing.F) {
	dirs, _ := filepath.Glob("testdata/*/input.sse")
	for _, in := range dirs {
		for _, data := range sseEvents(f, in) {
			f.Add(append(append([]byte("data: "), data...), '\n', '\n'))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		const session = "ses_df90fee93ffeVYymhNlFtAWwq8"
		tr := NewTranslator(session)
		tr.UserMessage(adapters.Message{Text: string(stream)})
		r := newSSEReader(bytes.NewReader(stream), 4096)
		for {
			data, truncated, err := r.Next()
			if err != nil {
				break
			}
			var evs []adapters.Event
			if truncated {
				evs = tr.Truncated(data, 4096)
			} else {
				evs = tr.Event(data)
			}
			for _, ev := range evs {
				checkPayload(t, ev)
				if ev.NativeSessionID != session {
					t.Fatalf("%s: native session id %q", ev.Type, ev.NativeSessionID)
				}
			}
			tr.takeEffects()
		}
	})
}
