package schema

import (
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// EventType names the kind of a universal event; it decides the shape of Data.
type EventType string

const (
	EventSessionStarted      EventType = "session.started"
	EventSessionEnded        EventType = "session.ended"
	EventTurnStarted         EventType = "turn.started"
	EventTurnEnded           EventType = "turn.ended"
	EventItemStarted         EventType = "item.started"
	EventItemDelta           EventType = "item.delta"
	EventItemCompleted       EventType = "item.completed"
	EventError               EventType = "error"
	EventPermissionRequested EventType = "permission.requested"
	EventPermissionResolved  EventType = "permission.resolved"
	EventQuestionRequested   EventType = "question.requested"
	EventQuestionResolved    EventType = "question.resolved"
	EventAgentUnparsed       EventType = "agent.unparsed"
	// EventNetworkConnection is additive: a connection the egress proxy
	// allowed or refused. It is only recorded when the proxy is on.
	EventNetworkConnection EventType = "network.connection"
)

// EventSource says who produced an event: the agent, or the daemon itself.
type EventSource string

const (
	SourceAgent  EventSource = "agent"
	SourceDaemon EventSource = "daemon"
)

type ItemKind string

const (
	KindMessage    ItemKind = "message"
	KindToolCall   ItemKind = "tool_call"
	KindToolResult ItemKind = "tool_result"
	KindSystem     ItemKind = "system"
	KindStatus     ItemKind = "status"
	KindUnknown    ItemKind = "unknown"
)

type ItemRole string

const (
	RoleUser      ItemRole = "user"
	RoleAssistant ItemRole = "assistant"
	RoleSystem    ItemRole = "system"
	RoleTool      ItemRole = "tool"
)

type ItemStatus string

const (
	StatusInProgress ItemStatus = "in_progress"
	StatusCompleted  ItemStatus = "completed"
	StatusFailed     ItemStatus = "failed"
)

type FileAction string

const (
	FileRead  FileAction = "read"
	FileWrite FileAction = "write"
	FilePatch FileAction = "patch"
)

type ReasoningVisibility string

const (
	VisibilityPublic  ReasoningVisibility = "public"
	VisibilityPrivate ReasoningVisibility = "private"
)

type TurnPhase string

const (
	PhaseStarted TurnPhase = "started"
	PhaseEnded   TurnPhase = "ended"
)

type SessionEndReason string

const (
	EndCompleted  SessionEndReason = "completed"
	EndError      SessionEndReason = "error"
	EndTerminated SessionEndReason = "terminated"
)

type TerminatedBy string

const (
	ByAgent  TerminatedBy = "agent"
	ByDaemon TerminatedBy = "daemon"
)

type PermissionStatus string

const (
	PermissionRequested        PermissionStatus = "requested"
	PermissionAccept           PermissionStatus = "accept"
	PermissionAcceptForSession PermissionStatus = "accept_for_session"
	PermissionReject           PermissionStatus = "reject"
)

type QuestionStatus string

const (
	QuestionRequested QuestionStatus = "requested"
	QuestionAnswered  QuestionStatus = "answered"
	QuestionRejected  QuestionStatus = "rejected"
)

// Values lists every value of each enum, in the reference's order; the OpenAPI
// document and the JSON Schema are built from these lists.
var (
	EventTypes = []EventType{EventSessionStarted, EventSessionEnded, EventTurnStarted, EventTurnEnded,
		EventItemStarted, EventItemDelta, EventItemCompleted, EventError, EventPermissionRequested,
		EventPermissionResolved, EventQuestionRequested, EventQuestionResolved, EventAgentUnparsed,
		EventNetworkConnection}
	EventSources          = []EventSource{SourceAgent, SourceDaemon}
	ItemKinds             = []ItemKind{KindMessage, KindToolCall, KindToolResult, KindSystem, KindStatus, KindUnknown}
	ItemRoles             = []ItemRole{RoleUser, RoleAssistant, RoleSystem, RoleTool}
	ItemStatuses          = []ItemStatus{StatusInProgress, StatusCompleted, StatusFailed}
	FileActions           = []FileAction{FileRead, FileWrite, FilePatch}
	ReasoningVisibilities = []ReasoningVisibility{VisibilityPublic, VisibilityPrivate}
	TurnPhases            = []TurnPhase{PhaseStarted, PhaseEnded}
	SessionEndReasons     = []SessionEndReason{EndCompleted, EndError, EndTerminated}
	TerminatedBys         = []TerminatedBy{ByAgent, ByDaemon}
	PermissionStatuses    = []PermissionStatus{PermissionRequested, PermissionAccept, PermissionAcceptForSession, PermissionReject}
	QuestionStatuses      = []QuestionStatus{QuestionRequested, QuestionAnswered, QuestionRejected}
)

// RefPrefix is where named schemas live, in the OpenAPI document and (after
// rewriting) in the JSON Schema's definitions.
const RefPrefix = "#/components/schemas/"

// Named registers the schema built by build under name, once, and returns a
// reference to it. Types with a Schema method use it to stay named components.
func Named(r huma.Registry, name string, build func() *huma.Schema) *huma.Schema {
	m := r.Map()
	if _, ok := m[name]; !ok {
		m[name] = &huma.Schema{} // placeholder, so recursive types end in a $ref
		m[name] = build()
	}
	return &huma.Schema{Ref: RefPrefix + name}
}

// EnumSchema registers a named string enum schema and returns a reference to it.
func EnumSchema[T ~string](r huma.Registry, name string, values []T) *huma.Schema {
	return Named(r, name, func() *huma.Schema {
		s := &huma.Schema{Type: huma.TypeString}
		for _, v := range values {
			s.Enum = append(s.Enum, string(v))
		}
		return s
	})
}

func (EventType) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "UniversalEventType", EventTypes)
}
func (EventSource) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "EventSource", EventSources)
}
func (ItemKind) Schema(r huma.Registry) *huma.Schema { return EnumSchema(r, "ItemKind", ItemKinds) }
func (ItemRole) Schema(r huma.Registry) *huma.Schema { return EnumSchema(r, "ItemRole", ItemRoles) }
func (ItemStatus) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "ItemStatus", ItemStatuses)
}
func (FileAction) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "FileAction", FileActions)
}
func (ReasoningVisibility) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "ReasoningVisibility", ReasoningVisibilities)
}
func (TurnPhase) Schema(r huma.Registry) *huma.Schema { return EnumSchema(r, "TurnPhase", TurnPhases) }
func (SessionEndReason) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "SessionEndReason", SessionEndReasons)
}
func (TerminatedBy) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "TerminatedBy", TerminatedBys)
}
func (PermissionStatus) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "PermissionStatus", PermissionStatuses)
}
func (QuestionStatus) Schema(r huma.Registry) *huma.Schema {
	return EnumSchema(r, "QuestionStatus", QuestionStatuses)
}

// ref registers the type of v in r and returns a $ref schema to it.
func ref(r huma.Registry, v any) *huma.Schema {
	return r.Schema(reflect.TypeOf(v), true, "")
}
