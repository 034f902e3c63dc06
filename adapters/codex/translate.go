package codex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// Translator turns the lines `codex app-server` prints into universal
// events. It is pure: it reads nothing but the lines it is given and keeps
// only what one session's translation needs (the thread, the running turn,
// open items, pending server requests). It is not safe for concurrent use;
// the session serialises access to it.
//
// The mapping:
//
//   - Responses to our requests produce no events; they are handed to the
//     session as effects. Server requests (a method and an id):
//     item/commandExecution/requestApproval and
//     item/fileChange/requestApproval → permission.requested (action
//     commandExecution / fileChange, metadata with the command or the
//     changed files; in the acceptEdits mode file changes are approved
//     for the session without asking); item/tool/requestUserInput →
//     question.requested;
//     anything else → agent.unparsed plus a JSON-RPC error reply, so Codex
//     does not wait forever. serverRequest/resolved for a request still
//     pending (Codex withdrew it) resolves it as rejected.
//   - thread/started → session.started with the thread id (the engine drops
//     it as a duplicate but adopts the id). turn/started → turn.started;
//     turn/completed → turn.ended (metadata status completed, interrupted or
//     error, the native status, duration and the turn's token usage, summed
//     from thread/tokenUsage/updated), after completing items Codex left
//     open (an interrupted turn never completes its streaming message) and,
//     for a failed turn whose error was not reported yet, an error event.
//   - item/started and item/completed by item type: userMessage,
//     agentMessage and reasoning are message items (reasoning: the summary
//     as public reasoning parts, raw reasoning text as private ones);
//     commandExecution, fileChange, mcpToolCall and webSearch are tool_call
//     items, and their completion adds a tool_result item (parent the call)
//     with the output, exit code, and file_ref parts with diffs; other
//     types are kept whole as a json part of an unknown item.
//   - Deltas (agent message, reasoning summary and text, plan) → item.delta
//     on their item; command and file-change output deltas → item.delta on
//     the call's result item, started on the first one.
//   - error → error event with Codex's message (a willRetry error is a
//     status item instead: the turn goes on). turn/plan/updated and
//     thread/compacted → status items. Notifications that carry nothing
//     for a client (thread status, rate limits, diffs repeated from file
//     changes, warnings about the host) → nothing.
//   - Anything else, and any line that is not JSON or not shaped as
//     expected → agent.unparsed (location "codex").
//
// Every event carries the line it came from as Raw (a JSON string when the
// line was not JSON; invalid UTF-8 replaced by U+FFFD), attached to the
// last event only when the line is over 256 KiB, and the thread id once
// known.
type Translator struct {
	threadID string
	raw      json.RawMessage

	turn    turnState
	open    map[string]*openItem // items started and not completed, by id
	order   []string             // open item ids, in start order
	pending map[string]*pendingRequest
	changes map[string][]fileChange // file changes of open fileChange items, for their approval requests
	fx      effects
	unknown int // for ids of items without one
	// acceptEdits: file changes are approved for the session without
	// asking (the acceptEdits permission mode).
	acceptEdits bool
}

// NewTranslator returns a translator for one session.
func NewTranslator() *Translator {
	return &Translator{open: map[string]*openItem{}, pending: map[string]*pendingRequest{}, changes: map[string][]fileChange{}}
}

// NativeSessionID is the thread id, once known.
func (t *Translator) NativeSessionID() string { return t.threadID }

// setThread records the thread the session runs (from the thread/start or
// thread/resume response).
func (t *Translator) setThread(id string) { t.threadID = id }

type turnState struct {
	id            string
	errorReported bool
	usage         tokenCounts
	usageSeen     bool
	contextWindow json.RawMessage
}

// effects are what a line asks of the session besides events.
type effects struct {
	responses []response // answers to our requests
	replies   [][]byte   // lines to write to Codex's stdin
	turnEnded bool
	turnID    string // the turn that started, if one did
}

type response struct {
	id     string // the request id as JSON text
	result json.RawMessage
	err    *rpcError
}

func (t *Translator) takeEffects() effects {
	fx := t.fx
	t.fx = effects{}
	return fx
}

// openItem is an item started and not yet completed.
type openItem struct {
	typ           string
	buf           strings.Builder // streamed text
	resultStarted bool            // a tool call's result item was started by an output delta
	output        strings.Builder // streamed output of a tool call
	call          schema.UniversalItem
}

type pendingKind int

const (
	pendingPermission pendingKind = iota
	pendingQuestion
)

// pendingRequest is a server request waiting for our answer.
type pendingRequest struct {
	kind        pendingKind
	rpcID       json.RawMessage // the id as Codex sent it
	action      string
	questionIDs []string
	prompt      string
	options     []string
}

func (t *Translator) pendingRequest(id string) (*pendingRequest, bool) {
	p, ok := t.pending[id]
	return p, ok
}

func (t *Translator) resolve(id string) { delete(t.pending, id) }

func (t *Translator) restore(id string, p *pendingRequest) { t.pending[id] = p }

// rawShareLimit bounds the copies of one line kept as raw.
const rawShareLimit = 256 << 10

// Line translates one line of Codex's stdout.
func (t *Translator) Line(line []byte) []adapters.Event {
	evs := t.line(line)
	if len(t.raw) > rawShareLimit {
		for i := range len(evs) - 1 {
			evs[i].Raw = nil
		}
	}
	return evs
}

func (t *Translator) line(line []byte) []adapters.Event {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return nil
	}
	if !utf8.Valid(line) {
		line = bytes.ToValidUTF8(line, []byte("\uFFFD"))
	} else {
		line = bytes.Clone(line) // the reader reuses its buffer
	}
	t.raw = line
	var env envelope
	if err := json.Unmarshal(line, &env); err != nil {
		if _, ok := errors.AsType[*json.SyntaxError](err); ok {
			t.raw = quote(line)
			return []adapters.Event{t.unparsed("not JSON")}
		}
		return []adapters.Event{t.unparsed("unexpected Codex message shape: " + err.Error())}
	}
	hasID := len(nonNull(env.ID)) > 0
	switch {
	case env.Method != "" && hasID:
		return t.serverRequest(&env)
	case env.Method != "":
		return t.notification(&env)
	case hasID && (env.Result != nil || env.Error != nil):
		t.fx.responses = append(t.fx.responses, response{id: string(env.ID), result: env.Result, err: env.Error})
		return nil
	}
	return []adapters.Event{t.unparsed("neither a request, a notification nor a response")}
}

// Truncated reports a line longer than limit bytes, of which the reader
// kept only the start.
func (t *Translator) Truncated(prefix []byte, limit int) []adapters.Event {
	const keep = 1024
	if len(prefix) > keep {
		prefix = prefix[:keep]
	}
	t.raw = quote(bytes.ToValidUTF8(prefix, []byte("\uFFFD")))
	return []adapters.Event{t.unparsed(fmt.Sprintf("line longer than %d bytes: skipped (raw holds its first bytes)", limit))}
}

func quote(b []byte) json.RawMessage {
	q, _ := json.Marshal(string(b)) // a string always marshals
	return q
}

func (t *Translator) event(typ schema.EventType, data schema.Payload) adapters.Event {
	return adapters.Event{Type: typ, Data: data, NativeSessionID: t.threadID, Raw: t.raw}
}

func (t *Translator) unparsed(msg string) adapters.Event {
	return t.event(schema.EventAgentUnparsed, schema.AgentUnparsedData{Error: msg, Location: "codex"})
}

func (t *Translator) itemEvent(typ schema.EventType, it schema.UniversalItem) adapters.Event {
	return t.event(typ, schema.ItemEventData{Item: it})
}

func (t *Translator) delta(native, text string) adapters.Event {
	return t.event(schema.EventItemDelta, schema.ItemDeltaData{NativeItemID: &native, Delta: text})
}

func newItem(native, parent string, kind schema.ItemKind, role schema.ItemRole, status schema.ItemStatus, parts ...schema.ContentPart) schema.UniversalItem {
	it := schema.UniversalItem{Kind: kind, Role: schema.Ptr(role), Status: status, Content: parts}
	if native != "" {
		it.NativeItemID = &native
	}
	if parent != "" {
		it.ParentID = &parent
	}
	if it.Content == nil {
		it.Content = []schema.ContentPart{}
	}
	return it
}

// startedAndCompleted returns both events of an item that is whole at once.
func (t *Translator) startedAndCompleted(it schema.UniversalItem) []adapters.Event {
	start := it
	start.Status = schema.StatusInProgress
	start.Content = []schema.ContentPart{}
	return []adapters.Event{t.itemEvent(schema.EventItemStarted, start), t.itemEvent(schema.EventItemCompleted, it)}
}

func (t *Translator) status(label, detail string) []adapters.Event {
	t.unknown++
	part := schema.ContentPart{Type: schema.PartStatus, Label: label}
	if detail != "" {
		part.Detail = &detail
	}
	native := fmt.Sprintf("status_%d", t.unknown)
	return t.startedAndCompleted(newItem(native, "", schema.KindStatus, schema.RoleSystem, schema.StatusCompleted, part))
}

// decode reads params into v, or returns the agent.unparsed event saying why not.
func (t *Translator) decode(env *envelope, v any) []adapters.Event {
	if len(nonNull(env.Params)) == 0 {
		return []adapters.Event{t.unparsed(env.Method + " without params")}
	}
	if err := json.Unmarshal(env.Params, v); err != nil {
		return []adapters.Event{t.unparsed(env.Method + ": " + err.Error())}
	}
	return nil
}

// ---- notifications ----

// silent are notifications with nothing for a client: thread status and
// read state (turns and requests say it better), account and host notices,
// the turn's whole diff (each file change carries its own), and reasoning
// section boundaries.
var silent = map[string]bool{
	"thread/status/changed": true, "thread/readState/changed": true, "thread/goal/cleared": true,
	"thread/goal/updated": true, "thread/settings/updated": true, "thread/name/updated": true,
	"account/rateLimits/updated": true, "account/updated": true, "remoteControl/status/changed": true,
	"configWarning": true, "deprecationNotice": true, "turn/diff/updated": true,
	"item/reasoning/summaryPartAdded": true, "item/mcpToolCall/progress": true, "mcpServer/startupStatus/updated": true,
	"skills/changed": true, "thread/archived": true, "thread/unarchived": true,
}

func (t *Translator) notification(env *envelope) []adapters.Event {
	switch env.Method {
	case "thread/started":
		var p threadStarted
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		if p.Thread.ID != "" {
			t.threadID = p.Thread.ID
		}
		meta, _ := json.Marshal(sessionMetadata{ThreadID: p.Thread.ID, Model: p.Thread.Model,
			ModelProvider: p.Thread.ModelProvider, Cwd: p.Thread.Cwd, Path: p.Thread.Path})
		return []adapters.Event{t.event(schema.EventSessionStarted, schema.SessionStartedData{Metadata: meta})}
	case "turn/started":
		var p turnParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		t.turn = turnState{id: p.Turn.ID}
		t.fx.turnID = p.Turn.ID
		data := schema.TurnEventData{Phase: schema.PhaseStarted}
		if p.Turn.ID != "" {
			data.TurnID = &p.Turn.ID
		}
		return []adapters.Event{t.event(schema.EventTurnStarted, data)}
	case "turn/completed":
		var p turnParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		return t.turnCompleted(&p)
	case "item/started", "item/completed":
		var p itemParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		var it item
		if err := json.Unmarshal(p.Item, &it); err != nil || it.Type == "" {
			return []adapters.Event{t.unparsed(env.Method + ": item without a type")}
		}
		if env.Method == "item/started" {
			return t.itemStarted(&it, p.Item)
		}
		return t.itemCompleted(&it, p.Item)
	case "item/agentMessage/delta", "item/reasoning/summaryTextDelta", "item/reasoning/textDelta", "item/plan/delta":
		var p deltaParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		return t.textDelta(p.ItemID, p.Delta)
	case "item/commandExecution/outputDelta", "item/fileChange/outputDelta":
		var p deltaParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		return t.outputDelta(p.ItemID, p.Delta)
	case "item/commandExecution/terminalInteraction":
		var p deltaParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		return t.outputDelta(p.ItemID, p.Stdin)
	case "thread/tokenUsage/updated":
		var p tokenUsageParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		t.turn.usage.add(p.TokenUsage.Last)
		t.turn.usageSeen = true
		t.turn.contextWindow = nonNull(p.TokenUsage.ModelContextWindow)
		return nil
	case "error":
		var p errorParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		if p.WillRetry {
			return t.status("retry", p.Error.Message)
		}
		t.turn.errorReported = true
		return []adapters.Event{t.errorEvent(&p.Error, p.WillRetry)}
	case "turn/plan/updated":
		var p planParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		return t.status("plan", string(nonNull(p.Plan)))
	case "thread/compacted":
		return t.status("compacted", "")
	case "serverRequest/resolved":
		var p resolvedParams
		if evs := t.decode(env, &p); evs != nil {
			return evs
		}
		return t.withdrawn(requestKey(p.RequestID))
	}
	if silent[env.Method] {
		return nil
	}
	return []adapters.Event{t.unparsed(fmt.Sprintf("unsupported Codex notification %q", env.Method))}
}

type sessionMetadata struct {
	ThreadID      string `json:"threadId,omitempty"`
	Model         string `json:"model,omitempty"`
	ModelProvider string `json:"modelProvider,omitempty"`
	Cwd           string `json:"cwd,omitempty"`
	Path          string `json:"path,omitempty"`
}

type errorDetails struct {
	CodexErrorInfo    json.RawMessage `json:"codexErrorInfo,omitempty"`
	AdditionalDetails json.RawMessage `json:"additionalDetails,omitempty"`
	WillRetry         bool            `json:"willRetry"`
	TurnID            string          `json:"turnId,omitempty"`
}

// errorCode names codexErrorInfo: the string itself, or the one key of
// its object form ({"httpConnectionFailed":{…}}).
func errorCode(info json.RawMessage) *string {
	if s := rawString(info); s != "" {
		return &s
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(info, &obj) != nil || len(obj) == 0 {
		return nil
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return &keys[0]
}

func (t *Translator) errorEvent(e *turnError, willRetry bool) adapters.Event {
	msg := e.Message
	if msg == "" {
		msg = "Codex reported an error"
	}
	details, _ := json.Marshal(errorDetails{CodexErrorInfo: nonNull(e.CodexErrorInfo),
		AdditionalDetails: nonNull(e.AdditionalDetails), WillRetry: willRetry, TurnID: t.turn.id})
	return t.event(schema.EventError, schema.ErrorData{Message: msg, Code: errorCode(e.CodexErrorInfo), Details: details})
}

type turnUsage struct {
	TotalTokens           int64           `json:"totalTokens"`
	InputTokens           int64           `json:"inputTokens"`
	CachedInputTokens     int64           `json:"cachedInputTokens"`
	CacheWriteInputTokens int64           `json:"cacheWriteInputTokens"`
	OutputTokens          int64           `json:"outputTokens"`
	ReasoningOutputTokens int64           `json:"reasoningOutputTokens"`
	ModelContextWindow    json.RawMessage `json:"modelContextWindow,omitempty"`
}

type turnMetadata struct {
	// Status is completed, error or interrupted.
	Status       string          `json:"status"`
	NativeStatus string          `json:"nativeStatus,omitempty"`
	DurationMS   json.RawMessage `json:"durationMs,omitempty"`
	Usage        *turnUsage      `json:"usage,omitempty"`
	Error        *turnError      `json:"error,omitempty"`
}

func (t *Translator) turnCompleted(p *turnParams) []adapters.Event {
	evs := t.closeOpen()
	status := "completed"
	switch p.Turn.Status {
	case "interrupted":
		status = "interrupted"
	case "failed":
		status = "error"
	}
	if status == "error" && !t.turn.errorReported {
		e := p.Turn.Error
		if e == nil {
			e = &turnError{Message: "Codex ended the turn with an error"}
		}
		evs = append(evs, t.errorEvent(e, false))
	}
	meta := turnMetadata{Status: status, NativeStatus: p.Turn.Status, DurationMS: nonNull(p.Turn.DurationMS), Error: p.Turn.Error}
	if t.turn.usageSeen {
		u := t.turn.usage
		meta.Usage = &turnUsage{u.TotalTokens, u.InputTokens, u.CachedInputTokens, u.CacheWriteInputTokens,
			u.OutputTokens, u.ReasoningOutputTokens, t.turn.contextWindow}
	}
	metaJSON, _ := json.Marshal(meta)
	data := schema.TurnEventData{Phase: schema.PhaseEnded, Metadata: metaJSON}
	if t.turn.usageSeen {
		data.Usage = t.turn.usage.normalized()
	}
	if p.Turn.ID != "" {
		data.TurnID = &p.Turn.ID
	}
	evs = append(evs, t.event(schema.EventTurnEnded, data))
	t.turn = turnState{}
	t.fx.turnEnded = true
	return evs
}

// closeOpen completes the items Codex left open: messages with what was
// streamed, tool calls as failed (they never finished).
func (t *Translator) closeOpen() []adapters.Event {
	var evs []adapters.Event
	for _, id := range t.order {
		o := t.open[id]
		if o == nil {
			continue
		}
		switch o.typ {
		case "agentMessage", "reasoning":
			it := item{Type: o.typ, ID: id, Text: o.buf.String()}
			if o.typ == "reasoning" {
				it.Summary = []string{o.buf.String()}
			}
			evs = append(evs, t.itemEvent(schema.EventItemCompleted, t.messageItem(&it, nil, schema.StatusCompleted)))
		default:
			call := o.call
			call.Status = schema.StatusFailed
			evs = append(evs, t.itemEvent(schema.EventItemCompleted, call))
			if o.resultStarted {
				evs = append(evs, t.itemEvent(schema.EventItemCompleted, newItem(resultID(id), id, schema.KindToolResult,
					schema.RoleTool, schema.StatusFailed, schema.ContentPart{Type: schema.PartToolResult, CallID: id, Output: o.output.String()})))
			}
		}
	}
	clear(t.open)
	clear(t.changes)
	t.order = t.order[:0]
	return evs
}

func (t *Translator) textDelta(id, text string) []adapters.Event {
	o := t.open[id]
	if o == nil || text == "" {
		return nil // a delta of an item never started or already completed
	}
	o.buf.WriteString(text)
	return []adapters.Event{t.delta(id, text)}
}

func resultID(callID string) string { return callID + "#result" }

func (t *Translator) outputDelta(id, text string) []adapters.Event {
	o := t.open[id]
	if o == nil || text == "" {
		return nil
	}
	var evs []adapters.Event
	if !o.resultStarted {
		o.resultStarted = true
		evs = append(evs, t.itemEvent(schema.EventItemStarted,
			newItem(resultID(id), id, schema.KindToolResult, schema.RoleTool, schema.StatusInProgress)))
	}
	o.output.WriteString(text)
	return append(evs, t.delta(resultID(id), text))
}

// ---- items ----

func isMessage(typ string) bool {
	return typ == "userMessage" || typ == "agentMessage" || typ == "reasoning"
}

func isToolCall(typ string) bool {
	return typ == "commandExecution" || typ == "fileChange" || typ == "mcpToolCall" || typ == "webSearch"
}

func (t *Translator) itemID(it *item) string {
	if it.ID != "" {
		return it.ID
	}
	t.unknown++
	return fmt.Sprintf("item_%d", t.unknown)
}

func (t *Translator) itemStarted(it *item, raw json.RawMessage) []adapters.Event {
	id := t.itemID(it)
	it.ID = id
	if _, ok := t.open[id]; !ok {
		t.order = append(t.order, id)
	}
	o := &openItem{typ: it.Type}
	t.open[id] = o
	switch {
	case isMessage(it.Type):
		o.buf.WriteString(it.Text)
		started := t.messageItem(it, raw, schema.StatusInProgress)
		return []adapters.Event{t.itemEvent(schema.EventItemStarted, started)}
	case isToolCall(it.Type):
		if it.Type == "fileChange" {
			t.changes[id] = it.Changes
		}
		o.call = toolCallItem(it, schema.StatusInProgress)
		return []adapters.Event{t.itemEvent(schema.EventItemStarted, o.call)}
	}
	return []adapters.Event{t.itemEvent(schema.EventItemStarted, otherItem(it, raw, schema.StatusInProgress))}
}

func (t *Translator) itemCompleted(it *item, raw json.RawMessage) []adapters.Event {
	id := t.itemID(it)
	it.ID = id
	o, wasOpen := t.open[id]
	delete(t.open, id)
	delete(t.changes, id)
	if i := slices.Index(t.order, id); i >= 0 {
		t.order = slices.Delete(t.order, i, i+1)
	}
	var evs []adapters.Event
	switch {
	case isMessage(it.Type):
		done := t.messageItem(it, raw, schema.StatusCompleted)
		if !wasOpen {
			start := done
			start.Status, start.Content = schema.StatusInProgress, []schema.ContentPart{}
			evs = append(evs, t.itemEvent(schema.EventItemStarted, start))
		}
		return append(evs, t.itemEvent(schema.EventItemCompleted, done))
	case isToolCall(it.Type):
		status := toolStatus(it)
		call := toolCallItem(it, status)
		if !wasOpen {
			start := call
			start.Status = schema.StatusInProgress
			evs = append(evs, t.itemEvent(schema.EventItemStarted, start))
		}
		evs = append(evs, t.itemEvent(schema.EventItemCompleted, call))
		result, ok := toolResultItem(it, status)
		if !ok {
			return evs
		}
		if o == nil || !o.resultStarted {
			start := newItem(resultID(id), id, schema.KindToolResult, schema.RoleTool, schema.StatusInProgress)
			evs = append(evs, t.itemEvent(schema.EventItemStarted, start))
		}
		return append(evs, t.itemEvent(schema.EventItemCompleted, result))
	}
	done := otherItem(it, raw, schema.StatusCompleted)
	if !wasOpen {
		start := done
		start.Status = schema.StatusInProgress
		evs = append(evs, t.itemEvent(schema.EventItemStarted, start))
	}
	return append(evs, t.itemEvent(schema.EventItemCompleted, done))
}

// messageItem maps userMessage, agentMessage and reasoning items.
func (t *Translator) messageItem(it *item, raw json.RawMessage, status schema.ItemStatus) schema.UniversalItem {
	role := schema.RoleAssistant
	var parts []schema.ContentPart
	switch it.Type {
	case "userMessage":
		role = schema.RoleUser
		parts = userParts(it.Content)
	case "agentMessage":
		if it.Text != "" {
			parts = append(parts, schema.TextPart(it.Text))
		}
	case "reasoning":
		for _, s := range it.Summary {
			parts = append(parts, schema.ContentPart{Type: schema.PartReasoning, Text: s, Visibility: schema.VisibilityPublic})
		}
		var content []string
		_ = json.Unmarshal(it.Content, &content)
		for _, s := range content {
			parts = append(parts, schema.ContentPart{Type: schema.PartReasoning, Text: s, Visibility: schema.VisibilityPrivate})
		}
	}
	if status == schema.StatusInProgress {
		parts = nil // the content comes with the deltas and the completion
	}
	return newItem(it.ID, "", schema.KindMessage, role, status, parts...)
}

func userParts(content json.RawMessage) []schema.ContentPart {
	var inputs []json.RawMessage
	_ = json.Unmarshal(content, &inputs)
	var parts []schema.ContentPart
	for _, raw := range inputs {
		var in userInput
		_ = json.Unmarshal(raw, &in)
		switch in.Type {
		case "text":
			parts = append(parts, schema.TextPart(in.Text))
		case "image":
			parts = append(parts, schema.ContentPart{Type: schema.PartImage, Path: in.URL})
		case "localImage":
			parts = append(parts, schema.ContentPart{Type: schema.PartImage, Path: in.Path})
		default:
			parts = append(parts, schema.ContentPart{Type: schema.PartJSON, JSON: raw})
		}
	}
	return parts
}

// toolStatus is how a tool item ended: declined and failed items, and
// commands that exited non-zero, failed.
func toolStatus(it *item) schema.ItemStatus {
	switch it.Status {
	case "declined", "failed":
		return schema.StatusFailed
	case "inProgress":
		return schema.StatusInProgress
	}
	if it.ExitCode != nil && *it.ExitCode != 0 {
		return schema.StatusFailed
	}
	if it.Type == "mcpToolCall" && it.Error != nil {
		return schema.StatusFailed
	}
	return schema.StatusCompleted
}

type commandArgs struct {
	Command string `json:"command"`
	Cwd     string `json:"cwd,omitempty"`
}

type changeArgs struct {
	Path string `json:"path"`
	Kind string `json:"kind"`
}

func toolCallItem(it *item, status schema.ItemStatus) schema.UniversalItem {
	name, args := it.Type, ""
	switch it.Type {
	case "commandExecution":
		b, _ := json.Marshal(commandArgs{it.Command, it.Cwd})
		args = string(b)
	case "fileChange":
		list := make([]changeArgs, 0, len(it.Changes))
		for _, c := range it.Changes {
			list = append(list, changeArgs{c.Path, c.Kind.Type})
		}
		b, _ := json.Marshal(map[string]any{"changes": list})
		args = string(b)
	case "mcpToolCall":
		name = it.Server + "." + it.Tool
		args = compact(it.Arguments)
	case "webSearch":
		name = "web_search"
		b, _ := json.Marshal(map[string]string{"query": it.Query})
		args = string(b)
	}
	return newItem(it.ID, "", schema.KindToolCall, schema.RoleAssistant, status,
		schema.ContentPart{Type: schema.PartToolCall, Name: name, Arguments: args, CallID: it.ID})
}

func compact(r json.RawMessage) string {
	if len(nonNull(r)) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, r) != nil {
		return string(r)
	}
	return buf.String()
}

type commandResult struct {
	Command    string          `json:"command"`
	Cwd        string          `json:"cwd,omitempty"`
	Status     string          `json:"status"`
	ExitCode   *int64          `json:"exitCode"`
	DurationMS json.RawMessage `json:"durationMs,omitempty"`
}

// toolResultItem is what a finished tool call produced; a web search has
// no result of its own (the model reads it).
func toolResultItem(it *item, status schema.ItemStatus) (schema.UniversalItem, bool) {
	part := schema.ContentPart{Type: schema.PartToolResult, CallID: it.ID}
	parts := []schema.ContentPart{}
	switch it.Type {
	case "commandExecution":
		if it.AggregatedOutput != nil {
			part.Output = *it.AggregatedOutput
		} else if it.Status == "declined" {
			part.Output = "declined"
		}
		js, _ := json.Marshal(commandResult{it.Command, it.Cwd, it.Status, it.ExitCode, nonNull(it.DurationMS)})
		parts = append(parts, part, schema.ContentPart{Type: schema.PartJSON, JSON: js})
	case "fileChange":
		part.Output = it.Status
		parts = append(parts, part)
		for _, c := range it.Changes {
			ref := schema.ContentPart{Type: schema.PartFileRef, Path: c.Path, Action: schema.FilePatch}
			if c.Kind.Type == "add" {
				ref.Action = schema.FileWrite
			}
			if c.Diff != "" {
				ref.Diff = &c.Diff
			}
			parts = append(parts, ref)
		}
	case "mcpToolCall":
		if it.Error != nil {
			part.Output = it.Error.Message
		} else {
			part.Output = compact(it.Result)
		}
		parts = append(parts, part)
	default:
		return schema.UniversalItem{}, false
	}
	return newItem(resultID(it.ID), it.ID, schema.KindToolResult, schema.RoleTool, status, parts...), true
}

// otherItem keeps an item of a type without a mapping whole, as json.
func otherItem(it *item, raw json.RawMessage, status schema.ItemStatus) schema.UniversalItem {
	part := schema.ContentPart{Type: schema.PartJSON, JSON: json.RawMessage(compact(raw))}
	return newItem(it.ID, "", schema.KindUnknown, schema.RoleAssistant, status, part)
}

// ---- server requests ----

// requestKey is a request id as the API shows it: the number, or the string.
func requestKey(id json.RawMessage) string {
	if s := rawString(id); s != "" {
		return s
	}
	return string(bytes.TrimSpace(id))
}

type permissionMetadata struct {
	CodexRequestKind string          `json:"codexRequestKind"`
	CodexRequestID   json.RawMessage `json:"codexRequestId"`
	ThreadID         string          `json:"threadId,omitempty"`
	TurnID           string          `json:"turnId,omitempty"`
	ItemID           string          `json:"itemId,omitempty"`
	Command          *string         `json:"command,omitempty"`
	Cwd              *string         `json:"cwd,omitempty"`
	Reason           *string         `json:"reason,omitempty"`
	GrantRoot        *string         `json:"grantRoot,omitempty"`
	CommandActions   json.RawMessage `json:"commandActions,omitempty"`
	Paths            []string        `json:"paths,omitempty"`
	Changes          []fileChange    `json:"changes,omitempty"`
}

func (t *Translator) serverRequest(env *envelope) []adapters.Event {
	key := requestKey(env.ID)
	switch env.Method {
	case "item/commandExecution/requestApproval", "item/fileChange/requestApproval":
		var p approvalParams
		if evs := t.decode(env, &p); evs != nil {
			t.fx.replies = append(t.fx.replies, errorReply(env.ID, "agentd could not read the request"))
			return evs
		}
		kind := "commandExecution"
		if env.Method == "item/fileChange/requestApproval" {
			kind = "fileChange"
			if t.acceptEdits {
				t.fx.replies = append(t.fx.replies, resultReply(env.ID, map[string]string{"decision": decisionAcceptForSession}))
				return nil
			}
		}
		meta := permissionMetadata{CodexRequestKind: kind, CodexRequestID: env.ID, ThreadID: p.ThreadID, TurnID: p.TurnID,
			ItemID: p.ItemID, Command: p.Command, Cwd: p.Cwd, Reason: p.Reason, GrantRoot: p.GrantRoot,
			CommandActions: nonNull(p.CommandActions)}
		if kind == "fileChange" {
			meta.Changes = t.changes[p.ItemID]
			for _, c := range meta.Changes {
				meta.Paths = append(meta.Paths, c.Path)
			}
		}
		metaJSON, _ := json.Marshal(meta)
		t.pending[key] = &pendingRequest{kind: pendingPermission, rpcID: env.ID, action: kind}
		return []adapters.Event{t.event(schema.EventPermissionRequested, schema.PermissionEventData{
			PermissionID: key, Action: kind, Status: schema.PermissionRequested, Metadata: metaJSON})}
	case "item/tool/requestUserInput":
		var p userInputParams
		if evs := t.decode(env, &p); evs != nil {
			t.fx.replies = append(t.fx.replies, errorReply(env.ID, "agentd could not read the request"))
			return evs
		}
		q := &pendingRequest{kind: pendingQuestion, rpcID: env.ID, options: []string{}}
		for i, question := range p.Questions {
			q.questionIDs = append(q.questionIDs, question.ID)
			if i == 0 {
				q.prompt = question.Question
				for _, o := range question.Options {
					q.options = append(q.options, o.Label)
				}
			}
		}
		if q.prompt == "" {
			q.prompt = "Codex asks for input"
		}
		t.pending[key] = q
		return []adapters.Event{t.questionEvent(schema.EventQuestionRequested, key, q, schema.QuestionRequested)}
	}
	t.fx.replies = append(t.fx.replies, errorReply(env.ID, "agentd does not handle "+env.Method))
	return []adapters.Event{t.unparsed(fmt.Sprintf("unsupported Codex server request %q (answered with an error)", env.Method))}
}

func (t *Translator) questionEvent(typ schema.EventType, id string, p *pendingRequest, status schema.QuestionStatus) adapters.Event {
	return t.event(typ, schema.QuestionEventData{QuestionID: id, Prompt: p.prompt, Options: slices.Clone(p.options), Status: status})
}

// withdrawn: Codex settled a request we had not answered (the turn was
// interrupted or ended while it waited); it is resolved as rejected.
func (t *Translator) withdrawn(key string) []adapters.Event {
	p, ok := t.pending[key]
	if !ok {
		return nil
	}
	delete(t.pending, key)
	if p.kind == pendingPermission {
		return []adapters.Event{t.event(schema.EventPermissionResolved, schema.PermissionEventData{
			PermissionID: key, Action: p.action, Status: schema.PermissionReject})}
	}
	return []adapters.Event{t.questionEvent(schema.EventQuestionResolved, key, p, schema.QuestionRejected)}
}

// ---- lines the session writes ----

type rpcReply struct {
	ID     json.RawMessage `json:"id"`
	Result any             `json:"result,omitempty"`
	Error  *rpcError       `json:"error,omitempty"`
}

// rpcInvalidRequest is JSON-RPC's "invalid request" code, used for requests
// agentd does not handle.
const rpcInvalidRequest = -32600

func errorReply(id json.RawMessage, msg string) []byte {
	b, _ := json.Marshal(rpcReply{ID: id, Error: &rpcError{Code: rpcInvalidRequest, Message: msg}})
	return b
}

func resultReply(id json.RawMessage, result any) []byte {
	b, _ := json.Marshal(rpcReply{ID: id, Result: result})
	return b
}
