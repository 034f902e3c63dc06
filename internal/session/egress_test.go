package session

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

// fakeEgress stands in for the egress proxy: it keeps what the engine
// opened and closed, and hands tests each session's recorder.
type fakeEgress struct {
	openErr error

	mu      sync.Mutex
	allow   map[string][]string
	records map[string]func(context.Context, schema.NetworkConnectionData)
	closed  []string
}

func (e *fakeEgress) Open(_, id string, allow []string, record func(context.Context, schema.NetworkConnectionData)) ([]string, error) {
	if e.openErr != nil {
		return nil, e.openErr
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.allow[id], e.records[id] = allow, record
	return []string{"HTTPS_PROXY=http://agentd:tok-" + id + "@127.0.0.1:1"}, nil
}

func (e *fakeEgress) Close(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = append(e.closed, id)
}

func (e *fakeEgress) recorder(id string) func(context.Context, schema.NetworkConnectionData) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.records[id]
}

func (e *fakeEgress) closedIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.closed)
}

// envAgent is a scriptAgent that keeps the environment each session was
// started with.
type envAgent struct {
	*scriptAgent
	mu  sync.Mutex
	env map[string][]string
}

func (a *envAgent) Start(ctx context.Context, req adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
	a.mu.Lock()
	a.env[req.SessionID] = req.Env
	a.mu.Unlock()
	return a.scriptAgent.Start(ctx, req, emit)
}

func newEgressFixture(t *testing.T) (*fixture, *fakeEgress, *envAgent) {
	t.Helper()
	f := newFixture(t)
	eg := &fakeEgress{allow: map[string][]string{}, records: map[string]func(context.Context, schema.NetworkConnectionData){}}
	agent := &envAgent{scriptAgent: f.agent, env: map[string][]string{}}
	m, err := New(f.ctx, f.log, []adapters.Agent{agent}, WithEgress(eg))
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f, eg, agent
}

func TestEgressSession(t *testing.T) {
	f, eg, agent := newEgressFixture(t)
	policy := &NetworkPolicy{Allow: []string{"api.example.com"}}
	info, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script", Network: policy})
	if err != nil {
		t.Fatal(err)
	}
	if info.Network == nil || !slices.Equal(info.Network.Allow, policy.Allow) {
		t.Errorf("info.Network = %+v", info.Network)
	}
	if got := eg.allow["s"]; !slices.Equal(got, policy.Allow) {
		t.Errorf("opened with %q", got)
	}
	if env := agent.env["s"]; !slices.Contains(env, "HTTPS_PROXY=http://agentd:tok-s@127.0.0.1:1") {
		t.Errorf("agent env %q", env)
	}
	denied := schema.NetworkConnectionData{Host: "evil.example", Port: 443, Method: "CONNECT", Reason: "host not allowed"}
	eg.recorder("s")(f.ctx, denied)
	evs := f.events("s")
	if got := types(evs); !slices.Equal(got, []string{"session.started(d)", "network.connection(d)"}) {
		t.Fatalf("events = %v", got)
	}
	var data schema.NetworkConnectionData
	mustDecode(t, evs[1].Data, &data)
	if data != denied {
		t.Errorf("recorded %+v", data)
	}

	s, _ := f.m.Get("s")
	if err := s.Terminate(f.ctx); err != nil {
		t.Fatal(err)
	}
	if got := eg.closedIDs(); !slices.Equal(got, []string{"s"}) {
		t.Errorf("closed %q, want [s]", got)
	}
	// A connection reported after the end is not recorded.
	eg.recorder("s")(f.ctx, denied)
	if got := types(f.events("s")); got[len(got)-1] != "session.ended(d)" {
		t.Errorf("events after end = %v", got)
	}
}

func TestEgressCreateErrors(t *testing.T) {
	t.Run("network asked of a daemon without egress", func(t *testing.T) {
		f := newFixture(t)
		_, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script", Network: &NetworkPolicy{Allow: []string{"a.test"}}})
		if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("allowlist the proxy refuses", func(t *testing.T) {
		f, eg, _ := newEgressFixture(t)
		eg.openErr = errors.New(`allow entry "a b": want a host name`)
		_, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script", Network: &NetworkPolicy{Allow: []string{"a b"}}})
		if e, ok := apierr.As(err); !ok || e.Kind != apierr.InvalidRequest || e.Detail != `invalid request: network: allow entry "a b": want a host name` {
			t.Fatalf("err = %v", err)
		}
		if _, err := f.m.Get("s"); err == nil {
			t.Fatal("refused session is listed")
		}
	})
	t.Run("agent fails to start", func(t *testing.T) {
		f, eg, _ := newEgressFixture(t)
		f.agent.startErr = adapters.ErrNotInstalled
		if _, err := f.m.Create(f.ctx, "s", CreateRequest{Agent: "script"}); err == nil {
			t.Fatal("create succeeded")
		}
		if got := eg.closedIDs(); !slices.Equal(got, []string{"s"}) {
			t.Errorf("closed %q, want [s]", got)
		}
		// What the proxy reports for the dead session returns at once.
		eg.recorder("s")(f.ctx, schema.NetworkConnectionData{Host: "a.test", Port: 443, Method: "CONNECT"})
	})
}
