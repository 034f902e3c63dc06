package session

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/schema"
)

// usageRig is an engine over the mock agent, with the options a test asks for.
type usageRig struct {
	t   *testing.T
	ctx context.Context
	dir string
	log *eventlog.Log
	m   *Manager
}

func newUsageRig(t *testing.T, pause time.Duration, opts ...Option) *usageRig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	r := &usageRig{t: t, ctx: ctx, dir: t.TempDir()}
	r.open(pause, opts...)
	return r
}

func (r *usageRig) open(pause time.Duration, opts ...Option) {
	r.t.Helper()
	log, err := eventlog.Open(r.ctx, r.dir, eventlog.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	m, err := New(r.ctx, log, []adapters.Agent{mock.New(mock.WithPause(pause))}, opts...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.log, r.m = log, m
	r.t.Cleanup(r.close)
}

func (r *usageRig) close() {
	r.m.Shutdown(r.ctx)
	r.log.Close()
}

func (r *usageRig) create(id string, budget *Budget) *Session {
	r.t.Helper()
	if _, err := r.m.Create(r.ctx, id, CreateRequest{Agent: "mock", Budget: budget}); err != nil {
		r.t.Fatal(err)
	}
	s, err := r.m.Get(id)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// waitFor waits until the session has an event that match accepts, and
// returns it.
func (r *usageRig) waitFor(id string, match func(schema.UniversalEvent) bool) schema.UniversalEvent {
	r.t.Helper()
	var after uint64
	for {
		changed := r.log.Changed(id)
		recs, err := r.log.Read(r.ctx, id, after, 0)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, rec := range recs {
			var ev schema.UniversalEvent
			if err := json.Unmarshal(rec.Body, &ev); err != nil {
				r.t.Fatal(err)
			}
			if match(ev) {
				return ev
			}
			after = rec.Seq
		}
		select {
		case <-changed:
		case <-r.ctx.Done():
			r.t.Fatalf("session %s: no matching event before the deadline", id)
		}
	}
}

// interruptedTurnEnd waits for the session's turn.ended and checks that it
// says the turn was interrupted.
func (r *usageRig) interruptedTurnEnd(id string) schema.TurnEventData {
	r.t.Helper()
	var td schema.TurnEventData
	mustDecode(r.t, r.waitFor(id, isType(schema.EventTurnEnded)).Data, &td)
	if string(td.Metadata) != `{"status":"interrupted"}` {
		r.t.Errorf("turn.ended metadata = %s, want interrupted", td.Metadata)
	}
	return td
}

func isType(t schema.EventType) func(schema.UniversalEvent) bool {
	return func(ev schema.UniversalEvent) bool { return ev.Type == t }
}

func budgetErrorEvent(ev schema.UniversalEvent) bool {
	if ev.Type != schema.EventError {
		return false
	}
	var e schema.ErrorData
	_ = json.Unmarshal(ev.Data, &e)
	return e.Code != nil && *e.Code == string(apierr.BudgetExceeded)
}

// breachOf reads the breach a budget error event carries.
func breachOf(t *testing.T, ev schema.UniversalEvent) Breach {
	t.Helper()
	var e schema.ErrorData
	mustDecode(t, ev.Data, &e)
	var b Breach
	mustDecode(t, schema.EventData(e.Details), &b)
	return b
}

func wantBudgetRefusal(t *testing.T, err error, cap Cap) {
	t.Helper()
	e, ok := apierr.As(err)
	if !ok || e.Kind != apierr.BudgetExceeded || e.Kind.Status() != 409 {
		t.Fatalf("send over budget: %v, want a 409 budget_exceeded", err)
	}
	if e.Details["cap"] != cap {
		t.Errorf("refusal names cap %v, want %s", e.Details["cap"], cap)
	}
}

// A turn whose reported usage reaches the session's budget: the error says
// why, the next message is refused, and the usage survives a restart.
func TestBudgetReachedAtTurnEnd(t *testing.T) {
	r := newUsageRig(t, 0)
	s := r.create("s1", &Budget{MaxTokens: 10})
	msg := adapters.Message{Text: "echo one two three four five"} // the mock: 6 in, 5 out
	if err := s.Send(r.ctx, msg); err != nil {
		t.Fatal(err)
	}
	r.waitFor("s1", isType(schema.EventTurnEnded))
	ev := r.waitFor("s1", budgetErrorEvent)
	if !ev.Synthetic {
		t.Error("the budget error is the daemon's own event")
	}
	if b := breachOf(t, ev); b.Cap != CapSession || b.MaxTokens != 10 || b.UsedTokens != 11 {
		t.Errorf("breach = %+v, want the session cap of 10 at 11 used", b)
	}
	wantBudgetRefusal(t, s.Send(r.ctx, msg), CapSession)

	for _, phase := range []string{"running", "after restart"} {
		if phase == "after restart" {
			r.close()
			r.open(0)
		}
		u, err := r.m.Usage(r.ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Turns) != 1 || u.Total.TotalTokens != 11 || u.Total.InputTokens != 6 || u.Source != schema.UsageFromAgent {
			t.Errorf("%s: usage = %+v", phase, u)
		}
		if u.Budget.MaxTokens != 10 || u.Budget.Exceeded == nil || u.Budget.Exceeded.Cap != CapSession {
			t.Errorf("%s: budget = %+v", phase, u.Budget)
		}
	}
}

// The model proxy's count is authoritative and arrives per model call: a
// call that reaches the budget interrupts the running turn, whose
// turn.ended carries the proxy's count.
func TestBudgetInterruptsRunningTurn(t *testing.T) {
	r := newUsageRig(t, time.Hour, // the mock's turn waits between events until interrupted
		WithMetered(func(agent string) bool { return agent == "mock" }))
	s := r.create("s1", &Budget{MaxTokens: 100})
	if err := s.Send(r.ctx, adapters.Message{Text: "help"}); err != nil {
		t.Fatal(err)
	}
	r.waitFor("s1", isType(schema.EventItemStarted))
	r.m.ObserveUsage("s1", schema.Usage{InputTokens: 40, OutputTokens: 20})
	u, err := r.m.Usage(r.ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Current == nil || u.Current.TotalTokens != 60 || u.Total.TotalTokens != 60 || u.Source != schema.UsageFromProxy {
		t.Errorf("mid-turn usage = %+v", u)
	}
	r.m.ObserveUsage("s1", schema.Usage{InputTokens: 30, CacheReadTokens: 10, OutputTokens: 5})

	r.waitFor("s1", budgetErrorEvent)
	td := r.interruptedTurnEnd("s1")
	if td.Usage == nil || td.Usage.TotalTokens != 105 || td.Usage.Source != schema.UsageFromProxy {
		t.Errorf("turn.ended usage = %+v, want the proxy's 105", td.Usage)
	}
	wantBudgetRefusal(t, s.Send(r.ctx, adapters.Message{Text: "help"}), CapSession)
	u, err = r.m.Usage(r.ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Current != nil || len(u.Turns) != 1 || u.Total.TotalTokens != 105 || u.Budget.Exceeded == nil {
		t.Errorf("usage after the turn = %+v", u)
	}
}

// The daemon's cap counts every session: the session that reaches it is
// told, and every other session's next message is refused.
func TestDaemonBudget(t *testing.T) {
	r := newUsageRig(t, 0, WithDaemonBudget(20))
	a, b := r.create("a", nil), r.create("b", nil)
	msg := adapters.Message{Text: "echo one two three four five"} // 11 tokens
	if err := a.Send(r.ctx, msg); err != nil {
		t.Fatal(err)
	}
	r.waitFor("a", isType(schema.EventTurnEnded))
	if err := b.Send(r.ctx, msg); err != nil {
		t.Fatalf("under the daemon's cap: %v", err)
	}
	if br := breachOf(t, r.waitFor("b", budgetErrorEvent)); br.Cap != CapDaemon || br.UsedTokens != 22 || br.MaxTokens != 20 {
		t.Errorf("breach = %+v", br)
	}
	wantBudgetRefusal(t, a.Send(r.ctx, msg), CapDaemon)
	u, err := r.m.Usage(r.ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if u.Budget.DaemonMaxTokens != 20 || u.Budget.DaemonUsedTokens != 22 {
		t.Errorf("budget = %+v", u.Budget)
	}
}

func TestBudgetValidation(t *testing.T) {
	r := newUsageRig(t, 0)
	_, err := r.m.Create(r.ctx, "s1", CreateRequest{Agent: "mock", Budget: &Budget{MaxTokens: -1}})
	if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
		t.Fatalf("negative budget: %v, want invalid_request", err)
	}
}

// Without the proxy, an agent's own per-call reports count toward the
// running turn; with it, they are ignored, the proxy's count standing.
func TestAgentReportsPerCall(t *testing.T) {
	for _, metered := range []bool{false, true} {
		t.Run(map[bool]string{false: "counted", true: "ignored when metered"}[metered], func(t *testing.T) {
			r := newUsageRig(t, time.Hour, WithMetered(func(string) bool { return metered }))
			s := r.create("s1", &Budget{MaxTokens: 100})
			if err := s.Send(r.ctx, adapters.Message{Text: "help"}); err != nil {
				t.Fatal(err)
			}
			r.waitFor("s1", isType(schema.EventItemStarted))
			s.ReportUsage(r.ctx, schema.Usage{InputTokens: 50, OutputTokens: 10})
			u, err := r.m.Usage(r.ctx, "s1")
			if err != nil {
				t.Fatal(err)
			}
			if metered {
				if u.Current != nil || u.Total.TotalTokens != 0 {
					t.Errorf("a metered session counted the agent's report: %+v", u)
				}
				return
			}
			if u.Current == nil || u.Current.TotalTokens != 60 || u.Current.Source != schema.UsageFromAgent {
				t.Errorf("current = %+v, want the agent's 60", u.Current)
			}
			s.ReportUsage(r.ctx, schema.Usage{InputTokens: 30, OutputTokens: 10})
			if b := breachOf(t, r.waitFor("s1", budgetErrorEvent)); b.UsedTokens != 100 {
				t.Errorf("breach = %+v", b)
			}
			r.interruptedTurnEnd("s1")
			wantBudgetRefusal(t, s.Send(r.ctx, adapters.Message{Text: "help"}), CapSession)
		})
	}
}
