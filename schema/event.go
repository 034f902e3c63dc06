package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// UniversalEvent is the envelope of every event, in the reference's field order.
type UniversalEvent struct {
	EventID         string      `json:"event_id" doc:"evt_<sequence>; unique within its session"`
	Sequence        uint64      `json:"sequence" doc:"Per-session, gap-free, strictly increasing, starting at 1"`
	Time            string      `json:"time" doc:"RFC 3339 UTC time the event was recorded"`
	SessionID       string      `json:"session_id"`
	NativeSessionID *string     `json:"native_session_id" nullable:"true"`
	Synthetic       bool        `json:"synthetic" doc:"True when the daemon made the event up"`
	Source          EventSource `json:"source"`
	Type            EventType   `json:"type"`
	Data            EventData   `json:"data"`
	Raw             RawJSON     `json:"raw" doc:"The agent's native payload, when include_raw was asked for; null otherwise"`
}

// EventID builds the envelope id of the event with the given sequence.
func EventID(seq uint64) string { return "evt_" + strconv.FormatUint(seq, 10) }

// FormatTime renders t the way event times are written: UTC, Z suffix,
// fractional seconds only as needed.
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// EventData is an event payload as JSON; its shape is given by the envelope's
// type. It is kept encoded so that stored events are served without decoding.
type EventData json.RawMessage

func (d EventData) MarshalJSON() ([]byte, error) {
	if len(d) == 0 {
		return []byte("{}"), nil
	}
	return d, nil
}

func (d *EventData) UnmarshalJSON(b []byte) error {
	*d = append((*d)[:0], b...)
	return nil
}

// Schema lists the payload shapes, as the reference does.
func (EventData) Schema(r huma.Registry) *huma.Schema {
	return Named(r, "UniversalEventData", func() *huma.Schema {
		return &huma.Schema{AnyOf: []*huma.Schema{
			ref(r, TurnEventData{}), ref(r, SessionStartedData{}), ref(r, SessionEndedData{}),
			ref(r, ItemEventData{}), ref(r, ItemDeltaData{}), ref(r, ErrorData{}),
			ref(r, PermissionEventData{}), ref(r, QuestionEventData{}), ref(r, AgentUnparsedData{}),
			ref(r, NetworkConnectionData{}),
		}}
	})
}

// RawJSON is any JSON value, written as null when empty.
type RawJSON json.RawMessage

func (d RawJSON) MarshalJSON() ([]byte, error) {
	if len(d) == 0 {
		return []byte("null"), nil
	}
	return d, nil
}

func (d *RawJSON) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*d = nil
		return nil
	}
	*d = append((*d)[:0], b...)
	return nil
}

func (RawJSON) Schema(r huma.Registry) *huma.Schema { return &huma.Schema{} }

// IsZero reports whether d holds no value: it is empty or JSON null. Fields
// tagged omitzero are then left out.
func (d RawJSON) IsZero() bool {
	return len(d) == 0 || bytes.Equal(bytes.TrimSpace(d), []byte("null"))
}

// Payload is implemented by every event payload type; EventType ties a
// payload to the envelope types it may travel under.
type Payload interface {
	payload()
}

type SessionStartedData struct {
	Metadata RawJSON `json:"metadata"`
}

type SessionEndedData struct {
	Reason       SessionEndReason `json:"reason"`
	TerminatedBy TerminatedBy     `json:"terminated_by"`
	Message      *string          `json:"message,omitempty" doc:"Error message when reason is error"`
	ExitCode     *int             `json:"exit_code,omitempty" doc:"Process exit code when reason is error"`
	Stderr       *StderrOutput    `json:"stderr,omitempty" doc:"Agent stderr output when reason is error"`
	// Detail is additive: a human-readable account of why the session
	// ended, e.g. that the daemon restarted while it was running.
	Detail *string `json:"detail,omitempty" doc:"Additive: why the session ended, in words"`
}

type StderrOutput struct {
	Head       *string `json:"head,omitempty" doc:"First lines of stderr, or all of it when not truncated"`
	Tail       *string `json:"tail,omitempty" doc:"Last lines of stderr, only when truncated"`
	Truncated  bool    `json:"truncated"`
	TotalLines *int    `json:"total_lines,omitempty"`
}

type TurnEventData struct {
	Phase  TurnPhase `json:"phase"`
	TurnID *string   `json:"turn_id,omitempty"`
	// omitzero, not omitempty: a JSON null is absent too, so that a turn
	// event never carries "metadata": null (§1.3) and decodes and re-encodes
	// to the same bytes.
	Metadata RawJSON `json:"metadata,omitzero"`
	// Usage is additive: the tokens of the turn, on turn.ended, normalised
	// across agents; absent when neither the agent nor the proxy counted any.
	Usage *Usage `json:"usage,omitempty" doc:"Additive, on turn.ended: the turn's token usage, normalised across agents"`
}

type ItemEventData struct {
	Item UniversalItem `json:"item"`
}

type ItemDeltaData struct {
	ItemID       string  `json:"item_id"`
	NativeItemID *string `json:"native_item_id" nullable:"true"`
	Delta        string  `json:"delta"`
}

type ErrorData struct {
	Message string  `json:"message"`
	Code    *string `json:"code" nullable:"true"`
	Details RawJSON `json:"details"`
}

type PermissionEventData struct {
	PermissionID string           `json:"permission_id"`
	Action       string           `json:"action"`
	Status       PermissionStatus `json:"status"`
	Metadata     RawJSON          `json:"metadata"`
}

type QuestionEventData struct {
	QuestionID string         `json:"question_id"`
	Prompt     string         `json:"prompt"`
	Options    []string       `json:"options" nullable:"false"`
	Response   *string        `json:"response" nullable:"true"`
	Status     QuestionStatus `json:"status"`
}

type AgentUnparsedData struct {
	Error    string  `json:"error"`
	Location string  `json:"location"`
	RawHash  *string `json:"raw_hash" nullable:"true"`
}

// NetworkConnectionData is additive: a connection the egress proxy
// allowed or refused (see docs/egress.md).
type NetworkConnectionData struct {
	Host    string `json:"host" doc:"The host the agent asked for, in lower case: a name or an IP address"`
	Port    int    `json:"port" minimum:"1" maximum:"65535"`
	Method  string `json:"method" doc:"CONNECT for a tunnel (HTTPS and other TLS), else the method of a plain-HTTP request"`
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason" doc:"allowlisted, host not allowed, port not allowed, resolves to an internal address, or host name lookup failed"`
}

func (NetworkConnectionData) payload() {}

func (SessionStartedData) payload()  {}
func (SessionEndedData) payload()    {}
func (TurnEventData) payload()       {}
func (ItemEventData) payload()       {}
func (ItemDeltaData) payload()       {}
func (ErrorData) payload()           {}
func (PermissionEventData) payload() {}
func (QuestionEventData) payload()   {}
func (AgentUnparsedData) payload()   {}

// UniversalItem is one message, tool call, tool result, status or system item.
type UniversalItem struct {
	ItemID       string        `json:"item_id"`
	NativeItemID *string       `json:"native_item_id" nullable:"true"`
	ParentID     *string       `json:"parent_id" nullable:"true"`
	Kind         ItemKind      `json:"kind"`
	Role         *ItemRole     `json:"role"`
	Content      []ContentPart `json:"content" nullable:"false"`
	Status       ItemStatus    `json:"status"`
}

// TransformSchema makes role nullable, as it is on the wire. huma cannot mark
// a $ref nullable, so the property is written the way the reference's OpenAPI
// 3.0 document writes it: a one-member allOf with nullable: true (JSONSchema
// turns that into anyOf [ItemRole, null]).
func (UniversalItem) TransformSchema(r huma.Registry, s *huma.Schema) *huma.Schema {
	if role := s.Properties["role"]; role != nil && role.Ref != "" {
		s.Properties["role"] = &huma.Schema{
			AllOf:      []*huma.Schema{{Ref: role.Ref}},
			Extensions: map[string]any{"nullable": true},
		}
	}
	return s
}

// MarshalJSON writes a nil Content as [], never null: content is a required,
// non-nullable array.
func (i UniversalItem) MarshalJSON() ([]byte, error) {
	type plain UniversalItem
	if i.Content == nil {
		i.Content = []ContentPart{}
	}
	return json.Marshal(plain(i))
}

// MarshalJSON writes nil Options as [], never null: options is a required,
// non-nullable array.
func (q QuestionEventData) MarshalJSON() ([]byte, error) {
	type plain QuestionEventData
	if q.Options == nil {
		q.Options = []string{}
	}
	return json.Marshal(plain(q))
}

// PayloadMatches reports whether p is a valid payload for events of type t.
func PayloadMatches(t EventType, p Payload) error {
	ok := false
	switch p.(type) {
	case SessionStartedData, *SessionStartedData:
		ok = t == EventSessionStarted
	case SessionEndedData, *SessionEndedData:
		ok = t == EventSessionEnded
	case TurnEventData, *TurnEventData:
		ok = t == EventTurnStarted || t == EventTurnEnded
	case ItemEventData, *ItemEventData:
		ok = t == EventItemStarted || t == EventItemCompleted
	case ItemDeltaData, *ItemDeltaData:
		ok = t == EventItemDelta
	case ErrorData, *ErrorData:
		ok = t == EventError
	case PermissionEventData, *PermissionEventData:
		ok = t == EventPermissionRequested || t == EventPermissionResolved
	case QuestionEventData, *QuestionEventData:
		ok = t == EventQuestionRequested || t == EventQuestionResolved
	case AgentUnparsedData, *AgentUnparsedData:
		ok = t == EventAgentUnparsed
	case NetworkConnectionData, *NetworkConnectionData:
		ok = t == EventNetworkConnection
	}
	if !ok {
		return fmt.Errorf("payload %T does not fit event type %q", p, t)
	}
	return nil
}

// Ptr returns a pointer to v; handy for the many optional fields.
func Ptr[T any](v T) *T { return &v }
