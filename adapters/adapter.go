// Package adapters defines what every agent adapter implements. An adapter
// turns the engine's commands into the agent's native protocol and the
// agent's native output into universal events, through an Emitter. It never
// touches HTTP, the store or another session: the engine owns all of that.
package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/agentd-dev/agentd/schema"
)

// Event is what an adapter emits: a universal event before the engine has
// numbered, normalised and stored it.
type Event struct {
	Type schema.EventType
	// Data is one of the schema payload types, by value or pointer.
	Data schema.Payload
	// Synthetic marks events the adapter made up rather than read from the agent.
	Synthetic bool
	// NativeSessionID, when set, is adopted by the session if it has none yet.
	NativeSessionID string
	// Raw is the native payload the event came from, if any.
	Raw json.RawMessage
}

// Emitter receives an adapter's events. Events passed in one call are
// recorded together, in order. Emit returns an error once the session has
// ended; the adapter should then stop producing.
type Emitter interface {
	Emit(ctx context.Context, events ...Event) error
}

// EmitterFunc adapts a function to Emitter.
type EmitterFunc func(ctx context.Context, events ...Event) error

func (f EmitterFunc) Emit(ctx context.Context, events ...Event) error { return f(ctx, events...) }

// Agent is one kind of coding agent.
type Agent interface {
	// ID is the agent id used in the API, e.g. "claude" or "mock".
	ID() string
	// Info reports install state, version and capabilities.
	Info(ctx context.Context) Info
	// Start begins a session. It must not block on the agent's output: events
	// flow through emit for the life of the session.
	Start(ctx context.Context, req StartRequest, emit Emitter) (Session, error)
}

// Session is one running agent session.
type Session interface {
	// NativeSessionID is the agent's id for the session, if known at start.
	NativeSessionID() string
	// Send hands a user message to the agent and returns once it is accepted.
	Send(ctx context.Context, msg Message) error
	// ReplyPermission forwards the answer to a pending permission request.
	// It, and the question replies, must not wait on Emit: the engine holds
	// the session's reply lock while calling them.
	ReplyPermission(ctx context.Context, req PermissionRequest, reply PermissionReply) error
	// ReplyQuestion forwards answers (one inner list per question).
	ReplyQuestion(ctx context.Context, req QuestionRequest, answers [][]string) error
	// RejectQuestion tells the agent the user declined to answer.
	RejectQuestion(ctx context.Context, req QuestionRequest) error
	// Stop ends the session and everything it started; it is idempotent.
	Stop(ctx context.Context) error
}

// UsageReporter is implemented by an Emitter that wants each model call's
// usage as soon as the agent reports it, before the turn ends: budgets act
// on it mid-turn. The turn's own total still comes with turn.ended.
type UsageReporter interface {
	ReportUsage(ctx context.Context, u schema.Usage)
}

// Interrupter is implemented by sessions whose agent can stop the running
// turn without ending the session.
type Interrupter interface {
	Interrupt(ctx context.Context) error
}

// Resumer is implemented by agents that can start a session which goes on
// from a native session of an earlier one (its conversation, as the agent
// keeps it), in a new process.
type Resumer interface {
	Resume(ctx context.Context, req StartRequest, nativeSessionID string, emit Emitter) (Session, error)
}

// StartRequest carries the normalised session settings.
type StartRequest struct {
	SessionID      string
	AgentMode      string
	PermissionMode string
	Model          string
	Variant        string
	Directory      string
	// Env adds KEY=value variables for this session's agent, applied last
	// (the model proxy's per-session token).
	Env []string
	// MCP holds the session's MCP servers by name (ParseMCP).
	MCP map[string]MCPServer
	// SystemPrompt is appended to the agent's own system prompt.
	SystemPrompt string
	// AllowedTools may run without asking; DisallowedTools may not run at
	// all. Names are the agent's own ("Bash" for Claude, "bash" for
	// OpenCode). An adapter that cannot honour a non-empty one of these
	// fields returns Unsupported instead of starting.
	AllowedTools    []string
	DisallowedTools []string
}

// Message is one user turn.
type Message struct {
	Text        string
	Attachments []Attachment
}

// Prompt is the message's text with its attachments listed after it, as
// the reference hands them to every agent but OpenCode (spec §7.3).
func (m Message) Prompt() string {
	if len(m.Attachments) == 0 {
		return m.Text
	}
	var b strings.Builder
	b.WriteString(m.Text)
	b.WriteString("\n\nAttachments:\n")
	for _, a := range m.Attachments {
		b.WriteString("- " + a.Path + "\n")
	}
	return b.String()
}

type Attachment struct {
	Path     string `json:"path"`
	Mime     string `json:"mime,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// PermissionReply is the user's answer to a permission request.
type PermissionReply string

const (
	ReplyOnce   PermissionReply = "once"
	ReplyAlways PermissionReply = "always"
	ReplyReject PermissionReply = "reject"
)

// PermissionRequest is a pending permission as the engine recorded it.
type PermissionRequest struct {
	ID       string
	Action   string
	Metadata json.RawMessage
}

// QuestionRequest is a pending question as the engine recorded it.
type QuestionRequest struct {
	ID      string
	Prompt  string
	Options []string
}

// Info describes an agent for GET /v1/agents.
type Info struct {
	Installed            bool
	CredentialsAvailable bool
	Version              string
	Path                 string
	Capabilities         Capabilities
	// Runnable is false for agents listed for compatibility that agentd
	// cannot run yet; creating a session for one reports it not installed.
	Runnable bool
	// Modes are the agent modes it accepts; AnyMode accepts any string too
	// (OpenCode takes arbitrary agent names).
	Modes   []Mode
	AnyMode bool
	// PermissionModes maps each accepted permissionMode to the value stored;
	// a mode not listed is not supported by the agent.
	PermissionModes map[string]string
	// Models and DefaultModel answer GET /v1/agents/{agent}/models.
	Models       []Model
	DefaultModel string
	// NativeTurns is true when the agent emits its own turn.started; for
	// other agents the engine records a synthetic one when a message is sent.
	NativeTurns bool
	// Resumable agents may be messaged again after they report an ordinary
	// end (reason completed); their own non-synthetic session.ended is dropped.
	Resumable bool
}

// Mode is one agent mode.
type Mode struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Model is one model an agent offers.
type Model struct {
	ID             string   `json:"id"`
	Name           string   `json:"name,omitempty"`
	Variants       []string `json:"variants,omitempty"`
	DefaultVariant string   `json:"defaultVariant,omitempty"`
}

// Capabilities is the reference's capability matrix, per agent.
type Capabilities struct {
	PlanMode         bool `json:"planMode"`
	Permissions      bool `json:"permissions"`
	Questions        bool `json:"questions"`
	ToolCalls        bool `json:"toolCalls"`
	ToolResults      bool `json:"toolResults"`
	TextMessages     bool `json:"textMessages"`
	Images           bool `json:"images"`
	FileAttachments  bool `json:"fileAttachments"`
	SessionLifecycle bool `json:"sessionLifecycle"`
	ErrorEvents      bool `json:"errorEvents"`
	Reasoning        bool `json:"reasoning"`
	Status           bool `json:"status"`
	CommandExecution bool `json:"commandExecution"`
	FileChanges      bool `json:"fileChanges"`
	McpTools         bool `json:"mcpTools"`
	StreamingDeltas  bool `json:"streamingDeltas"`
	ItemStarted      bool `json:"itemStarted"`
	Variants         bool `json:"variants"`
	SharedProcess    bool `json:"sharedProcess"`
}

// ErrNotInstalled is returned by Start when the agent's binary is missing.
var ErrNotInstalled = errors.New("agent not installed")
