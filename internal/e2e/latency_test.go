package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters/claude"
)

// The test binary doubles as a stand-in for `claude`: with this variable
// set it prints, for each prompt, a turn whose text deltas carry the time
// they were written, so a reader can tell how long each took to arrive.
const fakeClaudeVar = "AGENTD_E2E_FAKE_CLAUDE"

// latencyDeltas is how many timed deltas a fake turn holds.
const latencyDeltas = 400

func TestMain(m *testing.M) {
	if os.Getenv(fakeClaudeVar) == "1" {
		fakeClaude(os.Stdin, os.Stdout)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fakeClaude(in io.Reader, out io.Writer) {
	w := bufio.NewWriter(out)
	line := func(s string) {
		w.WriteString(s + "\n")
		w.Flush()
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for turn := 1; sc.Scan(); turn++ {
		msg := fmt.Sprintf("msg_%d", turn)
		line(`{"type":"system","subtype":"init","session_id":"fake-session","model":"fake","permissionMode":"default","cwd":"/"}`)
		line(`{"type":"stream_event","event":{"type":"message_start","message":{"id":"` + msg + `","role":"assistant","content":[],"model":"fake"}},"session_id":"fake-session"}`)
		line(`{"type":"stream_event","event":{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}},"session_id":"fake-session","api_message_id":"` + msg + `"}`)
		for range latencyDeltas {
			// Paced, as a model streams: a reader that batched lines would
			// show it in the figures rather than hide it.
			time.Sleep(2 * time.Millisecond)
			line(`{"type":"stream_event","event":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"` +
				strconv.FormatInt(time.Now().UnixNano(), 10) + ` "}},"session_id":"fake-session","api_message_id":"` + msg + `"}`)
		}
		line(`{"type":"stream_event","event":{"type":"content_block_stop","index":0},"session_id":"fake-session","api_message_id":"` + msg + `"}`)
		line(`{"type":"result","subtype":"success","is_error":false,"result":"","session_id":"fake-session","usage":{"input_tokens":1,"output_tokens":1}}`)
	}
}

// sentAt reads the time a fake delta was written.
func sentAt(text string) (time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	return time.Unix(0, n), err == nil
}

// BenchmarkAgentToSSE measures how long a delta the agent writes to its
// stdout takes to reach an SSE client of agentd (adapter, engine, event
// log commit, HTTP), against reading the same process's stdout directly
// (baseline). Each iteration is one turn of latencyDeltas deltas.
//
//	go test -run '^$' -bench AgentToSSE -benchtime 5x ./internal/e2e
func BenchmarkAgentToSSE(b *testing.B) {
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-pipe", func(b *testing.B) {
		var lat []time.Duration
		for b.Loop() {
			lat = append(lat, pipeTurn(b, self)...)
		}
		report(b, lat)
	})
	b.Run("agentd-sse", func(b *testing.B) {
		agent := claude.New(claude.WithResolver(fixed(self)), claude.WithHome(b.TempDir()),
			claude.WithEnv(fakeClaudeVar+"=1", "ANTHROPIC_API_KEY=x"))
		d := startDaemon(b, agent)
		var lat []time.Duration
		i := 0
		for b.Loop() {
			i++
			lat = append(lat, sseTurn(b, d, fmt.Sprintf("lat-%d", i))...)
		}
		report(b, lat)
	})
}

// pipeTurn runs the fake directly and times its deltas off its stdout.
func pipeTurn(b *testing.B, self string) []time.Duration {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fakeClaudeVar+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	io.WriteString(stdin, "{}\n")
	var lat []time.Duration
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(lat) < latencyDeltas {
		var v struct {
			Event struct {
				Delta struct{ Text string } `json:"delta"`
			} `json:"event"`
		}
		if json.Unmarshal(sc.Bytes(), &v) == nil {
			if at, ok := sentAt(v.Event.Delta.Text); ok {
				lat = append(lat, time.Since(at))
			}
		}
	}
	return lat
}

// sseTurn runs one session through agentd and times the deltas its SSE
// stream delivers.
func sseTurn(b *testing.B, d *daemon, id string) []time.Duration {
	d.call(b, http.MethodPost, "/v1/sessions/"+id, map[string]any{"agent": "claude"}, http.StatusOK)
	events := d.follow(b, id)
	d.call(b, http.MethodPost, "/v1/sessions/"+id+"/messages", map[string]any{"message": "go"}, http.StatusNoContent)
	var lat []time.Duration
	for ev := range events {
		switch ev.Type {
		case "item.delta":
			var dd struct{ Delta string }
			json.Unmarshal(ev.Data, &dd)
			if at, ok := sentAt(dd.Delta); ok {
				lat = append(lat, time.Since(at))
			}
		case "turn.ended":
			d.call(b, http.MethodPost, "/v1/sessions/"+id+"/terminate", nil, http.StatusNoContent)
			return lat
		}
	}
	b.Fatalf("%s: the stream ended before the turn", id)
	return nil
}

func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		b.Fatal("no deltas timed")
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op")
}
