package fakemodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// API is a wire protocol the server speaks.
type API string

// The wire APIs.
const (
	Anthropic API = "anthropic" // Anthropic Messages (Claude Code)
	Responses API = "responses" // OpenAI Responses (Codex)
	Chat      API = "chat"      // OpenAI Chat Completions (OpenCode)
)

// StepKind says what a Step does.
type StepKind string

// The step kinds.
const (
	KindText        StepKind = "text"         // a text block, streamed in chunks
	KindThinking    StepKind = "thinking"     // a thinking / reasoning block
	KindTool        StepKind = "tool"         // a tool call
	KindHTTPError   StepKind = "http_error"   // answer with an HTTP error instead of a stream
	KindStreamError StepKind = "stream_error" // finish the open block, send an in-stream error, end the stream
	KindStall       StepKind = "stall"        // block until the request ends or Release closes (Close cuts the connection)
	KindDrop        StepKind = "drop"         // cut the connection without ending the stream
)

// A Scenario is what the model does over the model calls of one user
// prompt: Turns[i] is the reply to the call that carries i tool results
// after the user message naming the scenario.
type Scenario struct {
	Name  string `json:"name"`
	Turns []Turn `json:"turns"`
}

// A Turn is the reply to one model call.
//
// Any KindHTTPError step makes the whole reply that HTTP error (an HTTP
// status cannot follow a started stream). The other steps are streamed in
// order; a block stays open until the next step starts, so a stall or a
// drop after a text step leaves that text block unfinished.
type Turn []Step

// A Step is one part of a model reply.
//
// Text (for text and thinking steps) and tool arguments may use templates,
// filled in from the request: {{reply_number}} (user messages carrying a
// marker, at least 1), {{step}} (the turn index), {{tool_output}} (the
// last tool result, first 120 characters), {{cwd}} (the agent's working
// directory as its prompt states it, "/tmp" if not found).
type Step struct {
	Kind StepKind `json:"kind"`
	// Text of a text step; summary of a thinking step.
	Text string `json:"text,omitempty"`
	// Raw reasoning text of a thinking step (Responses reasoning_text; other
	// APIs ignore it).
	Raw string `json:"raw,omitempty"`
	// Signature of a thinking step (Anthropic signature_delta); default "fakesig==".
	Signature string `json:"signature,omitempty"`
	// Calls of a tool step: alternative shapes of the same call. For a
	// request, the server takes the calls made for its API (or for any API),
	// prefers the first whose name the request offers as a tool, else the
	// first of them.
	Calls []Call `json:"calls,omitempty"`
	// Error of an http_error or stream_error step.
	Error *ErrorSpec `json:"error,omitempty"`
	// Words per delta for text and thinking (default 3); tool arguments
	// are sent in pieces of 40 bytes.
	Chunk int `json:"chunk,omitempty"`
	// Delay before each delta.
	Delay time.Duration `json:"-"`
	// Times, if positive, makes an error, stall or drop step happen only
	// on the first Times requests that reach it; later ones skip it (for
	// retries that succeed).
	Times int `json:"times,omitempty"`
	// Release, if not nil, also ends a stall when closed (Go only).
	Release <-chan struct{} `json:"-"`
}

// A Call is one tool call in the shape of one wire API.
type Call struct {
	// API this shape is for; "" means any.
	API API `json:"api,omitempty"`
	// Name of the tool.
	Name string `json:"name"`
	// Arguments: a JSON object (tool_use input / function arguments).
	Arguments json.RawMessage `json:"arguments,omitempty"`
	// Input of a freeform (custom) tool such as Codex's apply_patch. When
	// the request offers the tool as a function instead, the server sends
	// {"input": Input} as its arguments.
	Input string `json:"input,omitempty"`
}

// ErrorSpec describes an API error.
type ErrorSpec struct {
	// Status is the HTTP status (http_error; default 500).
	Status int `json:"status,omitempty"`
	// Type is the Anthropic error.type (api_error, authentication_error,
	// overloaded_error, …); derived from Status when empty.
	Type string `json:"type,omitempty"`
	// OpenAIType and OpenAICode are error.type and error.code of the
	// OpenAI APIs (and response.failed's error.code); derived when empty.
	OpenAIType string `json:"openai_type,omitempty"`
	OpenAICode string `json:"openai_code,omitempty"`
	Message    string `json:"message"`
	// RetryAfter is sent as the retry-after header when set (seconds).
	RetryAfter string `json:"retry_after,omitempty"`
}

func (e ErrorSpec) status() int {
	if e.Status == 0 {
		return 500
	}
	return e.Status
}

func (e ErrorSpec) anthropicType() string {
	if e.Type != "" {
		return e.Type
	}
	switch s := e.status(); {
	case s == 400:
		return "invalid_request_error"
	case s == 401:
		return "authentication_error"
	case s == 403:
		return "permission_error"
	case s == 404:
		return "not_found_error"
	case s == 413:
		return "request_too_large"
	case s == 429:
		return "rate_limit_error"
	case s == 529:
		return "overloaded_error"
	default:
		return "api_error"
	}
}

func (e ErrorSpec) openAIType() string {
	if e.OpenAIType != "" {
		return e.OpenAIType
	}
	switch s := e.status(); {
	case s == 429:
		return "rate_limit_error"
	case s >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

func (e ErrorSpec) openAICode() any {
	if e.OpenAICode != "" {
		return e.OpenAICode
	}
	switch e.status() {
	case 401:
		return "invalid_api_key"
	case 429:
		return "rate_limit_exceeded"
	}
	return nil
}

// Step constructors.

// Text is a text block.
func Text(s string) Step { return Step{Kind: KindText, Text: s} }

// Thinking is a thinking block (Anthropic thinking, Responses reasoning
// summary, Chat reasoning_content).
func Thinking(summary string) Step { return Step{Kind: KindThinking, Text: summary} }

// ThinkingRaw is a thinking block that also streams raw reasoning text on
// the Responses API.
func ThinkingRaw(summary, raw string) Step {
	return Step{Kind: KindThinking, Text: summary, Raw: raw}
}

// ToolCall calls the tool name with the JSON arguments args (any value
// that marshals to an object) on every API.
func ToolCall(name string, args any) Step {
	return Step{Kind: KindTool, Calls: []Call{{Name: name, Arguments: rawJSON(args)}}}
}

// Tool is a tool step with explicit per-API shapes.
func Tool(calls ...Call) Step { return Step{Kind: KindTool, Calls: calls} }

// Shell runs a shell command: Claude Bash, Codex exec_command (or
// shell_command / shell for other tool sets), OpenCode bash (on any API).
func Shell(command, description string) Step {
	return Tool(
		Call{API: Anthropic, Name: "Bash", Arguments: rawJSON(obj{{"command", command}, {"description", description}})},
		// Codex hands back a command still running after yield_time_ms
		// (10 s by default) as "Process running": a loaded machine must
		// not turn a quick command into that, so wait as long as it lets us.
		Call{API: Responses, Name: "exec_command", Arguments: rawJSON(obj{{"cmd", command}, {"yield_time_ms", 30000}})},
		Call{API: Responses, Name: "shell_command", Arguments: rawJSON(obj{{"command", command}})},
		Call{API: Responses, Name: "shell", Arguments: rawJSON(obj{{"command", []string{"bash", "-lc", command}}})},
		// OpenCode's tool, whatever API its provider speaks.
		Call{Name: "bash", Arguments: rawJSON(obj{{"command", command}, {"description", description}})},
	)
}

// WriteFile creates a file: Claude Write, Codex apply_patch (freeform
// "*** Add File"), OpenCode write. path should be absolute ({{cwd}} works).
func WriteFile(path, content string) Step {
	var patch strings.Builder
	patch.WriteString("*** Begin Patch\n*** Add File: " + path + "\n")
	for _, l := range strings.SplitAfter(strings.TrimSuffix(content, "\n"), "\n") {
		patch.WriteString("+" + strings.TrimSuffix(l, "\n") + "\n")
	}
	patch.WriteString("*** End Patch\n")
	return Tool(
		Call{API: Anthropic, Name: "Write", Arguments: rawJSON(obj{{"file_path", path}, {"content", content}})},
		Call{API: Responses, Name: "apply_patch", Input: patch.String()},
		Call{API: Chat, Name: "write", Arguments: rawJSON(obj{{"filePath", path}, {"content", content}})},
	)
}

// EditFile replaces old with new in a file: Claude Edit, Codex apply_patch
// ("*** Update File"), OpenCode edit.
func EditFile(path, old, new string) Step {
	var patch strings.Builder
	patch.WriteString("*** Begin Patch\n*** Update File: " + path + "\n@@\n")
	for _, l := range strings.Split(strings.TrimSuffix(old, "\n"), "\n") {
		patch.WriteString("-" + l + "\n")
	}
	for _, l := range strings.Split(strings.TrimSuffix(new, "\n"), "\n") {
		patch.WriteString("+" + l + "\n")
	}
	patch.WriteString("*** End Patch\n")
	return Tool(
		Call{API: Anthropic, Name: "Edit", Arguments: rawJSON(obj{{"file_path", path}, {"old_string", old}, {"new_string", new}})},
		Call{API: Responses, Name: "apply_patch", Input: patch.String()},
		Call{API: Chat, Name: "edit", Arguments: rawJSON(obj{{"filePath", path}, {"oldString", old}, {"newString", new}})},
	)
}

// Option is one answer offered by AskQuestion.
type Option struct {
	Label       string `json:"label"`
	Description string `json:"description"`
}

// AskQuestion asks the user one question: Claude AskUserQuestion, Codex
// request_user_input (id = id), OpenCode question.
func AskQuestion(id, header, question string, options ...Option) Step {
	opts := make([]any, 0, len(options))
	for _, o := range options {
		opts = append(opts, obj{{"label", o.Label}, {"description", o.Description}})
	}
	return Tool(
		Call{API: Anthropic, Name: "AskUserQuestion", Arguments: rawJSON(obj{{"questions", list(obj{
			{"question", question}, {"header", header}, {"options", opts}, {"multiSelect", false}})}})},
		Call{API: Responses, Name: "request_user_input", Arguments: rawJSON(obj{{"questions", list(obj{
			{"id", id}, {"header", header}, {"question", question}, {"options", opts}})}})},
		Call{API: Chat, Name: "question", Arguments: rawJSON(obj{{"questions", list(obj{
			{"question", question}, {"header", header}, {"options", opts}, {"multiple", false}})}})},
	)
}

// HTTPError answers with an HTTP error.
func HTTPError(e ErrorSpec) Step { return Step{Kind: KindHTTPError, Error: &e} }

// StreamError ends the stream with an in-stream error (Anthropic
// "event: error", Responses response.failed, Chat an error chunk).
func StreamError(e ErrorSpec) Step { return Step{Kind: KindStreamError, Error: &e} }

// Stall blocks until the request is cancelled or the server closes.
func Stall() Step { return Step{Kind: KindStall} }

// StallUntil blocks until release is closed, the request is cancelled or
// the server closes; then the reply goes on.
func StallUntil(release <-chan struct{}) Step { return Step{Kind: KindStall, Release: release} }

// Drop cuts the connection mid-stream.
func Drop() Step { return Step{Kind: KindDrop} }

// Slow streams text one word per delta, waiting delay before each.
func Slow(text string, delay time.Duration) Step {
	return Step{Kind: KindText, Text: text, Chunk: 1, Delay: delay}
}

func rawJSON(v any) json.RawMessage { return json.RawMessage(mustJSON(v)) }

// Built-in scenario texts.
const (
	// TitleText answers requests without marker (or without tools).
	TitleText = "Fake title"
	// StepDoneText quotes the last tool result.
	StepDoneText = "Step {{step}} done. Last tool output: '{{tool_output}}'"
)

// Builtins returns the built-in scenarios, by name:
//
//	text          text "Hello from the fake model. This is reply number N."
//	thinking      a thinking block (with raw reasoning on Responses), then text
//	tool_bash     text + a shell call "echo hi-from-tool | tee tool_out.txt"; then text quoting the tool output
//	file_edit     create {{cwd}}/hello.txt; then text quoting the tool output
//	ask_question  one question "Which colour should the widget be?" (Red/Blue); then text quoting the answer
//	error500      HTTP 500 (api_error / server_error)
//	error401      HTTP 401 (authentication_error / invalid_api_key)
//	error429      HTTP 429 with retry-after: 0, once; then text
//	stream_error  "Partial answer", then an in-stream error (overloaded)
//	slow          60 words, one every 0.5 s
//	stall         a few words, then block until the request ends
//	drop          a few words, then the connection is cut
func Builtins() map[string]Scenario {
	slow := make([]string, 60)
	for i := range slow {
		slow[i] = fmt.Sprintf("word%d", i)
	}
	list := []Scenario{
		{Name: "text", Turns: []Turn{{Text("Hello from the fake model. This is reply number {{reply_number}}.")}}},
		{Name: "thinking", Turns: []Turn{{
			ThinkingRaw("Let me think about this. The user wants a short answer.", "Raw chain of thought: 6 times 7."),
			Text("After thinking: the answer is 42."),
		}}},
		{Name: "tool_bash", Turns: []Turn{
			{Text("I'll run a command."), Shell("echo hi-from-tool | tee tool_out.txt", "Run a test command")},
			{Text(StepDoneText)},
		}},
		{Name: "file_edit", Turns: []Turn{
			{WriteFile("{{cwd}}/hello.txt", "hello from fake model")},
			{Text(StepDoneText)},
		}},
		{Name: "ask_question", Turns: []Turn{
			{AskQuestion("colour", "Colour", "Which colour should the widget be?",
				Option{"Red", "A warm colour"}, Option{"Blue", "A cool colour"})},
			{Text(StepDoneText)},
		}},
		{Name: "error500", Turns: []Turn{{HTTPError(ErrorSpec{Status: 500, Message: "Internal server error (fake)."})}}},
		{Name: "error401", Turns: []Turn{{HTTPError(ErrorSpec{Status: 401, Message: "Incorrect API key provided (fake)."})}}},
		{Name: "error429", Turns: []Turn{{
			func() Step {
				s := HTTPError(ErrorSpec{Status: 429, Message: "Rate limit reached (fake).", RetryAfter: "0"})
				s.Times = 1
				return s
			}(),
			Text("Recovered after a rate limit."),
		}}},
		{Name: "stream_error", Turns: []Turn{{
			Text("Partial answer"),
			StreamError(ErrorSpec{Status: 529, Type: "overloaded_error", OpenAICode: "server_error", Message: "Overloaded (fake)."}),
		}}},
		{Name: "slow", Turns: []Turn{{Slow(strings.Join(slow, " "), 500*time.Millisecond)}}},
		{Name: "stall", Turns: []Turn{{Text("Working on it"), Stall()}}},
		{Name: "drop", Turns: []Turn{{Text("Partial answer"), Drop()}}},
	}
	m := make(map[string]Scenario, len(list))
	for _, s := range list {
		m[s.Name] = s
	}
	return m
}

// jsonStep is the JSON form of a Step. Besides the Step fields it has
// shorthands expanded by kind: "shell" (command, description),
// "write_file" (path, content), "edit_file" (path, old, new),
// "ask_question" (id, header, question, options), "slow" (text, delay).
type jsonStep struct {
	Kind        StepKind        `json:"kind"`
	Text        string          `json:"text"`
	Raw         string          `json:"raw"`
	Signature   string          `json:"signature"`
	Calls       []Call          `json:"calls"`
	Name        string          `json:"name"`
	Arguments   json.RawMessage `json:"arguments"`
	Error       *ErrorSpec      `json:"error"`
	Chunk       int             `json:"chunk"`
	Delay       string          `json:"delay"`
	Times       int             `json:"times"`
	Command     string          `json:"command"`
	Description string          `json:"description"`
	Path        string          `json:"path"`
	Content     string          `json:"content"`
	Old         string          `json:"old"`
	New         string          `json:"new"`
	ID          string          `json:"id"`
	Header      string          `json:"header"`
	Question    string          `json:"question"`
	Options     []Option        `json:"options"`
}

// UnmarshalJSON reads a step, expanding the shorthand kinds.
func (s *Step) UnmarshalJSON(b []byte) error {
	var j jsonStep
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var d time.Duration
	if j.Delay != "" {
		var err error
		if d, err = time.ParseDuration(j.Delay); err != nil {
			return fmt.Errorf("step delay: %w", err)
		}
	}
	switch j.Kind {
	case "shell":
		*s = Shell(j.Command, j.Description)
	case "write_file":
		*s = WriteFile(j.Path, j.Content)
	case "edit_file":
		*s = EditFile(j.Path, j.Old, j.New)
	case "ask_question":
		*s = AskQuestion(j.ID, j.Header, j.Question, j.Options...)
	case "slow":
		*s = Slow(j.Text, d)
	case KindTool:
		*s = Step{Kind: KindTool, Calls: j.Calls}
		if j.Name != "" {
			s.Calls = append(s.Calls, Call{Name: j.Name, Arguments: j.Arguments})
		}
		if len(s.Calls) == 0 {
			return errors.New("tool step without calls or name")
		}
	case KindText, KindThinking, KindHTTPError, KindStreamError, KindStall, KindDrop:
		*s = Step{Kind: j.Kind, Text: j.Text, Raw: j.Raw, Signature: j.Signature, Error: j.Error, Chunk: j.Chunk, Delay: d}
		if (j.Kind == KindHTTPError || j.Kind == KindStreamError) && j.Error == nil {
			return fmt.Errorf("%s step without error", j.Kind)
		}
	default:
		return fmt.Errorf("unknown step kind %q", j.Kind)
	}
	s.Times = j.Times
	if j.Chunk != 0 {
		s.Chunk = j.Chunk
	}
	return nil
}

// LoadScenarioFile reads one scenario from a JSON file
// ({"name": …, "turns": [[step, …], …]}); the name defaults to the file name
// without extension.
func LoadScenarioFile(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	var sc Scenario
	if err := json.Unmarshal(b, &sc); err != nil {
		return Scenario{}, fmt.Errorf("%s: %w", path, err)
	}
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return sc, nil
}

// LoadScenarioDir reads every *.json file of dir as a scenario.
func LoadScenarioDir(dir string) ([]Scenario, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Scenario
	for _, p := range paths {
		sc, err := LoadScenarioFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}
