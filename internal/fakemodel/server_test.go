package fakemodel

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// guard fails the test if ch is not closed within a generous bound; it
// never delays a passing test.
func guard(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func post(t *testing.T, ctx context.Context, url string, api API, body []byte, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+apiPath(api), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// readUntil reads SSE lines until one contains s.
func readUntil(t *testing.T, r *bufio.Reader, s string) string {
	t.Helper()
	var seen strings.Builder
	for {
		line, err := r.ReadString('\n')
		seen.WriteString(line)
		if strings.Contains(line, s) {
			return seen.String()
		}
		if err != nil {
			t.Fatalf("stream ended (%v) before %q; got:\n%s", err, s, seen.String())
		}
	}
}

// tracked wraps s so the test can tell when a handler has returned.
func tracked(s *Server) (http.Handler, <-chan struct{}) {
	done := make(chan struct{}, 16)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		s.ServeHTTP(w, r)
	}), done
}

func TestRedaction(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	h := http.Header{}
	h.Set("Authorization", "Bearer sk-secret")
	h.Set("X-Api-Key", "sk-secret")
	h.Set("Api-Key", "sk-secret")
	h.Set("Cookie", "session=sk-secret")
	h.Set("User-Agent", "claude-cli/test")
	resp := post(t, context.Background(), ts.URL, Anthropic, reqBody(Anthropic, "SCN:text hi", true, ""), h)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	for _, k := range []string{"Authorization", "X-Api-Key", "Api-Key", "Cookie"} {
		if got := r.Header.Get(k); got != Redacted {
			t.Errorf("%s = %q, want %q", k, got, Redacted)
		}
	}
	if got := r.Header.Get("User-Agent"); got != "claude-cli/test" {
		t.Errorf("User-Agent = %q", got)
	}
	if dump, _ := json.Marshal(s.logJSON()); bytes.Contains(dump, []byte("sk-secret")) {
		t.Error("secret in /_fake/requests")
	}
	if r.Method != "POST" || r.Path != "/v1/messages" || r.Query != "beta=true" || r.API != Anthropic ||
		r.Endpoint != EndpointGenerate || r.Scenario != "text" || r.Model != "claude-test" || !r.Stream || r.Status != 200 || r.Seq != 1 {
		t.Errorf("record: %+v", r)
	}
	if !bytes.Equal(r.Body, reqBody(Anthropic, "SCN:text hi", true, "")) {
		t.Error("body not recorded verbatim")
	}
	if want := "POST /v1/messages?beta=true api=anthropic model=claude-test scenario=text turn=0 stream status=200"; r.Line() != want {
		t.Errorf("Line() = %q", r.Line())
	}
}

func TestToolResultsFromLog(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	denied := obj{{"role", "user"}, {"content", list(obj{{"type", "tool_result"}, {"tool_use_id", "toolu_9"},
		{"content", "Permission denied by the test"}, {"is_error", true}})}}
	call := obj{{"role", "assistant"}, {"content", list(obj{{"type", "tool_use"}, {"id", "toolu_9"}, {"name", "Bash"}, {"input", obj{}}})}}
	turn1 := obj{{"model", "m"}, {"stream", true}, {"tools", list(obj{{"name", "Bash"}})},
		{"messages", list(user("SCN:tool_bash go"), call, denied)}}
	turn2 := obj{{"model", "m"}, {"stream", true}, {"tools", list(obj{{"name", "Bash"}})},
		{"messages", list(user("SCN:tool_bash go"), call, denied, assistant("ok"), user("SCN:text again"))}}
	for _, b := range []obj{turn1, turn2} {
		resp := post(t, context.Background(), ts.URL, Anthropic, mustJSON(b), nil)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	trs := s.ToolResults()
	if len(trs) != 1 {
		t.Fatalf("tool results %+v", trs)
	}
	want := ToolResult{API: Anthropic, CallID: "toolu_9", Content: "Permission denied by the test", IsError: true}
	if trs[0] != want {
		t.Errorf("got %+v", trs[0])
	}
	if tr, ok := s.ToolResult("toolu_9"); !ok || tr != want {
		t.Errorf("ToolResult: %+v %v", tr, ok)
	}
	if _, ok := s.ToolResult("nope"); ok {
		t.Error("found a tool result that was never sent")
	}
	calls := s.ModelCalls()
	if len(calls) != 2 || calls[0].Turn != 1 || calls[1].Scenario != "text" || calls[1].Turn != 0 {
		t.Errorf("model calls %+v", calls)
	}
}

func TestParseToolResultsAllAPIs(t *testing.T) {
	for _, api := range []API{Anthropic, Responses, Chat} {
		c := mustConv(t, api, reqBody(api, "SCN:x", true, "the output"))
		trs := c.ToolResults()
		if len(trs) != 1 || trs[0].Content != "the output" || trs[0].API != api || trs[0].CallID == "" {
			t.Errorf("%s: %+v", api, trs)
		}
	}
	// Responses output given as content parts.
	c := mustConv(t, Responses, []byte(`{"input":[{"type":"message","role":"user","content":"SCN:x"},
		{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]}]}`))
	if trs := c.ToolResults(); len(trs) != 1 || trs[0].Content != "a\nb" {
		t.Errorf("parts output: %+v", trs)
	}
	// Responses input as a plain string.
	c = mustConv(t, Responses, []byte(`{"input":"SCN:text hi"}`))
	if name, _, ok := c.Marker(); !ok || name != "text" {
		t.Errorf("string input marker: %q %v", name, ok)
	}
}

func TestHTTPErrors(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	cases := []struct {
		api    API
		prompt string
		status int
		body   string
	}{
		{Anthropic, "SCN:error500", 500, `{"type":"error","error":{"type":"api_error","message":"Internal server error (fake)."},"request_id":"req_fake_0001"}`},
		{Anthropic, "SCN:error401", 401, `{"type":"error","error":{"type":"authentication_error","message":"Incorrect API key provided (fake)."},"request_id":"req_fake_0002"}`},
		{Responses, "SCN:error401", 401, `{"error":{"message":"Incorrect API key provided (fake).","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`},
		{Chat, "SCN:error500", 500, `{"error":{"message":"Internal server error (fake).","type":"server_error","param":null,"code":null}}`},
	}
	for _, c := range cases {
		resp := post(t, context.Background(), ts.URL, c.api, reqBody(c.api, c.prompt, true, ""), nil)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || strings.TrimSpace(string(b)) != c.body {
			t.Errorf("%s %s: %d %s", c.api, c.prompt, resp.StatusCode, b)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("content type %q", ct)
		}
	}
	if got := s.Requests()[1].Status; got != 401 {
		t.Errorf("recorded status %d", got)
	}
}

func TestErrorThenRetrySucceeds(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	body := reqBody(Chat, "SCN:error429 go", true, "")
	resp := post(t, context.Background(), ts.URL, Chat, body, nil)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "0" {
		t.Fatalf("first: %d retry-after %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	resp = post(t, context.Background(), ts.URL, Chat, body, nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"content":"rate limit."`)) || !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
		t.Fatalf("retry: %d %s", resp.StatusCode, b)
	}
}

func TestStallEndsWithRequest(t *testing.T) {
	for _, api := range []API{Anthropic, Responses, Chat} {
		t.Run(string(api), func(t *testing.T) {
			s := New()
			h, done := tracked(s)
			ts := httptest.NewServer(h)
			defer ts.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := post(t, ctx, ts.URL, api, reqBody(api, "SCN:stall wait", true, ""), nil)
			defer resp.Body.Close()
			got := readUntil(t, bufio.NewReader(resp.Body), "on it")
			if strings.Contains(got, "message_stop") || strings.Contains(got, "response.completed") || strings.Contains(got, "[DONE]") {
				t.Errorf("stream ended before the stall:\n%s", got)
			}
			cancel()
			guard(t, done, "the stalled handler to return")
		})
	}
}

func TestStallUntilRelease(t *testing.T) {
	release := make(chan struct{})
	s := New(WithScenarios(Scenario{Name: "gate", Turns: []Turn{{Text("before"), StallUntil(release), Text("after")}}}))
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp := post(t, context.Background(), ts.URL, Anthropic, reqBody(Anthropic, "SCN:gate", true, ""), nil)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	first := readUntil(t, r, `"before"`)
	if strings.Contains(first, "after") {
		t.Fatal("released too early")
	}
	close(release)
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// The open text block is finished only when the next one starts.
	if !bytes.Contains(rest, []byte(`"content_block_stop","index":0`)) || !bytes.Contains(rest, []byte(`"text":"after"`)) ||
		!bytes.HasSuffix(rest, []byte("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")) {
		t.Errorf("after release:\n%s", rest)
	}
}

func TestCloseEndsStall(t *testing.T) {
	s := New(WithDefaultScenario("stall"))
	base, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, context.Background(), base, Responses, reqBody(Responses, "no marker", true, ""), nil)
	defer resp.Body.Close()
	r := bufio.NewReader(resp.Body)
	readUntil(t, r, "on it")
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	guard(t, closed, "Close")
	if _, err := io.ReadAll(r); err == nil {
		t.Error("stream ended cleanly; want it cut by Close")
	}
	s.Close() // idempotent
	if _, err := s.Start(context.Background()); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func TestStartStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := New()
	base, err := s.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }() // waits for the ctx-triggered close
	guard(t, closed, "the server to stop")
	if _, err := http.Get(base + "/v1/models"); err == nil {
		t.Error("server still serving after ctx ended")
	}
}

func TestDrop(t *testing.T) {
	for _, api := range []API{Anthropic, Responses, Chat} {
		t.Run(string(api), func(t *testing.T) {
			s := New()
			ts := httptest.NewServer(s)
			defer ts.Close()
			resp := post(t, context.Background(), ts.URL, api, reqBody(api, "SCN:drop", true, ""), nil)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("read error %v, want unexpected EOF", err)
			}
			if !bytes.Contains(b, []byte("Partial answer")) {
				t.Errorf("partial stream missing:\n%s", b)
			}
		})
	}
	// Non-streaming: no response at all.
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/messages", bytes.NewReader(reqBody(Anthropic, "SCN:drop", false, "")))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("non-streaming drop answered %d", resp.StatusCode)
	}
}

func TestSideEndpoints(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	get := func(path string, h map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, m := get("/v1/models", nil); st != 200 || m["object"] != "list" || len(m["data"].([]any)) == 0 {
		t.Errorf("openai models: %d %v", st, m)
	}
	if st, m := get("/v1/models/gpt-5.5", nil); st != 200 || m["id"] != "gpt-5.5" {
		t.Errorf("one model: %d %v", st, m)
	}
	if st, m := get("/v1/models", map[string]string{"anthropic-version": "2023-06-01"}); st != 200 || m["has_more"] != false {
		t.Errorf("anthropic models: %d %v", st, m)
	}
	if st, m := get("/nope", map[string]string{"anthropic-version": "2023-06-01"}); st != 404 || m["type"] != "error" {
		t.Errorf("anthropic 404: %d %v", st, m)
	}
	if st, m := get("/nope", nil); st != 404 || m["error"] == nil {
		t.Errorf("openai 404: %d %v", st, m)
	}
	resp, err := http.Post(ts.URL+"/v1/messages/count_tokens", "application/json", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hello there"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var ct map[string]int
	_ = json.NewDecoder(resp.Body).Decode(&ct)
	resp.Body.Close()
	if resp.StatusCode != 200 || ct["input_tokens"] <= 0 {
		t.Errorf("count_tokens: %d %v", resp.StatusCode, ct)
	}
	resp, err = http.Post(ts.URL+"/v1/responses", "application/json", strings.NewReader(`{not json`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad body: %d", resp.StatusCode)
	}
	if st, m := get("/_fake/requests", nil); st != 200 || m != nil {
		// It is an array; decoding into a map fails and leaves m nil.
		t.Errorf("log: %d %v", st, m)
	}
	var endpoints []string
	for _, r := range s.Requests() {
		endpoints = append(endpoints, r.Endpoint)
	}
	if got := strings.Join(endpoints, ","); got != "models,models,models,unknown,unknown,count_tokens,generate" {
		t.Errorf("recorded endpoints %s (the log endpoint is not recorded)", got)
	}
}

func TestScenarioPathPrefixAndGzip(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(reqBody(Chat, "no marker", false, ""))
	_ = zw.Close()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/scn/text/v1/chat/completions", &zb)
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte("Hello from the fake model")) {
		t.Errorf("got %s", b)
	}
	if r := s.Requests()[0]; r.Path != "/scn/text/v1/chat/completions" || r.Scenario != "text" || r.API != Chat {
		t.Errorf("record %+v", r)
	}
}

func TestWaitFor(t *testing.T) {
	s := New()
	ts := httptest.NewServer(s)
	defer ts.Close()
	found := make(chan Request, 1)
	go func() {
		r, err := s.WaitFor(context.Background(), func(r Request) bool { return r.Scenario == "thinking" })
		if err == nil {
			found <- r
		}
	}()
	for _, p := range []string{"SCN:text a", "SCN:thinking b"} {
		resp := post(t, context.Background(), ts.URL, Chat, reqBody(Chat, p, true, ""), nil)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	select {
	case r := <-found:
		if r.Seq != 2 {
			t.Errorf("seq %d", r.Seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFor did not return")
	}
	// Already recorded: returns at once; a cancelled ctx ends the wait.
	if r, err := s.WaitFor(context.Background(), func(r Request) bool { return r.Seq == 1 }); err != nil || r.Scenario != "text" {
		t.Errorf("existing: %+v %v", r, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitFor(ctx, func(Request) bool { return false }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestOnRequestAndUsage(t *testing.T) {
	lines := make(chan string, 4)
	s := New(WithUsage(Usage{Input: 1, Cached: 0, Output: 2, Reasoning: 0}), WithOnRequest(func(r Request) { lines <- r.Line() }))
	ts := httptest.NewServer(s)
	defer ts.Close()
	resp := post(t, context.Background(), ts.URL, Chat, reqBody(Chat, "SCN:text", false, ""), nil)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte(`"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3`)) {
		t.Errorf("usage not applied: %s", b)
	}
	if l := <-lines; !strings.Contains(l, "scenario=text") {
		t.Errorf("hook line %q", l)
	}
}
