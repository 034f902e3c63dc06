package amp

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// goldenEvent is one translated event as the golden files show it: the
// recording line it came from (0 for the turn start and user item the
// session emits when it writes a prompt), without raw and native session id,
// which checkEvent verifies instead.
type goldenEvent struct {
	Line      int              `json:"line"`
	Type      schema.EventType `json:"type"`
	Synthetic bool             `json:"synthetic,omitempty"`
	Data      schema.Payload   `json:"data"`
}

func recordings(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob("testdata/synthesized_*.jsonl")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no recordings: %v", err)
	}
	return paths
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

// replay translates a recording the way a session sees it: the prompt
// "prompt <n>" is written before the n-th turn, a turn being the lines up to
// its result line.
func replay(t testing.TB, path string) []goldenEvent {
	t.Helper()
	tr := newTranslator("")
	var out []goldenEvent
	add := func(n int, line []byte, evs []adapters.Event) {
		for _, ev := range evs {
			checkEvent(t, ev, line)
			out = append(out, goldenEvent{Line: n, Type: ev.Type, Synthetic: ev.Synthetic, Data: ev.Data})
		}
	}
	lines := readLines(t, path)
	turn := 1
	add(0, nil, tr.UserMessage("prompt 1"))
	for i, line := range lines {
		add(i+1, line, tr.Line(line))
		if tr.TurnEnded() && i < len(lines)-1 {
			turn++
			add(0, nil, tr.UserMessage("prompt "+strconv.Itoa(turn)))
		}
	}
	return out
}

// checkEvent verifies what every event must satisfy: a payload that fits
// its type and encodes as UTF-8, and a raw payload that is the native line
// (as a JSON string when it is not JSON).
func checkEvent(t testing.TB, ev adapters.Event, line []byte) {
	t.Helper()
	checkPayload(t, ev)
	if line == nil {
		if ev.Raw != nil || !ev.Synthetic {
			t.Fatalf("%s made by the session must be synthetic without raw", ev.Type)
		}
		return
	}
	clean := bytes.ToValidUTF8(bytes.TrimSpace(line), []byte("\uFFFD"))
	if ev.Raw == nil {
		if len(clean) <= 256<<10 { // only a huge line's raw may be left off
			t.Fatalf("%s without raw", ev.Type)
		}
		return
	}
	if json.Valid(clean) {
		if !bytes.Equal(ev.Raw, clean) {
			t.Fatalf("%s: raw is not the line", ev.Type)
		}
	} else if ev.Raw[0] != '"' {
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
	if u, ok := ev.Data.(schema.AgentUnparsedData); ok && u.Location != "amp" {
		t.Fatalf("agent.unparsed location %q", u.Location)
	}
}

// TestTranslateGolden replays every synthesized recording through the
// translator and compares the universal events with its golden file.
func TestTranslateGolden(t *testing.T) {
	for _, path := range recordings(t) {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(replay(t, path), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./adapters/amp -run TestTranslateGolden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("events differ from %s (rerun with -update and review the diff):\n%s", golden, firstDiff(string(want), string(got)))
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

// TestThreadID: the thread id Amp reports as session_id becomes the native
// session id of every later event; a resumed translator has it from the start.
func TestThreadID(t *testing.T) {
	const thread = "T-9a7c3e51-2b8d-4f60-a1e4-7c2d9b0f6e38"
	tr := newTranslator("")
	if evs := tr.UserMessage("hi"); evs[0].NativeSessionID != "" {
		t.Fatalf("user item before the first line: %q", evs[0].NativeSessionID)
	}
	for _, line := range readLines(t, "testdata/synthesized_tool_bash.jsonl") {
		for _, ev := range tr.Line(line) {
			if ev.NativeSessionID != thread {
				t.Fatalf("%s: native session id %q", ev.Type, ev.NativeSessionID)
			}
		}
	}
	if tr.NativeSessionID() != thread {
		t.Fatal(tr.NativeSessionID())
	}
	if evs := newTranslator(thread).UserMessage("again"); evs[0].NativeSessionID != thread {
		t.Fatalf("resumed: %q", evs[0].NativeSessionID)
	}
}

// FuzzTranslate feeds arbitrary input, line by line, to one translator: it
// must never panic, and every event must be valid.
func FuzzTranslate(f *testing.F) {
	for _, path := range recordings(f) {
		for _, line := range readLines(f, path) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := newTranslator("")
		tr.UserMessage(string(data))
		for _, line := range bytes.Split(data, []byte("\n")) {
			for _, ev := range tr.Line(line) {
				checkEvent(t, ev, line)
			}
			tr.TurnEnded()
		}
		for _, ev := range tr.Interrupted() {
			checkEvent(t, ev, nil)
		}
		for _, ev := range tr.Truncated(data, 10) {
			checkPayload(t, ev)
		}
	})
}
