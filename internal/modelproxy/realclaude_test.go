package modelproxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// The proof with the real claude binary: it is given only a session token
// and the proxy's URL, the proxy forwards to the fake model with the real
// key. Skipped under -short and when the binary is missing (see
// adapters/claude for installing it).

const waitLong = 90 * time.Second

// envScenario makes the agent print its environment with the bash tool.
var envScenario = fakemodel.Scenario{Name: "env_dump", Turns: []fakemodel.Turn{
	{fakemodel.Shell("env", "Print the environment")},
	{fakemodel.Text(fakemodel.StepDoneText)},
}}

// statusCounter counts the proxy's answers by status.
type statusCounter struct {
	next http.Handler
	n401 atomic.Int64
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) { w.status = s; w.ResponseWriter.WriteHeader(s) }
func (w *statusWriter) Flush()            { w.ResponseWriter.(http.Flusher).Flush() }

func (c *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	c.next.ServeHTTP(sw, r)
	if sw.status == http.StatusUnauthorized {
		c.n401.Add(1)
	}
}

func TestRealClaudeNeverHoldsTheKey(t *testing.T) {
	if testing.Short() {
		t.Skip("real claude test: skipped under -short")
	}
	bin, err := claude.DefaultResolver(context.Background())
	if err != nil {
		t.Skipf("real claude test: binary not found (%v); set AGENTD_CLAUDE_BIN or npm install it under ~/.cache/agentd/npm", err)
	}
	// The daemon's own environment holds the real key, as it would in
	// production: the agent must still not get it.
	t.Setenv("ANTHROPIC_API_KEY", anthropicKey)
	t.Setenv("IS_SANDBOX", "1") // claude skips permissions as root only in a sandbox
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	up := &upstream{fake: fakemodel.New(fakemodel.WithScenarios(envScenario))}
	t.Cleanup(up.fake.Close)
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	proxy, err := New(Config{Upstreams: map[Provider]Upstream{Anthropic: {URL: upSrv.URL, Key: anthropicKey}}})
	if err != nil {
		t.Fatal(err)
	}
	counter := &statusCounter{next: proxy}
	proxySrv := httptest.NewServer(counter)
	t.Cleanup(proxySrv.Close)

	const id = "mp-claude"
	token := proxy.Issue(id)
	agent := claude.New(
		claude.WithResolver(func(context.Context) (string, error) { return bin, nil }),
		claude.WithHome(t.TempDir()), claude.WithGrace(3*time.Second),
		claude.WithEnv(ClaudeEnv(proxySrv.URL, token)...),
		claude.WithEnv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"))
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.New(ctx, log, []adapters.Agent{agent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		m.Shutdown(sctx)
		log.Close()
	})
	if _, err := m.Create(ctx, id, engine.CreateRequest{Agent: "claude", PermissionMode: "bypass", Directory: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	s, err := m.Get(id)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Send(ctx, adapters.Message{Text: "SCN:env_dump show me your environment"}); err != nil {
		t.Fatal(err)
	}
	ended := waitTurnEnded(t, ctx, log, id, 0)

	// (a) the upstream got the real key on every call, never the token.
	seen := up.headers()
	if len(seen) == 0 {
		t.Fatal("upstream saw no calls")
	}
	for _, h := range seen {
		if h.Get("X-Api-Key") != anthropicKey {
			t.Errorf("upstream x-api-key = %q, want the real key", h.Get("X-Api-Key"))
		}
		assertNoToken(t, h, token)
	}
	// (b) the agent's environment, as its bash tool printed it, holds the
	// token and not the real key.
	results := up.fake.ToolResults()
	if len(results) != 1 {
		t.Fatalf("got %d tool results, want the env output", len(results))
	}
	env := results[0].Content
	if !strings.Contains(env, "ANTHROPIC_API_KEY="+token) {
		t.Errorf("the agent's env lacks its session token:\n%s", env)
	}
	if strings.Contains(env, anthropicKey) {
		t.Errorf("the agent's env holds the real key:\n%s", env)
	}
	usage := proxy.Usage(id)
	if usage.Requests == 0 || usage.OutputTokens == 0 {
		t.Errorf("usage not observed: %+v", usage)
	}

	// (c) once revoked, the agent's next call is refused and upstream
	// hears nothing of it.
	proxy.Revoke(id)
	before := len(up.headers())
	if err := s.Send(ctx, adapters.Message{Text: "SCN:text again"}); err != nil {
		t.Fatal(err)
	}
	waitTurnEnded(t, ctx, log, id, ended)
	if n := counter.n401.Load(); n == 0 {
		t.Error("the proxy refused nothing after Revoke")
	}
	t.Logf("upstream calls with the real key: %d; refused after Revoke: %d; usage before Revoke: %+v", before, counter.n401.Load(), usage)
	if after := len(up.headers()); after != before {
		t.Errorf("upstream saw %d calls after Revoke", after-before)
	}
}

// waitTurnEnded waits for the first turn.ended after sequence from and
// returns its sequence.
func waitTurnEnded(t *testing.T, ctx context.Context, log *eventlog.Log, id string, from uint64) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, waitLong)
	defer cancel()
	for {
		changed := log.Changed(id)
		recs, err := log.Read(ctx, id, from, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			var e schema.UniversalEvent
			if err := json.Unmarshal(r.Body, &e); err != nil {
				t.Fatal(err)
			}
			switch e.Type {
			case schema.EventTurnEnded:
				return r.Seq
			case schema.EventSessionEnded:
				t.Fatalf("session ended before the turn: %s", r.Body)
			}
			from = r.Seq
		}
		select {
		case <-changed:
		case <-ctx.Done():
			var b strings.Builder
			all, _ := log.Read(context.Background(), id, 0, 0)
			for _, r := range all {
				b.Write(r.Body)
				b.WriteByte('\n')
			}
			t.Fatalf("no turn.ended after %v; events:\n%s", waitLong, b.String())
		}
	}
}
