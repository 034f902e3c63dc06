package modelproxy

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// budgetScenario runs two commands, then stalls: the turn never ends on
// its own, so only the budget can end it.
var budgetScenario = fakemodel.Scenario{Name: "budget_burn", Turns: []fakemodel.Turn{
	{fakemodel.Shell("echo one", "First step")},
	{fakemodel.Shell("echo two", "Second step")},
	{fakemodel.Stall()},
}}

// The proof with the real Claude Code binary on the scripted model: each
// model call counts 175 tokens (as Anthropic reports the fake's usage), the
// second call takes the session past its budget of 300, and the engine
// interrupts the turn mid-way, says why and refuses the next message. The
// count is the proxy's when Claude goes through it, else Claude's own
// per-call reports.
func TestRealClaudeBudgetInterruptsTurn(t *testing.T) {
	for _, viaProxy := range []bool{true, false} {
		name := map[bool]string{true: "proxy", false: "agent"}[viaProxy]
		t.Run(name, func(t *testing.T) { proveBudget(t, viaProxy) })
	}
}

func proveBudget(t *testing.T, viaProxy bool) {
	if testing.Short() {
		t.Skip("real claude test: skipped under -short")
	}
	bin, err := claude.DefaultResolver(context.Background())
	if err != nil {
		t.Skipf("real claude test: binary not found (%v); npm install it under ~/.cache/agentd/npm (see .ci/agents.sh)", err)
	}
	t.Setenv("ANTHROPIC_API_KEY", anthropicKey)
	t.Setenv("IS_SANDBOX", "1") // claude skips permissions as root only in a sandbox
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	up := &upstream{fake: fakemodel.New(fakemodel.WithScenarios(budgetScenario))}
	t.Cleanup(up.fake.Close)
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	var m atomic.Pointer[engine.Manager] // the proxy reports to the engine made after it
	proxy, err := New(Config{
		Upstreams: map[Provider]Upstream{Anthropic: {URL: upSrv.URL, Key: anthropicKey}},
		OnUsage: func(id string, u Usage) {
			if e := m.Load(); e != nil {
				e.ObserveUsage(id, u.Schema())
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	proxySrv := httptest.NewServer(proxy)
	t.Cleanup(proxySrv.Close)

	const id = "budget-claude"
	baseURL, key, source := upSrv.URL, anthropicKey, schema.UsageFromAgent
	if viaProxy {
		baseURL, key, source = proxySrv.URL, proxy.Issue(id), schema.UsageFromProxy
	}
	log, e := newEngine(t, ctx, realAgentNamed(t, "claude").build(t, bin, baseURL, key),
		engine.WithMetered(func(agent string) bool { return viaProxy && agent == "claude" }))
	m.Store(e)
	s := createSession(t, ctx, e, id, engine.CreateRequest{Agent: "claude", Budget: &engine.Budget{MaxTokens: 300}})
	if err := s.Send(ctx, adapters.Message{Text: "SCN:budget_burn run the steps"}); err != nil {
		t.Fatal(err)
	}
	endSeq := waitTurnEnded(t, ctx, log, id, 0)

	recs, err := log.Read(ctx, id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var breach *engine.Breach
	var ended schema.TurnEventData
	for _, r := range recs {
		var ev schema.UniversalEvent
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		switch {
		case ev.Type == schema.EventError && r.Seq < endSeq:
			var d schema.ErrorData
			_ = json.Unmarshal(ev.Data, &d)
			if d.Code != nil && *d.Code == string(apierr.BudgetExceeded) {
				breach = new(engine.Breach)
				_ = json.Unmarshal(d.Details, breach)
			}
		case r.Seq == endSeq:
			if err := json.Unmarshal(ev.Data, &ended); err != nil {
				t.Fatal(err)
			}
		}
	}
	if breach == nil || breach.Cap != engine.CapSession || breach.MaxTokens != 300 || breach.UsedTokens < 300 {
		t.Fatalf("no session budget error before the turn's end: %+v", breach)
	}
	var meta struct{ Status string }
	_ = json.Unmarshal(ended.Metadata, &meta)
	if meta.Status != "interrupted" {
		t.Errorf("turn.ended status %q, want interrupted (metadata %s)", meta.Status, ended.Metadata)
	}
	if viaProxy && (ended.Usage == nil || ended.Usage.Source != schema.UsageFromProxy || ended.Usage.TotalTokens < 300) {
		t.Errorf("turn.ended usage = %+v, want the proxy's count past the budget", ended.Usage)
	}
	if results := up.fake.ToolResults(); len(results) == 0 {
		t.Error("the turn was cut before any tool ran: want it interrupted mid-way")
	}
	err = s.Send(ctx, adapters.Message{Text: "SCN:budget_burn again"})
	if ae, ok := apierr.As(err); !ok || ae.Kind != apierr.BudgetExceeded {
		t.Errorf("message after the budget: %v, want budget_exceeded", err)
	}
	u, err := e.Usage(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("usage: source %s, %d turn(s), total %+v; budget %+v; upstream calls %d", u.Source, len(u.Turns), u.Total, u.Budget, len(up.headers()))
	if u.Source != source || u.Budget.Exceeded == nil {
		t.Errorf("usage = %+v", u)
	}
}

func realAgentNamed(t *testing.T, name string) realAgent {
	t.Helper()
	for _, ra := range realAgents {
		if ra.name == name {
			return ra
		}
	}
	t.Fatalf("no real agent %s", name)
	return realAgent{}
}
