package opencode

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/internal/cliagent"
	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

var errStopped = errors.New("opencode session stopped")

// session is one OpenCode session on a shared server.
type session struct {
	in   *instance
	id   string // OpenCode session id
	dir  string
	req  adapters.StartRequest
	sink cliagent.Sink   // hands events to the engine
	ctx  context.Context // the session's life
	stop context.CancelFunc
	done chan struct{} // closed when the mailbox loop has returned

	boxMu  sync.Mutex
	box    []native      // events routed here, not yet translated
	notify chan struct{} // one pending wake-up of the mailbox loop

	mu       sync.Mutex
	tr       *Translator
	turns    cliagent.Turns[adapters.Message] // a turn runs from its prompt's post to its end
	stopOnce sync.Once
}

// native is one mailbox entry: an event, or (end set) the end of the
// session, run in order after the events before it.
type native struct {
	ev  *nativeEvent
	raw []byte
	end func()
}

var _ adapters.Session = (*session)(nil)
var _ adapters.Interrupter = (*session)(nil)

func newSession(in *instance, req adapters.StartRequest, dir, id string, emit adapters.Emitter) (*session, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{in: in, id: id, dir: dir, req: req, sink: cliagent.Sink{Emitter: emit}, ctx: ctx, stop: cancel,
		done: make(chan struct{}), notify: make(chan struct{}, 1), tr: NewTranslator(id),
		turns: cliagent.Turns[adapters.Message]{Stopped: errStopped}}
	if err := in.add(s); err != nil {
		cancel()
		return nil, err
	}
	go s.loop()
	return s, nil
}

func (s *session) NativeSessionID() string { return s.id }

// deliver queues one routed event; it never blocks the server's reader.
func (s *session) deliver(ev *nativeEvent, raw []byte) { s.post(native{ev: ev, raw: raw}) }

func (s *session) post(n native) {
	s.boxMu.Lock()
	s.box = append(s.box, n)
	s.boxMu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// loop translates the session's events in order until the session ends.
func (s *session) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.notify:
		}
		s.boxMu.Lock()
		batch := s.box
		s.box = nil
		s.boxMu.Unlock()
		for _, n := range batch {
			if n.end != nil {
				n.end()
				return
			}
			s.mu.Lock()
			evs := s.tr.translate(n.ev, n.raw)
			fx := s.tr.takeEffects()
			s.mu.Unlock()
			s.send(evs)
			if fx.turnEnded {
				s.nextTurn()
			}
		}
	}
}

// send hands events to the engine, until it refuses them.
func (s *session) send(evs []adapters.Event) { s.sink.Deliver(s.ctx, evs) }

// Send posts the prompt, or queues it while a turn runs. It returns once
// OpenCode accepted the prompt or it is queued.
func (s *session) Send(ctx context.Context, msg adapters.Message) error {
	if strings.TrimSpace(msg.Text) == "" && len(msg.Attachments) == 0 {
		return apierr.New(apierr.InvalidRequest, "empty message")
	}
	s.mu.Lock()
	start, err := s.turns.Submit(msg)
	s.mu.Unlock()
	if !start {
		return err
	}
	return s.startTurn(ctx, msg)
}

// startTurn records the turn's start and the user item, then posts the
// prompt, so they come before anything OpenCode says about it.
func (s *session) startTurn(ctx context.Context, msg adapters.Message) error {
	s.mu.Lock()
	evs := s.tr.UserMessage(msg)
	s.mu.Unlock()
	if err := s.sink.Emit(s.ctx, evs...); err != nil {
		s.turnFailed()
		return err
	}
	if err := s.in.call(ctx, "POST", "/session/"+s.id+"/prompt_async", s.dir, s.promptBody(msg), nil); err != nil {
		s.turnFailed()
		return err
	}
	return nil
}

// turnFailed ends a turn whose prompt never reached OpenCode.
func (s *session) turnFailed() {
	s.mu.Lock()
	s.turns.Idle()
	s.tr.turn = turnState{}
	s.mu.Unlock()
	s.send([]adapters.Event{{Type: schema.EventTurnEnded, Synthetic: true, NativeSessionID: s.id,
		Data: schema.TurnEventData{Phase: schema.PhaseEnded, Metadata: schema.RawJSON(`{"status":"error"}`)}}})
}

type promptPart struct {
	Type     string `json:"type"`
	Text     string `json:"text,omitempty"`
	Mime     string `json:"mime,omitempty"`
	URL      string `json:"url,omitempty"`
	Filename string `json:"filename,omitempty"`
}

type promptModel struct {
	ProviderID string `json:"providerID"`
	ModelID    string `json:"modelID"`
}

type promptBody struct {
	Parts   []promptPart `json:"parts"`
	Agent   string       `json:"agent,omitempty"`
	Model   *promptModel `json:"model,omitempty"`
	Variant string       `json:"variant,omitempty"`
	// System is appended to the agent's system prompt for this message.
	System string `json:"system,omitempty"`
}

// promptBody is the prompt: the text, one file part per attachment, and
// the session's agent mode, model ("provider/model") and variant.
func (s *session) promptBody(msg adapters.Message) promptBody {
	b := promptBody{Agent: s.req.AgentMode, Variant: s.req.Variant, System: s.req.SystemPrompt}
	if msg.Text != "" {
		b.Parts = append(b.Parts, promptPart{Type: "text", Text: msg.Text})
	}
	for _, a := range msg.Attachments {
		mime := a.Mime
		if mime == "" {
			mime = "application/octet-stream"
		}
		name := a.Filename
		if name == "" {
			name = filepath.Base(a.Path)
		}
		u := a.Path
		if !strings.HasPrefix(u, "file://") {
			u = (&url.URL{Scheme: "file", Path: a.Path}).String()
		}
		b.Parts = append(b.Parts, promptPart{Type: "file", Mime: mime, URL: u, Filename: name})
	}
	if provider, model, ok := strings.Cut(s.req.Model, "/"); ok && provider != "" && model != "" {
		b.Model = &promptModel{ProviderID: provider, ModelID: model}
	}
	return b
}

// nextTurn posts the next queued prompt once a turn has ended.
func (s *session) nextTurn() {
	s.mu.Lock()
	msg, ok := s.turns.Next()
	s.mu.Unlock()
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	_ = s.startTurn(ctx, msg) // a failure ends the turn (turnFailed); the next message may succeed
}

// Interrupt aborts the running turn (POST /session/{id}/abort); the turn
// then ends with turn.ended metadata status "interrupted". Queued prompts
// still run afterwards. Without a running turn it does nothing.
func (s *session) Interrupt(ctx context.Context) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if !s.turns.Busy() {
		s.mu.Unlock()
		return nil
	}
	s.tr.noteInterrupt()
	s.mu.Unlock()
	return s.in.call(ctx, "POST", "/session/"+s.id+"/abort", s.dir, struct{}{}, nil)
}

// answer forwards the reply to a pending request of kind. The request leaves
// the pending set while the reply is sent and comes back if sending fails,
// so one request is answered at most once.
func (s *session) answer(ctx context.Context, id string, kind pendingKind, path string, body any) error {
	s.mu.Lock()
	if err := s.turns.Usable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if !s.tr.isPending(id, kind) {
		s.mu.Unlock()
		return apierr.New(apierr.InvalidRequest, "no pending OpenCode request %s of that kind", id)
	}
	s.tr.resolve(id)
	s.mu.Unlock()
	if err := s.in.call(ctx, "POST", path, s.dir, body, nil); err != nil {
		s.mu.Lock()
		s.tr.restore(id, kind)
		s.mu.Unlock()
		return err
	}
	return nil
}

// ReplyPermission answers permission.asked: once, always (OpenCode then
// allows the request's "always" patterns for the rest of the session) or
// reject (OpenCode then ends the turn).
func (s *session) ReplyPermission(ctx context.Context, req adapters.PermissionRequest, reply adapters.PermissionReply) error {
	switch reply {
	case adapters.ReplyOnce, adapters.ReplyAlways, adapters.ReplyReject:
	default:
		return apierr.New(apierr.InvalidRequest, "invalid permission reply: %s", reply)
	}
	return s.answer(ctx, req.ID, pendingPermission, "/permission/"+url.PathEscape(req.ID)+"/reply",
		map[string]string{"reply": string(reply)})
}

// ReplyQuestion answers question.asked: one list of option labels per question.
func (s *session) ReplyQuestion(ctx context.Context, req adapters.QuestionRequest, answers [][]string) error {
	if answers == nil {
		answers = [][]string{}
	}
	for i := range answers {
		if answers[i] == nil {
			answers[i] = []string{}
		}
	}
	return s.answer(ctx, req.ID, pendingQuestion, "/question/"+url.PathEscape(req.ID)+"/reply",
		map[string]any{"answers": answers})
}

// RejectQuestion tells OpenCode the user declined to answer.
func (s *session) RejectQuestion(ctx context.Context, req adapters.QuestionRequest) error {
	return s.answer(ctx, req.ID, pendingQuestion, "/question/"+url.PathEscape(req.ID)+"/reject", struct{}{})
}

// Stop detaches the session from the shared server (aborting a running
// turn, so it does not go on in the background); the server and the other
// sessions on it are untouched. The OpenCode session stays in the server's
// database, so it can be resumed.
func (s *session) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.turns.Stop()
		busy := s.turns.Busy() // never once the server is gone
		s.mu.Unlock()
		if busy {
			actx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = s.in.call(actx, "POST", "/session/"+s.id+"/abort", s.dir, struct{}{}, nil)
			cancel()
		}
		s.in.remove(s)
		s.stop()
	})
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// serverExited ends the session because its server is gone: an error and
// the end of the session, with the server's exit and stderr. Nothing is
// recorded when the session was stopping or the daemon closed the server.
func (s *session) serverExited(exit agentproc.Exit, rep agentproc.Report, closing bool) {
	signal := ""
	if exit.Sig != 0 {
		signal = agentproc.SignalName(exit.Sig)
	}
	msg := cliagent.ExitMessage("opencode server", exit.Code, signal)
	s.mu.Lock()
	s.turns.End(apierr.New(apierr.AgentProcessExited, "%s", msg))
	quiet := closing || s.turns.Stopping()
	s.mu.Unlock()
	if quiet {
		s.stop()
		return
	}
	s.post(native{end: func() { s.reportExit(msg, exit, rep) }})
}

func (s *session) reportExit(msg string, exit agentproc.Exit, rep agentproc.Report) {
	defer s.stop()
	s.mu.Lock()
	abandoned := s.tr.abandon(msg)
	s.mu.Unlock()
	s.send(abandoned)
	s.send(cliagent.ExitReport{Message: msg, Exit: exit, Stderr: rep,
		Code: "server_exit", By: schema.ByDaemon, NativeSessionID: s.id}.Events())
}
