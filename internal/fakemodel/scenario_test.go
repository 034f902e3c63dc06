package fakemodel

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustConv(t *testing.T, api API, body []byte) *Conversation {
	t.Helper()
	c, err := ParseConversation(api, body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// anthropicConv builds an Anthropic conversation from messages.
func anthropicConv(t *testing.T, tools bool, msgs ...any) *Conversation {
	t.Helper()
	body := obj{{"model", "m"}, {"messages", msgs}}
	if tools {
		body = append(body, kv{"tools", list(obj{{"name", "Bash"}})})
	}
	return mustConv(t, Anthropic, mustJSON(body))
}

func user(text string) obj { return obj{{"role", "user"}, {"content", text}} }

func toolResults(ids ...string) obj {
	var blocks []any
	for _, id := range ids {
		blocks = append(blocks, obj{{"type", "tool_result"}, {"tool_use_id", id}, {"content", list(obj{{"type", "text"}, {"text", "out " + id}})}})
	}
	return obj{{"role", "user"}, {"content", blocks}}
}

func assistant(text string) obj {
	return obj{{"role", "assistant"}, {"content", list(obj{{"type", "text"}, {"text", text}})}}
}

func stepTexts(p plan) []string {
	var out []string
	for _, st := range p.steps {
		switch st.Kind {
		case KindTool:
			out = append(out, "tool:"+st.Calls[0].Name)
		case KindText, KindThinking:
			out = append(out, string(st.Kind)+":"+st.Text)
		default:
			out = append(out, string(st.Kind))
		}
	}
	return out
}

func TestScenarioSelection(t *testing.T) {
	s := New(WithScenarios(
		Scenario{Name: "a", Turns: []Turn{{Text("A0")}, {Text("A1")}, {Text("A2")}}},
		Scenario{Name: "b", Turns: []Turn{{Text("B0")}}},
	))
	sDefault := New(WithDefaultScenario("b"), WithScenarios(Scenario{Name: "b", Turns: []Turn{{Text("B0")}, {Text("B1")}}}))
	cases := []struct {
		name     string
		srv      *Server
		conv     *Conversation
		header   string
		path     string
		scenario string
		turn     int
		want     []string
	}{
		{name: "marker", srv: s, conv: anthropicConv(t, true, user("SCN:a go")), scenario: "a", want: []string{"text:A0"}},
		{name: "marker anywhere in the text", srv: s, conv: anthropicConv(t, true, user(`"please SCN:b now"`)), scenario: "b", want: []string{"text:B0"}},
		{name: "most recent marker wins", srv: s,
			conv: anthropicConv(t, true, user("SCN:a first"), assistant("A0"), user("SCN:b second")), scenario: "b", want: []string{"text:B0"}},
		{name: "a later user message without marker keeps the scenario", srv: s,
			conv: anthropicConv(t, true, user("SCN:a first"), assistant("x"), user("cut off, go on")), scenario: "a", want: []string{"text:A0"}},
		{name: "one tool result after the marker is turn 1", srv: s,
			conv: anthropicConv(t, true, user("SCN:a go"), assistant("x"), toolResults("t1")), scenario: "a", turn: 1, want: []string{"text:A1"}},
		{name: "every tool result counts", srv: s,
			conv: anthropicConv(t, true, user("SCN:a go"), assistant("x"), toolResults("t1", "t2")), scenario: "a", turn: 2, want: []string{"text:A2"}},
		{name: "tool results before the marker do not count", srv: s,
			conv: anthropicConv(t, true, user("SCN:b old"), assistant("x"), toolResults("t1"), assistant("y"), user("SCN:a new")), scenario: "a", want: []string{"text:A0"}},
		{name: "a marker inside a tool result is ignored", srv: s,
			conv: anthropicConv(t, true, user("SCN:a go"), assistant("x"),
				obj{{"role", "user"}, {"content", list(obj{{"type", "tool_result"}, {"tool_use_id", "t1"}, {"content", "SCN:b"}})}}),
			scenario: "a", turn: 1, want: []string{"text:A1"}},
		{name: "past the last turn", srv: s,
			conv: anthropicConv(t, true, user("SCN:b go"), assistant("x"), toolResults("t1")), scenario: "b", turn: 1,
			want: []string{`text:fakemodel: scenario "b" has no turn 1.`}},
		{name: "unknown scenario", srv: s, conv: anthropicConv(t, true, user("SCN:nope go")), scenario: "nope",
			want: []string{`text:fakemodel: unknown scenario "nope".`}},
		{name: "no tools is auxiliary even with a marker", srv: s, conv: anthropicConv(t, false, user("SCN:a Generate a title")),
			want: []string{"text:" + TitleText}},
		{name: "no marker, no default", srv: s, conv: anthropicConv(t, true, user("hello")), want: []string{"text:" + TitleText}},
		{name: "no marker, default", srv: sDefault, conv: anthropicConv(t, true, user("hello")), scenario: "b", want: []string{"text:B0"}},
		{name: "no marker, default, turn after the last user text", srv: sDefault,
			conv: anthropicConv(t, true, user("hello"), assistant("x"), toolResults("t1")), scenario: "b", turn: 1, want: []string{"text:B1"}},
		{name: "marker beats default", srv: sDefault, conv: anthropicConv(t, true, user("SCN:text hi")), scenario: "text",
			want: []string{"text:Hello from the fake model. This is reply number 1."}},
		{name: "path prefix", srv: s, conv: anthropicConv(t, true, user("hello")), path: "b", scenario: "b", want: []string{"text:B0"}},
		{name: "marker beats path prefix", srv: s, conv: anthropicConv(t, true, user("SCN:a hi")), path: "b", scenario: "a", want: []string{"text:A0"}},
		{name: "header beats everything", srv: s, conv: anthropicConv(t, false, user("SCN:a hi")), header: "b", scenario: "b", want: []string{"text:B0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.srv.plan(c.conv, c.header, c.path)
			if p.scenario != c.scenario || p.turn != c.turn {
				t.Errorf("scenario %q turn %d, want %q turn %d", p.scenario, p.turn, c.scenario, c.turn)
			}
			if got := stepTexts(p); !reflect.DeepEqual(got, c.want) {
				t.Errorf("steps %q, want %q", got, c.want)
			}
		})
	}
}

func TestTurnIndexAllAPIs(t *testing.T) {
	s := New()
	for _, api := range []API{Anthropic, Responses, Chat} {
		t.Run(string(api), func(t *testing.T) {
			p0 := s.plan(mustConv(t, api, reqBody(api, "SCN:tool_bash go", true, "")), "", "")
			p1 := s.plan(mustConv(t, api, reqBody(api, "SCN:tool_bash go", true, "hi-from-tool")), "", "")
			if p0.turn != 0 || p1.turn != 1 {
				t.Fatalf("turns %d, %d; want 0, 1", p0.turn, p1.turn)
			}
			want := map[API]string{Anthropic: "tool:Bash", Responses: "tool:exec_command", Chat: "tool:bash"}[api]
			if got := stepTexts(p0); !reflect.DeepEqual(got, []string{"text:I'll run a command.", want}) {
				t.Errorf("turn 0 steps %q", got)
			}
			if got := stepTexts(p1); !reflect.DeepEqual(got, []string{"text:Step 1 done. Last tool output: 'hi-from-tool'"}) {
				t.Errorf("turn 1 steps %q", got)
			}
		})
	}
}

func TestTemplates(t *testing.T) {
	s := New()
	long := strings.Repeat("é", 130)
	conv := anthropicConv(t, true,
		user("SCN:text one"), assistant("x"), user("SCN:text two"), assistant("y"),
		obj{{"role", "user"}, {"content", list(obj{{"type", "tool_result"}, {"tool_use_id", "t"}, {"content", long}})}})
	conv.System = "Some prompt\nWorking directory: /home/me/proj\nmore"
	vars := templateVars(conv, 4)
	got := vars.Replace("{{reply_number}}|{{step}}|{{cwd}}|{{tool_output}}")
	want := "2|4|/home/me/proj|" + strings.Repeat("é", 120)
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// {{cwd}} inside JSON arguments is JSON-escaped.
	conv.System = `<cwd>/tmp/a "b"</cwd>`
	p := s.plan(mustConv(t, Anthropic, reqBody(Anthropic, "SCN:file_edit x", true, "")), "", "")
	if args := string(p.steps[0].Calls[0].Arguments); args != `{"file_path":"/work/dir/hello.txt","content":"hello from fake model"}` {
		t.Errorf("args %s", args)
	}
	if got := replaceInJSONStrings([]byte(`{"p":"{{cwd}}/x"}`), templateVars(conv, 0)); !json.Valid(got) || string(got) != `{"p":"/tmp/a \"b\"/x"}` {
		t.Errorf("escaped args %s", got)
	}
	if cwd, ok := (&Conversation{}).Cwd(); ok || cwd != "" {
		t.Errorf("cwd of an empty conversation: %q", cwd)
	}
}

func TestResolveCall(t *testing.T) {
	conv := func(tools ...ToolDef) *Conversation { return &Conversation{API: Responses, Tools: tools} }
	vars := strings.NewReplacer()
	sh := Shell("ls", "list").Calls
	cases := []struct {
		name      string
		conv      *Conversation
		calls     []Call
		wantName  string
		wantArgs  string
		wantInput string
	}{
		{"first offered alternative", conv(ToolDef{"shell", "function"}), sh, "shell", `{"command":["bash","-lc","ls"]}`, ""},
		{"first for the API when none offered", conv(), sh, "exec_command", `{"cmd":"ls","yield_time_ms":30000}`, ""},
		{"freeform as custom", conv(ToolDef{"apply_patch", "custom"}), WriteFile("/a", "x").Calls, "apply_patch", "",
			"*** Begin Patch\n*** Add File: /a\n+x\n*** End Patch\n"},
		{"freeform offered as function", conv(ToolDef{"apply_patch", "function"}), WriteFile("/a", "x").Calls, "apply_patch",
			`{"input":"*** Begin Patch\n*** Add File: /a\n+x\n*** End Patch\n"}`, ""},
		{"any-API call", conv(), ToolCall("my_tool", map[string]int{"n": 1}).Calls, "my_tool", `{"n":1}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveCall(c.conv, c.calls, vars)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != c.wantName || string(got.Arguments) != c.wantArgs || got.Input != c.wantInput {
				t.Errorf("got %s %s %q", got.Name, got.Arguments, got.Input)
			}
		})
	}
	if _, err := resolveCall(&Conversation{API: Chat}, []Call{{API: Anthropic, Name: "Bash"}}, vars); err == nil {
		t.Error("no call for the API: want an error")
	}
}

func TestTimes(t *testing.T) {
	st := HTTPError(ErrorSpec{Status: 500, Message: "boom"})
	st.Times = 2
	s := New(WithScenarios(Scenario{Name: "flaky", Turns: []Turn{{st, Text("ok")}}}))
	conv := anthropicConv(t, true, user("SCN:flaky"))
	var got [][]string
	for range 3 {
		got = append(got, stepTexts(s.plan(conv, "", "")))
	}
	want := [][]string{{"http_error", "text:ok"}, {"http_error", "text:ok"}, {"text:ok"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestChunkWords(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want []string
	}{
		{"Hello from the fake model. This is reply number 1.", 3, []string{"Hello from the ", "fake model. This ", "is reply number ", "1."}},
		{"a b", 1, []string{"a ", "b"}},
		{"  lead and trail  ", 2, []string{"  lead and ", "trail  "}},
		{"", 3, nil},
		{"one", 3, []string{"one"}},
	}
	for _, c := range cases {
		if got := chunkWords(c.in, c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("chunkWords(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
	parts := chunkBytes(strings.Repeat("aé", 30), 7)
	if strings.Join(parts, "") != strings.Repeat("aé", 30) {
		t.Error("chunkBytes lost bytes")
	}
	for _, p := range parts {
		if !json.Valid(mustJSON(p)) || strings.ContainsRune(p, '\uFFFD') {
			t.Errorf("chunk %q splits a rune", p)
		}
	}
}

func TestLoadScenarioFile(t *testing.T) {
	sc, err := LoadScenarioFile(filepath.Join("testdata", "scenarios", "custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "custom" || len(sc.Turns) != 3 {
		t.Fatalf("got %q with %d turns", sc.Name, len(sc.Turns))
	}
	s := New(WithScenarios(sc))
	p0 := s.plan(mustConv(t, Chat, reqBody(Chat, "SCN:custom", true, "")), "", "")
	if got := stepTexts(p0); !reflect.DeepEqual(got, []string{"thinking:hmm", "text:Running.", "tool:bash", "tool:question"}) {
		t.Errorf("turn 0: %q", got)
	}
	if p0.steps[1].Chunk != 1 || p0.steps[1].Delay.String() != "1ms" {
		t.Errorf("chunk/delay: %d %v", p0.steps[1].Chunk, p0.steps[1].Delay)
	}
	p1 := s.plan(mustConv(t, Responses, reqBody(Responses, "SCN:custom", true, "out")), "", "")
	if got := stepTexts(p1); !reflect.DeepEqual(got, []string{"tool:apply_patch", "tool:my_tool"}) {
		t.Errorf("turn 1: %q", got)
	}
	if got := string(p1.steps[1].Calls[0].Arguments); got != `{"x":1}` {
		t.Errorf("generic tool args %s", got)
	}
	conv2 := mustConv(t, Anthropic, mustJSON(obj{{"model", "m"}, {"tools", list(obj{{"name", "Bash"}})},
		{"messages", list(user("SCN:custom"), assistant("x"), toolResults("a"), assistant("y"), toolResults("b"))}}))
	p2 := s.plan(conv2, "", "")
	if len(p2.steps) != 2 || p2.steps[0].Kind != KindStreamError || p2.steps[0].Error.Status != 529 || p2.steps[1].Kind != KindDrop {
		t.Errorf("turn 2: %+v", p2.steps)
	}

	scs, err := LoadScenarioDir(filepath.Join("testdata", "scenarios"))
	if err != nil || len(scs) != 1 {
		t.Errorf("LoadScenarioDir: %d, %v", len(scs), err)
	}
	for _, bad := range []string{`{"kind":"nope"}`, `{"kind":"tool"}`, `{"kind":"http_error"}`, `{"kind":"text","delay":"soon"}`} {
		var st Step
		if err := json.Unmarshal([]byte(bad), &st); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

func TestBuiltinsComplete(t *testing.T) {
	for _, name := range []string{"text", "thinking", "tool_bash", "file_edit", "ask_question", "error500", "error401",
		"stream_error", "slow", "stall", "drop"} {
		if _, ok := Builtins()[name]; !ok {
			t.Errorf("built-in %q missing", name)
		}
	}
}
