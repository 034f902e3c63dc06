// Package fakemodel is a scripted model server for proving agent adapters
// against the real agent binaries offline. It speaks the three wire APIs
// the agents use, streaming the way the providers do:
//
//   - Anthropic Messages: POST /v1/messages (also ?beta=true) and
//     /v1/messages/count_tokens — Claude Code;
//   - OpenAI Responses: POST {base}/responses — Codex;
//   - OpenAI Chat Completions: POST {base}/chat/completions — OpenCode;
//
// plus GET {base}/models. Paths are matched on their ending, so any base
// path works; a prefix /scn/<name>/ picks scenario <name> as the default
// for that request (point an agent's base URL at
// http://host:port/scn/tool_bash/v1 to script it without a marker).
//
// What the model says comes from a Scenario, chosen per request:
//
//  1. the header X-Fake-Scenario, if present;
//  2. a request that offers no tools gets TitleText (auxiliary calls such as
//     title generation);
//  3. the marker SCN:<name> in the most recent user message that has one;
//  4. the /scn/<name>/ path prefix, then the server's default scenario;
//  5. otherwise TitleText.
//
// The turn within the scenario is the number of tool results in the
// conversation after the user message carrying the marker (without a
// marker: after the last user message that has text and no tool results).
// A step with Times > 0 counts how often it fired across the server's life.
//
// Every request is recorded (credentials redacted); see Requests.
package fakemodel

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Usage is the token usage reported for every model call.
type Usage struct {
	Input     int // input tokens (Anthropic: input_tokens; OpenAI: prompt/input tokens)
	Cached    int // cached input tokens (Anthropic cache_read_input_tokens)
	Output    int // output tokens
	Reasoning int // reasoning tokens (Responses output_tokens_details)
}

// DefaultUsage is 120 input (30 cached), 25 output (7 reasoning).
var DefaultUsage = Usage{Input: 120, Cached: 30, Output: 25, Reasoning: 7}

// Server is the fake model. It is an http.Handler; Start serves it on a
// loopback port.
type Server struct {
	addr      string
	defaultSc string
	usage     Usage
	now       func() time.Time
	onRequest func(Request)

	mu        sync.Mutex
	scenarios map[string]Scenario
	requests  []Request
	counter   int // ids of messages, items, tool calls
	reqIDs    int // request ids (response headers)
	fired     map[string]int
	changed   chan struct{} // closed and replaced on every new request

	closing   chan struct{}
	closeOnce sync.Once
	srv       *http.Server
	serveDone chan struct{}
}

// An Opt configures a Server.
type Opt func(*Server)

// WithAddr sets the address Start listens on (default 127.0.0.1:0).
func WithAddr(addr string) Opt { return func(s *Server) { s.addr = addr } }

// WithDefaultScenario sets the scenario of requests without a marker.
func WithDefaultScenario(name string) Opt { return func(s *Server) { s.defaultSc = name } }

// WithScenarios registers scenarios (replacing built-ins of the same name).
func WithScenarios(scs ...Scenario) Opt {
	return func(s *Server) {
		for _, sc := range scs {
			s.scenarios[sc.Name] = sc
		}
	}
}

// WithUsage sets the usage reported for every model call.
func WithUsage(u Usage) Opt { return func(s *Server) { s.usage = u } }

// WithClock sets the clock used for timestamps (golden tests).
func WithClock(now func() time.Time) Opt { return func(s *Server) { s.now = now } }

// WithOnRequest calls f with every request once it is recorded.
func WithOnRequest(f func(Request)) Opt { return func(s *Server) { s.onRequest = f } }

// New makes a server with the built-in scenarios.
func New(opts ...Opt) *Server {
	s := &Server{
		addr:      "127.0.0.1:0",
		usage:     DefaultUsage,
		now:       time.Now,
		scenarios: Builtins(),
		fired:     map[string]int{},
		changed:   make(chan struct{}),
		closing:   make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register adds or replaces scenarios.
func (s *Server) Register(scs ...Scenario) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range scs {
		s.scenarios[sc.Name] = sc
	}
}

// Scenarios lists the names of the known scenarios.
func (s *Server) Scenarios() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.scenarios))
	for n := range s.scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Start listens and serves until ctx ends or Close is called; it returns
// the base URL, e.g. http://127.0.0.1:41234 (without /v1).
func (s *Server) Start(ctx context.Context) (string, error) {
	select {
	case <-s.closing:
		return "", errors.New("fakemodel: Start after Close")
	default:
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return "", fmt.Errorf("fakemodel: listen: %w", err)
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		_ = s.srv.Serve(ln)
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.closing:
		}
	}()
	return "http://" + ln.Addr().String(), nil
}

// Close cuts stalled and delayed replies (their connections are aborted, so
// clients see a truncated stream) and, if Start was called, stops the
// server and closes its connections. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.srv != nil {
			_ = s.srv.Close()
			<-s.serveDone
		}
	})
}

func (s *Server) nextID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counter++
	return s.counter
}

func (s *Server) id(prefix string) string { return fmt.Sprintf("%s%04d", prefix, s.nextID()) }

func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqIDs++
	return fmt.Sprintf("req_fake_%04d", s.reqIDs)
}

// ServeHTTP answers one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(r)
	path, pathScenario := splitScenarioPrefix(r.URL.Path)
	api, endpoint := route(r.Method, path, r.Header)
	rec := Request{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		Header: redact(r.Header), Body: body, API: api, Endpoint: endpoint,
	}
	if err != nil {
		rec.Status = http.StatusBadRequest
		s.record(&rec)
		s.writeError(w, api, ErrorSpec{Status: 400, Message: "fakemodel: reading body: " + err.Error()}, nil)
		return
	}
	switch endpoint {
	case EndpointGenerate:
		s.generate(w, r, api, body, pathScenario, &rec)
	case EndpointCountTokens:
		rec.Status = http.StatusOK
		s.record(&rec)
		writeJSON(w, http.StatusOK, nil, obj{{"input_tokens", max(1, len(body)/4)}})
	case EndpointModels:
		rec.Status = http.StatusOK
		s.record(&rec)
		writeJSON(w, http.StatusOK, nil, s.models(path))
	case EndpointLog:
		// Not recorded itself.
		writeJSON(w, http.StatusOK, nil, s.logJSON())
		return
	case EndpointRoot:
		rec.Status = http.StatusOK
		s.record(&rec)
		writeJSON(w, http.StatusOK, nil, obj{{"name", "fakemodel"}, {"scenarios", s.Scenarios()}})
	default:
		rec.Status = http.StatusNotFound
		s.record(&rec)
		s.writeError(w, api, ErrorSpec{Status: 404, Type: "not_found_error",
			Message: fmt.Sprintf("fakemodel: no route for %s %s", r.Method, r.URL.Path)}, nil)
	}
}

// Endpoints, as recorded in Request.Endpoint.
const (
	EndpointGenerate    = "generate"     // messages, responses, chat/completions
	EndpointCountTokens = "count_tokens" // Anthropic count_tokens
	EndpointModels      = "models"       // model list
	EndpointRoot        = "root"         // GET /
	EndpointLog         = "log"          // GET /_fake/requests: the request log as JSON (not recorded)
	EndpointUnknown     = "unknown"
)

func route(method, path string, h http.Header) (API, string) {
	p := strings.TrimSuffix(path, "/")
	switch {
	case method == http.MethodPost && strings.HasSuffix(p, "/messages/count_tokens"):
		return Anthropic, EndpointCountTokens
	case method == http.MethodPost && strings.HasSuffix(p, "/messages"):
		return Anthropic, EndpointGenerate
	case method == http.MethodPost && strings.HasSuffix(p, "/responses"):
		return Responses, EndpointGenerate
	case method == http.MethodPost && strings.HasSuffix(p, "/chat/completions"):
		return Chat, EndpointGenerate
	case method == http.MethodGet && (strings.HasSuffix(p, "/models") || strings.Contains(p, "/models/")):
		if h.Get("anthropic-version") != "" || h.Get("x-api-key") != "" {
			return Anthropic, EndpointModels
		}
		return "", EndpointModels
	case method == http.MethodGet && p == "":
		return "", EndpointRoot
	case method == http.MethodGet && p == "/_fake/requests":
		return "", EndpointLog
	}
	if h.Get("anthropic-version") != "" {
		return Anthropic, EndpointUnknown
	}
	return "", EndpointUnknown
}

// splitScenarioPrefix strips a leading /scn/<name> from path.
func splitScenarioPrefix(path string) (string, string) {
	rest, ok := strings.CutPrefix(path, "/scn/")
	if !ok {
		return path, ""
	}
	name, tail, _ := strings.Cut(rest, "/")
	return "/" + tail, name
}

func readBody(r *http.Request) ([]byte, error) {
	var rd io.Reader = r.Body
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		rd = zr
	}
	return io.ReadAll(io.LimitReader(rd, 64<<20))
}

// models answers GET …/models (a list) and GET …/models/{id} (one model),
// in one shape that satisfies both the Anthropic and the OpenAI clients.
func (s *Server) models(path string) any {
	created := s.now().UTC()
	model := func(id string) obj {
		return obj{{"type", "model"}, {"id", id}, {"object", "model"},
			{"display_name", id}, {"created_at", created.Format(time.RFC3339)},
			{"created", created.Unix()}, {"owned_by", "fakemodel"}}
	}
	if _, id, ok := strings.Cut(path, "/models/"); ok && id != "" {
		return model(strings.TrimSuffix(id, "/"))
	}
	ids := []string{"claude-opus-5-5", "claude-sonnet-4-5", "gpt-5.5", "fake-model"}
	data := make([]any, 0, len(ids))
	for _, id := range ids {
		data = append(data, model(id))
	}
	return obj{{"object", "list"}, {"data", data}, {"has_more", false},
		{"first_id", ids[0]}, {"last_id", ids[len(ids)-1]}}
}

// A plan is the resolved reply to one model call.
type plan struct {
	api      API
	conv     *Conversation
	model    string
	scenario string
	turn     int
	steps    []Step
}

func (s *Server) generate(w http.ResponseWriter, r *http.Request, api API, body []byte, pathScenario string, rec *Request) {
	conv, err := ParseConversation(api, body)
	if err != nil {
		rec.Status = http.StatusBadRequest
		s.record(rec)
		s.writeError(w, api, ErrorSpec{Status: 400, Message: "fakemodel: bad request body: " + err.Error()}, nil)
		return
	}
	p := s.plan(conv, r.Header.Get("X-Fake-Scenario"), pathScenario)
	rec.Model, rec.Stream, rec.Scenario, rec.Turn = conv.Model, conv.Stream, p.scenario, p.turn
	rec.Status = http.StatusOK
	for _, st := range p.steps {
		if st.Kind == KindHTTPError {
			rec.Status = st.Error.status()
			s.record(rec)
			s.writeError(w, api, *st.Error, nil)
			return
		}
	}
	s.record(rec)
	reqID := s.requestID()
	h := http.Header{}
	switch api {
	case Anthropic:
		h.Set("request-id", reqID)
	default:
		h.Set("x-request-id", reqID)
		h.Set("openai-model", conv.Model)
	}
	if !conv.Stream {
		s.respondJSON(w, r, p, h)
		return
	}
	out := newSSE(w, h)
	var em emitter
	switch api {
	case Anthropic:
		em = &anthropicEmitter{s: s, out: out, p: p}
	case Responses:
		em = &responsesEmitter{s: s, out: out, p: p}
	default:
		em = &chatEmitter{s: s, out: out, p: p}
	}
	s.stream(r.Context(), out, em, p)
}

// plan picks the scenario and turn for a request and resolves its steps.
func (s *Server) plan(conv *Conversation, header, pathScenario string) plan {
	p := plan{api: conv.API, conv: conv, model: conv.Model}
	marker, at, hasMarker := conv.Marker()
	name := ""
	switch {
	case header != "":
		name = header
	case len(conv.Tools) == 0:
	case hasMarker:
		name = marker
	case pathScenario != "":
		name = pathScenario
	default:
		name = s.defaultSc
	}
	if !hasMarker {
		at = -1
		for i := len(conv.Messages) - 1; i >= 0; i-- {
			if m := conv.Messages[i]; m.Role == "user" && m.Text != "" && len(m.ToolResults) == 0 {
				at = i
				break
			}
		}
	}
	if at >= 0 {
		p.turn = conv.ToolResultsAfter(at)
	}
	if name == "" {
		p.steps = []Step{Text(TitleText)}
		return p
	}
	p.scenario = name
	s.mu.Lock()
	sc, ok := s.scenarios[name]
	s.mu.Unlock()
	switch {
	case !ok:
		p.steps = []Step{Text(fmt.Sprintf("fakemodel: unknown scenario %q.", name))}
		return p
	case p.turn >= len(sc.Turns):
		p.steps = []Step{Text(fmt.Sprintf("fakemodel: scenario %q has no turn %d.", name, p.turn))}
		return p
	}
	vars := templateVars(conv, p.turn)
	for i, st := range sc.Turns[p.turn] {
		if st.Times > 0 {
			key := fmt.Sprintf("%s\x00%d\x00%d", name, p.turn, i)
			s.mu.Lock()
			n := s.fired[key]
			if n < st.Times {
				s.fired[key] = n + 1
			}
			s.mu.Unlock()
			if n >= st.Times {
				continue
			}
		}
		st.Text = vars.Replace(st.Text)
		st.Raw = vars.Replace(st.Raw)
		if st.Kind == KindTool {
			call, err := resolveCall(conv, st.Calls, vars)
			if err != nil {
				st = Text("fakemodel: " + err.Error())
			} else {
				st.Calls = []Call{call}
			}
		}
		p.steps = append(p.steps, st)
	}
	return p
}

func templateVars(conv *Conversation, turn int) *strings.Replacer {
	out := ""
	if tr, ok := conv.LastToolResult(); ok {
		out = truncateRunes(tr.Content, 120)
	}
	cwd, ok := conv.Cwd()
	if !ok {
		cwd = "/tmp"
	}
	return strings.NewReplacer(
		"{{reply_number}}", fmt.Sprint(max(1, conv.MarkedUserMessages())),
		"{{step}}", fmt.Sprint(turn),
		"{{tool_output}}", out,
		"{{cwd}}", cwd,
	)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// resolveCall picks the shape of a tool call for the request and fills in
// the templates.
func resolveCall(conv *Conversation, calls []Call, vars *strings.Replacer) (Call, error) {
	var cands []Call
	for _, c := range calls {
		if c.API == "" || c.API == conv.API {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 {
		return Call{}, fmt.Errorf("tool step has no call for the %s API", conv.API)
	}
	pick := cands[0]
	for _, c := range cands {
		if _, ok := conv.offers(c.Name); ok {
			pick = c
			break
		}
	}
	pick.Input = vars.Replace(pick.Input)
	if len(pick.Arguments) > 0 {
		var b bytes.Buffer
		if err := json.Compact(&b, replaceInJSONStrings(pick.Arguments, vars)); err != nil {
			return Call{}, fmt.Errorf("tool %s: arguments: %w", pick.Name, err)
		}
		pick.Arguments = b.Bytes()
	}
	typ, offered := conv.offers(pick.Name)
	if pick.Input != "" && offered && typ == "function" {
		// The freeform tool is offered as a function: wrap its input.
		pick.Arguments = rawJSON(obj{{"input", pick.Input}})
		pick.Input = ""
	}
	if pick.Input == "" && len(pick.Arguments) == 0 {
		pick.Arguments = []byte("{}")
	}
	return pick, nil
}

// replaceInJSONStrings fills templates inside a JSON document, escaping the
// values for JSON string context.
func replaceInJSONStrings(doc []byte, vars *strings.Replacer) []byte {
	if !bytes.Contains(doc, []byte("{{")) {
		return doc
	}
	var b strings.Builder
	rest := string(doc)
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			break
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			b.WriteString(rest)
			break
		}
		tpl := rest[i : i+j+2]
		val := vars.Replace(tpl)
		enc := string(mustJSON(val))
		b.WriteString(rest[:i])
		b.WriteString(enc[1 : len(enc)-1])
		rest = rest[i+j+2:]
	}
	return []byte(b.String())
}

// record appends rec to the log.
func (s *Server) record(rec *Request) {
	s.mu.Lock()
	rec.Seq = len(s.requests) + 1
	rec.Time = s.now()
	s.requests = append(s.requests, *rec)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	if s.onRequest != nil {
		s.onRequest(*rec)
	}
}

// writeError answers with an API error body.
func (s *Server) writeError(w http.ResponseWriter, api API, e ErrorSpec, h http.Header) {
	if h == nil {
		h = http.Header{}
	}
	if e.RetryAfter != "" {
		h.Set("retry-after", e.RetryAfter)
	}
	reqID := s.requestID()
	if api == Anthropic {
		h.Set("request-id", reqID)
		writeJSON(w, e.status(), h, anthropicErrorBody(e, reqID))
		return
	}
	h.Set("x-request-id", reqID)
	writeJSON(w, e.status(), h, openAIErrorBody(e))
}

func anthropicErrorBody(e ErrorSpec, reqID string) obj {
	o := obj{{"type", "error"}, {"error", obj{{"type", e.anthropicType()}, {"message", e.Message}}}}
	if reqID != "" {
		o = append(o, kv{"request_id", reqID})
	}
	return o
}

func openAIErrorBody(e ErrorSpec) obj {
	return obj{{"error", openAIError(e)}}
}

func openAIError(e ErrorSpec) obj {
	return obj{{"message", e.Message}, {"type", e.openAIType()}, {"param", nil}, {"code", e.openAICode()}}
}
