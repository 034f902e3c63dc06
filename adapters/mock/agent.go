// Package mock is the built-in scripted agent (spec §13). It needs no binary
// and no credentials; user messages select fixed event sequences that
// exercise every part of the universal event model. Its scripts live in
// script.go as pure functions; this file only plays them.
package mock

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/schema"
)

// DefaultPause is the reference's delay between scripted events, slow
// enough for a UI to show streaming.
const DefaultPause = 200 * time.Millisecond

var errStopped = errors.New("mock session stopped")

// Agent is the mock agent; its zero value plays scripts without pausing.
type Agent struct {
	pause time.Duration
}

var _ adapters.Agent = (*Agent)(nil)

// Option configures an Agent.
type Option func(*Agent)

// WithPause sets the delay between scripted events; 0 plays scripts at once.
func WithPause(d time.Duration) Option {
	return func(a *Agent) { a.pause = d }
}

// New returns the mock agent, pausing DefaultPause between events unless
// told otherwise.
func New(opts ...Option) *Agent {
	a := &Agent{pause: DefaultPause}
	for _, opt := range opts {
		opt(a)
	}
	return a
}

func (*Agent) ID() string { return "mock" }

// Info reports the mock as always installed; it supports every capability
// except variants and a shared process (spec §6.1).
func (*Agent) Info(context.Context) adapters.Info {
	return adapters.Info{
		Installed:            true,
		CredentialsAvailable: true,
		Runnable:             true,
		Version:              "builtin",
		Capabilities: adapters.Capabilities{
			PlanMode:         true,
			Permissions:      true,
			Questions:        true,
			ToolCalls:        true,
			ToolResults:      true,
			TextMessages:     true,
			Images:           true,
			FileAttachments:  true,
			SessionLifecycle: true,
			ErrorEvents:      true,
			Reasoning:        true,
			Status:           true,
			CommandExecution: true,
			FileChanges:      true,
			McpTools:         true,
			StreamingDeltas:  true,
			ItemStarted:      true,
		},
		Modes: []adapters.Mode{
			{ID: "build", Name: "Build", Description: "Mock agent for UI testing"},
			{ID: "plan", Name: "Plan", Description: "Plan-only mock mode"},
		},
		PermissionModes: map[string]string{"default": "default", "plan": "plan", "bypass": "bypass", "acceptEdits": "default"},
		Models:          []adapters.Model{{ID: "mock", Name: "Mock"}},
		DefaultModel:    "mock",
		Resumable:       true,
	}
}

// Start begins a session whose events are emitted by one goroutine owned by
// the session, which Stop ends. The goroutine lives on the session's own
// context, not ctx, since it outlives the create request.
func (a *Agent) Start(_ context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		nativeID: "mock-" + req.SessionID,
		config:   configReport(req),
		emit:     emit,
		pause:    a.pause,
		ctx:      ctx,
		cancel:   cancel,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		stopTurn: make(chan struct{}, 1),
	}
	go s.run()
	return s, nil
}

type session struct {
	nativeID string
	config   string // configReport, the answer to configCommand
	emit     adapters.Emitter
	pause    time.Duration

	ctx    context.Context // cancelled by Stop, or once the emitter refuses events
	cancel context.CancelFunc
	wake   chan struct{} // buffered: a pending signal means the queue may be non-empty
	done   chan struct{} // closed when run returns
	// stopTurn asks the player to cut the turn it is playing (Interrupt).
	stopTurn chan struct{}

	mu      sync.Mutex
	counter int                // messages received, N in the native id prefix mock_<N>
	queue   [][]adapters.Event // turns waiting for the one being played
	playing bool               // a turn is being played
}

func (s *session) NativeSessionID() string { return s.nativeID }

// Send queues the message's events and returns at once; turns are played in
// order, so a turn never interleaves with the one before it.
func (s *session) Send(_ context.Context, msg adapters.Message) error {
	if s.ctx.Err() != nil {
		return errStopped
	}
	text := strings.TrimSpace(msg.Prompt())
	s.mu.Lock()
	s.counter++
	p := "mock_" + strconv.Itoa(s.counter)
	events := turnEvents(p, text)
	if strings.EqualFold(text, configCommand) {
		events = played(p, text, assistantMessage(p+"_config", s.config))
	}
	if len(events) > 0 { // an empty message plays nothing; next reads nil as an empty queue
		s.queue = append(s.queue, events)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return nil
}

// The mock has no one to forward replies to; the engine records the
// resolution itself (spec §13.2 step 7).

func (*session) ReplyPermission(context.Context, adapters.PermissionRequest, adapters.PermissionReply) error {
	return nil
}

func (*session) ReplyQuestion(context.Context, adapters.QuestionRequest, [][]string) error {
	return nil
}

func (*session) RejectQuestion(context.Context, adapters.QuestionRequest) error { return nil }

// Interrupt cuts the turn being played short: the rest of its script is
// dropped and a turn.ended marked interrupted closes it. Queued turns still
// play. With no turn playing there is nothing to do.
func (s *session) Interrupt(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.playing {
		select {
		case s.stopTurn <- struct{}{}:
		default: // already asked
		}
	}
	return nil
}

// Stop cancels the script being played and waits for the player to return.
func (s *session) Stop(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run plays queued turns until the session is stopped or the emitter
// reports the session ended.
func (s *session) run() {
	defer close(s.done)
	defer s.cancel() // so Send refuses messages once nothing plays them
	// The native session.started is always dropped by the engine as a
	// duplicate; it is sent for fidelity with the reference.
	started := adapters.Event{
		Type: schema.EventSessionStarted,
		Data: schema.SessionStartedData{Metadata: schema.RawJSON(`{"mock":true}`)},
	}
	if !s.play([]adapters.Event{started}) {
		return
	}
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.wake:
		}
		for events := s.next(); events != nil; events = s.next() {
			if !s.play(events) {
				return
			}
		}
	}
}

func (s *session) next() []adapters.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return nil
	}
	events := s.queue[0]
	s.queue = s.queue[1:]
	return events
}

// play emits one turn's events one at a time, pausing between them. It
// reports false when the session must stop.
func (s *session) play(events []adapters.Event) bool {
	s.setPlaying(true)
	defer s.setPlaying(false)
	for i, ev := range events {
		if i > 0 {
			switch s.sleep() {
			case stopped:
				return false
			case interrupted:
				return s.emitOne(interruptedTurnEnd())
			}
		}
		if !s.emitOne(ev) {
			return false
		}
	}
	return true
}

func (s *session) emitOne(ev adapters.Event) bool {
	ev.NativeSessionID = s.nativeID
	return s.emit.Emit(s.ctx, ev) == nil
}

func (s *session) setPlaying(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.playing = on
	if on {
		select {
		case <-s.stopTurn: // a request for a turn that already ended
		default:
		}
	}
}

func interruptedTurnEnd() adapters.Event {
	return adapters.Event{Type: schema.EventTurnEnded, Synthetic: true, Data: schema.TurnEventData{
		Phase: schema.PhaseEnded, Metadata: schema.RawJSON(`{"status":"interrupted"}`),
	}}
}

type wakeReason int

const (
	resumed wakeReason = iota
	stopped
	interrupted
)

// sleep waits out the pause between two events of a turn.
func (s *session) sleep() wakeReason {
	var timeout <-chan time.Time
	if s.pause > 0 {
		t := time.NewTimer(s.pause)
		defer t.Stop()
		timeout = t.C
	} else {
		ready := make(chan time.Time)
		close(ready)
		timeout = ready
	}
	select {
	case <-s.ctx.Done():
		return stopped
	case <-s.stopTurn:
		return interrupted
	default:
	}
	select {
	case <-timeout:
		return resumed
	case <-s.ctx.Done():
		return stopped
	case <-s.stopTurn:
		return interrupted
	}
}
