package fakemodel

// Tests that run the real agent binaries against the fake model. They are
// skipped under -short and when a binary is missing. Install them with
//
//	npm install --prefix ~/.cache/agentd/npm @anthropic-ai/claude-code-linux-x64@2.1.330
//	npm install --prefix ~/.cache/agentd/npm @openai/codex@0.169.0-linux-x64
//	npm install --prefix ~/.cache/agentd/npm opencode-linux-x64@1.18.34
//
// or point AGENTD_CLAUDE_BIN / AGENTD_CODEX_BIN / AGENTD_OPENCODE_BIN at them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const agentPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// agentBin finds an agent binary or skips the test.
func agentBin(t *testing.T, envVar, underCache string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("real-agent test: skipped under -short")
	}
	bin := os.Getenv(envVar)
	if bin == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("real-agent test: no home dir to find the binary (%v); set %s", err, envVar)
		}
		bin = filepath.Join(home, ".cache", "agentd", "npm", "node_modules", underCache)
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Skipf("real-agent test: binary %s not available (set %s or npm install it under ~/.cache/agentd/npm)", bin, envVar)
	}
	return bin
}

func claudeBin(t *testing.T) string {
	return agentBin(t, "AGENTD_CLAUDE_BIN", "@anthropic-ai/claude-code-linux-x64/claude")
}

func codexBin(t *testing.T) string {
	return agentBin(t, "AGENTD_CODEX_BIN", "@openai/codex/vendor/x86_64-unknown-linux-musl/bin/codex")
}

func opencodeBin(t *testing.T) string {
	return agentBin(t, "AGENTD_OPENCODE_BIN", "opencode-linux-x64/bin/opencode")
}

// startFake serves a fresh fake model for the test.
func startFake(t *testing.T, opts ...Opt) (*Server, string) {
	t.Helper()
	s := New(opts...)
	base, err := s.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, base
}

// agentCmd prepares a command in dir with exactly env (plus PATH).
func agentCmd(ctx context.Context, dir string, env []string, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{agentPath}, env...)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// runAgent runs the command to completion and returns stdout; wantExit is
// the expected exit code.
func runAgent(t *testing.T, cmd *exec.Cmd, stdin string, wantExit int) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	start := time.Now()
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v\nstderr:\n%s", cmd.Path, err, stderr.String())
	}
	t.Logf("%s %s: exit %d in %v", filepath.Base(cmd.Path), strings.Join(cmd.Args[1:], " "), code, time.Since(start).Round(time.Millisecond))
	if code != wantExit {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, wantExit, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

// jsonLines decodes the JSON objects of a JSON-lines output.
func jsonLines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("stdout line is not JSON: %s", l)
		}
		out = append(out, m)
	}
	return out
}

// path digs into nested maps: path(m, "part", "state", "status").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func findLine(lines []map[string]any, match func(map[string]any) bool) map[string]any {
	for _, l := range lines {
		if match(l) {
			return l
		}
	}
	return nil
}

// logSideCalls reports requests that were not model calls, and the turns
// of the model calls.
func logSideCalls(t *testing.T, s *Server) {
	t.Helper()
	var side, model []string
	for _, r := range s.Requests() {
		if r.IsModelCall() {
			model = append(model, r.Line())
		} else {
			side = append(side, r.Line())
		}
	}
	t.Logf("model calls:\n  %s", strings.Join(model, "\n  "))
	if len(side) > 0 {
		t.Logf("side endpoints called:\n  %s", strings.Join(side, "\n  "))
	} else {
		t.Logf("no side endpoints called")
	}
}

func turnsOf(reqs []Request) []int {
	var out []int
	for _, r := range reqs {
		out = append(out, r.Turn)
	}
	return out
}

// ---- Claude Code ----

func claudeEnv(home, base string) []string {
	return []string{"HOME=" + home, "IS_SANDBOX=1", "ANTHROPIC_BASE_URL=" + base, "ANTHROPIC_API_KEY=x",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"}
}

func claudeUserLine(text string) string {
	return string(mustJSON(obj{{"type", "user"}, {"message", obj{{"role", "user"}, {"content", text}}},
		{"parent_tool_use_id", nil}, {"session_id", ""}})) + "\n"
}

func claudeResult(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	res := findLine(lines, func(l map[string]any) bool { return l["type"] == "result" })
	if res == nil {
		t.Fatalf("no result line in %d lines", len(lines))
	}
	return res
}

func TestRealClaude(t *testing.T) {
	bin := claudeBin(t)
	t.Run("text", func(t *testing.T) {
		t.Parallel()
		s, base := startFake(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		// As captures/claude/text.cmd.txt.
		cmd := agentCmd(ctx, t.TempDir(), claudeEnv(t.TempDir(), base), bin,
			"-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
			"--permission-prompt-tool", "stdio", "--include-partial-messages")
		lines := jsonLines(t, runAgent(t, cmd, claudeUserLine("SCN:text Say hello."), 0))
		res := claudeResult(t, lines)
		if res["is_error"] != false || res["result"] != "Hello from the fake model. This is reply number 1." {
			t.Errorf("result line: %v", res)
		}
		if findLine(lines, func(l map[string]any) bool {
			return l["type"] == "stream_event" && path(l, "event", "delta", "type") == "text_delta"
		}) == nil {
			t.Error("no text_delta stream_event: the stream was not parsed incrementally")
		}
		calls := s.ModelCalls()
		if len(calls) != 1 {
			t.Fatalf("%d model calls", len(calls))
		}
		c := calls[0]
		if c.Path != "/v1/messages" || c.Query != "beta=true" || !c.Stream || c.Scenario != "text" ||
			c.Header.Get("X-Api-Key") != Redacted || !strings.HasPrefix(c.Header.Get("User-Agent"), "claude-cli/") {
			t.Errorf("model call: %s headers %v", c.Line(), c.Header)
		}
		logSideCalls(t, s)
	})

	t.Run("tool_bash", func(t *testing.T) {
		t.Parallel()
		s, base := startFake(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		work := t.TempDir()
		cmd := agentCmd(ctx, work, claudeEnv(t.TempDir(), base), bin,
			"-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
			"--permission-mode", "bypassPermissions")
		lines := jsonLines(t, runAgent(t, cmd, claudeUserLine("SCN:tool_bash Run a command."), 0))
		res := claudeResult(t, lines)
		if res["is_error"] != false || res["result"] != "Step 1 done. Last tool output: 'hi-from-tool'" {
			t.Errorf("result line: %v", res)
		}
		if out, err := os.ReadFile(filepath.Join(work, "tool_out.txt")); err != nil || string(out) != "hi-from-tool\n" {
			t.Errorf("tool_out.txt: %q %v", out, err)
		}
		trs := s.ToolResults()
		if len(trs) != 1 || trs[0].Content != "hi-from-tool" || trs[0].IsError || !strings.HasPrefix(trs[0].CallID, "toolu_fake_") {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		if got := turnsOf(s.ModelCalls()); len(got) != 2 || got[0] != 0 || got[1] != 1 {
			t.Errorf("turns %v, want [0 1]", got)
		}
		logSideCalls(t, s)
	})

	t.Run("tool_bash_denied", func(t *testing.T) {
		t.Parallel()
		s, base := startFake(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		work := t.TempDir()
		// As captures/claude/tool_bash_deny.cmd.txt: permissions over stdio.
		cmd := agentCmd(ctx, work, claudeEnv(t.TempDir(), base), bin,
			"-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
			"--permission-prompt-tool", "stdio")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		const denial = "Denied by the fakemodel test."
		_, _ = io.WriteString(stdin, claudeUserLine("SCN:tool_bash Run a command."))
		var lines []map[string]any
		var asked map[string]any
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("stdout line is not JSON: %s", sc.Bytes())
			}
			lines = append(lines, m)
			switch {
			case m["type"] == "control_request" && path(m, "request", "subtype") == "can_use_tool":
				asked = m
				_, _ = io.WriteString(stdin, string(mustJSON(obj{{"type", "control_response"}, {"response", obj{
					{"subtype", "success"}, {"request_id", m["request_id"]},
					{"response", obj{{"behavior", "deny"}, {"message", denial}}}}}}))+"\n")
			case m["type"] == "result":
				stdin.Close()
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("claude: %v\nstderr:\n%s", err, stderr.String())
		}
		if asked == nil || path(asked, "request", "tool_name") != "Bash" {
			t.Fatalf("no can_use_tool request for Bash; got %d lines", len(lines))
		}
		tr, ok := s.ToolResult(path(asked, "request", "tool_use_id").(string))
		if !ok || !tr.IsError || tr.Content != denial {
			t.Errorf("the denial did not reach the model as the tool result: %+v (found %v)", tr, ok)
		}
		res := claudeResult(t, lines)
		if denials, _ := res["permission_denials"].([]any); len(denials) != 1 {
			t.Errorf("permission_denials: %v", res["permission_denials"])
		}
		if _, err := os.Stat(filepath.Join(work, "tool_out.txt")); err == nil {
			t.Error("the denied command ran")
		}
	})
}

// ---- Codex ----

func codexHome(t *testing.T, base string) string {
	t.Helper()
	home := t.TempDir()
	// As captures/codex-exec/*.cmd.txt.
	cfg := `model = "gpt-5.5"
model_provider = "fake"

[model_providers.fake]
name = "Fake"
base_url = "` + base + `/v1"
wire_api = "responses"
env_key = "FAKE_API_KEY"
request_max_retries = 0
stream_max_retries = 0
`
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

func TestRealCodex(t *testing.T) {
	bin := codexBin(t)
	run := func(t *testing.T, prompt string) (*Server, string, []map[string]any) {
		s, base := startFake(t)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		home := codexHome(t, base)
		work := t.TempDir()
		cmd := agentCmd(ctx, work, []string{"HOME=" + home, "CODEX_HOME=" + home, "FAKE_API_KEY=x"}, bin,
			"exec", "--json", "--skip-git-repo-check", "--sandbox", "danger-full-access", prompt)
		// cmd.Stdin nil = /dev/null: codex exec reads stdin to EOF first.
		lines := jsonLines(t, runAgent(t, cmd, "", 0))
		if findLine(lines, func(l map[string]any) bool { return l["type"] == "turn.completed" }) == nil {
			t.Errorf("no turn.completed: %v", lines)
		}
		return s, work, lines
	}
	agentMessages := func(lines []map[string]any) []string {
		var out []string
		for _, l := range lines {
			if l["type"] == "item.completed" && path(l, "item", "type") == "agent_message" {
				out = append(out, path(l, "item", "text").(string))
			}
		}
		return out
	}

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		s, _, lines := run(t, "SCN:text Say hello.")
		if got := agentMessages(lines); len(got) != 1 || got[0] != "Hello from the fake model. This is reply number 1." {
			t.Errorf("agent messages %q", got)
		}
		calls := s.ModelCalls()
		if len(calls) != 1 || calls[0].Path != "/v1/responses" || !calls[0].Stream || calls[0].Header.Get("Authorization") != Redacted {
			t.Errorf("model calls %+v", calls)
		}
		logSideCalls(t, s)
	})

	t.Run("tool_bash", func(t *testing.T) {
		t.Parallel()
		s, work, lines := run(t, "SCN:tool_bash Run a command.")
		ex := findLine(lines, func(l map[string]any) bool {
			return l["type"] == "item.completed" && path(l, "item", "type") == "command_execution"
		})
		if ex == nil || path(ex, "item", "status") != "completed" || path(ex, "item", "aggregated_output") != "hi-from-tool\n" {
			t.Errorf("command_execution: %v", ex)
		}
		if out, err := os.ReadFile(filepath.Join(work, "tool_out.txt")); err != nil || string(out) != "hi-from-tool\n" {
			t.Errorf("tool_out.txt: %q %v", out, err)
		}
		trs := s.ToolResults()
		if len(trs) != 1 || !strings.Contains(trs[0].Content, "hi-from-tool") || !strings.HasPrefix(trs[0].CallID, "call_fake_") {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		if msgs := agentMessages(lines); len(msgs) != 2 || !strings.HasPrefix(msgs[1], "Step 1 done. Last tool output: '") {
			t.Errorf("agent messages %q", msgs)
		}
		logSideCalls(t, s)
	})

	t.Run("file_edit", func(t *testing.T) {
		t.Parallel()
		s, work, lines := run(t, "SCN:file_edit Create hello.txt.")
		fc := findLine(lines, func(l map[string]any) bool {
			return l["type"] == "item.completed" && path(l, "item", "type") == "file_change"
		})
		if fc == nil || path(fc, "item", "status") != "completed" {
			t.Errorf("file_change: %v", fc)
		}
		if out, err := os.ReadFile(filepath.Join(work, "hello.txt")); err != nil || string(out) != "hello from fake model\n" {
			t.Errorf("hello.txt: %q %v", out, err)
		}
		if trs := s.ToolResults(); len(trs) != 1 || !strings.Contains(trs[0].Content, "Success. Updated the following files") {
			t.Errorf("apply_patch result: %+v", trs)
		}
	})
}

// ---- OpenCode ----

func TestRealOpenCode(t *testing.T) {
	bin := opencodeBin(t)
	run := func(t *testing.T, prompt string) (*Server, string, []map[string]any) {
		s, base := startFake(t)
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
		defer cancel()
		work := t.TempDir()
		// As captures/opencode/*.cmd.txt, without the "ask" permissions
		// (opencode run has nobody to answer them).
		cfg := obj{{"$schema", "https://opencode.ai/config.json"},
			{"provider", obj{{"fake", obj{{"npm", "@ai-sdk/openai-compatible"}, {"name", "Fake"},
				{"options", obj{{"baseURL", base + "/v1"}, {"apiKey", "x"}}},
				{"models", obj{{"fake-model", obj{{"name", "Fake Model"}, {"reasoning", true}, {"tool_call", true}}}}}}}}},
			{"model", "fake/fake-model"}, {"small_model", "fake/fake-model"}, {"autoupdate", false}, {"share", "disabled"}}
		if err := os.WriteFile(filepath.Join(work, "opencode.json"), mustJSON(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		home := t.TempDir()
		// OpenCode tries a models.dev fetch and a background npm install of
		// its plugin package at start; failing them fast (dead registry,
		// offline npm) saves ~20 s per run.
		cmd := agentCmd(ctx, work, []string{"HOME=" + home, "OPENCODE_DISABLE_MODELS_FETCH=1",
			"OPENCODE_DISABLE_AUTOUPDATE=1", "OPENCODE_DISABLE_LSP_DOWNLOAD=1",
			"NPM_CONFIG_REGISTRY=http://127.0.0.1:9/", "BUN_CONFIG_REGISTRY=http://127.0.0.1:9/", "npm_config_offline=true"}, bin,
			"run", "--format", "json", prompt)
		lines := jsonLines(t, runAgent(t, cmd, "", 0))
		return s, work, lines
	}

	t.Run("text", func(t *testing.T) {
		t.Parallel()
		s, _, lines := run(t, "SCN:text Say hello.")
		txt := findLine(lines, func(l map[string]any) bool { return l["type"] == "text" })
		if txt == nil || path(txt, "part", "text") != "Hello from the fake model. This is reply number 1." {
			t.Errorf("text part: %v", txt)
		}
		var aux, main int
		for _, r := range s.ModelCalls() {
			if r.Path != "/v1/chat/completions" || !r.Stream {
				t.Errorf("model call %s", r.Line())
			}
			if r.Scenario == "" {
				aux++ // title generation: no tools, answered TitleText
			} else {
				main++
			}
		}
		if main != 1 || aux != 1 {
			t.Errorf("main calls %d, title calls %d; want 1, 1", main, aux)
		}
		logSideCalls(t, s)
	})

	t.Run("tool_bash", func(t *testing.T) {
		t.Parallel()
		s, work, lines := run(t, "SCN:tool_bash Run a command.")
		tool := findLine(lines, func(l map[string]any) bool { return l["type"] == "tool_use" })
		if tool == nil || path(tool, "part", "tool") != "bash" || path(tool, "part", "state", "status") != "completed" ||
			path(tool, "part", "state", "output") != "hi-from-tool\n" {
			t.Errorf("tool part: %v", tool)
		}
		if out, err := os.ReadFile(filepath.Join(work, "tool_out.txt")); err != nil || string(out) != "hi-from-tool\n" {
			t.Errorf("tool_out.txt: %q %v", out, err)
		}
		trs := s.ToolResults()
		if len(trs) != 1 || trs[0].Content != "hi-from-tool\n" || !strings.HasPrefix(trs[0].CallID, "call_fake_") {
			t.Errorf("tool results that reached the model: %+v", trs)
		}
		var texts []string
		for _, l := range lines {
			if l["type"] == "text" {
				texts = append(texts, path(l, "part", "text").(string))
			}
		}
		if len(texts) != 2 || texts[1] != "Step 1 done. Last tool output: 'hi-from-tool\n'" {
			t.Errorf("texts %q", texts)
		}
		logSideCalls(t, s)
	})
}
