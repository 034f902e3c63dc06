package mock

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// turnEvents is everything the mock emits for one user message (spec §13.2
// steps 3–4): the user item, the script the text selects, and a turn.ended
// unless the script leaves something pending. text is the trimmed message;
// p is the native id prefix of this message ("mock_<N>"). An empty text
// yields nothing at all.
func turnEvents(p, text string) []adapters.Event {
	if text == "" {
		return nil
	}
	return played(p, text, script(p, text))
}

// played is a turn: the user item of text, the scripted events, and the
// turn.ended that closes them if they leave nothing pending.
func played(p, text string, scripted []adapters.Event) []adapters.Event {
	user := itemRef{p + "_user", schema.KindMessage, schema.RoleUser}
	events := append(user.pair(textContent(text)), scripted...)
	if closesTurn(events[len(events)-1]) {
		events = append(events, turnEnded(mockUsage(events)))
	}
	return events
}

// mockUsage makes up the turn's usage so clients see its shape: a token
// per word, the user's words as input and every other item's as output.
func mockUsage(events []adapters.Event) *schema.Usage {
	var u schema.Usage
	for _, ev := range events {
		data, ok := ev.Data.(schema.ItemEventData)
		if !ok || ev.Type != schema.EventItemCompleted {
			continue
		}
		var words int64
		for _, part := range data.Item.Content {
			words += int64(len(strings.Fields(part.Text)))
		}
		if data.Item.Role != nil && *data.Item.Role == schema.RoleUser {
			u.InputTokens += words
		} else {
			u.OutputTokens += words
		}
	}
	u.Source = schema.UsageFromAgent
	u = u.Totalled()
	return &u
}

// closesTurn reports whether a turn.ended follows a script ending in last.
// Scripts ending on a request or on session.ended leave the turn open, as the
// reference does; compatibility tests check those sequences (spec §13.2).
func closesTurn(last adapters.Event) bool {
	switch last.Type {
	case schema.EventSessionEnded, schema.EventPermissionRequested, schema.EventQuestionRequested:
		return false
	}
	return true
}

// exactPrompts are the compatibility tests' prompts, matched on the whole
// text before any command word (spec §13.3).
var exactPrompts = []struct {
	prompt string
	script func(p string) []adapters.Event
}{
	{"Reply with exactly the single word OK.", func(p string) []adapters.Event { return assistantMessage(p+"_ok", "OK") }},
	{"Reply with exactly the word FIRST.", func(p string) []adapters.Event { return assistantMessage(p+"_first", "FIRST") }},
	{"Reply with exactly the word SECOND.", func(p string) []adapters.Event { return assistantMessage(p+"_second", "SECOND") }},
	{"Answer briefly and include your reasoning.", rich},
	{"Provide a short status update.", status},
	{"List files in the current directory using available tools.", func(p string) []adapters.Event {
		return []adapters.Event{commandPermission(p, "ls")}
	}},
	{"Use the bash tool to run `ls` in the current directory. Do not answer without using the tool.", func(p string) []adapters.Event {
		return append([]adapters.Event{commandPermission(p, "ls")}, tool(p)...)
	}},
	{"Use the AskUserQuestion tool to ask exactly one yes/no question, then wait for a reply. Do not answer yourself.", proceedQuestion},
	{"Call the AskUserQuestion tool with exactly one yes/no question and wait for a reply. Do not answer yourself.", proceedQuestion},
}

// script selects the scripted events for a non-empty trimmed text.
func script(p, text string) []adapters.Event {
	for _, e := range exactPrompts {
		if strings.EqualFold(text, e.prompt) {
			return e.script(p)
		}
	}
	words := strings.Fields(text)
	switch strings.ToLower(words[0]) {
	case "help":
		return assistantMessage(p+"_help", helpText)
	case "demo":
		return demo(p)
	case "markdown":
		return markdown(p)
	case "tool", "tools", "tooling":
		return tool(p)
	case "status":
		return status(p)
	case "image":
		return image(p)
	case "unknown":
		return unknownItem(p)
	case "permission", "permissions":
		return permissions(p)
	case "question", "questions":
		return questions(p)
	case "error":
		return []adapters.Event{errorEvent(), unparsed()}
	case "unparsed":
		return []adapters.Event{unparsed()}
	case "end", "ended", "session.end":
		return []adapters.Event{sessionEnded()}
	case "echo", "say":
		return echo(p, strings.Join(words[1:], " "))
	}
	return assistantMessage(p+"_reply", text)
}

// demo plays every other script, each announced by a marker message (spec M24).
func demo(p string) []adapters.Event {
	sections := [][]adapters.Event{
		itemRef{p + "_system", schema.KindSystem, schema.RoleSystem}.pair(textContent("System ready for mock events.")),
		rich(p),
		status(p),
		markdown(p),
		tool(p),
		image(p),
		unknownItem(p),
		permissions(p),
		questions(p),
		{errorEvent(), unparsed()},
	}
	var events []adapters.Event
	for i, section := range sections {
		events = append(events, assistantMessage(p+"_marker_"+strconv.Itoa(i+1), demoMarkers[i])...)
		events = append(events, section...)
	}
	return events
}

func echo(p, rest string) []adapters.Event {
	if rest == "" {
		rest = echoUsage
	}
	return assistantMessage(p+"_echo", rest)
}

// assistantMessage streams no deltas of its own: the engine adds the
// synthetic one (spec §8.5 step 5).
func assistantMessage(native, text string) []adapters.Event {
	return itemRef{native, schema.KindMessage, schema.RoleAssistant}.pair(textContent(text))
}

func rich(p string) []adapters.Event {
	r := itemRef{p + "_assistant_rich", schema.KindMessage, schema.RoleAssistant}
	content := []schema.ContentPart{
		schema.TextPart("Mock assistant response with rich content."),
		{Type: schema.PartReasoning, Text: "Public reasoning for display.", Visibility: schema.VisibilityPublic},
		{Type: schema.PartReasoning, Text: "Private reasoning hidden by default.", Visibility: schema.VisibilityPrivate},
		{Type: schema.PartJSON, JSON: json.RawMessage(`{"stage":"analysis","ok":true}`)},
	}
	return []adapters.Event{
		r.started(content),
		r.delta("Mock assistant "),
		r.delta("streaming delta."),
		r.completed(schema.StatusCompleted, content),
	}
}

func status(p string) []adapters.Event {
	r := itemRef{p + "_status", schema.KindStatus, schema.RoleAssistant}
	indexing := func(detail string) []schema.ContentPart {
		return []schema.ContentPart{{Type: schema.PartStatus, Label: "Indexing", Detail: schema.Ptr(detail)}}
	}
	return []adapters.Event{r.started(indexing("2 files")), r.completed(schema.StatusCompleted, indexing("Done"))}
}

func markdown(p string) []adapters.Event {
	r := itemRef{p + "_markdown", schema.KindMessage, schema.RoleAssistant}
	events := []adapters.Event{r.started(textContent(markdownIntro))}
	for _, d := range markdownDeltas {
		events = append(events, r.delta(d))
	}
	return append(events, r.completed(schema.StatusCompleted, textContent(strings.Join(markdownDeltas, ""))))
}

// tool is a call and its result; the result completes as failed so clients
// see that status too.
func tool(p string) []adapters.Event {
	callID := p + "_call"
	call := itemRef{p + "_tool_call", schema.KindToolCall, schema.RoleAssistant}
	result := itemRef{p + "_tool_result", schema.KindToolResult, schema.RoleTool}
	callContent := []schema.ContentPart{
		{Type: schema.PartToolCall, Name: "mock.search", Arguments: `{"query":"example"}`, CallID: callID},
	}
	resultContent := []schema.ContentPart{
		{Type: schema.PartToolResult, CallID: callID, Output: "mock search results"},
		{Type: schema.PartFileRef, Path: p + "/readme.md", Action: schema.FileRead},
		{Type: schema.PartFileRef, Path: p + "/output.txt", Action: schema.FileWrite, Diff: schema.Ptr("+mock output\n")},
		{Type: schema.PartFileRef, Path: p + "/patch.txt", Action: schema.FilePatch, Diff: schema.Ptr("@@ -1,1 +1,1 @@\n-old\n+new\n")},
	}
	return append(call.pair(callContent),
		result.started(resultContent),
		result.completed(schema.StatusFailed, resultContent))
}

func image(p string) []adapters.Event {
	content := []schema.ContentPart{
		schema.TextPart("Here is a mock image output."),
		{Type: schema.PartImage, Path: p + "/image.png", Mime: schema.Ptr("image/png")},
	}
	return itemRef{p + "_image", schema.KindMessage, schema.RoleAssistant}.pair(content)
}

func unknownItem(p string) []adapters.Event {
	return itemRef{p + "_unknown", schema.KindUnknown, schema.RoleAssistant}.pair(textContent("Unknown item kind example."))
}

func permissions(p string) []adapters.Event {
	return []adapters.Event{
		commandPermission(p, "echo mock"),
		permission(p+"_permission_denied", "file_change", approval{Kind: "fileChange", Path: p + "/deny.txt"}),
	}
}

func commandPermission(p, command string) adapters.Event {
	return permission(p+"_permission", "command_execution", approval{Kind: "commandExecution", Command: command})
}

// approval is the metadata of a mock permission request, shaped like a
// Codex approval so clients render it the same way.
type approval struct {
	Kind    string `json:"codexRequestKind"`
	Command string `json:"command,omitempty"`
	Path    string `json:"path,omitempty"`
}

func permission(id, action string, metadata approval) adapters.Event {
	raw, err := json.Marshal(metadata)
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return adapters.Event{Type: schema.EventPermissionRequested, Data: schema.PermissionEventData{
		PermissionID: id, Action: action, Status: schema.PermissionRequested, Metadata: raw,
	}}
}

func questions(p string) []adapters.Event {
	return []adapters.Event{
		question(p+"_question", "Choose a color", "Red", "Blue"),
		question(p+"_question_reject", "Allow mock experiment?", "Yes", "No"),
	}
}

func proceedQuestion(p string) []adapters.Event {
	return []adapters.Event{question(p+"_question", "Proceed?", "Yes", "No")}
}

func question(id, prompt string, options ...string) adapters.Event {
	return adapters.Event{Type: schema.EventQuestionRequested, Data: schema.QuestionEventData{
		QuestionID: id, Prompt: prompt, Options: options, Status: schema.QuestionRequested,
	}}
}

func errorEvent() adapters.Event {
	return adapters.Event{Type: schema.EventError, Synthetic: true, Data: schema.ErrorData{
		Message: "Mock error event.", Code: schema.Ptr("mock_error"), Details: schema.RawJSON(`{"mock":true}`),
	}}
}

func unparsed() adapters.Event {
	return adapters.Event{
		Type:      schema.EventAgentUnparsed,
		Synthetic: true,
		Data:      schema.AgentUnparsedData{Error: "unsupported payload", Location: "mock.stream"},
		Raw:       json.RawMessage(`{"raw":"mock"}`),
	}
}

// sessionEnded is announced only: the mock keeps accepting messages after it,
// as the reference does (spec §13.3, quirk of `end`).
func sessionEnded() adapters.Event {
	return adapters.Event{Type: schema.EventSessionEnded, Synthetic: true, Data: schema.SessionEndedData{
		Reason: schema.EndCompleted, TerminatedBy: schema.ByAgent,
	}}
}

func turnEnded(u *schema.Usage) adapters.Event {
	return adapters.Event{Type: schema.EventTurnEnded, Synthetic: true, Data: schema.TurnEventData{Phase: schema.PhaseEnded, Usage: u}}
}

// itemRef names one scripted item. Item ids are left empty: the engine maps
// native ids to itm_<n> ids.
type itemRef struct {
	native string
	kind   schema.ItemKind
	role   schema.ItemRole
}

func (r itemRef) started(content []schema.ContentPart) adapters.Event {
	return r.event(schema.EventItemStarted, schema.StatusInProgress, content)
}

func (r itemRef) completed(status schema.ItemStatus, content []schema.ContentPart) adapters.Event {
	return r.event(schema.EventItemCompleted, status, content)
}

// pair is an item that starts and completes with the same content.
func (r itemRef) pair(content []schema.ContentPart) []adapters.Event {
	return []adapters.Event{r.started(content), r.completed(schema.StatusCompleted, content)}
}

func (r itemRef) delta(text string) adapters.Event {
	return adapters.Event{Type: schema.EventItemDelta, Data: schema.ItemDeltaData{
		NativeItemID: schema.Ptr(r.native), Delta: text,
	}}
}

func (r itemRef) event(t schema.EventType, status schema.ItemStatus, content []schema.ContentPart) adapters.Event {
	return adapters.Event{Type: t, Data: schema.ItemEventData{Item: schema.UniversalItem{
		NativeItemID: schema.Ptr(r.native),
		Kind:         r.kind,
		Role:         schema.Ptr(r.role),
		Content:      content,
		Status:       status,
	}}}
}

func textContent(text string) []schema.ContentPart {
	return []schema.ContentPart{schema.TextPart(text)}
}
