package session

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

var permissionStatus = map[adapters.PermissionReply]schema.PermissionStatus{
	adapters.ReplyOnce:   schema.PermissionAccept,
	adapters.ReplyAlways: schema.PermissionAcceptForSession,
	adapters.ReplyReject: schema.PermissionReject,
}

// ReplyPermission answers a pending permission. Unlike the reference, the
// request stays pending until the agent has taken the answer, so a failed
// reply can be retried.
func (s *Session) ReplyPermission(ctx context.Context, id string, reply adapters.PermissionReply) error {
	status, ok := permissionStatus[reply]
	if !ok {
		return apierr.New(apierr.InvalidRequest, "invalid permission reply: %s", reply)
	}
	s.replyMu.Lock()
	defer s.replyMu.Unlock()
	req, agent, err := s.pendingPermission(id)
	if err != nil {
		return err
	}
	if err := agent.ReplyPermission(ctx, req, reply); err != nil {
		return s.sendError(err)
	}
	if reply == adapters.ReplyAlways {
		s.mu.Lock()
		for _, k := range cacheKeys(req.Action, req.Metadata) {
			s.always[k] = true
		}
		s.mu.Unlock()
	}
	return s.recordDaemon(ctx, resolvedPermission(req, status))
}

func (s *Session) pendingPermission(id string) (adapters.PermissionRequest, adapters.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.perms[id]
	if !ok {
		return req, nil, apierr.New(apierr.InvalidRequest, "unknown permission id: %s", id)
	}
	if s.info.Ended || s.agent == nil {
		return req, nil, s.endedError()
	}
	return req, s.agent, nil
}

func resolvedPermission(req adapters.PermissionRequest, status schema.PermissionStatus) adapters.Event {
	return adapters.Event{Type: schema.EventPermissionResolved, Data: schema.PermissionEventData{
		PermissionID: req.ID, Action: req.Action, Status: status, Metadata: schema.RawJSON(req.Metadata),
	}}
}

// ReplyQuestion answers a pending question; the recorded response is the
// first selected option of the first question.
func (s *Session) ReplyQuestion(ctx context.Context, id string, answers [][]string) error {
	var response *string
	if len(answers) > 0 && len(answers[0]) > 0 {
		response = &answers[0][0]
	}
	return s.resolveQuestion(ctx, id, schema.QuestionAnswered, response, func(a adapters.Session, q adapters.QuestionRequest) error {
		return a.ReplyQuestion(ctx, q, answers)
	})
}

// RejectQuestion declines a pending question.
func (s *Session) RejectQuestion(ctx context.Context, id string) error {
	return s.resolveQuestion(ctx, id, schema.QuestionRejected, nil, func(a adapters.Session, q adapters.QuestionRequest) error {
		return a.RejectQuestion(ctx, q)
	})
}

func (s *Session) resolveQuestion(ctx context.Context, id string, status schema.QuestionStatus, response *string,
	forward func(adapters.Session, adapters.QuestionRequest) error) error {
	s.replyMu.Lock()
	defer s.replyMu.Unlock()
	s.mu.Lock()
	q, ok := s.qs[id]
	agent := s.agent
	var err error
	switch {
	case !ok:
		err = apierr.New(apierr.InvalidRequest, "unknown question id: %s", id)
	case s.info.Ended || agent == nil:
		err = s.endedError()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := forward(agent, q); err != nil {
		return s.sendError(err)
	}
	return s.recordDaemon(ctx, adapters.Event{Type: schema.EventQuestionResolved, Data: schema.QuestionEventData{
		QuestionID: q.ID, Prompt: q.Prompt, Options: q.Options, Response: response, Status: status,
	}})
}

// autoApprove answers, as "always", every newly recorded permission request
// that shares a key with one the user already allowed for the session.
func (s *Session) autoApprove(ctx context.Context, recorded []draft) {
	for _, d := range recorded {
		if d.typ != schema.EventPermissionRequested {
			continue
		}
		p := deref(d.data).(schema.PermissionEventData)
		s.replyMu.Lock()
		req, agent, ok := s.alwaysAllowed(p)
		if ok {
			if err := agent.ReplyPermission(ctx, req, adapters.ReplyAlways); err == nil {
				_ = s.recordDaemon(ctx, resolvedPermission(req, schema.PermissionAcceptForSession))
			} else {
				s.m.logger.Warn("auto-approving permission", "session", s.id, "permission", req.ID, "err", err)
			}
		}
		s.replyMu.Unlock()
	}
}

func (s *Session) alwaysAllowed(p schema.PermissionEventData) (adapters.PermissionRequest, adapters.Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, pending := s.perms[p.PermissionID]
	if !pending || s.agent == nil {
		return req, nil, false
	}
	for _, k := range cacheKeys(req.Action, req.Metadata) {
		if s.always[k] {
			return req, s.agent, true
		}
	}
	return req, nil, false
}

// cacheKeys are the names under which an "always" answer is remembered: the
// action and the tool names in the metadata, each also as a lower-cased
// category (its first word, up to a colon).
func cacheKeys(action string, metadata json.RawMessage) []string {
	values := []string{action}
	var meta map[string]any
	if json.Unmarshal(metadata, &meta) == nil {
		for _, f := range []string{"permission", "codexRequestKind", "toolName", "tool_name"} {
			if v, ok := meta[f].(string); ok {
				values = append(values, v)
			}
		}
	}
	var keys []string
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		keys = append(keys, v)
		if c, ok := category(v); ok {
			keys = append(keys, c)
		}
	}
	return keys
}

func category(v string) (string, bool) {
	tok := strings.Fields(v)[0]
	tok, _, _ = strings.Cut(tok, ":")
	if tok == "" {
		return "", false
	}
	for _, r := range tok {
		ok := r == '_' || r == '-' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return "", false
		}
	}
	return strings.ToLower(tok), true
}
