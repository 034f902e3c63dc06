package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

type CreateSessionRequest struct {
	Agent          string                     `json:"agent" minLength:"1" doc:"Agent id"`
	AgentMode      *string                    `json:"agentMode,omitempty" doc:"Default: build"`
	PermissionMode *string                    `json:"permissionMode,omitempty" doc:"default, plan, bypass or acceptEdits"`
	Model          *string                    `json:"model,omitempty"`
	Variant        *string                    `json:"variant,omitempty"`
	AgentVersion   *string                    `json:"agentVersion,omitempty"`
	Directory      *string                    `json:"directory,omitempty" doc:"Working directory of the agent"`
	Title          *string                    `json:"title,omitempty"`
	MCP            map[string]McpServerConfig `json:"mcp,omitempty"`
	Skills         *SkillsConfig              `json:"skills,omitempty"`
	Resume         *string                    `json:"resume,omitempty" doc:"Additive: the id of an ended session of the same agent to continue: the agent resumes that session's conversation in a new process, in its directory unless directory is given. The agent must support resuming (claude, codex, opencode, amp)."`
	Network        *session.NetworkPolicy     `json:"network,omitempty" doc:"Additive: hosts this session's agent may reach through agentd's egress proxy, on top of the daemon's --egress-allow list; an error when agentd runs without --egress. See docs/egress.md."`
	Budget         *session.Budget            `json:"budget,omitempty" doc:"Additive: the session's token budget; reaching it interrupts the running turn and refuses further messages (409 budget_exceeded)"`
	AgentConfig
}

// AgentConfig is the additive agent configuration of a session, which a
// preset may also hold.
type AgentConfig struct {
	SystemPrompt    *string  `json:"systemPrompt,omitempty" doc:"Additive: text appended to the agent's own system prompt"`
	AllowedTools    []string `json:"allowedTools,omitempty" doc:"Additive: tools the agent may run without asking, by the agent's own names (Claude: Bash, Edit, mcp__server__tool…; OpenCode: bash, edit…)"`
	DisallowedTools []string `json:"disallowedTools,omitempty" doc:"Additive: tools the agent may not run at all, by the agent's own names"`
	Preset          *string  `json:"preset,omitempty" doc:"Additive: a preset (GET /v1/presets) whose settings fill every field the request leaves unset; its MCP servers are merged with the request's, which win on a shared name. A preset for another agent is an error."`
}

// ErrorType is the kind of an AgentError.
type ErrorType string

func (ErrorType) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "ErrorType", apierr.Kinds)
}

type AgentError struct {
	Type      ErrorType       `json:"type"`
	Message   string          `json:"message"`
	Agent     *string         `json:"agent,omitempty"`
	SessionID *string         `json:"session_id,omitempty"`
	Details   json.RawMessage `json:"details,omitempty"`
}

type CreateSessionResponse struct {
	Healthy         bool        `json:"healthy"`
	NativeSessionID *string     `json:"nativeSessionId,omitempty"`
	Error           *AgentError `json:"error,omitempty"`
}

type SessionListResponse struct {
	Sessions []session.SessionInfo `json:"sessions" nullable:"false"`
}

type MessageAttachment struct {
	Path     string  `json:"path"`
	Mime     *string `json:"mime,omitempty"`
	Filename *string `json:"filename,omitempty"`
}

type MessageRequest struct {
	Message     string              `json:"message"`
	Attachments []MessageAttachment `json:"attachments,omitempty"`
}

// PermissionReply is the answer to a permission request.
type PermissionReply string

func (PermissionReply) Schema(r huma.Registry) *huma.Schema {
	return schema.EnumSchema(r, "PermissionReply", []adapters.PermissionReply{adapters.ReplyOnce, adapters.ReplyAlways, adapters.ReplyReject})
}

type PermissionReplyRequest struct {
	Reply PermissionReply `json:"reply"`
}

type QuestionReplyRequest struct {
	Answers [][]string `json:"answers" nullable:"false" doc:"One list of selected option labels per question"`
}

type SessionPathParam struct {
	SessionID string `path:"session_id" doc:"Session id"`
}

func (s *server) registerSessions(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "list_sessions", Method: http.MethodGet, Path: "/v1/sessions", Tags: []string{"sessions"},
		Summary: "List Sessions", Description: "Returns every session, running and ended, newest first.",
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body SessionListResponse }, error) {
		return &struct{ Body SessionListResponse }{Body: SessionListResponse{Sessions: s.Sessions.List()}}, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "create_session", Method: http.MethodPost, Path: "/v1/sessions/{session_id}", Tags: []string{"sessions"},
		Summary: "Create Session", Description: "Creates a new agent session with the given configuration.",
		Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError, http.StatusBadGateway},
	}, s.createSession)
	huma.Register(a, huma.Operation{
		OperationID: "post_message", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/messages", Tags: []string{"sessions"},
		Summary: "Send Message", Description: "Sends a message to a session and returns immediately.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError, http.StatusBadGateway},
	}, func(ctx context.Context, in *struct {
		SessionPathParam
		Body MessageRequest
	}) (*struct{}, error) {
		return nil, problem(ctx, s.Logger, s.send(ctx, in.SessionID, in.Body))
	})
	huma.Register(a, huma.Operation{
		OperationID: "terminate_session", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/terminate", Tags: []string{"sessions"},
		Summary: "Terminate Session", Description: "Ends the session and stops its agent and everything the agent started.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *SessionPathParam) (*struct{}, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err == nil {
			err = sess.Terminate(context.WithoutCancel(ctx))
		}
		return nil, problem(ctx, s.Logger, err)
	})
	huma.Register(a, huma.Operation{
		OperationID: "interrupt_session", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/interrupt", Tags: []string{"sessions"},
		Summary:       "Interrupt Turn",
		Description:   "Additive: stops the running turn; the session stays open for more messages. The turn's end arrives as events.",
		DefaultStatus: http.StatusNoContent, Errors: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusBadGateway},
	}, func(ctx context.Context, in *SessionPathParam) (*struct{}, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err == nil {
			err = sess.Interrupt(context.WithoutCancel(ctx))
		}
		return nil, problem(ctx, s.Logger, err)
	})
	s.registerReplies(a)
	s.registerDiff(a)
	s.registerUsage(a)
}

func (s *server) createSession(ctx context.Context, in *struct {
	SessionPathParam
	Body CreateSessionRequest
}) (*struct{ Body CreateSessionResponse }, error) {
	b := in.Body
	req := session.CreateRequest{
		Agent: b.Agent, AgentMode: str(b.AgentMode), PermissionMode: str(b.PermissionMode), Model: str(b.Model),
		Variant: str(b.Variant), AgentVersion: str(b.AgentVersion), Directory: str(b.Directory), Title: str(b.Title),
		Resume: str(b.Resume), Network: b.Network, SystemPrompt: str(b.SystemPrompt), AllowedTools: b.AllowedTools,
		DisallowedTools: b.DisallowedTools, Preset: str(b.Preset), Budget: b.Budget,
	}
	if b.MCP != nil {
		req.MCP, _ = json.Marshal(b.MCP)
	}
	if b.Skills != nil {
		req.Skills, _ = json.Marshal(b.Skills)
	}
	if err := s.Presets.Fill(&req); err != nil {
		return nil, problem(ctx, s.Logger, err)
	}
	info, err := s.Sessions.Create(context.WithoutCancel(ctx), in.SessionID, req)
	if err != nil {
		return nil, problem(ctx, s.Logger, err)
	}
	return &struct{ Body CreateSessionResponse }{Body: CreateSessionResponse{Healthy: true, NativeSessionID: info.NativeSessionID}}, nil
}

// send hands a message to a session.
func (s *server) send(ctx context.Context, id string, body MessageRequest) error {
	sess, err := s.Sessions.Get(id)
	if err != nil {
		return err
	}
	msg := adapters.Message{Text: body.Message}
	for _, at := range body.Attachments {
		msg.Attachments = append(msg.Attachments, adapters.Attachment{Path: at.Path, Mime: str(at.Mime), Filename: str(at.Filename)})
	}
	return sess.Send(context.WithoutCancel(ctx), msg)
}

func (s *server) registerReplies(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "reply_permission", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/permissions/{permission_id}/reply",
		Tags: []string{"sessions"}, Summary: "Reply to Permission", Description: "Approves or denies a permission request from the agent.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError, http.StatusBadGateway},
	}, func(ctx context.Context, in *struct {
		SessionPathParam
		PermissionID string `path:"permission_id" doc:"Permission id"`
		Body         PermissionReplyRequest
	}) (*struct{}, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err == nil {
			err = sess.ReplyPermission(context.WithoutCancel(ctx), in.PermissionID, adapters.PermissionReply(in.Body.Reply))
		}
		return nil, problem(ctx, s.Logger, err)
	})
	type QuestionPathParam struct {
		SessionPathParam
		QuestionID string `path:"question_id" doc:"Question id"`
	}
	huma.Register(a, huma.Operation{
		OperationID: "reply_question", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/questions/{question_id}/reply",
		Tags: []string{"sessions"}, Summary: "Reply to Question", Description: "Replies to a human-in-the-loop question from the agent.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError, http.StatusBadGateway},
	}, func(ctx context.Context, in *struct {
		QuestionPathParam
		Body QuestionReplyRequest
	}) (*struct{}, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err == nil {
			err = sess.ReplyQuestion(context.WithoutCancel(ctx), in.QuestionID, in.Body.Answers)
		}
		return nil, problem(ctx, s.Logger, err)
	})
	huma.Register(a, huma.Operation{
		OperationID: "reject_question", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/questions/{question_id}/reject",
		Tags: []string{"sessions"}, Summary: "Reject Question", Description: "Rejects a human-in-the-loop question from the agent.",
		DefaultStatus: http.StatusNoContent,
		Errors:        []int{http.StatusBadRequest, http.StatusNotFound, http.StatusInternalServerError, http.StatusBadGateway},
	}, func(ctx context.Context, in *QuestionPathParam) (*struct{}, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err == nil {
			err = sess.RejectQuestion(context.WithoutCancel(ctx), in.QuestionID)
		}
		return nil, problem(ctx, s.Logger, err)
	})
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
