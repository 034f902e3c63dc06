package session

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

// Budget caps what a session may spend. Tokens only: agentd keeps no price
// table, and the agents that report a cost do so only when a turn ends.
type Budget struct {
	MaxTokens int64 `json:"maxTokens,omitempty" minimum:"0" doc:"Once the session's total_tokens reach this, its running turn is interrupted and further messages are refused; 0 or absent is no cap"`
}

// Cap names the budget that was reached.
type Cap string

const (
	CapSession Cap = "session"
	CapDaemon  Cap = "daemon"
)

// Breach is a reached budget.
type Breach struct {
	Cap        Cap    `json:"cap" enum:"session,daemon" doc:"session: the session's own budget; daemon: --budget-max-tokens, all sessions since the daemon started"`
	MaxTokens  int64  `json:"maxTokens"`
	UsedTokens int64  `json:"usedTokens"`
	Message    string `json:"message"`
}

func (b Breach) apiError(sessionID string) error {
	e := apierr.New(apierr.BudgetExceeded, "%s", b.Message)
	e.SessionID = sessionID
	e.Details = map[string]any{"cap": b.Cap, "maxTokens": b.MaxTokens, "usedTokens": b.UsedTokens}
	return e
}

// usageState is what the engine counts of a running session's usage.
type usageState struct {
	// total is the session's ended turns, since this daemon started it.
	total schema.Usage
	// live is the running turn so far, as the model proxy (or, without
	// it, an agent that reports per call) counted its model calls.
	live     schema.Usage
	turnOpen bool
	breach   *Breach
	// reached is a breach found while committing, for Emit to enforce
	// once the lock is released.
	reached *Breach
}

// WithDaemonBudget caps the tokens of every session together, counted
// since the daemon started; 0 is no cap.
func WithDaemonBudget(maxTokens int64) Option {
	return func(m *Manager) { m.daemonMax = maxTokens }
}

// WithMetered says which agents' model calls the model proxy counts: their
// sessions' usage is the proxy's (authoritative), not the agent's report.
func WithMetered(f func(agent string) bool) Option { return func(m *Manager) { m.metered = f } }

// ObserveUsage adds a model call's usage, as the model proxy read it, to
// the session's running turn. A call that reaches a budget interrupts the
// turn.
func (m *Manager) ObserveUsage(sessionID string, u schema.Usage) {
	s, err := m.Get(sessionID)
	if err != nil {
		return // the call outlived its session
	}
	s.addLive(u, schema.UsageFromProxy)
}

// ReportUsage is the adapters.UsageReporter the session's agent tells each
// model call's usage to, before its turn ends. A metered session has the
// proxy's count instead.
func (s *Session) ReportUsage(_ context.Context, u schema.Usage) {
	if !s.metered {
		s.addLive(u, schema.UsageFromAgent)
	}
}

// addLive adds a model call's usage to the running turn; a call that
// reaches a budget interrupts the turn, off the caller's goroutine (the
// agent's reader, or the proxy's, which the interrupt may need).
func (s *Session) addLive(u schema.Usage, src schema.UsageSource) {
	u.Source = src
	u = u.Totalled()
	s.m.daemonUsed.Add(u.TotalTokens)
	s.mu.Lock()
	s.usage.live = s.usage.live.Plus(u)
	s.usage.live.Source = src
	b := s.checkBudget()
	s.mu.Unlock()
	if b != nil {
		s.m.background(func(ctx context.Context) { s.enforce(ctx, *b) })
	}
}

// background runs f on its own goroutine unless the manager is shutting
// down; Shutdown waits for it.
func (m *Manager) background(f func(context.Context)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return
	}
	m.bg.Go(func() { f(m.bgCtx) })
}

// turnUsage is called for a turn.ended about to be recorded: a metered
// session's turn is what the proxy counted, whatever the agent said.
// Caller holds s.mu.
func (s *Session) turnUsage(data schema.TurnEventData) schema.TurnEventData {
	if s.metered {
		u := s.usage.live
		u.Source = schema.UsageFromProxy
		data.Usage = &u
	}
	return data
}

// trackUsage keeps the counts in step with a committed event and reports
// a budget newly reached. Caller holds s.mu.
func (s *Session) trackUsage(d draft) *Breach {
	switch d.typ {
	case schema.EventTurnStarted:
		s.usage.turnOpen = true
	case schema.EventTurnEnded:
		data := deref(d.data).(schema.TurnEventData)
		var turn schema.Usage
		if data.Usage != nil {
			turn = *data.Usage
		}
		// The proxy's share of the turn is in the daemon's count already.
		s.m.daemonUsed.Add(turn.TotalTokens - s.usage.live.TotalTokens)
		s.usage.total = s.usage.total.Plus(turn)
		s.usage.live = schema.Usage{}
		s.usage.turnOpen = false
		return s.checkBudget()
	}
	return nil
}

// checkBudget returns the budget the session has just reached, once.
// Caller holds s.mu.
func (s *Session) checkBudget() *Breach {
	if s.usage.breach != nil {
		return nil
	}
	used := s.usage.total.TotalTokens + s.usage.live.TotalTokens
	var b *Breach
	if s.info.Budget != nil && s.info.Budget.MaxTokens > 0 && used >= s.info.Budget.MaxTokens {
		b = &Breach{Cap: CapSession, MaxTokens: s.info.Budget.MaxTokens, UsedTokens: used,
			Message: fmt.Sprintf("the session used %d tokens of its budget of %d", used, s.info.Budget.MaxTokens)}
	} else if b = s.m.daemonBreach(); b == nil {
		return nil
	}
	s.usage.breach = b
	return b
}

func (m *Manager) daemonBreach() *Breach {
	used := m.daemonUsed.Load()
	if m.daemonMax <= 0 || used < m.daemonMax {
		return nil
	}
	return &Breach{Cap: CapDaemon, MaxTokens: m.daemonMax, UsedTokens: used,
		Message: fmt.Sprintf("all sessions used %d tokens of the daemon's budget of %d", used, m.daemonMax)}
}

// enforce says why the session stops, as an error event, and interrupts
// its running turn.
func (s *Session) enforce(ctx context.Context, b Breach) {
	details, _ := json.Marshal(b)
	ev := adapters.Event{Type: schema.EventError, Data: schema.ErrorData{
		Message: "budget exceeded: " + b.Message, Code: schema.Ptr(string(apierr.BudgetExceeded)), Details: details}}
	if err := s.recordDaemon(ctx, ev); err != nil {
		return // the session ended meanwhile: nothing left to stop
	}
	s.mu.Lock()
	running := s.usage.turnOpen
	s.mu.Unlock()
	if !running {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Interrupt(ctx); err != nil {
		s.m.logger.Warn("interrupting a turn over budget", slog.String("session", s.id), slog.Any("err", err))
	}
}

// budgetError refuses a message to a session over budget. Caller holds s.mu.
func (s *Session) budgetError() error {
	if b := s.usage.breach; b != nil {
		return b.apiError(s.id)
	}
	if b := s.m.daemonBreach(); b != nil {
		return b.apiError(s.id)
	}
	return nil
}

// SessionUsage is a session's token usage, derived from its event log (each
// turn.ended's usage) plus the running turn as far as the proxy counted it.
type SessionUsage struct {
	SessionID string             `json:"sessionId"`
	Source    schema.UsageSource `json:"source" doc:"proxy when the model proxy counted the session's model calls, else agent"`
	Total     schema.Usage       `json:"total" doc:"Every turn, the running one included"`
	Turns     []TurnUsage        `json:"turns" nullable:"false" doc:"Each ended turn that reported usage, oldest first"`
	Current   *schema.Usage      `json:"current,omitempty" doc:"The running turn so far, when its model calls are counted as they end (the model proxy, or Claude Code's per-call reports)"`
	Budget    BudgetState        `json:"budget"`
}

// TurnUsage is one ended turn's usage.
type TurnUsage struct {
	Sequence uint64       `json:"sequence" doc:"The turn.ended event's sequence"`
	TurnID   *string      `json:"turnId,omitempty"`
	Usage    schema.Usage `json:"usage"`
}

// BudgetState is how a session stands against its budgets.
type BudgetState struct {
	MaxTokens        int64   `json:"maxTokens,omitempty" doc:"The session's cap, if any"`
	DaemonMaxTokens  int64   `json:"daemonMaxTokens,omitempty" doc:"The daemon-wide cap (--budget-max-tokens), if any"`
	DaemonUsedTokens int64   `json:"daemonUsedTokens" doc:"Tokens of every session since the daemon started"`
	Exceeded         *Breach `json:"exceeded,omitempty" doc:"The budget the session reached, if it did"`
}

// usagePage is how many events a usage derivation reads at a time.
const usagePage = 1000

// Usage derives the session's usage from its event log.
func (m *Manager) Usage(ctx context.Context, id string) (SessionUsage, error) {
	s, err := m.Get(id)
	if err != nil {
		return SessionUsage{}, err
	}
	out := SessionUsage{SessionID: id, Source: schema.UsageFromAgent, Turns: []TurnUsage{}}
	for after := uint64(0); ; {
		recs, err := m.log.Read(ctx, id, after, usagePage)
		if err != nil {
			return SessionUsage{}, fmt.Errorf("read usage of %s: %w", id, err)
		}
		for _, r := range recs {
			if err := out.add(schema.EventType(r.Type), r.Seq, r.Body); err != nil {
				return SessionUsage{}, fmt.Errorf("usage of %s, event %d: %w", id, r.Seq, err)
			}
		}
		if len(recs) < usagePage {
			break
		}
		after = recs[len(recs)-1].Seq
	}
	s.mu.Lock()
	if s.metered {
		out.Source = schema.UsageFromProxy
	}
	if s.usage.turnOpen && s.usage.live.Source != "" {
		live := s.usage.live
		out.Current = &live
		out.Total = out.Total.Plus(live)
	}
	if s.info.Budget != nil {
		out.Budget.MaxTokens = s.info.Budget.MaxTokens
	}
	if out.Budget.Exceeded == nil {
		out.Budget.Exceeded = s.usage.breach
	}
	s.mu.Unlock()
	out.Budget.DaemonMaxTokens, out.Budget.DaemonUsedTokens = m.daemonMax, m.daemonUsed.Load()
	out.Total.Source = out.Source
	return out, nil
}

// add folds one stored event into the usage.
func (u *SessionUsage) add(typ schema.EventType, seq uint64, body []byte) error {
	if typ != schema.EventTurnEnded && typ != schema.EventError {
		return nil
	}
	var ev struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return err
	}
	if typ == schema.EventError {
		var e schema.ErrorData
		if err := json.Unmarshal(ev.Data, &e); err != nil {
			return err
		}
		if e.Code != nil && *e.Code == string(apierr.BudgetExceeded) {
			var b Breach
			if json.Unmarshal(e.Details, &b) == nil {
				u.Budget.Exceeded = &b
			}
		}
		return nil
	}
	var t schema.TurnEventData
	if err := json.Unmarshal(ev.Data, &t); err != nil {
		return err
	}
	if t.Usage == nil {
		return nil
	}
	u.Turns = append(u.Turns, TurnUsage{Sequence: seq, TurnID: t.TurnID, Usage: *t.Usage})
	u.Total = u.Total.Plus(*t.Usage)
	u.Source = t.Usage.Source
	return nil
}
