package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/schema"
)

// errEnded is returned to an adapter's Emit once its session has ended.
var errEnded = errors.New("session ended")

// Session is one session: its stored description, its place in the log and
// the running agent behind it.
type Session struct {
	m         *Manager
	id        string
	agentInfo adapters.Info

	// mu guards everything below and serialises recording, so sequence
	// numbers are assigned in commit order.
	mu      sync.Mutex
	info    SessionInfo
	lastSeq uint64
	items   *itemState
	perms   map[string]adapters.PermissionRequest
	qs      map[string]adapters.QuestionRequest
	always  map[string]bool
	agent   adapters.Session
	usage   usageState
	// metered says the model proxy counts the session's calls.
	metered bool

	// published is the committed state that Info serves; readers do not
	// take mu, which is held across commits.
	published atomic.Pointer[SessionInfo]

	// infoDirty says info changed since it was last stored.
	infoDirty bool

	// ready is closed once the session is stored; an agent that emits
	// while it is being created waits for it.
	ready chan struct{}

	// replyMu serialises replies so that a permission or question is
	// forwarded to the agent at most once.
	replyMu sync.Mutex
}

func newSession(m *Manager, info SessionInfo, agentInfo adapters.Info) *Session {
	return &Session{
		m: m, id: info.SessionID, info: info, agentInfo: agentInfo,
		items:  newItemState(),
		perms:  map[string]adapters.PermissionRequest{},
		qs:     map[string]adapters.QuestionRequest{},
		always: map[string]bool{},
		ready:  make(chan struct{}),
	}
}

// Info returns the session's description as of its last commit. It never
// waits for a commit in flight.
func (s *Session) Info() SessionInfo {
	if in := s.published.Load(); in != nil {
		return *in
	}
	return SessionInfo{SessionID: s.id}
}

// LastSequence is the sequence of the newest committed event.
func (s *Session) LastSequence() uint64 { return s.Info().EventCount }

// publish makes the committed state visible to Info. Caller holds s.mu.
func (s *Session) publish() {
	in := s.info
	in.EventCount = s.lastSeq
	s.published.Store(&in)
}

// Emit is the adapters.Emitter the session's agent writes through.
func (s *Session) Emit(ctx context.Context, events ...adapters.Event) error {
	recorded, err := s.record(ctx, events)
	if err != nil {
		return err
	}
	s.autoApprove(ctx, recorded)
	s.mu.Lock()
	b := s.usage.reached
	s.usage.reached = nil
	s.mu.Unlock()
	if b != nil {
		s.enforce(ctx, *b)
	}
	return nil
}

// record normalises, numbers and commits events; it refuses everything once
// the session has ended, so nothing trails a session.ended.
func (s *Session) record(ctx context.Context, events []adapters.Event) ([]draft, error) {
	select {
	case <-s.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.info.Ended {
		return nil, errEnded
	}
	var drafts []draft
	for _, ev := range events {
		if ev.Data == nil {
			return nil, fmt.Errorf("event %s without data", ev.Type)
		}
		if err := schema.PayloadMatches(ev.Type, ev.Data); err != nil {
			return nil, err
		}
		if ev.NativeSessionID != "" && s.info.NativeSessionID == nil {
			s.info.NativeSessionID = schema.Ptr(ev.NativeSessionID)
			s.infoDirty = true
		}
		drafts = append(drafts, s.normalize(ev)...)
	}
	if err := s.commit(ctx, drafts); err != nil {
		return nil, err
	}
	return drafts, nil
}

// commit numbers drafts, stores them and applies their effect on the
// session's state. The caller holds s.mu.
func (s *Session) commit(ctx context.Context, drafts []draft) error {
	if len(drafts) == 0 {
		return nil
	}
	now := s.m.now()
	recs := make([]eventlog.Record, 0, len(drafts))
	next := s.info
	for i, d := range drafts {
		seq := s.lastSeq + uint64(i) + 1
		rec, err := s.encode(seq, now, d)
		if err != nil {
			return err
		}
		recs = append(recs, rec)
		applyEnd(&next, d, s.agentInfo.Resumable)
	}
	next.UpdatedAt = now.UnixMilli()
	// The stored description changes rarely (a native id, an end); the
	// row's updated_at and last_seq columns carry the rest, so most
	// appends rewrite no info at all.
	var infoJSON []byte
	if s.infoDirty || next.Ended != s.info.Ended {
		var err error
		if infoJSON, err = json.Marshal(next); err != nil {
			return fmt.Errorf("encode session info: %w", err)
		}
	}
	published := next
	published.EventCount = s.lastSeq + uint64(len(recs))
	// Info must show the new state before any reader sees the events:
	// a stream that reads session.ended checks that the session ended.
	onCommit := func() { s.published.Store(&published) }
	if err := s.m.log.AppendThen(ctx, s.id, infoJSON, next.UpdatedAt, onCommit, recs...); err != nil {
		return fmt.Errorf("record events of %s: %w", s.id, err)
	}
	if next.Ended && !s.info.Ended {
		s.m.closeEgress(s.id)
	}
	s.info = next
	s.infoDirty = false
	s.lastSeq += uint64(len(recs))
	for _, d := range drafts {
		s.track(d)
		if b := s.trackUsage(d); b != nil {
			s.usage.reached = b
		}
		if s.m.observe != nil {
			s.m.observe(s.id, s.info.Agent, d.typ, d.data)
		}
	}
	return nil
}

func (s *Session) encode(seq uint64, now time.Time, d draft) (eventlog.Record, error) {
	data, err := json.Marshal(d.data)
	if err != nil {
		return eventlog.Record{}, fmt.Errorf("encode %s data: %w", d.typ, err)
	}
	src := schema.SourceAgent
	if d.synthetic {
		src = schema.SourceDaemon
	}
	body, err := json.Marshal(schema.UniversalEvent{
		EventID: schema.EventID(seq), Sequence: seq, Time: schema.FormatTime(now),
		SessionID: s.id, NativeSessionID: s.info.NativeSessionID,
		Synthetic: d.synthetic, Source: src, Type: d.typ, Data: data,
	})
	if err != nil {
		return eventlog.Record{}, fmt.Errorf("encode %s: %w", d.typ, err)
	}
	return eventlog.Record{Seq: seq, Type: string(d.typ), Body: body, Raw: d.raw}, nil
}

// applyEnd marks the session ended when a draft ends it. A resumable
// agent's ordinary completion leaves it open for more messages.
func applyEnd(in *SessionInfo, d draft, resumable bool) {
	if d.typ != schema.EventSessionEnded {
		return
	}
	end := deref(d.data).(schema.SessionEndedData)
	if end.Reason == schema.EndCompleted && end.TerminatedBy == schema.ByAgent && resumable {
		return
	}
	in.Ended = true
	in.EndReason = end.Reason
	in.TerminatedBy = end.TerminatedBy
	in.ExitCode = end.ExitCode
	switch {
	case end.Detail != nil:
		in.EndMessage = *end.Detail
	case end.Message != nil:
		in.EndMessage = *end.Message
	}
}

// track keeps the pending permissions and questions in step with the log.
func (s *Session) track(d draft) {
	switch data := deref(d.data).(type) {
	case schema.PermissionEventData:
		if d.typ == schema.EventPermissionRequested {
			s.perms[data.PermissionID] = adapters.PermissionRequest{ID: data.PermissionID, Action: data.Action, Metadata: json.RawMessage(data.Metadata)}
		} else {
			delete(s.perms, data.PermissionID)
		}
	case schema.QuestionEventData:
		if d.typ == schema.EventQuestionRequested {
			s.qs[data.QuestionID] = adapters.QuestionRequest{ID: data.QuestionID, Prompt: data.Prompt, Options: data.Options}
		} else {
			delete(s.qs, data.QuestionID)
		}
	}
}

// recordDaemon records events the daemon makes up.
func (s *Session) recordDaemon(ctx context.Context, events ...adapters.Event) error {
	for i := range events {
		events[i].Synthetic = true
	}
	_, err := s.record(ctx, events)
	return err
}

// endedError is the error a message or reply to an ended session gets.
// The caller holds s.mu.
func (s *Session) endedError() error {
	if s.info.TerminatedBy == schema.ByAgent {
		e := apierr.New(apierr.AgentProcessExited, "%s", s.info.Agent)
		e.Agent = s.info.Agent
		e.Details = map[string]any{}
		if s.info.ExitCode != nil {
			e.Details["exitCode"] = *s.info.ExitCode
		}
		if s.info.EndMessage != "" {
			e.Details["stderr"] = s.info.EndMessage
		}
		return e
	}
	if s.info.EndMessage != "" {
		return apierr.New(apierr.InvalidRequest, "session terminated (%s)", s.info.EndMessage)
	}
	return apierr.New(apierr.InvalidRequest, "session terminated")
}

// Send records the turn start where the agent gives none and hands the
// message to the agent.
func (s *Session) Send(ctx context.Context, msg adapters.Message) error {
	s.mu.Lock()
	if s.info.Ended {
		err := s.endedError()
		s.mu.Unlock()
		return err
	}
	if err := s.budgetError(); err != nil {
		s.mu.Unlock()
		return err
	}
	agent := s.agent
	s.mu.Unlock()
	if !s.agentInfo.NativeTurns {
		turn := adapters.Event{Type: schema.EventTurnStarted, Data: schema.TurnEventData{Phase: schema.PhaseStarted}}
		if err := s.recordDaemon(ctx, turn); err != nil {
			return s.sendError(err)
		}
	}
	if err := agent.Send(ctx, msg); err != nil {
		return s.sendError(err)
	}
	return nil
}

func (s *Session) sendError(err error) error {
	if errors.Is(err, errEnded) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.endedError()
	}
	if _, ok := apierr.As(err); ok {
		return err
	}
	return apierr.New(apierr.StreamError, "%v", err)
}

// Interrupt stops the running turn; the session stays usable. The agent
// reports the turn's end as events.
func (s *Session) Interrupt(ctx context.Context) error {
	s.mu.Lock()
	if s.info.Ended {
		err := s.endedError()
		s.mu.Unlock()
		return err
	}
	agent := s.agent
	s.mu.Unlock()
	in, ok := agent.(adapters.Interrupter)
	if !ok {
		return apierr.New(apierr.InvalidRequest, "agent %s cannot interrupt a turn", s.info.Agent)
	}
	if err := in.Interrupt(ctx); err != nil {
		return s.sendError(err)
	}
	return nil
}

// Terminate ends the session and stops its agent. Ending an ended session
// is a no-op.
func (s *Session) Terminate(ctx context.Context) error {
	return s.end(ctx, schema.SessionEndedData{Reason: schema.EndTerminated, TerminatedBy: schema.ByDaemon}, nil)
}

// end records a daemon-made session.ended (unless already ended) and stops
// the agent behind the session.
func (s *Session) end(ctx context.Context, data schema.SessionEndedData, raw json.RawMessage) error {
	err := s.recordDaemon(ctx, adapters.Event{Type: schema.EventSessionEnded, Data: data, Raw: raw})
	if err != nil && !errors.Is(err, errEnded) {
		return err
	}
	s.mu.Lock()
	agent := s.agent
	s.agent = nil
	s.mu.Unlock()
	if agent != nil {
		if err := agent.Stop(ctx); err != nil {
			s.m.logger.Warn("stopping agent", slog.String("session", s.id), slog.Any("err", err))
		}
	}
	return nil
}
