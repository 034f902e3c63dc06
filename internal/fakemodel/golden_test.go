package fakemodel

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var fixedClock = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

// reqBody builds a request body of api for a user prompt, offering the
// tools the agents offer, optionally with one tool call and its result.
func reqBody(api API, prompt string, stream bool, toolResult string) []byte {
	var v obj
	switch api {
	case Anthropic:
		msgs := list(obj{{"role", "user"}, {"content", prompt}})
		if toolResult != "" {
			msgs = append(msgs,
				obj{{"role", "assistant"}, {"content", list(obj{{"type", "tool_use"}, {"id", "toolu_1"}, {"name", "Bash"}, {"input", obj{}}})}},
				obj{{"role", "user"}, {"content", list(obj{{"type", "tool_result"}, {"tool_use_id", "toolu_1"}, {"content", toolResult}})}})
		}
		v = obj{{"model", "claude-test"}, {"max_tokens", 1000}, {"stream", stream},
			{"system", list(obj{{"type", "text"}, {"text", "Working directory: /work/dir"}})},
			{"messages", msgs},
			{"tools", list(obj{{"name", "Bash"}}, obj{{"name", "Write"}}, obj{{"name", "AskUserQuestion"}})}}
	case Responses:
		input := list(
			obj{{"type", "message"}, {"role", "user"}, {"content", list(obj{{"type", "input_text"}, {"text", "<environment_context>\n  <cwd>/work/dir</cwd>\n</environment_context>"}})}},
			obj{{"type", "message"}, {"role", "user"}, {"content", list(obj{{"type", "input_text"}, {"text", prompt}})}})
		if toolResult != "" {
			input = append(input,
				obj{{"type", "function_call"}, {"call_id", "call_1"}, {"name", "exec_command"}, {"arguments", "{}"}},
				obj{{"type", "function_call_output"}, {"call_id", "call_1"}, {"output", toolResult}})
		}
		v = obj{{"model", "gpt-test"}, {"stream", stream}, {"include", list("reasoning.encrypted_content")},
			{"input", input},
			{"tools", list(obj{{"type", "function"}, {"name", "exec_command"}}, obj{{"type", "custom"}, {"name", "apply_patch"}},
				obj{{"type", "function"}, {"name", "request_user_input"}}, obj{{"type", "web_search"}})}}
	case Chat:
		msgs := list(obj{{"role", "system"}, {"content", "Working directory: /work/dir"}}, obj{{"role", "user"}, {"content", prompt}})
		if toolResult != "" {
			msgs = append(msgs,
				obj{{"role", "assistant"}, {"content", ""}, {"tool_calls", list(obj{{"id", "call_1"}, {"type", "function"},
					{"function", obj{{"name", "bash"}, {"arguments", "{}"}}}})}},
				obj{{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", toolResult}})
		}
		v = obj{{"model", "fake-model"}, {"stream", stream}, {"stream_options", obj{{"include_usage", true}}},
			{"messages", msgs},
			{"tools", list(obj{{"type", "function"}, {"function", obj{{"name", "bash"}}}}, obj{{"type", "function"}, {"function", obj{{"name", "write"}}}},
				obj{{"type", "function"}, {"function", obj{{"name", "question"}}}})}}
	}
	return mustJSON(v)
}

func apiPath(api API) string {
	switch api {
	case Anthropic:
		return "/v1/messages?beta=true"
	case Responses:
		return "/v1/responses"
	}
	return "/v1/chat/completions"
}

// exchange posts body and returns the response as golden text: status,
// the headers clients read, a blank line, the raw body.
func exchange(t *testing.T, url string, api API, body []byte) string {
	t.Helper()
	resp, err := http.Post(url+apiPath(api), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\n", resp.StatusCode)
	for _, h := range []string{"Content-Type", "Cache-Control", "Request-Id", "X-Request-Id", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	b.WriteString("\n")
	b.Write(raw)
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from golden (go test -run %s -update to accept):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

func TestGolden(t *testing.T) {
	cases := []struct {
		name       string
		prompt     string
		stream     bool
		toolResult string
	}{
		{"text", "SCN:text Say hello.", true, ""},
		{"thinking", "SCN:thinking Think.", true, ""},
		{"tool_bash", "SCN:tool_bash Run it.", true, ""},
		{"tool_bash_turn1", "SCN:tool_bash Run it.", true, "hi-from-tool\n"},
		{"file_edit", "SCN:file_edit Create hello.txt.", true, ""},
		{"ask_question", "SCN:ask_question Ask me.", true, ""},
		{"error500", "SCN:error500 Fail.", true, ""},
		{"error401", "SCN:error401 Fail.", true, ""},
		{"stream_error", "SCN:stream_error Fail midway.", true, ""},
		{"title", "No marker here.", true, ""}, // no marker, no default: TitleText
		{"text_nostream", "SCN:text Say hello.", false, ""},
		{"thinking_nostream", "SCN:thinking Think.", false, ""},
		{"tool_bash_nostream", "SCN:tool_bash Run it.", false, ""},
		{"file_edit_nostream", "SCN:file_edit Create hello.txt.", false, ""},
		{"stream_error_nostream", "SCN:stream_error Fail midway.", false, ""},
	}
	for _, api := range []API{Anthropic, Responses, Chat} {
		for _, c := range cases {
			t.Run(string(api)+"/"+c.name, func(t *testing.T) {
				s := New(WithClock(fixedClock))
				ts := httptest.NewServer(s)
				defer ts.Close()
				body := reqBody(api, c.prompt, c.stream, c.toolResult)
				checkGolden(t, string(api)+"_"+c.name, exchange(t, ts.URL, api, body))
			})
		}
	}
}
