package adaptertest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/eventlog"
	engine "github.com/agentd-dev/agentd/internal/session"
)

// Engine is the real engine over an event log in the test's temporary
// directory, for tests that drive an agent through it. Waits are on the
// log (Changed), bounded by a deadline.
type Engine struct {
	Log *eventlog.Log
	M   *engine.Manager
	// Agent and Directory fill in a CreateRequest that names none.
	Agent, Directory string

	t   testing.TB
	ctx context.Context
}

// NewEngine runs the engine with agents until the test ends.
func NewEngine(t testing.TB, ctx context.Context, agents []adapters.Agent, agent, dir string) *Engine {
	t.Helper()
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.New(ctx, log, agents)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m.Shutdown(ctx)
		log.Close()
	})
	return &Engine{Log: log, M: m, Agent: agent, Directory: dir, t: t, ctx: ctx}
}

// Create creates session id.
func (e *Engine) Create(id string, req engine.CreateRequest) *engine.Session {
	e.t.Helper()
	if req.Agent == "" {
		req.Agent = e.Agent
	}
	if req.Directory == "" {
		req.Directory = e.Directory
	}
	if _, err := e.M.Create(e.ctx, id, req); err != nil {
		e.t.Fatal(err)
	}
	s, err := e.M.Get(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// Send sends text to s.
func (e *Engine) Send(s *engine.Session, text string) {
	e.t.Helper()
	if err := s.Send(e.ctx, adapters.Message{Text: text}); err != nil {
		e.t.Fatalf("send %q: %v", text, err)
	}
}

// Records returns the events session id stored so far.
func (e *Engine) Records(id string) []eventlog.Record {
	e.t.Helper()
	recs, err := e.Log.Read(e.ctx, id, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// WaitRecord returns the first event of session id after sequence from
// that match accepts, waiting at most timeout for it to be stored.
func (e *Engine) WaitRecord(id string, from uint64, timeout time.Duration, what string, match func(eventlog.Record) bool) eventlog.Record {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, timeout)
	defer cancel()
	for {
		changed := e.Log.Changed(id)
		recs, err := e.Log.Read(ctx, id, from, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, r := range recs {
			if match(r) {
				return r
			}
			from = r.Seq
		}
		select {
		case <-changed:
		case <-ctx.Done():
			e.t.Fatalf("no %s after %v; events:\n%s", what, timeout, e.Dump(id))
		}
	}
}

// Dump is every stored event of session id, one a line.
func (e *Engine) Dump(id string) string {
	var b strings.Builder
	recs, _ := e.Log.Read(context.Background(), id, 0, 0)
	for _, r := range recs {
		b.Write(r.Body)
		b.WriteByte('\n')
	}
	return b.String()
}
