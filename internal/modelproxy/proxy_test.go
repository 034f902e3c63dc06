package modelproxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/internal/fakemodel"
)

const (
	anthropicKey = "sk-ant-real-key-0123456789"
	openAIKey    = "sk-openai-real-key-0123456789"
)

var testUsage = fakemodel.Usage{Input: 100, Cached: 40, Output: 20, Reasoning: 5}

// upstream is the fake model behind a recorder of the raw headers: the
// fake model redacts credentials, and the point here is which ones arrive.
type upstream struct {
	fake *fakemodel.Server
	mu   sync.Mutex
	seen []http.Header
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.seen = append(u.seen, r.Header.Clone())
	u.mu.Unlock()
	u.fake.ServeHTTP(w, r)
}

func (u *upstream) headers() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen...)
}

type rig struct {
	up    *upstream
	proxy *Proxy
	url   string // the proxy's base URL
}

func newRig(t *testing.T, cfg Config) *rig {
	t.Helper()
	up := &upstream{fake: fakemodel.New(fakemodel.WithUsage(testUsage))}
	t.Cleanup(up.fake.Close)
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	if cfg.Upstreams == nil {
		cfg.Upstreams = map[Provider]Upstream{
			Anthropic: {URL: upSrv.URL, Key: anthropicKey},
			OpenAI:    {URL: upSrv.URL, Key: openAIKey},
		}
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return &rig{up: up, proxy: p, url: srv.URL}
}

func (r *rig) do(t *testing.T, method, path string, h http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, r.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func anthropicHeader(token string) http.Header {
	return http.Header{"X-Api-Key": {token}, "Anthropic-Version": {"2023-06-01"}, "Content-Type": {"application/json"}}
}

func openAIHeader(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
}

const (
	messagesBody  = `{"model":"claude-sonnet-4-5","max_tokens":64,"stream":%s,"messages":[{"role":"user","content":"hi"}]}`
	responsesBody = `{"model":"gpt-5.5","stream":%s,"input":[{"role":"user","content":"hi"}]}`
	chatBody      = `{"model":"gpt-5.5","stream":%s,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
)

func body(tmpl string, stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return strings.Replace(tmpl, "%s", s, 1)
}

func TestForwardSwapsTokenForKeyAndCountsUsage(t *testing.T) {
	anthropicUsage := Usage{InputTokens: 100, OutputTokens: 20, CacheReadTokens: 40, Requests: 1}
	responsesUsage := Usage{InputTokens: 60, OutputTokens: 20, CacheReadTokens: 40, ReasoningTokens: 5, Requests: 1}
	chatUsage := Usage{InputTokens: 60, OutputTokens: 20, CacheReadTokens: 40, Requests: 1}
	tests := []struct {
		name      string
		method    string
		path      string
		anthropic bool
		body      string
		wantUsage Usage
	}{
		{"messages stream", "POST", "/v1/messages?beta=true", true, body(messagesBody, true), anthropicUsage},
		{"messages json", "POST", "/v1/messages", true, body(messagesBody, false), anthropicUsage},
		{"count tokens", "POST", "/v1/messages/count_tokens?beta=true", true, body(messagesBody, false), Usage{}},
		{"anthropic models", "GET", "/v1/models", true, "", Usage{}},
		{"responses stream", "POST", "/v1/responses", false, body(responsesBody, true), responsesUsage},
		{"responses json", "POST", "/v1/responses", false, body(responsesBody, false), responsesUsage},
		{"chat stream", "POST", "/v1/chat/completions", false, body(chatBody, true), chatUsage},
		{"chat json", "POST", "/v1/chat/completions", false, body(chatBody, false), chatUsage},
		{"openai models", "GET", "/v1/models", false, "", Usage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Config{})
			token := r.proxy.Issue("s1")
			h, keyHeader, want := openAIHeader(token), "Authorization", "Bearer "+openAIKey
			if tt.anthropic {
				h, keyHeader, want = anthropicHeader(token), "X-Api-Key", anthropicKey
			}
			resp, b := r.do(t, tt.method, tt.path, h, tt.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			seen := r.up.headers()
			if len(seen) != 1 {
				t.Fatalf("upstream saw %d requests, want 1", len(seen))
			}
			if got := seen[0].Get(keyHeader); got != want {
				t.Errorf("upstream %s = %q, want the real key", keyHeader, got)
			}
			assertNoToken(t, seen[0], token)
			if got := r.proxy.Usage("s1"); got != tt.wantUsage {
				t.Errorf("usage = %+v, want %+v", got, tt.wantUsage)
			}
		})
	}
}

func assertNoToken(t *testing.T, h http.Header, token string) {
	t.Helper()
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, token) {
				t.Errorf("upstream header %s carries the session token", k)
			}
		}
	}
}

func TestUsageAddsUpOverCallsAndRevokeForgets(t *testing.T) {
	r := newRig(t, Config{})
	token := r.proxy.Issue("s1")
	if again := r.proxy.Issue("s1"); again != token {
		t.Fatal("Issue for the same session returned a new token")
	}
	other := r.proxy.Issue("s2")
	if other == token || !strings.HasPrefix(other, TokenPrefix) {
		t.Fatalf("tokens %q and %q: want distinct, prefixed", token, other)
	}
	for range 3 {
		r.do(t, "POST", "/v1/messages", anthropicHeader(token), body(messagesBody, true))
	}
	want := Usage{InputTokens: 300, OutputTokens: 60, CacheReadTokens: 120, Requests: 3}
	if got := r.proxy.Usage("s1"); got != want {
		t.Fatalf("usage = %+v, want %+v", got, want)
	}
	if got := r.proxy.Usage("s2"); got != (Usage{}) {
		t.Fatalf("other session's usage = %+v, want zero", got)
	}
	if got := r.proxy.Revoke("s1"); got != want {
		t.Fatalf("Revoke returned %+v, want %+v", got, want)
	}
	if got := r.proxy.Usage("s1"); got != (Usage{}) {
		t.Fatalf("usage after Revoke = %+v, want zero", got)
	}
}

func TestRefusedWithoutContactingUpstream(t *testing.T) {
	tests := []struct {
		name      string
		path      string
		header    func(r *rig) http.Header
		status    int
		anthropic bool
	}{
		{"anthropic no token", "/v1/messages", func(*rig) http.Header { return anthropicHeader("") }, 401, true},
		{"anthropic unknown token", "/v1/messages", func(*rig) http.Header { return anthropicHeader(TokenPrefix + "nope") }, 401, true},
		{"pending placeholder", "/v1/messages", func(*rig) http.Header { return anthropicHeader(PendingToken) }, 401, true},
		{"anthropic real key as token", "/v1/messages", func(*rig) http.Header { return anthropicHeader(anthropicKey) }, 401, true},
		{"anthropic revoked", "/v1/messages", func(r *rig) http.Header {
			tok := r.proxy.Issue("gone")
			r.proxy.Revoke("gone")
			return anthropicHeader(tok)
		}, 401, true},
		{"responses unknown token", "/v1/responses", func(*rig) http.Header { return openAIHeader("sk-guess") }, 401, false},
		{"chat revoked", "/v1/chat/completions", func(r *rig) http.Header {
			tok := r.proxy.Issue("gone")
			r.proxy.Revoke("gone")
			return openAIHeader(tok)
		}, 401, false},
		{"unrouted path", "/v1/files", func(r *rig) http.Header { return openAIHeader(r.proxy.Issue("s")) }, 404, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, Config{})
			resp, b := r.do(t, "POST", tt.path, tt.header(r), body(messagesBody, true))
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			assertErrorShape(t, b, tt.anthropic)
			if n := len(r.up.headers()); n != 0 {
				t.Fatalf("upstream was contacted %d times", n)
			}
		})
	}
}

func assertErrorShape(t *testing.T, b []byte, anthropic bool) {
	t.Helper()
	var e struct {
		Type  string `json:"type"`
		Error struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if e.Error.Type == "" || e.Error.Message == "" {
		t.Fatalf("error body %s lacks error.type/message", b)
	}
	if anthropic != (e.Type == "error") {
		t.Fatalf("error body %s: top-level type %q, anthropic shape %v", b, e.Type, anthropic)
	}
}

func TestMissingKeyIsRefused(t *testing.T) {
	r := newRig(t, Config{Upstreams: map[Provider]Upstream{Anthropic: {URL: "http://127.0.0.1:1"}}})
	resp, b := r.do(t, "POST", "/v1/messages", anthropicHeader(r.proxy.Issue("s")), body(messagesBody, true))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	assertErrorShape(t, b, true)
}

func TestBodyCap(t *testing.T) {
	r := newRig(t, Config{MaxBodyBytes: 1 << 10})
	big := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("x", 2<<10) + `"}]}`
	tok := r.proxy.Issue("s")
	resp, b := r.do(t, "POST", "/v1/messages", anthropicHeader(tok), big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared length: status %d: %s", resp.StatusCode, b)
	}
	if n := len(r.up.headers()); n != 0 {
		t.Fatalf("upstream was contacted %d times", n)
	}
	// Without a declared length the cap trips while the body is forwarded.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", r.url+"/v1/responses", io.MultiReader(strings.NewReader(big)))
	req.Header = openAIHeader(tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status %d", resp.StatusCode)
	}
}

// The agent's Accept-Encoding is dropped too, so model replies reach the
// usage tee decoded.
func TestHopByHopHeadersAreNotForwarded(t *testing.T) {
	r := newRig(t, Config{})
	h := anthropicHeader(r.proxy.Issue("s"))
	h.Set("Connection", "X-Private")
	h.Set("X-Private", "1")
	h.Set("Proxy-Authorization", "Basic c2VjcmV0")
	h.Set("Forwarded", "for=10.0.0.1")
	h.Set("X-Keep", "yes")
	h.Set("Accept-Encoding", "gzip, br")
	if resp, b := r.do(t, "POST", "/v1/messages", h, body(messagesBody, false)); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	got := r.up.headers()[0]
	for _, k := range []string{"X-Private", "Proxy-Authorization", "Forwarded", "X-Forwarded-For"} {
		if v := got.Get(k); v != "" {
			t.Errorf("upstream got %s: %q", k, v)
		}
	}
	if ae := got.Get("Accept-Encoding"); strings.Contains(ae, "br") {
		t.Errorf("the agent's Accept-Encoding was forwarded: %q", ae)
	}
	if got.Get("X-Keep") != "yes" || got.Get("Anthropic-Version") == "" {
		t.Errorf("end-to-end headers lost: %v", got)
	}
}

func TestUpstreamPathPrefixIsKept(t *testing.T) {
	var gotPath string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath = r.URL.RequestURI()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(up.Close)
	p, err := New(Config{Upstreams: map[Provider]Upstream{OpenAI: {URL: up.URL + "/gateway/openai/", Key: openAIKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	r := &rig{proxy: p, url: srv.URL}
	r.do(t, "POST", "/v1/responses?x=1", openAIHeader(p.Issue("s")), "{}")
	if gotPath != "/gateway/openai/v1/responses?x=1" {
		t.Fatalf("upstream path %q", gotPath)
	}
}

func TestBadUpstreamURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "not a url", "http://"} {
		if _, err := New(Config{Upstreams: map[Provider]Upstream{OpenAI: {URL: u}}}); err == nil {
			t.Errorf("New accepted upstream %q", u)
		}
	}
}

// A stream's first event must reach the agent while the upstream is still
// holding the rest back: nothing may wait on a buffer.
func TestStreamIsFlushedPerWrite(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n")
	}))
	t.Cleanup(up.Close)
	defer close(release)
	p, err := New(Config{Upstreams: map[Provider]Upstream{Anthropic: {URL: up.URL, Key: anthropicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/v1/messages", strings.NewReader(body(messagesBody, true)))
	req.Header = anthropicHeader(p.Issue("s"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make(chan string, 1)
	go func() {
		b := make([]byte, 4096)
		n, _ := resp.Body.Read(b)
		first <- string(b[:n])
	}()
	select {
	case got := <-first:
		if !strings.Contains(got, "message_start") {
			t.Fatalf("first read %q", got)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the first event did not arrive while upstream held the rest")
	}
}

func TestSecretsAreNotLogged(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // a port nothing listens on
	p, err := New(Config{Logger: logger, Upstreams: map[Provider]Upstream{Anthropic: {URL: dead.URL, Key: anthropicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	tok := p.Issue("s")
	r := &rig{proxy: p, url: srv.URL}
	resp, b := r.do(t, "POST", "/v1/messages", anthropicHeader(tok), body(messagesBody, true))
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	assertErrorShape(t, b, true)
	if logs.Len() == 0 {
		t.Fatal("the upstream failure was not logged")
	}
	for _, s := range []string{tok, anthropicKey} {
		if strings.Contains(logs.String(), s) || strings.Contains(string(b), s) {
			t.Fatalf("a secret leaked into the log or the reply: %s", logs.String())
		}
	}
}

// An upstream that compresses whenever it may still has its usage read,
// and the agent gets the reply it can read.
func TestCompressingUpstreamStillCounted(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply := `{"type":"message","usage":{"input_tokens":11,"output_tokens":4}}`
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			io.WriteString(w, reply)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, reply)
		zw.Close()
	}))
	t.Cleanup(up.Close)
	p, err := New(Config{Upstreams: map[Provider]Upstream{Anthropic: {URL: up.URL, Key: anthropicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	h := anthropicHeader(p.Issue("s"))
	h.Set("Accept-Encoding", "gzip") // set by hand: the client will not decode it for us
	resp, b := (&rig{proxy: p, url: srv.URL}).do(t, "POST", "/v1/messages", h, body(messagesBody, false))
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"input_tokens":11`) {
		t.Fatalf("status %d, body %q", resp.StatusCode, b)
	}
	if got := p.Usage("s"); got != (Usage{InputTokens: 11, OutputTokens: 4, Requests: 1}) {
		t.Fatalf("usage %+v", got)
	}
}

func TestOnUsageHearsEachCall(t *testing.T) {
	heard := make(chan string, 4)
	var mu sync.Mutex
	var calls []Usage
	r := newRig(t, Config{OnUsage: func(id string, u Usage) {
		mu.Lock()
		calls = append(calls, u)
		mu.Unlock()
		heard <- id
	}})
	token := r.proxy.Issue("s1")
	for range 2 {
		r.do(t, "POST", "/v1/messages", anthropicHeader(token), body(messagesBody, true))
	}
	for range 2 {
		select {
		case id := <-heard:
			if id != "s1" {
				t.Errorf("heard session %q", id)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("OnUsage not called")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	one := Usage{InputTokens: 100, OutputTokens: 20, CacheReadTokens: 40, Requests: 1}
	if len(calls) != 2 || calls[0] != one || calls[1] != one {
		t.Errorf("calls = %+v, want two of %+v", calls, one)
	}
}
