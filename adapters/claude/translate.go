package claude

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// Translator turns the lines Claude Code prints with
// `--output-format stream-json --verbose --include-partial-messages` into
// universal events. It is pure: it reads nothing but the lines it is given
// and keeps only the state one session's translation needs (open messages,
// pending control requests, the native session id). It is not safe for
// concurrent use; the session serialises access to it.
//
// The mapping, line by line:
//
//   - system/init: session.started carrying the native session id (the
//     engine drops it as a duplicate but adopts the id). system/status
//     "requesting" (one per model call) and system/thinking_tokens (token
//     estimates) produce nothing; system/api_retry and every other system
//     subtype become a status item (label = subtype).
//   - stream_event: the first content block of a model message starts the
//     assistant message item; text_delta → item.delta on it. A thinking
//     block is its own item (kind message, role assistant, parent the
//     message, content one reasoning part, visibility public; redacted
//     thinking: private) and thinking_delta → item.delta on that item, so
//     reasoning never mixes with the answer's text. A tool_use block is a
//     tool_call item (parent the message) and input_json_delta → item.delta
//     on it. message_stop completes the message.
//   - assistant (one line per finished block): completes the block's item
//     (reasoning, tool_call) or records the text block's final text. An
//     API-error message (is_api_error_message) becomes an error event instead.
//   - user: tool_result blocks → tool_result items (parent the tool call,
//     status failed when is_error, with a file_ref part for file tools and a
//     json part for Bash); "[Request interrupted by user…]" → a status item
//     labelled interrupted; other text (the CLI's own isSynthetic notes) → a
//     system item; replays of our own prompt (isReplay) → nothing, since
//     the session emits the user item when it sends the prompt.
//   - control_request can_use_tool → permission.requested, except the
//     AskUserQuestion and ExitPlanMode tools → question.requested; other
//     control_request subtypes → agent.unparsed plus an error reply (so the
//     CLI does not wait forever). control_cancel_request → the pending
//     request resolved as rejected. control_response → nothing (an error
//     response → error event); the session learns of it through effects.
//   - result → turn.ended with usage, cost and how the turn ended
//     (status completed, error or interrupted), preceded by an error event
//     when is_error and no API error was reported during the turn.
//   - keep_alive → nothing. Anything else, and any line that is not JSON or
//     not shaped as expected → agent.unparsed (location "claude").
//
// Amp prints the same protocol (`amp --execute --stream-json`), so its
// adapter uses this translator too, through Dialect and WithoutControl.
//
// Every event carries the line it came from as Raw (a JSON string when the
// line was not JSON; invalid UTF-8 replaced by U+FFFD) and, once known, the
// native session id. A line over 256 KiB that yields several events is
// attached to the last of them only, so that one huge line is not stored
// many times over.
type Translator struct {
	name      string // the agent, in the translator's own messages
	location  string // agent.unparsed location
	noControl bool   // control_* lines are not part of the protocol
	sessionID string
	raw       json.RawMessage // the line being translated

	open   map[string]*message // the open assistant message per scope (parent tool use id; "" for the main thread)
	byID   map[string]*message // open messages by native id
	closed map[string]bool     // messages completed in this turn, whose late stream events are ignored
	tools  map[string]toolUse  // tool calls of this turn by id, for their results

	pending map[string]*pendingRequest

	userN   int
	statusN int
	anonN   int // assistant lines that carried no id
	// costSoFar is the last result's total_cost_usd, which Claude sums
	// over the process's turns: a turn's own cost is the difference.
	costSoFar float64
	// callStart is the usage message_start gave each model call still
	// streaming, by message id; message_delta completes it.
	callStart map[string]nativeUsage
	turn      turnState
	fx        effects
}

// TranslatorOption configures a Translator.
type TranslatorOption func(*Translator)

// Dialect names the agent printing the stream: name in the translator's own
// messages ("Amp"), location in agent.unparsed events ("amp"). The default
// is Claude's.
func Dialect(name, location string) TranslatorOption {
	return func(t *Translator) { t.name, t.location = name, location }
}

// WithoutControl reads control_* lines as unsupported, for an agent with no
// control channel: a request it printed could never be answered.
func WithoutControl() TranslatorOption { return func(t *Translator) { t.noControl = true } }

// WithSessionID starts from a known native session id (a resumed session),
// so that events before the first line that carries one have it too.
func WithSessionID(id string) TranslatorOption { return func(t *Translator) { t.sessionID = id } }

// NewTranslator returns a translator for one session.
func NewTranslator(opts ...TranslatorOption) *Translator {
	t := &Translator{
		name: "Claude", location: "claude",
		open: map[string]*message{}, byID: map[string]*message{}, closed: map[string]bool{},
		tools: map[string]toolUse{}, pending: map[string]*pendingRequest{},
		callStart: map[string]nativeUsage{},
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// NativeSessionID is Claude's session id, once a line has carried one.
func (t *Translator) NativeSessionID() string { return t.sessionID }

type turnState struct {
	errorReported      bool // an API error was already reported as an error event
	interruptRequested bool
	assistantSeen      bool // an assistant message item was emitted
}

// effects are what a line asks of the session besides events.
type effects struct {
	replies   [][]byte       // lines to write to Claude's stdin
	acks      []controlAck   // answers to control requests the session sent
	turnEnded bool           // a result line ended the turn
	calls     []schema.Usage // model calls that ended, with their usage
}

type controlAck struct {
	id  string
	err error
}

func (t *Translator) takeEffects() effects {
	fx := t.fx
	t.fx = effects{}
	return fx
}

// TurnEnded reports whether a result line ended the turn since the last
// call. Translators WithoutControl have no other effects to take.
func (t *Translator) TurnEnded() bool {
	ended := t.fx.turnEnded
	t.fx.turnEnded = false
	return ended
}

// noteInterrupt tells the translator an interrupt was asked for, so that the
// turn's result is read as interrupted.
func (t *Translator) noteInterrupt() { t.turn.interruptRequested = true }

type pendingKind int

const (
	pendingPermission pendingKind = iota
	pendingQuestion               // AskUserQuestion
	pendingPlan                   // ExitPlanMode
)

// pendingRequest is a can_use_tool request waiting for our answer.
type pendingRequest struct {
	kind      pendingKind
	toolName  string
	input     json.RawMessage
	questions []string // AskUserQuestion: the question texts, in order
	prompt    string
	options   []string
}

func (t *Translator) pendingRequest(id string) (*pendingRequest, bool) {
	p, ok := t.pending[id]
	return p, ok
}

func (t *Translator) resolve(id string) { delete(t.pending, id) }

func (t *Translator) restore(id string, p *pendingRequest) { t.pending[id] = p }

type toolUse struct {
	name  string
	input json.RawMessage
}

// message is an assistant message being assembled.
type message struct {
	id, scope string
	started   bool
	blocks    map[int]*block
	byCall    map[string]int // tool blocks' indexes by call id
	next      int            // index of the next block an assistant line brings
}

type block struct {
	kind     string
	native   string // item native id (thinking, tool_use)
	started  bool
	done     bool
	buf      strings.Builder // streamed deltas
	final    string          // text block: the text from the assistant line
	hasFinal bool
	name     string
	callID   string
	other    json.RawMessage // unknown block types, kept as a json part
}

// spareIndex places blocks whose position is unclear after every real one.
const spareIndex = 1 << 30

func (m *message) block(i int) *block {
	b := m.blocks[i]
	if b == nil {
		b = &block{}
		m.blocks[i] = b
	}
	return b
}

// rawShareLimit bounds the copies of one line kept as raw: a longer line
// that yields several events is attached to the last of them only.
const rawShareLimit = 256 << 10

// Line translates one line of Claude's stdout.
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
	var l nativeLine
	if err := json.Unmarshal(line, &l); err != nil {
		// Unmarshal checks the whole line before decoding, so a syntax
		// error means the line is not JSON at all.
		if _, ok := errors.AsType[*json.SyntaxError](err); ok {
			t.raw = quote(line)
			return []adapters.Event{t.unparsed("not JSON")}
		}
		return []adapters.Event{t.unparsed("unexpected " + t.name + " line shape: " + err.Error())}
	}
	if l.SessionID != "" {
		t.sessionID = l.SessionID
	}
	if t.noControl && strings.HasPrefix(l.Type, "control_") {
		return []adapters.Event{t.unsupported(l.Type)}
	}
	switch l.Type {
	case "system":
		return t.system(&l)
	case "stream_event":
		return t.streamEvent(&l)
	case "assistant":
		return t.assistant(&l)
	case "user":
		return t.user(&l)
	case "control_request":
		return t.controlRequest(&l)
	case "control_cancel_request":
		return t.controlCancel(&l)
	case "control_response":
		return t.controlResponse(&l)
	case "result":
		return t.result(&l)
	case "keep_alive":
		return nil
	}
	return []adapters.Event{t.unsupported(l.Type)}
}

func (t *Translator) unsupported(typ string) adapters.Event {
	return t.unparsed(fmt.Sprintf("unsupported %s line type %q", t.name, typ))
}

// Truncated reports a line that was longer than limit bytes: the reader
// kept only its start (prefix) and skipped the rest.
func (t *Translator) Truncated(prefix []byte, limit int) []adapters.Event {
	const keep = 1024
	if len(prefix) > keep {
		prefix = prefix[:keep]
	}
	t.raw = quote(bytes.ToValidUTF8(prefix, []byte("\uFFFD")))
	return []adapters.Event{t.unparsed(fmt.Sprintf("line longer than %d bytes: skipped (raw holds its first bytes)", limit))}
}

// UserMessage returns the events for a prompt the session sends: the user
// item, which Claude does not echo. They are the daemon's own (synthetic).
func (t *Translator) UserMessage(text string) []adapters.Event {
	t.turn = turnState{}
	t.userN++
	native := "user_" + strconv.Itoa(t.userN)
	it := schema.UniversalItem{
		NativeItemID: &native, Kind: schema.KindMessage, Role: schema.Ptr(schema.RoleUser),
		Content: []schema.ContentPart{schema.TextPart(text)}, Status: schema.StatusInProgress,
	}
	done := it
	done.Status = schema.StatusCompleted
	// The turn starts when the prompt is written, not when it was sent: a
	// queued message's turn must not open before the running one ends.
	evs := []adapters.Event{
		{Type: schema.EventTurnStarted, Data: schema.TurnEventData{Phase: schema.PhaseStarted}},
		{Type: schema.EventItemStarted, Data: schema.ItemEventData{Item: it}},
		{Type: schema.EventItemCompleted, Data: schema.ItemEventData{Item: done}},
	}
	for i := range evs {
		evs[i].Synthetic = true
		evs[i].NativeSessionID = t.sessionID
	}
	return evs
}

func quote(b []byte) json.RawMessage {
	q, _ := json.Marshal(string(b)) // a string always marshals
	return q
}

func (t *Translator) event(typ schema.EventType, data schema.Payload) adapters.Event {
	return adapters.Event{Type: typ, Data: data, NativeSessionID: t.sessionID, Raw: t.raw}
}

func (t *Translator) unparsed(msg string) adapters.Event {
	return t.event(schema.EventAgentUnparsed, schema.AgentUnparsedData{Error: msg, Location: t.location})
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
	return []adapters.Event{t.itemEvent(schema.EventItemStarted, start), t.itemEvent(schema.EventItemCompleted, it)}
}

// ---- system ----

type initMetadata struct {
	Model             string `json:"model,omitempty"`
	Cwd               string `json:"cwd,omitempty"`
	PermissionMode    string `json:"permissionMode,omitempty"`
	ClaudeCodeVersion string `json:"claudeCodeVersion,omitempty"`
}

func (t *Translator) system(l *nativeLine) []adapters.Event {
	switch l.Subtype {
	case "init":
		meta, _ := json.Marshal(initMetadata{l.Model, l.Cwd, l.PermissionMode, l.ClaudeCodeVersion})
		return []adapters.Event{t.event(schema.EventSessionStarted, schema.SessionStartedData{Metadata: meta})}
	case "thinking_tokens":
		return nil
	case "status":
		status := rawString(l.Status)
		if status == "requesting" {
			return nil
		}
		if status == "" {
			status = "idle"
		}
		return t.status(l, "status", status)
	case "api_retry":
		detail := fmt.Sprintf("attempt %s of %s failed", rawText(l.Attempt), rawText(l.MaxRetries))
		if s := rawText(l.ErrorStatus); s != "" {
			detail += " with HTTP " + s
		}
		if e := rawString(l.Error); e != "" {
			detail += " (" + e + ")"
		}
		if d := rawText(l.RetryDelayMS); d != "" {
			detail += "; retrying in " + d + " ms"
		}
		return t.status(l, "api_retry", detail)
	}
	label := l.Subtype
	if label == "" {
		label = "system"
	}
	return t.status(l, label, truncateText(string(t.raw), 4096))
}

// rawText renders a JSON scalar as text: strings unquoted, null as "".
func rawText(r json.RawMessage) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	if s := rawString(r); s != "" {
		return s
	}
	return string(r)
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func (t *Translator) status(l *nativeLine, label, detail string) []adapters.Event {
	native := l.UUID
	if native == "" {
		t.statusN++
		native = "status_" + strconv.Itoa(t.statusN)
	}
	part := schema.ContentPart{Type: schema.PartStatus, Label: label}
	if detail != "" {
		part.Detail = &detail
	}
	return t.startedAndCompleted(newItem(native, "", schema.KindStatus, schema.RoleSystem, schema.StatusCompleted, part))
}

// ---- assistant messages ----

func scopeOf(l *nativeLine) string {
	if l.ParentToolUseID != nil {
		return *l.ParentToolUseID
	}
	return ""
}

// messageFor returns the open message id in scope, opening it (and
// completing the scope's previous message) if needed. It returns nil for a
// message already completed in this turn when reopen is false.
func (t *Translator) messageFor(scope, id string, reopen bool) (*message, []adapters.Event) {
	if m := t.byID[id]; m != nil {
		return m, nil
	}
	if t.closed[id] && !reopen {
		return nil, nil
	}
	var evs []adapters.Event
	if prev := t.open[scope]; prev != nil {
		evs = t.complete(prev)
	}
	m := &message{id: id, scope: scope, blocks: map[int]*block{}, byCall: map[string]int{}}
	if t.closed[id] {
		m.started = true // its item.started was already recorded
		delete(t.closed, id)
	}
	t.open[scope], t.byID[id] = m, m
	return m, evs
}

func (t *Translator) startMessage(m *message) []adapters.Event {
	if m.started {
		return nil
	}
	m.started = true
	t.turn.assistantSeen = true
	return []adapters.Event{t.itemEvent(schema.EventItemStarted,
		newItem(m.id, m.scope, schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress))}
}

func reasoningID(msgID string, index int) string {
	return msgID + ":thinking:" + strconv.Itoa(index)
}

func isToolBlock(kind string) bool {
	return kind == "tool_use" || kind == "server_tool_use" || kind == "mcp_tool_use"
}

func isThinkingBlock(kind string) bool { return kind == "thinking" || kind == "redacted_thinking" }

func reasoningPart(kind, text string) schema.ContentPart {
	vis := schema.VisibilityPublic
	if kind == "redacted_thinking" {
		vis = schema.VisibilityPrivate
	}
	return schema.ContentPart{Type: schema.PartReasoning, Text: text, Visibility: vis}
}

func toolCallPart(name, args, callID string) schema.ContentPart {
	return schema.ContentPart{Type: schema.PartToolCall, Name: name, Arguments: args, CallID: callID}
}

// startBlock records the start of a block and emits its item's start.
func (t *Translator) startBlock(m *message, index int, b *block) []adapters.Event {
	evs := t.startMessage(m)
	if b.started {
		return evs
	}
	b.started = true
	switch {
	case isThinkingBlock(b.kind):
		if b.native == "" {
			b.native = reasoningID(m.id, index)
		}
		evs = append(evs, t.itemEvent(schema.EventItemStarted,
			newItem(b.native, m.id, schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress)))
	case isToolBlock(b.kind):
		if b.native == "" {
			b.native = m.id + ":tool:" + strconv.Itoa(index)
		}
		evs = append(evs, t.itemEvent(schema.EventItemStarted,
			newItem(b.native, m.id, schema.KindToolCall, schema.RoleAssistant, schema.StatusInProgress,
				toolCallPart(b.name, "", b.callID))))
	}
	return evs
}

func (t *Translator) streamEvent(l *nativeLine) []adapters.Event {
	ev := l.Event
	if ev == nil {
		return []adapters.Event{t.unparsed("stream_event without event")}
	}
	scope := scopeOf(l)
	id := l.APIMessageID
	if ev.Message != nil && ev.Message.ID != "" {
		id = ev.Message.ID
	}
	t.callUsage(ev, id)
	switch ev.Type {
	case "message_start", "content_block_start", "content_block_delta", "message_stop":
	case "content_block_stop", "message_delta", "ping", "error":
		// Nothing to show: blocks complete with their assistant line, usage
		// comes with the result, and the CLI turns stream errors into a retry
		// or an API-error message of its own.
		return nil
	default:
		return []adapters.Event{t.unparsed(fmt.Sprintf("unsupported stream event type %q", ev.Type))}
	}
	if id == "" {
		if m := t.open[scope]; m != nil {
			id = m.id
		} else {
			return []adapters.Event{t.unparsed("stream event without a message id")}
		}
	}
	m, evs := t.messageFor(scope, id, false)
	if m == nil {
		return nil // a late event of a message already completed (e.g. after an interrupt)
	}
	switch ev.Type {
	case "message_stop":
		return append(evs, t.complete(m)...)
	case "content_block_start":
		cb := ev.ContentBlock
		if cb == nil {
			return append(evs, t.unparsed("content_block_start without content_block"))
		}
		b := m.block(ev.Index)
		b.kind = cb.Type
		if isToolBlock(cb.Type) {
			b.native, b.name, b.callID = cb.ID, cb.Name, cb.ID
			m.byCall[cb.ID] = ev.Index
		}
		return append(evs, t.startBlock(m, ev.Index, b)...)
	case "content_block_delta":
		d := ev.Delta
		if d == nil {
			return evs
		}
		b := m.block(ev.Index)
		switch d.Type {
		case "text_delta":
			if b.kind == "" {
				b.kind = "text"
			}
			if d.Text == "" {
				return evs
			}
			b.buf.WriteString(d.Text)
			evs = append(evs, t.startBlock(m, ev.Index, b)...)
			return append(evs, t.delta(m.id, d.Text))
		case "thinking_delta":
			if b.kind == "" {
				b.kind = "thinking"
			}
			evs = append(evs, t.startBlock(m, ev.Index, b)...)
			if d.Thinking == "" || !isThinkingBlock(b.kind) {
				return evs
			}
			b.buf.WriteString(d.Thinking)
			return append(evs, t.delta(b.native, d.Thinking))
		case "input_json_delta":
			if b.kind == "" {
				b.kind = "tool_use"
			}
			evs = append(evs, t.startBlock(m, ev.Index, b)...)
			if d.PartialJSON == "" || !isToolBlock(b.kind) {
				return evs
			}
			b.buf.WriteString(d.PartialJSON)
			return append(evs, t.delta(b.native, d.PartialJSON))
		}
		return evs // signature_delta, citations_delta: nothing to show
	}
	// message_start: the item starts with its first block.
	return evs
}

// textBlocks reads message content: a list of blocks, or a bare string.
func textBlocks(content json.RawMessage) ([]contentBlock, error) {
	if len(content) == 0 || string(content) == "null" {
		return nil, nil
	}
	var blocks []contentBlock
	if err := json.Unmarshal(content, &blocks); err == nil {
		return blocks, nil
	}
	var s string
	if err := json.Unmarshal(content, &s); err != nil {
		return nil, fmt.Errorf("message content is neither text nor a list of blocks")
	}
	return []contentBlock{{Type: "text", Text: s}}, nil
}

// rawBlocks returns each block of a list as its own JSON text.
func rawBlocks(content json.RawMessage) []json.RawMessage {
	var raws []json.RawMessage
	_ = json.Unmarshal(content, &raws)
	return raws
}

func (t *Translator) assistant(l *nativeLine) []adapters.Event {
	msg := l.Message
	if msg == nil {
		return []adapters.Event{t.unparsed("assistant line without message")}
	}
	blocks, err := textBlocks(msg.Content)
	if err != nil {
		return []adapters.Event{t.unparsed(err.Error())}
	}
	scope := scopeOf(l)
	if l.IsAPIErrorMessage || (msg.Model == "<synthetic>" && rawString(l.Error) != "") {
		return t.apiError(l, blocks)
	}
	id := msg.ID
	if id == "" {
		id = l.UUID
	}
	if id == "" {
		// Amp documents only the content of its assistant lines; each
		// line without an id is a message of its own.
		t.anonN++
		id = "assistant_" + strconv.Itoa(t.anonN)
	}
	m, evs := t.messageFor(scope, id, true)
	evs = append(evs, t.startMessage(m)...)
	raws := rawBlocks(msg.Content)
	for j, cb := range blocks {
		index := m.next
		m.next++
		if i, ok := m.byCall[cb.ID]; ok && cb.ID != "" && isToolBlock(cb.Type) {
			index = i // tool blocks are matched by id, whatever their position
		}
		b := m.block(index)
		if b.kind != "" && b.kind != cb.Type {
			// The stream and the assistant lines disagree on this block's
			// position: keep both rather than mix them up.
			index = spareIndex + m.next
			b = m.block(index)
		}
		b.kind = cb.Type
		switch {
		case cb.Type == "text":
			b.final, b.hasFinal = cb.Text, true
		case isThinkingBlock(cb.Type):
			evs = append(evs, t.startBlock(m, index, b)...)
			b.done = true
			evs = append(evs, t.itemEvent(schema.EventItemCompleted,
				newItem(b.native, m.id, schema.KindMessage, schema.RoleAssistant, schema.StatusCompleted,
					reasoningPart(cb.Type, cb.Thinking))))
		case isToolBlock(cb.Type):
			if b.native == "" {
				b.native = cb.ID
			}
			b.name, b.callID = cb.Name, cb.ID
			m.byCall[cb.ID] = index
			evs = append(evs, t.startBlock(m, index, b)...)
			b.done = true
			args := argumentsText(cb.Input)
			if cb.ID != "" {
				t.tools[cb.ID] = toolUse{name: cb.Name, input: cb.Input}
			}
			evs = append(evs, t.itemEvent(schema.EventItemCompleted,
				newItem(b.native, m.id, schema.KindToolCall, schema.RoleAssistant, schema.StatusCompleted,
					toolCallPart(cb.Name, args, cb.ID))))
		default:
			if j < len(raws) {
				b.other = raws[j]
			}
		}
	}
	return evs
}

func argumentsText(input json.RawMessage) string {
	if len(input) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, input) != nil {
		return string(input)
	}
	return buf.String()
}

type apiErrorDetails struct {
	APIErrorStatus json.RawMessage `json:"apiErrorStatus,omitempty"`
	APIErrorType   json.RawMessage `json:"apiErrorType,omitempty"`
	RequestID      json.RawMessage `json:"requestId,omitempty"`
}

// apiError reports the CLI's API-error message (a synthetic assistant
// message such as "API Error: 500 …") as an error event.
func (t *Translator) apiError(l *nativeLine, blocks []contentBlock) []adapters.Event {
	evs := t.closeScope(scopeOf(l))
	var texts []string
	for _, b := range blocks {
		if b.Type == "text" && b.Text != "" {
			texts = append(texts, b.Text)
		}
	}
	msg := strings.Join(texts, "\n")
	if msg == "" {
		msg = t.name + " reported an API error"
	}
	code := rawString(l.Error)
	if code == "" {
		code = rawString(l.APIErrorType)
	}
	var codePtr *string
	if code != "" {
		codePtr = &code
	}
	details, _ := json.Marshal(apiErrorDetails{nonNull(l.APIErrorStatus), nonNull(l.APIErrorType), nonNull(l.RequestID)})
	t.turn.errorReported = true
	return append(evs, t.event(schema.EventError, schema.ErrorData{Message: msg, Code: codePtr, Details: details}))
}

func nonNull(r json.RawMessage) json.RawMessage {
	if string(r) == "null" {
		return nil
	}
	return r
}

func (t *Translator) closeScope(scope string) []adapters.Event {
	if m := t.open[scope]; m != nil {
		return t.complete(m)
	}
	return nil
}

func (t *Translator) closeAll() []adapters.Event {
	scopes := make([]string, 0, len(t.open))
	for s := range t.open {
		scopes = append(scopes, s)
	}
	slices.Sort(scopes)
	var evs []adapters.Event
	for _, s := range scopes {
		evs = append(evs, t.complete(t.open[s])...)
	}
	return evs
}

// complete finishes a message: blocks that streamed but never got their
// assistant line (an interrupt, a cut stream) are completed from their
// deltas, then the message item is completed with its text.
func (t *Translator) complete(m *message) []adapters.Event {
	delete(t.open, m.scope)
	delete(t.byID, m.id)
	t.closed[m.id] = true
	indexes := make([]int, 0, len(m.blocks))
	for i := range m.blocks {
		indexes = append(indexes, i)
	}
	slices.Sort(indexes)
	var evs []adapters.Event
	var parts []schema.ContentPart
	for _, i := range indexes {
		b := m.blocks[i]
		switch {
		case b.kind == "text":
			text := b.final
			if !b.hasFinal {
				text = b.buf.String()
			}
			if text != "" {
				parts = append(parts, schema.TextPart(text))
			}
		case isThinkingBlock(b.kind) && b.started && !b.done:
			evs = append(evs, t.itemEvent(schema.EventItemCompleted,
				newItem(b.native, m.id, schema.KindMessage, schema.RoleAssistant, schema.StatusCompleted,
					reasoningPart(b.kind, b.buf.String()))))
		case isToolBlock(b.kind) && b.started && !b.done:
			// The call never finished streaming, so it never ran.
			evs = append(evs, t.itemEvent(schema.EventItemCompleted,
				newItem(b.native, m.id, schema.KindToolCall, schema.RoleAssistant, schema.StatusFailed,
					toolCallPart(b.name, b.buf.String(), b.callID))))
		case b.other != nil:
			parts = append(parts, schema.ContentPart{Type: schema.PartJSON, JSON: b.other})
		}
	}
	if !m.started && len(parts) == 0 {
		return evs
	}
	evs = append(evs, t.startMessage(m)...)
	return append(evs, t.itemEvent(schema.EventItemCompleted,
		newItem(m.id, m.scope, schema.KindMessage, schema.RoleAssistant, schema.StatusCompleted, parts...)))
}

// ---- user lines: tool results and the CLI's own notes ----

func (t *Translator) user(l *nativeLine) []adapters.Event {
	msg := l.Message
	if msg == nil {
		return []adapters.Event{t.unparsed("user line without message")}
	}
	blocks, err := textBlocks(msg.Content)
	if err != nil {
		return []adapters.Event{t.unparsed(err.Error())}
	}
	// A user line follows the end of the model message before it.
	evs := t.closeScope(scopeOf(l))
	if l.IsReplay {
		return evs // our own prompt, already recorded when it was sent
	}
	raws := rawBlocks(msg.Content)
	results := 0
	for _, b := range blocks {
		if b.Type == "tool_result" {
			results++
		}
	}
	var texts []string
	var others []schema.ContentPart
	for j, b := range blocks {
		switch b.Type {
		case "tool_result":
			evs = append(evs, t.toolResult(l, b, j, results == 1)...)
		case "text":
			texts = append(texts, b.Text)
		default:
			if j < len(raws) {
				others = append(others, schema.ContentPart{Type: schema.PartJSON, JSON: raws[j]})
			}
		}
	}
	if len(texts) == 0 && len(others) == 0 {
		return evs
	}
	text := strings.Join(texts, "\n")
	native := l.UUID
	if native == "" {
		t.statusN++
		native = "note_" + strconv.Itoa(t.statusN)
	}
	if len(others) == 0 && strings.HasPrefix(text, "[Request interrupted by user") {
		part := schema.ContentPart{Type: schema.PartStatus, Label: "interrupted", Detail: &text}
		return append(evs, t.startedAndCompleted(newItem(native, scopeOf(l), schema.KindStatus, schema.RoleSystem, schema.StatusCompleted, part))...)
	}
	var parts []schema.ContentPart
	if text != "" {
		parts = append(parts, schema.TextPart(text))
	}
	parts = append(parts, others...)
	return append(evs, t.startedAndCompleted(newItem(native, scopeOf(l), schema.KindSystem, schema.RoleSystem, schema.StatusCompleted, parts...))...)
}

// resultOutput renders a tool_result's content: a string, or blocks whose
// text parts are joined (other blocks appear as a marker).
func resultOutput(content json.RawMessage) string {
	if len(content) == 0 || string(content) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(content, &s) == nil {
		return s
	}
	var blocks []contentBlock
	if json.Unmarshal(content, &blocks) != nil {
		return string(content)
	}
	var out []string
	for _, b := range blocks {
		if b.Type == "text" {
			out = append(out, b.Text)
		} else {
			out = append(out, "["+b.Type+"]")
		}
	}
	return strings.Join(out, "\n")
}

func (t *Translator) toolResult(l *nativeLine, b contentBlock, index int, onlyOne bool) []adapters.Event {
	callID := b.ToolUseID
	native := callID + "#result"
	if callID == "" {
		native = l.UUID + "#result" + strconv.Itoa(index)
	}
	status := schema.StatusCompleted
	if b.IsError {
		status = schema.StatusFailed
	}
	parts := []schema.ContentPart{{Type: schema.PartToolResult, CallID: callID, Output: resultOutput(b.Content)}}
	if use, ok := t.tools[callID]; ok {
		delete(t.tools, callID)
		if !b.IsError && onlyOne {
			parts = append(parts, resultExtras(use, l.ToolUseResult)...)
		}
	}
	start := newItem(native, callID, schema.KindToolResult, schema.RoleTool, schema.StatusInProgress)
	done := newItem(native, callID, schema.KindToolResult, schema.RoleTool, status, parts...)
	return []adapters.Event{t.itemEvent(schema.EventItemStarted, start), t.itemEvent(schema.EventItemCompleted, done)}
}

type fileInput struct {
	FilePath     string `json:"file_path"`
	NotebookPath string `json:"notebook_path"`
	Command      string `json:"command"`
}

type fileResult struct {
	Type            string `json:"type"`
	StructuredPatch []struct {
		OldStart int      `json:"oldStart"`
		OldLines int      `json:"oldLines"`
		NewStart int      `json:"newStart"`
		NewLines int      `json:"newLines"`
		Lines    []string `json:"lines"`
	} `json:"structuredPatch"`
}

type bashResult struct {
	Stdout      *string `json:"stdout"`
	Stderr      *string `json:"stderr"`
	Interrupted *bool   `json:"interrupted"`
}

type commandPart struct {
	Command     string  `json:"command"`
	Stdout      *string `json:"stdout,omitempty"`
	Stderr      *string `json:"stderr,omitempty"`
	Interrupted *bool   `json:"interrupted,omitempty"`
}

// resultExtras describes what a successful tool did, where the spec has a
// part for it: file_ref for file tools, json {command, stdout, stderr,
// interrupted} for Bash.
func resultExtras(use toolUse, structured json.RawMessage) []schema.ContentPart {
	var in fileInput
	_ = json.Unmarshal(use.input, &in)
	switch use.name {
	case "Write", "Edit", "MultiEdit", "NotebookEdit", "Read":
		path := in.FilePath
		if path == "" {
			path = in.NotebookPath
		}
		if path == "" {
			return nil
		}
		action := schema.FilePatch
		switch use.name {
		case "Read":
			action = schema.FileRead
		case "Write":
			action = schema.FileWrite
		}
		part := schema.ContentPart{Type: schema.PartFileRef, Path: path, Action: action}
		var fr fileResult
		if action != schema.FileRead && json.Unmarshal(structured, &fr) == nil && len(fr.StructuredPatch) > 0 {
			var d strings.Builder
			for _, h := range fr.StructuredPatch {
				fmt.Fprintf(&d, "@@ -%d,%d +%d,%d @@\n", h.OldStart, h.OldLines, h.NewStart, h.NewLines)
				for _, line := range h.Lines {
					d.WriteString(line)
					d.WriteByte('\n')
				}
			}
			diff := d.String()
			part.Diff = &diff
		}
		return []schema.ContentPart{part}
	case "Bash":
		var br bashResult
		_ = json.Unmarshal(structured, &br)
		js, err := json.Marshal(commandPart{in.Command, br.Stdout, br.Stderr, br.Interrupted})
		if err != nil {
			return nil
		}
		return []schema.ContentPart{{Type: schema.PartJSON, JSON: js}}
	}
	return nil
}

// ---- control requests ----

type permissionMetadata struct {
	ToolName              string          `json:"toolName"`
	Input                 json.RawMessage `json:"input"`
	PermissionSuggestions json.RawMessage `json:"permissionSuggestions"`
	BlockedPath           json.RawMessage `json:"blockedPath"`
	// Additive: the tool call asking, and the CLI's description of it.
	ToolUseID   string          `json:"toolUseId,omitempty"`
	Description json.RawMessage `json:"description,omitempty"`
}

const (
	toolAskUserQuestion = "AskUserQuestion"
	toolExitPlanMode    = "ExitPlanMode"
	planPrompt          = "Approve plan execution?"
)

func (t *Translator) controlRequest(l *nativeLine) []adapters.Event {
	id := rawString(l.RequestID)
	req := l.Request
	if id == "" || req == nil {
		return []adapters.Event{t.unparsed("control_request without request_id or request")}
	}
	if req.Subtype != "can_use_tool" {
		t.fx.replies = append(t.fx.replies, controlError(id, "agentd does not handle control request "+strconv.Quote(req.Subtype)))
		return []adapters.Event{t.unparsed(fmt.Sprintf("unsupported control request subtype %q (answered with an error)", req.Subtype))}
	}
	input := rawOrNull(req.Input)
	switch req.ToolName {
	case toolAskUserQuestion:
		p := &pendingRequest{kind: pendingQuestion, toolName: req.ToolName, input: input}
		var ask askInput
		_ = json.Unmarshal(input, &ask)
		for i, q := range ask.Questions {
			p.questions = append(p.questions, q.Question)
			if i == 0 {
				p.prompt = q.Question
				for _, o := range q.Options {
					p.options = append(p.options, o.Label)
				}
			}
		}
		if p.prompt == "" {
			p.prompt = rawString(req.Description)
		}
		t.pending[id] = p
		return []adapters.Event{t.questionEvent(schema.EventQuestionRequested, id, p, nil, schema.QuestionRequested)}
	case toolExitPlanMode:
		p := &pendingRequest{kind: pendingPlan, toolName: req.ToolName, input: input,
			prompt: planPrompt, options: []string{"approve", "reject"}}
		var plan struct {
			Plan string `json:"plan"`
		}
		if json.Unmarshal(input, &plan) == nil && plan.Plan != "" {
			p.prompt = planPrompt + "\n\n" + plan.Plan
		}
		t.pending[id] = p
		return []adapters.Event{t.questionEvent(schema.EventQuestionRequested, id, p, nil, schema.QuestionRequested)}
	}
	name := req.ToolName
	if name == "" {
		name = "unknown"
	}
	meta, err := json.Marshal(permissionMetadata{
		ToolName: name, Input: input, PermissionSuggestions: rawOrNull(req.PermissionSuggestions),
		BlockedPath: rawOrNull(req.BlockedPath), ToolUseID: req.ToolUseID, Description: rawOrNull(req.Description),
	})
	if err != nil {
		return []adapters.Event{t.unparsed("permission request: " + err.Error())}
	}
	t.pending[id] = &pendingRequest{kind: pendingPermission, toolName: name, input: input}
	return []adapters.Event{t.event(schema.EventPermissionRequested, schema.PermissionEventData{
		PermissionID: id, Action: name, Status: schema.PermissionRequested, Metadata: meta,
	})}
}

func (t *Translator) questionEvent(typ schema.EventType, id string, p *pendingRequest, response *string, status schema.QuestionStatus) adapters.Event {
	return t.event(typ, schema.QuestionEventData{
		QuestionID: id, Prompt: p.prompt, Options: slices.Clone(p.options), Response: response, Status: status,
	})
}

// controlCancel: the CLI withdrew a request (e.g. the turn was interrupted
// while it waited); it is resolved as rejected.
func (t *Translator) controlCancel(l *nativeLine) []adapters.Event {
	id := rawString(l.RequestID)
	p, ok := t.pending[id]
	if !ok {
		return nil
	}
	delete(t.pending, id)
	if p.kind == pendingPermission {
		return []adapters.Event{t.event(schema.EventPermissionResolved, schema.PermissionEventData{
			PermissionID: id, Action: p.toolName, Status: schema.PermissionReject, Metadata: nil,
		})}
	}
	return []adapters.Event{t.questionEvent(schema.EventQuestionResolved, id, p, nil, schema.QuestionRejected)}
}

func (t *Translator) controlResponse(l *nativeLine) []adapters.Event {
	r := l.Response
	if r == nil {
		return []adapters.Event{t.unparsed("control_response without response")}
	}
	if r.Subtype != "error" {
		t.fx.acks = append(t.fx.acks, controlAck{id: r.RequestID})
		return nil
	}
	msg := rawString(r.Error)
	if msg == "" {
		msg = "control request failed"
	}
	t.fx.acks = append(t.fx.acks, controlAck{id: r.RequestID, err: fmt.Errorf("claude: %s", msg)})
	details, _ := json.Marshal(map[string]string{"requestId": r.RequestID})
	return []adapters.Event{t.event(schema.EventError, schema.ErrorData{Message: msg, Code: schema.Ptr("control_error"), Details: details})}
}

// ---- result: the end of a turn ----

type turnUsage struct {
	InputTokens              *int64 `json:"inputTokens,omitempty"`
	OutputTokens             *int64 `json:"outputTokens,omitempty"`
	CacheReadInputTokens     *int64 `json:"cacheReadInputTokens,omitempty"`
	CacheCreationInputTokens *int64 `json:"cacheCreationInputTokens,omitempty"`
	ThinkingTokens           *int64 `json:"thinkingTokens,omitempty"`
}

type turnMetadata struct {
	// Status is completed, error or interrupted.
	Status            string          `json:"status"`
	Subtype           string          `json:"subtype,omitempty"`
	TerminalReason    string          `json:"terminalReason,omitempty"`
	StopReason        string          `json:"stopReason,omitempty"`
	IsError           bool            `json:"isError"`
	NumTurns          json.RawMessage `json:"numTurns,omitempty"`
	DurationMS        json.RawMessage `json:"durationMs,omitempty"`
	DurationAPIMS     json.RawMessage `json:"durationApiMs,omitempty"`
	TotalCostUSD      json.RawMessage `json:"totalCostUsd,omitempty"`
	Usage             *turnUsage      `json:"usage,omitempty"`
	ModelUsage        json.RawMessage `json:"modelUsage,omitempty"`
	PermissionDenials json.RawMessage `json:"permissionDenials,omitempty"`
}

type resultErrorDetails struct {
	Subtype        string          `json:"subtype,omitempty"`
	TerminalReason string          `json:"terminalReason,omitempty"`
	APIErrorStatus json.RawMessage `json:"apiErrorStatus,omitempty"`
	APIErrorType   json.RawMessage `json:"apiErrorType,omitempty"`
	Errors         json.RawMessage `json:"errors,omitempty"`
}

func (t *Translator) result(l *nativeLine) []adapters.Event {
	evs := t.closeAll()
	interrupted := strings.HasPrefix(l.TerminalReason, "aborted") ||
		(t.turn.interruptRequested && l.Subtype == "error_during_execution")
	status := "completed"
	switch {
	case interrupted:
		status = "interrupted"
	case l.IsError:
		status = "error"
	}
	text := rawString(l.Result)
	if status == "error" && !t.turn.errorReported {
		evs = append(evs, t.resultError(l, text))
	}
	if status == "completed" && !t.turn.assistantSeen && text != "" {
		// A turn whose answer came only in the result (no message lines).
		native := l.UUID
		if native == "" {
			native = "result_" + strconv.Itoa(t.userN)
		}
		evs = append(evs, t.startedAndCompleted(newItem(native, "", schema.KindMessage, schema.RoleAssistant,
			schema.StatusCompleted, schema.TextPart(text)))...)
	}
	meta := turnMetadata{
		Status: status, Subtype: l.Subtype, TerminalReason: l.TerminalReason, StopReason: rawString(l.StopReason),
		IsError: l.IsError, NumTurns: nonNull(l.NumTurns), DurationMS: nonNull(l.DurationMS),
		DurationAPIMS: nonNull(l.DurationAPIMS), TotalCostUSD: nonNull(l.TotalCostUSD), ModelUsage: nonNull(l.ModelUsage),
	}
	if string(l.PermissionDenials) != "[]" {
		meta.PermissionDenials = nonNull(l.PermissionDenials)
	}
	if u := l.Usage; u != nil {
		meta.Usage = &turnUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens,
			CacheReadInputTokens: u.CacheReadInputTokens, CacheCreationInputTokens: u.CacheCreationInputTokens}
		if u.OutputTokensDetails != nil {
			meta.Usage.ThinkingTokens = u.OutputTokensDetails.ThinkingTokens
		}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		metaJSON = nil
	}
	evs = append(evs, t.event(schema.EventTurnEnded, schema.TurnEventData{Phase: schema.PhaseEnded, Metadata: metaJSON,
		Usage: t.turnUsage(l)}))
	t.endTurn()
	t.fx.turnEnded = true
	return evs
}

// callUsage follows a model call's usage: message_start's counts, which
// message_delta's (cumulative) replace where it has them. The call's usage
// is an effect once its message_delta has come.
func (t *Translator) callUsage(ev *streamEvent, id string) {
	switch {
	case ev.Type == "message_start" && ev.Message != nil && ev.Message.Usage != nil:
		t.callStart[id] = *ev.Message.Usage
	case ev.Type == "message_delta" && ev.Usage != nil:
		u := t.callStart[id]
		delete(t.callStart, id)
		d := ev.Usage
		for _, f := range []struct{ dst, src **int64 }{{&u.InputTokens, &d.InputTokens}, {&u.OutputTokens, &d.OutputTokens},
			{&u.CacheReadInputTokens, &d.CacheReadInputTokens}, {&u.CacheCreationInputTokens, &d.CacheCreationInputTokens}} {
			if *f.src != nil {
				*f.dst = *f.src
			}
		}
		t.fx.calls = append(t.fx.calls, normalizeUsage(&u, nil))
	}
}

// turnUsage normalises the result's usage, which is the turn's (the sum
// of its model calls). Anthropic's input_tokens leave out the cache
// already, as the normalised input does.
func (t *Translator) turnUsage(l *nativeLine) *schema.Usage {
	var cost *float64
	var total float64
	if json.Unmarshal(l.TotalCostUSD, &total) == nil {
		c := total - t.costSoFar
		if c < 0 { // a counter that restarted
			c = total
		}
		t.costSoFar = total
		cost = &c
	}
	if l.Usage == nil {
		return nil
	}
	out := normalizeUsage(l.Usage, cost)
	return &out
}

// normalizeUsage is Anthropic's usage in agentd's terms: its input_tokens
// leave out the cache already, as agentd's do.
func normalizeUsage(u *nativeUsage, cost *float64) schema.Usage {
	n := func(p *int64) int64 {
		if p == nil {
			return 0
		}
		return *p
	}
	out := schema.Usage{
		InputTokens: n(u.InputTokens), OutputTokens: n(u.OutputTokens),
		CacheReadTokens: n(u.CacheReadInputTokens), CacheWriteTokens: n(u.CacheCreationInputTokens),
		CostUSD: cost, Source: schema.UsageFromAgent,
	}
	if u.OutputTokensDetails != nil {
		out.ReasoningTokens = n(u.OutputTokensDetails.ThinkingTokens)
	}
	return out.Totalled()
}

func (t *Translator) endTurn() {
	t.turn = turnState{}
	clear(t.closed)
	clear(t.tools)
}

// Interrupted ends the running turn of an agent whose process was stopped
// in the middle of it: messages complete with what they streamed, calls
// that never finished streaming fail, and turn.ended says interrupted. The
// events are the daemon's own (synthetic, without raw).
func (t *Translator) Interrupted() []adapters.Event {
	t.raw = nil
	evs := t.closeAll()
	meta, _ := json.Marshal(turnMetadata{Status: "interrupted"})
	evs = append(evs, t.event(schema.EventTurnEnded, schema.TurnEventData{Phase: schema.PhaseEnded, Metadata: meta}))
	t.endTurn()
	for i := range evs {
		evs[i].Synthetic = true
	}
	return evs
}

func (t *Translator) resultError(l *nativeLine, text string) adapters.Event {
	msg := text
	if msg == "" {
		var errs []string
		_ = json.Unmarshal(l.Errors, &errs)
		msg = strings.Join(errs, "; ")
	}
	if msg == "" {
		msg = t.name + " ended the turn with an error (" + l.Subtype + ")"
	}
	code := l.Subtype
	if code == "" || code == "success" {
		code = l.TerminalReason
	}
	var codePtr *string
	if code != "" {
		codePtr = &code
	}
	details, _ := json.Marshal(resultErrorDetails{Subtype: l.Subtype, TerminalReason: l.TerminalReason,
		APIErrorStatus: nonNull(l.APIErrorStatus), APIErrorType: nonNull(l.APIErrorType), Errors: nonNull(l.Errors)})
	return t.event(schema.EventError, schema.ErrorData{Message: msg, Code: codePtr, Details: details})
}

// ---- lines the session writes ----

func controlError(id, msg string) []byte {
	b, _ := json.Marshal(map[string]any{"type": "control_response", "response": map[string]any{
		"subtype": "error", "request_id": id, "error": msg}})
	return b
}
