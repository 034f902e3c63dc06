package opencode

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

// Translator turns the events of OpenCode's SSE stream (`GET /event`, or
// the payloads of `GET /global/event`) into universal events for one
// OpenCode session. It is pure: it reads nothing but the payloads it is
// given and keeps only what one session's translation needs. It is not safe
// for concurrent use; the session serialises access to it.
//
// Events of other sessions, and events that belong to no session (server,
// plugin and catalogue events, file watcher), produce nothing. For the
// session's own events:
//
//   - message.updated, assistant: the message item starts when first seen
//     and completes when the message has time.completed or an error; its
//     content is its text parts, in order. User messages produce nothing:
//     the session records the prompt when it sends it (UserMessage).
//   - message.part.updated: a text part's deltas go on its message item
//     (message.part.delta carries only ids, so the part's type is
//     remembered); a final text longer than what was streamed yields the
//     missing suffix as a delta. A reasoning part is its own item (message,
//     assistant, parent the message, one public reasoning part) with its own
//     deltas. A tool part is a tool_call item (native id the call id, parent
//     the message) that completes once its input is known, and a tool_result
//     item once its state is completed (or failed on error), with a file_ref
//     part for file tools and a json part for bash. step-start produces
//     nothing and step-finish adds to the turn's usage. Other known part types
//     become status items; unknown ones agent.unparsed.
//   - session.status retry → a status item; busy and idle produce nothing
//     but mark the turn as running (a busy seen with no turn open opens one).
//   - session.idle → turn.ended, once per turn, and only after the turn ran:
//     OpenCode repeats idle after an error, and a stale repeat must not end
//     the next turn.
//   - session.error → an error event, except MessageAbortedError, which marks
//     the turn interrupted.
//   - permission.asked → permission.requested (metadata: the whole request);
//     question.asked → question.requested (the first question's text and
//     option labels). Their replied/rejected events only clear the pending
//     request: the engine records the resolution when it forwards the reply.
//   - session.created/updated/diff/compacted, message and part removals,
//     todo, command and v2 duplicates → nothing. Anything else that names
//     the session, and any payload that is not JSON or not shaped as
//     expected → agent.unparsed (location "opencode").
//
// Every event carries the native session id and the payload it came from as
// Raw (a JSON string when it was not JSON; invalid UTF-8 replaced).
type Translator struct {
	sessionID string
	raw       json.RawMessage

	users    map[string]bool
	messages map[string]*message // assistant messages of the running turn
	order    []string            // their ids in order of appearance, for closing
	finished map[string]bool     // assistant messages of earlier turns, whose late updates are ignored
	parts    map[string]*part    // by part id
	tools    map[string]*toolCall
	pending  map[string]pendingKind

	userN   int
	statusN int
	turn    turnState
	fx      effects
}

// NewTranslator returns a translator for the OpenCode session sessionID.
func NewTranslator(sessionID string) *Translator {
	return &Translator{
		sessionID: sessionID, users: map[string]bool{}, messages: map[string]*message{}, finished: map[string]bool{},
		parts: map[string]*part{}, tools: map[string]*toolCall{}, pending: map[string]pendingKind{},
	}
}

// NativeSessionID is the OpenCode session id.
func (t *Translator) NativeSessionID() string { return t.sessionID }

type pendingKind int

const (
	pendingPermission pendingKind = iota + 1
	pendingQuestion
)

type turnState struct {
	open        bool
	ran         bool // busy, an error or assistant output was seen since it opened
	interrupted bool
	failed      bool
	errorText   string
	finish      string
	usage       usage
	usageSeen   bool
	cost        float64
}

type usage struct {
	Input      int64 `json:"inputTokens"`
	Output     int64 `json:"outputTokens"`
	Reasoning  int64 `json:"reasoningTokens"`
	CacheRead  int64 `json:"cacheReadTokens"`
	CacheWrite int64 `json:"cacheWriteTokens"`
}

// normalized turns OpenCode's counts into agentd's: OpenCode's input
// leaves out the cache already, but its output leaves out the reasoning,
// which agentd's output includes. A turn without step-finish has none.
func (u usage) normalized(cost float64, seen bool) *schema.Usage {
	if !seen {
		return nil
	}
	n := schema.Usage{
		InputTokens: u.Input, OutputTokens: u.Output + u.Reasoning, ReasoningTokens: u.Reasoning,
		CacheReadTokens: u.CacheRead, CacheWriteTokens: u.CacheWrite, CostUSD: &cost, Source: schema.UsageFromAgent,
	}.Totalled()
	return &n
}

// effects are what an event asks of the session besides events.
type effects struct {
	turnEnded bool
}

func (t *Translator) takeEffects() effects {
	fx := t.fx
	t.fx = effects{}
	return fx
}

// message is an assistant message.
type message struct {
	id        string
	completed bool
	texts     []string // text part ids in order
}

type part struct {
	id, kind, messageID string
	streamed            strings.Builder
	final               string
	done                bool
	// late: a text part that came after its message was completed (on a
	// loaded machine OpenCode does not always publish in order); it is an
	// item of its own, so that nothing it says is lost.
	late bool
}

type toolCall struct {
	callID, name, messageID string
	callDone, resultDone    bool
}

// ---- native shapes ----

type nativeEvent struct {
	Type       string     `json:"type"`
	Properties properties `json:"properties"`
	// Payload is set when the event came wrapped from /global/event.
	Payload json.RawMessage `json:"payload"`
}

type properties struct {
	SessionID string          `json:"sessionID"`
	Info      *messageInfo    `json:"info"`
	Part      *nativePart     `json:"part"`
	MessageID string          `json:"messageID"`
	PartID    string          `json:"partID"`
	Field     string          `json:"field"`
	Delta     string          `json:"delta"`
	Status    *sessionStatus  `json:"status"`
	Error     json.RawMessage `json:"error"`
	ID        string          `json:"id"`
	RequestID string          `json:"requestID"`
	// permission.asked
	Permission string `json:"permission"`
	// question.asked
	Questions []question `json:"questions"`
}

type messageInfo struct {
	ID        string          `json:"id"`
	Role      string          `json:"role"`
	SessionID string          `json:"sessionID"`
	Time      timeSpan        `json:"time"`
	Error     json.RawMessage `json:"error"`
	Finish    string          `json:"finish"`
}

type timeSpan struct {
	Start     json.RawMessage `json:"start"`
	End       json.RawMessage `json:"end"`
	Completed json.RawMessage `json:"completed"`
}

func set(r json.RawMessage) bool { return len(r) > 0 && string(r) != "null" }

type nativePart struct {
	ID        string        `json:"id"`
	MessageID string        `json:"messageID"`
	SessionID string        `json:"sessionID"`
	Type      string        `json:"type"`
	Text      string        `json:"text"`
	Time      timeSpan      `json:"time"`
	Tool      string        `json:"tool"`
	CallID    string        `json:"callID"`
	State     *toolState    `json:"state"`
	Tokens    *nativeTokens `json:"tokens"`
	Cost      float64       `json:"cost"`
	Reason    string        `json:"reason"`
	Files     []string      `json:"files"`
}

type toolState struct {
	Status   string          `json:"status"`
	Input    json.RawMessage `json:"input"`
	Output   string          `json:"output"`
	Error    string          `json:"error"`
	Metadata json.RawMessage `json:"metadata"`
}

type nativeTokens struct {
	Input     int64 `json:"input"`
	Output    int64 `json:"output"`
	Reasoning int64 `json:"reasoning"`
	Cache     struct {
		Read  int64 `json:"read"`
		Write int64 `json:"write"`
	} `json:"cache"`
}

type sessionStatus struct {
	Type    string          `json:"type"`
	Attempt json.RawMessage `json:"attempt"`
	Message string          `json:"message"`
	Next    json.RawMessage `json:"next"`
}

type question struct {
	Question string `json:"question"`
	Options  []struct {
		Label string `json:"label"`
	} `json:"options"`
}

type nativeError struct {
	Name string `json:"name"`
	Data struct {
		Message    string          `json:"message"`
		StatusCode json.RawMessage `json:"statusCode"`
	} `json:"data"`
}

// ---- entry points ----

// parse decodes one SSE payload, unwrapping a /global/event envelope. It
// returns the event's own bytes (the raw to attach).
func parse(data []byte) (*nativeEvent, []byte, error) {
	var ev nativeEvent
	if err := json.Unmarshal(data, &ev); err != nil {
		return nil, data, err
	}
	if len(ev.Payload) > 0 && ev.Type == "" {
		data = ev.Payload
		ev = nativeEvent{}
		if err := json.Unmarshal(data, &ev); err != nil {
			return nil, data, err
		}
	}
	return &ev, data, nil
}

// sessionOf is the session an event belongs to, "" for global events.
func (ev *nativeEvent) sessionOf() string {
	p := &ev.Properties
	switch {
	case p.SessionID != "":
		return p.SessionID
	case p.Info != nil && p.Info.SessionID != "":
		return p.Info.SessionID
	case p.Part != nil:
		return p.Part.SessionID
	}
	return ""
}

// Event translates one SSE payload (the data of one event).
func (t *Translator) Event(data []byte) []adapters.Event {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil
	}
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	ev, own, err := parse(data)
	if err != nil {
		t.raw = bytes.Clone(data)
		if _, ok := errors.AsType[*json.SyntaxError](err); ok {
			t.raw = quote(data)
			return []adapters.Event{t.unparsed("not JSON")}
		}
		return []adapters.Event{t.unparsed("unexpected OpenCode event shape: " + err.Error())}
	}
	if ev.sessionOf() != t.sessionID {
		return nil
	}
	return t.translate(ev, own)
}

// translate maps one decoded event of this session; raw is its payload.
func (t *Translator) translate(ev *nativeEvent, raw []byte) []adapters.Event {
	t.raw = bytes.Clone(raw)
	p := &ev.Properties
	switch ev.Type {
	case "message.updated":
		return t.messageUpdated(p.Info)
	case "message.part.updated":
		return t.partUpdated(p.Part)
	case "message.part.delta":
		return t.partDelta(p)
	case "session.status":
		return t.sessionStatus(p.Status)
	case "session.idle":
		return t.idle()
	case "session.error":
		return t.sessionError(p.Error)
	case "permission.asked":
		return t.permissionAsked(p)
	case "question.asked":
		return t.questionAsked(p)
	case "permission.replied", "question.replied", "question.rejected":
		delete(t.pending, p.RequestID)
		return nil
	case "session.created", "session.updated", "session.diff", "session.compacted", "session.deleted",
		"message.removed", "message.part.removed", "todo.updated", "command.executed", "file.edited":
		return nil
	}
	if strings.HasPrefix(ev.Type, "session.next.") || strings.Contains(ev.Type, ".v2.") {
		return nil // the newer event family repeats what the classic events say
	}
	return []adapters.Event{t.unparsed(fmt.Sprintf("unsupported OpenCode event type %q", ev.Type))}
}

// UserMessage returns the events for a prompt the session sends: the turn's
// start and the user item. They are the daemon's own (synthetic).
func (t *Translator) UserMessage(msg adapters.Message) []adapters.Event {
	t.turn = turnState{open: true}
	t.userN++
	native := "user_" + strconv.Itoa(t.userN)
	parts := []schema.ContentPart{schema.TextPart(msg.Text)}
	for _, a := range msg.Attachments {
		parts = append(parts, schema.ContentPart{Type: schema.PartFileRef, Path: a.Path, Action: schema.FileRead})
	}
	it := newItem(native, "", schema.KindMessage, schema.RoleUser, schema.StatusInProgress, parts...)
	done := it
	done.Status = schema.StatusCompleted
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

// noteInterrupt tells the translator the session asked for an abort: an
// abort while the model is retrying ends the turn with no error at all.
func (t *Translator) noteInterrupt() {
	if t.turn.open {
		t.turn.interrupted = true
	}
}

// TurnOpen reports whether a turn has started and not ended.
func (t *Translator) TurnOpen() bool { return t.turn.open }

func quote(b []byte) json.RawMessage {
	q, _ := json.Marshal(string(b)) // a string always marshals
	return q
}

func (t *Translator) event(typ schema.EventType, data schema.Payload) adapters.Event {
	return adapters.Event{Type: typ, Data: data, NativeSessionID: t.sessionID, Raw: t.raw}
}

func (t *Translator) unparsed(msg string) adapters.Event {
	return t.event(schema.EventAgentUnparsed, schema.AgentUnparsedData{Error: msg, Location: "opencode"})
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

func (t *Translator) startedAndCompleted(it schema.UniversalItem) []adapters.Event {
	start := it
	start.Status = schema.StatusInProgress
	return []adapters.Event{t.itemEvent(schema.EventItemStarted, start), t.itemEvent(schema.EventItemCompleted, it)}
}

func (t *Translator) status(label, detail string) []adapters.Event {
	t.statusN++
	part := schema.ContentPart{Type: schema.PartStatus, Label: label}
	if detail != "" {
		part.Detail = &detail
	}
	return t.startedAndCompleted(newItem("status_"+strconv.Itoa(t.statusN), "", schema.KindStatus, schema.RoleSystem,
		schema.StatusCompleted, part))
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

// ---- messages and parts ----

// activity marks the turn as running; a native start with no turn open
// (a prompt from another client) opens one.
func (t *Translator) activity() []adapters.Event {
	var evs []adapters.Event
	if !t.turn.open {
		t.turn = turnState{open: true}
		evs = append(evs, t.event(schema.EventTurnStarted, schema.TurnEventData{Phase: schema.PhaseStarted}))
	}
	t.turn.ran = true
	return evs
}

func (t *Translator) messageUpdated(info *messageInfo) []adapters.Event {
	if info == nil || info.ID == "" {
		return []adapters.Event{t.unparsed("message.updated without info.id")}
	}
	if info.Role == "user" {
		t.users[info.ID] = true
		return nil
	}
	if info.Role != "assistant" {
		return []adapters.Event{t.unparsed(fmt.Sprintf("message.updated with role %q", info.Role))}
	}
	m, evs := t.openMessage(info.ID)
	if m == nil {
		return nil
	}
	if info.Finish != "" {
		t.turn.finish = info.Finish
	}
	failed := false
	if set(info.Error) {
		var ne nativeError
		_ = json.Unmarshal(info.Error, &ne)
		if ne.Name == abortedError {
			t.turn.interrupted = true
		} else {
			failed = true
			if !t.turn.failed {
				// OpenCode usually reports the error (session.error) before
				// the failed message, but not always: the error comes first
				// either way, and the session.error that follows repeats it.
				evs = append(evs, t.sessionError(info.Error)...)
			}
		}
	}
	if set(info.Time.Completed) || set(info.Error) {
		evs = append(evs, t.completeMessage(m, failed)...)
	}
	return evs
}

// openMessage returns the assistant message id, starting its item the first
// time; nil once it is completed.
func (t *Translator) openMessage(id string) (*message, []adapters.Event) {
	if t.finished[id] {
		return nil, nil
	}
	if m := t.messages[id]; m != nil {
		if m.completed {
			return nil, nil
		}
		return m, nil
	}
	evs := t.activity()
	m := &message{id: id}
	t.messages[id] = m
	t.order = append(t.order, id)
	return m, append(evs, t.itemEvent(schema.EventItemStarted,
		newItem(id, "", schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress)))
}

func (t *Translator) completeMessage(m *message, failed bool) []adapters.Event {
	m.completed = true
	var evs []adapters.Event
	var content []schema.ContentPart
	for _, pid := range m.texts {
		p := t.parts[pid]
		evs = append(evs, t.finishText(p)...)
		if p.final != "" {
			content = append(content, schema.TextPart(p.final))
		}
	}
	status := schema.StatusCompleted
	if failed {
		status = schema.StatusFailed
	}
	return append(evs, t.itemEvent(schema.EventItemCompleted,
		newItem(m.id, "", schema.KindMessage, schema.RoleAssistant, status, content...)))
}

// finishText settles a text or reasoning part's final text: what the part
// update said, else what was streamed. A final text that extends the
// streamed one yields the rest as a delta, so the deltas add up to it.
func (t *Translator) finishText(p *part) []adapters.Event {
	if p.done {
		return nil
	}
	p.done = true
	streamed := p.streamed.String()
	if p.final == "" {
		p.final = streamed
		return nil
	}
	if rest, ok := strings.CutPrefix(p.final, streamed); ok && rest != "" {
		return []adapters.Event{t.delta(p.deltaTarget(), rest)}
	}
	return nil
}

func (p *part) deltaTarget() string {
	if p.kind == "reasoning" || p.late {
		return p.id
	}
	return p.messageID
}

func (t *Translator) partUpdated(np *nativePart) []adapters.Event {
	if np == nil || np.ID == "" || np.MessageID == "" {
		return []adapters.Event{t.unparsed("message.part.updated without part id or message id")}
	}
	if t.users[np.MessageID] {
		return nil // the prompt, recorded when it was sent
	}
	switch np.Type {
	case "text":
		return t.textPart(np)
	case "reasoning":
		return t.reasoningPart(np)
	case "tool":
		return t.toolPart(np)
	case "step-start":
		return t.activity()
	case "step-finish":
		if tk := np.Tokens; tk != nil {
			t.turn.usageSeen = true
			u := &t.turn.usage
			u.Input += tk.Input
			u.Output += tk.Output
			u.Reasoning += tk.Reasoning
			u.CacheRead += tk.Cache.Read
			u.CacheWrite += tk.Cache.Write
		}
		t.turn.cost += np.Cost
		return nil
	case "patch":
		return t.status("patch", strings.Join(np.Files, "\n"))
	case "file", "snapshot", "agent", "subtask", "retry", "compaction":
		return t.status("part."+np.Type, truncateText(string(t.raw), 4096))
	}
	return []adapters.Event{t.unparsed(fmt.Sprintf("unsupported OpenCode part type %q", np.Type))}
}

// partFor returns the part id (nil if its message has ended), remembering its kind and message, and the
// events opening its message if it was not seen yet.
func (t *Translator) partFor(np *nativePart) (*part, []adapters.Event) {
	if p := t.parts[np.ID]; p != nil {
		return p, nil
	}
	m, evs := t.openMessage(np.MessageID)
	if m == nil {
		if t.finished[np.MessageID] || t.messages[np.MessageID] == nil {
			return nil, nil // a part of an earlier turn's message
		}
		p := &part{id: np.ID, kind: np.Type, messageID: np.MessageID, late: np.Type == "text"}
		t.parts[np.ID] = p
		if p.late {
			evs = append(evs, t.itemEvent(schema.EventItemStarted,
				newItem(np.ID, np.MessageID, schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress)))
		}
		return p, evs
	}
	p := &part{id: np.ID, kind: np.Type, messageID: np.MessageID}
	t.parts[np.ID] = p
	if np.Type == "text" {
		m.texts = append(m.texts, np.ID)
	}
	return p, evs
}

func (t *Translator) textPart(np *nativePart) []adapters.Event {
	p, evs := t.partFor(np)
	if p == nil || !set(np.Time.End) || p.done {
		return evs
	}
	p.final = np.Text
	evs = append(evs, t.finishText(p)...)
	if p.late {
		evs = append(evs, t.lateTextCompleted(p))
	}
	return evs
}

func (t *Translator) lateTextCompleted(p *part) adapters.Event {
	var content []schema.ContentPart
	if p.final != "" {
		content = append(content, schema.TextPart(p.final))
	}
	return t.itemEvent(schema.EventItemCompleted, newItem(p.id, p.messageID, schema.KindMessage, schema.RoleAssistant,
		schema.StatusCompleted, content...))
}

func (t *Translator) reasoningPart(np *nativePart) []adapters.Event {
	existing := t.parts[np.ID] != nil
	p, evs := t.partFor(np)
	if p == nil {
		return nil
	}
	if !existing {
		evs = append(evs, t.itemEvent(schema.EventItemStarted,
			newItem(np.ID, np.MessageID, schema.KindMessage, schema.RoleAssistant, schema.StatusInProgress)))
	}
	if !set(np.Time.End) || p.done {
		return evs
	}
	p.final = np.Text
	evs = append(evs, t.finishText(p)...)
	return append(evs, t.reasoningCompleted(p))
}

func (t *Translator) reasoningCompleted(p *part) adapters.Event {
	return t.itemEvent(schema.EventItemCompleted, newItem(p.id, p.messageID, schema.KindMessage, schema.RoleAssistant,
		schema.StatusCompleted, schema.ContentPart{Type: schema.PartReasoning, Text: p.final, Visibility: schema.VisibilityPublic}))
}

func (t *Translator) partDelta(p *properties) []adapters.Event {
	if t.users[p.MessageID] {
		return nil
	}
	pt := t.parts[p.PartID]
	if pt == nil {
		return []adapters.Event{t.unparsed("message.part.delta for unknown part " + strconv.Quote(p.PartID))}
	}
	if p.Field != "text" || (pt.kind != "text" && pt.kind != "reasoning") {
		return []adapters.Event{t.unparsed(fmt.Sprintf("message.part.delta of field %q on a %s part", p.Field, pt.kind))}
	}
	if pt.done || p.Delta == "" {
		return nil
	}
	pt.streamed.WriteString(p.Delta)
	return []adapters.Event{t.delta(pt.deltaTarget(), p.Delta)}
}

// ---- tools ----

func (t *Translator) toolPart(np *nativePart) []adapters.Event {
	p, evs := t.partFor(np)
	if p == nil {
		return nil
	}
	callID := np.CallID
	if callID == "" {
		callID = np.ID
	}
	tc := t.tools[callID]
	state := np.State
	if state == nil {
		state = &toolState{Status: "pending"}
	}
	if tc == nil {
		tc = &toolCall{callID: callID, name: np.Tool, messageID: np.MessageID}
		t.tools[callID] = tc
		evs = append(evs, t.itemEvent(schema.EventItemStarted, tc.item(schema.StatusInProgress, "")))
	}
	hasInput := set(state.Input) && string(state.Input) != "{}"
	if !tc.callDone && (hasInput || state.Status == "completed" || state.Status == "error") {
		tc.callDone = true
		evs = append(evs, t.itemEvent(schema.EventItemCompleted, tc.item(schema.StatusCompleted, arguments(state.Input))))
	}
	if tc.resultDone || (state.Status != "completed" && state.Status != "error") {
		return evs
	}
	tc.resultDone = true
	return append(evs, t.toolResult(tc, state)...)
}

func arguments(input json.RawMessage) string {
	if !set(input) {
		return ""
	}
	return string(input)
}

func (tc *toolCall) item(status schema.ItemStatus, args string) schema.UniversalItem {
	return newItem(tc.callID, tc.messageID, schema.KindToolCall, schema.RoleAssistant, status,
		schema.ContentPart{Type: schema.PartToolCall, Name: tc.name, Arguments: args, CallID: tc.callID})
}

func (t *Translator) toolResult(tc *toolCall, state *toolState) []adapters.Event {
	native := tc.callID + "#result"
	status, output := schema.StatusCompleted, state.Output
	if state.Status == "error" {
		status, output = schema.StatusFailed, state.Error
	}
	parts := []schema.ContentPart{{Type: schema.PartToolResult, CallID: tc.callID, Output: output}}
	if status == schema.StatusCompleted {
		parts = append(parts, resultExtras(tc.name, state)...)
	}
	return t.startedAndCompleted(newItem(native, tc.callID, schema.KindToolResult, schema.RoleTool, status, parts...))
}

type fileInput struct {
	FilePath string `json:"filePath"`
	Command  string `json:"command"`
}

type toolMetadata struct {
	Diff     string          `json:"diff"`
	Filepath string          `json:"filepath"`
	Exit     json.RawMessage `json:"exit"`
}

type commandPart struct {
	Command string          `json:"command"`
	Output  string          `json:"output"`
	Exit    json.RawMessage `json:"exit,omitempty"`
}

// resultExtras describes what a successful tool did, where the spec has a
// part for it: file_ref for file tools, json {command, output, exit} for bash.
func resultExtras(tool string, state *toolState) []schema.ContentPart {
	var in fileInput
	_ = json.Unmarshal(state.Input, &in)
	var meta toolMetadata
	_ = json.Unmarshal(state.Metadata, &meta)
	switch tool {
	case "write", "edit", "read":
		path := in.FilePath
		if path == "" {
			path = meta.Filepath
		}
		if path == "" {
			return nil
		}
		action := map[string]schema.FileAction{"write": schema.FileWrite, "edit": schema.FilePatch, "read": schema.FileRead}[tool]
		part := schema.ContentPart{Type: schema.PartFileRef, Path: path, Action: action}
		if meta.Diff != "" && action != schema.FileRead {
			part.Diff = &meta.Diff
		}
		return []schema.ContentPart{part}
	case "bash":
		js, err := json.Marshal(commandPart{Command: in.Command, Output: state.Output, Exit: meta.Exit})
		if err != nil {
			return nil
		}
		return []schema.ContentPart{{Type: schema.PartJSON, JSON: js}}
	}
	return nil
}

// ---- session status, errors, turn end ----

const abortedError = "MessageAbortedError"

func (t *Translator) sessionStatus(st *sessionStatus) []adapters.Event {
	if st == nil {
		return []adapters.Event{t.unparsed("session.status without status")}
	}
	switch st.Type {
	case "busy":
		return t.activity()
	case "idle":
		return nil
	case "retry":
		evs := t.activity()
		detail := "attempt " + string(st.Attempt)
		if st.Message != "" {
			detail += ": " + st.Message
		}
		return append(evs, t.status("retry", detail)...)
	}
	return t.status("session.status", truncateText(string(t.raw), 4096))
}

func (t *Translator) sessionError(raw json.RawMessage) []adapters.Event {
	var ne nativeError
	if !set(raw) || json.Unmarshal(raw, &ne) != nil {
		ne = nativeError{}
	}
	if ne.Name == abortedError {
		t.turn.interrupted = true
		return t.activity()
	}
	evs := t.activity()
	msg := ne.Data.Message
	if msg == "" {
		msg = ne.Name
	}
	if msg == "" {
		msg = "OpenCode reported a session error"
	}
	if t.turn.failed && t.turn.errorText == msg {
		return evs // already reported from the failed message
	}
	t.turn.failed = true
	t.turn.errorText = msg
	code := ne.Name
	var codePtr *string
	if code != "" {
		codePtr = &code
	}
	details := raw
	if !set(details) || !json.Valid(details) {
		details = nil
	}
	return append(evs, t.event(schema.EventError, schema.ErrorData{Message: msg, Code: codePtr, Details: schema.RawJSON(details)}))
}

type turnMetadata struct {
	// Status is completed, error or interrupted.
	Status string  `json:"status"`
	Finish string  `json:"finish,omitempty"`
	Error  string  `json:"error,omitempty"`
	Usage  usage   `json:"usage"`
	Cost   float64 `json:"cost"`
}

func (t *Translator) idle() []adapters.Event {
	if !t.turn.open || !t.turn.ran {
		return nil
	}
	evs := t.closeAll()
	status := "completed"
	switch {
	case t.turn.interrupted:
		status = "interrupted"
	case t.turn.failed:
		status = "error"
	}
	meta, _ := json.Marshal(turnMetadata{Status: status, Finish: t.turn.finish, Error: t.turn.errorText,
		Usage: t.turn.usage, Cost: t.turn.cost})
	evs = append(evs, t.event(schema.EventTurnEnded, schema.TurnEventData{Phase: schema.PhaseEnded, Metadata: meta,
		Usage: t.turn.usage.normalized(t.turn.cost, t.turn.usageSeen)}))
	t.turn = turnState{}
	t.fx.turnEnded = true
	return evs
}

// closeAll completes what the turn left open (an abort can leave a tool
// call or a reasoning block without its end), so every item ends.
func (t *Translator) closeAll() []adapters.Event {
	var evs []adapters.Event
	for _, id := range t.order {
		m := t.messages[id]
		if m.completed {
			continue
		}
		evs = append(evs, t.completeMessage(m, t.turn.failed)...)
	}
	for _, id := range sortedKeys(t.parts) {
		p := t.parts[id]
		switch {
		case p.done:
		case p.kind == "reasoning":
			evs = append(evs, t.finishText(p)...)
			evs = append(evs, t.reasoningCompleted(p))
		case p.late:
			evs = append(evs, t.finishText(p)...)
			evs = append(evs, t.lateTextCompleted(p))
		}
	}
	for _, id := range sortedKeys(t.tools) {
		tc := t.tools[id]
		if !tc.callDone {
			tc.callDone = true
			evs = append(evs, t.itemEvent(schema.EventItemCompleted, tc.item(schema.StatusFailed, "")))
		}
	}
	// A finished turn's messages and parts are never updated again.
	for id := range t.messages {
		t.finished[id] = true
	}
	clear(t.messages)
	clear(t.parts)
	clear(t.tools)
	t.order = t.order[:0]
	return evs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ---- permissions and questions ----

func (t *Translator) permissionAsked(p *properties) []adapters.Event {
	if p.ID == "" {
		return []adapters.Event{t.unparsed("permission.asked without id")}
	}
	action := p.Permission
	if action == "" {
		action = "unknown"
	}
	var req struct {
		Properties json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(t.raw, &req) // it decoded once already
	t.pending[p.ID] = pendingPermission
	return []adapters.Event{t.event(schema.EventPermissionRequested, schema.PermissionEventData{
		PermissionID: p.ID, Action: action, Status: schema.PermissionRequested, Metadata: schema.RawJSON(req.Properties),
	})}
}

func (t *Translator) questionAsked(p *properties) []adapters.Event {
	if p.ID == "" {
		return []adapters.Event{t.unparsed("question.asked without id")}
	}
	t.pending[p.ID] = pendingQuestion
	var prompt string
	var options []string
	if len(p.Questions) > 0 {
		q := p.Questions[0]
		prompt = q.Question
		for _, o := range q.Options {
			options = append(options, o.Label)
		}
	}
	return []adapters.Event{t.event(schema.EventQuestionRequested, schema.QuestionEventData{
		QuestionID: p.ID, Prompt: prompt, Options: options, Status: schema.QuestionRequested,
	})}
}

// isPending reports whether id is a request of kind still waiting.
func (t *Translator) isPending(id string, kind pendingKind) bool { return t.pending[id] == kind }

func (t *Translator) resolve(id string) { delete(t.pending, id) }

func (t *Translator) restore(id string, kind pendingKind) { t.pending[id] = kind }

// Truncated reports an event whose data was longer than limit bytes: the
// reader kept only its start (prefix) and skipped the rest.
func (t *Translator) Truncated(prefix []byte, limit int) []adapters.Event {
	const keep = 1024
	if len(prefix) > keep {
		prefix = prefix[:keep]
	}
	t.raw = quote(bytes.ToValidUTF8(prefix, []byte("\uFFFD")))
	return []adapters.Event{t.unparsed(fmt.Sprintf("event longer than %d bytes: skipped (raw holds its first bytes)", limit))}
}

// abandon ends a turn the server can no longer finish (it died): what is
// open completes, and the turn ends with status error and the reason.
func (t *Translator) abandon(reason string) []adapters.Event {
	if !t.turn.open {
		return nil
	}
	t.turn.ran, t.turn.failed, t.turn.errorText = true, true, reason
	evs := t.idle()
	for i := range evs {
		evs[i].Raw, evs[i].Synthetic = nil, true
	}
	t.fx = effects{}
	return evs
}
