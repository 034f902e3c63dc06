package metrics

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sample is one parsed sample line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
	labelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// parse reads the text exposition format strictly: every sample belongs
// to a family announced by HELP and TYPE, histogram buckets are cumulative
// and end in +Inf equal to _count.
func parse(t *testing.T, r io.Reader) map[string][]sample {
	t.Helper()
	types := map[string]string{}
	out := map[string][]sample{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# HELP "):
			continue
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 {
				t.Fatalf("bad TYPE line %q", line)
			}
			types[f[2]] = f[3]
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad sample line %q", line)
		}
		s := sample{name: m[1], labels: map[string]string{}}
		for _, l := range labelRE.FindAllStringSubmatch(m[3], -1) {
			v, err := strconv.Unquote(`"` + l[2] + `"`)
			if err != nil {
				t.Fatalf("label in %q: %v", line, err)
			}
			s.labels[l[1]] = v
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatalf("value in %q: %v", line, err)
		}
		s.value = v
		fam := s.name
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(s.name, suf); ok && types[base] == "histogram" {
				fam = base
			}
		}
		if types[fam] == "" {
			t.Fatalf("sample %q before its TYPE", line)
		}
		out[s.name] = append(out[s.name], s)
	}
	for fam, typ := range types {
		if typ == "histogram" {
			checkHistogram(t, fam, out)
		}
	}
	return out
}

func checkHistogram(t *testing.T, fam string, out map[string][]sample) {
	t.Helper()
	last := map[string]float64{}
	for _, b := range out[fam+"_bucket"] {
		key := seriesKey(b.labels, "le")
		if b.value < last[key] {
			t.Fatalf("%s buckets not cumulative at le=%s", fam, b.labels["le"])
		}
		last[key] = b.value
		if b.labels["le"] == "+Inf" {
			for _, c := range out[fam+"_count"] {
				if seriesKey(c.labels, "") == key && c.value != b.value {
					t.Fatalf("%s_count %v != +Inf bucket %v", fam, c.value, b.value)
				}
			}
		}
	}
}

func seriesKey(labels map[string]string, skip string) string {
	var parts []string
	for k, v := range labels {
		if k != skip {
			parts = append(parts, k+"="+v)
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

func value(t *testing.T, got map[string][]sample, name string, labels map[string]string) float64 {
	t.Helper()
	for _, s := range got[name] {
		if fmt.Sprint(s.labels) == fmt.Sprint(labels) {
			return s.value
		}
	}
	t.Fatalf("no sample %s%v", name, labels)
	return 0
}

func scrape(t *testing.T, h http.Handler) (string, map[string][]sample) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != ContentType {
		t.Fatalf("GET /metrics: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec.Body.String(), parse(t, strings.NewReader(rec.Body.String()))
}

func ptr[T any](v T) *T { return &v }

// feed drives the daemon metrics through every hook.
func feed(m *Metrics) {
	m.Observe("claude", schema.EventSessionStarted, nil)
	m.Observe("claude", schema.EventTurnStarted, schema.TurnEventData{Phase: schema.PhaseStarted})
	m.Observe("claude", schema.EventTurnEnded, schema.TurnEventData{Phase: schema.PhaseEnded,
		Usage: &schema.Usage{InputTokens: 100, OutputTokens: 20, CacheReadTokens: 40, CacheWriteTokens: 5, ReasoningTokens: 3}})
	m.Observe("claude", schema.EventSessionEnded, schema.SessionEndedData{Reason: schema.EndCompleted})
	m.Observe("codex", schema.EventSessionStarted, nil)
	m.Observe("codex", schema.EventTurnEnded, &schema.TurnEventData{Phase: schema.PhaseEnded,
		Usage: &schema.Usage{InputTokens: 20, CacheReadTokens: 40, OutputTokens: 20, ReasoningTokens: 7}})
	m.Observe("codex", schema.EventError, schema.ErrorData{Message: "boom", Code: ptr("process_exit")})
	m.Observe("codex", schema.EventError, &schema.ErrorData{Message: "quiet"})
	m.Observe("codex", schema.EventSessionEnded, &schema.SessionEndedData{Reason: schema.EndError})
	m.InstallDone("codex", 3*time.Second, nil)
	m.InstallDone("amp", 400*time.Second, errors.New("offline"))
}

func TestDaemonMetricsGolden(t *testing.T) {
	m := New()
	feed(m)
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
		}
	}), func(r *http.Request) string { return r.Method + " " + r.URL.Path })
	for _, p := range []string{"/v1/health", "/v1/health", "/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	text, got := scrape(t, m)
	// Request durations vary: the golden file holds them masked.
	masked := regexp.MustCompile(`(agentd_http_request_duration_seconds_(?:bucket\{[^}]*\}|sum\{[^}]*\})) \S+`).ReplaceAllString(text, "$1 X")
	golden := "testdata/daemon.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(masked), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if masked != string(want) {
		t.Errorf("metrics differ from %s (run with -update):\n%s", golden, masked)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"agentd_sessions_created_total", map[string]string{"agent": "claude"}, 1},
		{"agentd_sessions_ended_total", map[string]string{"agent": "codex", "reason": "error"}, 1},
		{"agentd_turns_total", map[string]string{"agent": "codex"}, 1},
		{"agentd_events_appended_total", map[string]string{"agent": "codex", "type": "error"}, 2},
		{"agentd_tokens_total", map[string]string{"agent": "claude", "kind": "cache_write"}, 5},
		{"agentd_tokens_total", map[string]string{"agent": "codex", "kind": "cache_read"}, 40},
		{"agentd_tokens_total", map[string]string{"agent": "codex", "kind": "reasoning"}, 7},
		{"agentd_errors_total", map[string]string{"agent": "codex", "code": "none"}, 1},
		{"agentd_errors_total", map[string]string{"agent": "codex", "code": "process_exit"}, 1},
		{"agentd_http_requests_total", map[string]string{"route": "GET /v1/health", "status": "200"}, 2},
		{"agentd_http_requests_total", map[string]string{"route": "GET /missing", "status": "404"}, 1},
		{"agentd_agent_install_duration_seconds_bucket", map[string]string{"agent": "amp", "result": "error", "le": "300"}, 0},
		{"agentd_agent_install_duration_seconds_bucket", map[string]string{"agent": "amp", "result": "error", "le": "+Inf"}, 1},
		{"agentd_agent_install_duration_seconds_bucket", map[string]string{"agent": "codex", "result": "ok", "le": "5"}, 1},
		{"agentd_agent_install_duration_seconds_sum", map[string]string{"agent": "codex", "result": "ok"}, 3},
	} {
		if v := value(t, got, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
}

func TestRegistryFormat(t *testing.T) {
	r := &Registry{}
	c := r.Counter("x_total", "Help with \\ and\nnewline.", "l")
	g := r.Gauge("a_gauge", "A gauge.")
	h := r.Histogram("h_seconds", "H.", []float64{1, 0.5}, "k")
	c.Inc(`quote " back \ nl` + "\n")
	c.Add(-3, `quote " back \ nl`+"\n") // ignored
	c.Inc("wrong", "count")             // recorded under ""
	g.Set(math.Inf(1))
	g.Add(-1)
	h.Observe(0.5, "a") // le is inclusive
	h.Observe(2, "a")
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP a_gauge A gauge.
# TYPE a_gauge gauge
a_gauge +Inf
# HELP h_seconds H.
# TYPE h_seconds histogram
h_seconds_bucket{k="a",le="0.5"} 1
h_seconds_bucket{k="a",le="1"} 1
h_seconds_bucket{k="a",le="+Inf"} 2
h_seconds_sum{k="a"} 2.5
h_seconds_count{k="a"} 2
# HELP x_total Help with \\ and\nnewline.
# TYPE x_total counter
x_total{l=""} 1
x_total{l="quote \" back \\ nl\n"} 1
`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	got := parse(t, strings.NewReader(b.String()))
	if v := value(t, got, "x_total", map[string]string{"l": "quote \" back \\ nl\n"}); v != 1 {
		t.Fatalf("escaped label round trip: %v", v)
	}
}

func TestHandlerMethods(t *testing.T) {
	m := New()
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "POST": 405} {
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(method, "/metrics", nil))
		if rec.Code != want {
			t.Errorf("%s /metrics: %d, want %d", method, rec.Code, want)
		}
	}
}

func TestMiddlewareKeepsFlushAndDefaultsToPattern(t *testing.T) {
	m := New()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/sessions/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the middleware: %v", err)
		}
	})
	h := m.Middleware(mux, nil)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/sessions/abc/events", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/sessions/def/events", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nowhere", nil))
	_, got := scrape(t, m)
	if v := value(t, got, "agentd_http_requests_total", map[string]string{"route": "GET /v1/sessions/{id}/events", "status": "202"}); v != 2 {
		t.Errorf("pattern route count %v, want 2", v)
	}
	if v := value(t, got, "agentd_http_requests_total", map[string]string{"route": "other", "status": "404"}); v != 1 {
		t.Errorf("unmatched route count %v, want 1", v)
	}
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *Metrics
	m.Observe("claude", schema.EventSessionStarted, nil)
	m.AddTokens("claude", "input", 3)
	m.InstallDone("claude", time.Second, nil)
}

func TestConcurrentUpdatesAndScrapes(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for range 200 {
				m.Observe(fmt.Sprint("agent", i%2), schema.EventTurnEnded, schema.TurnEventData{})
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			m.reg.WriteTo(io.Discard)
		}
	})
	wg.Wait()
	_, got := scrape(t, m)
	if v := value(t, got, "agentd_turns_total", map[string]string{"agent": "agent0"}); v != 400 {
		t.Fatalf("turns = %v, want 400", v)
	}
}

// TestMiddlewareKeepsReadFrom: a file served through the middleware
// reaches the server's own ReadFrom (where net/http uses sendfile), and
// the status is still counted.
func TestMiddlewareKeepsReadFrom(t *testing.T) {
	m := New()
	var viaReadFrom bool
	h := m.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, viaReadFrom = w.(io.ReaderFrom)
		_, _ = io.Copy(w, struct{ io.Reader }{strings.NewReader("body")}) // as a file: no WriteTo
	}), func(*http.Request) string { return "/file" })
	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/file", nil))
	if !viaReadFrom || !rec.readFrom || rec.Body.String() != "body" || rec.Code != http.StatusOK {
		t.Fatalf("ReaderFrom %v, reached %v, body %q, status %d", viaReadFrom, rec.readFrom, rec.Body.String(), rec.Code)
	}
	_, got := scrape(t, m)
	if v := value(t, got, "agentd_http_requests_total", map[string]string{"route": "/file", "status": "200"}); v != 1 {
		t.Errorf("request count %v, want 1", v)
	}
}

// readFromRecorder is a ResponseRecorder with the ReadFrom of net/http's
// own writer.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	r.readFrom = true
	return io.Copy(r.ResponseRecorder, src)
}
