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
	"github.com/agentd-dev/agentd/adapters/codex"
	"github.com/agentd-dev/agentd/adapters/opencode"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// The proof with the real agent binaries: each is given only a session
// token and the proxy's URL, the proxy forwards to the fake model with the
// real key. Skipped under -short and when a binary is missing.

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

// realAgent is one agent under proof: how to make it with only a session
// token, and what its calls and its environment must show.
type realAgent struct {
	name     string
	find     func(context.Context) (string, error)
	provider Provider
	key      string // the real key, in the daemon's environment as keyVar
	keyVar   string
	header   string // where the upstream must find the real key …
	want     string // … and as what
	tokenVar string // the agent's variable holding the token
	build    func(t *testing.T, bin, proxyURL, token string) adapters.Agent
}

var realAgents = []realAgent{
	{
		// One OpenCode server serves every session, so it holds one token
		// (the daemon's), here the session's for the proof.
		name: "opencode", find: opencode.DefaultResolver, provider: Anthropic,
		key: anthropicKey, keyVar: "ANTHROPIC_API_KEY", header: "X-Api-Key", want: anthropicKey, tokenVar: "ANTHROPIC_API_KEY",
		build: func(t *testing.T, bin, proxyURL, token string) adapters.Agent {
			a := opencode.New(
				opencode.WithResolver(func(context.Context) (string, error) { return bin, nil }),
				opencode.WithStateDir(t.TempDir()), opencode.WithGrace(3*time.Second),
				opencode.WithBaseURL(OpenCodeProviders[Anthropic], proxyURL+"/v1"),
				opencode.WithEnv(OpenCodeEnv(token, Anthropic)...))
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_ = a.Close(ctx)
			})
			return a
		},
	},
	{
		name: "claude", find: claude.DefaultResolver, provider: Anthropic,
		key: anthropicKey, keyVar: "ANTHROPIC_API_KEY", header: "X-Api-Key", want: anthropicKey, tokenVar: "ANTHROPIC_API_KEY",
		build: func(t *testing.T, bin, proxyURL, token string) adapters.Agent {
			return claude.New(
				claude.WithResolver(func(context.Context) (string, error) { return bin, nil }),
				claude.WithHome(t.TempDir()), claude.WithGrace(3*time.Second),
				claude.WithEnv(ClaudeEnv(proxyURL, token)...),
				claude.WithEnv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"))
		},
	},
	{
		name: "codex", find: codex.DefaultResolver, provider: OpenAI,
		key: openAIKey, keyVar: "OPENAI_API_KEY", header: "Authorization", want: "Bearer " + openAIKey, tokenVar: CodexTokenVar,
		build: func(t *testing.T, bin, proxyURL, token string) adapters.Agent {
			return codex.New(
				codex.WithResolver(func(context.Context) (string, error) { return bin, nil }),
				codex.WithHome(t.TempDir()), codex.WithGrace(3*time.Second),
				codex.WithProvider(codex.Provider{ID: "agentd", BaseURL: proxyURL + "/v1", EnvKey: CodexTokenVar}),
				codex.WithConfig(`model="gpt-5.5"`, "model_providers.agentd.request_max_retries=0", "model_providers.agentd.stream_max_retries=0"),
				codex.WithEnv(CodexEnv(token)...))
		},
	},
}

func TestRealAgentNeverHoldsTheKey(t *testing.T) {
	for _, ra := range realAgents {
		t.Run(ra.name, func(t *testing.T) { proveKeyless(t, ra) })
	}
}

func proveKeyless(t *testing.T, ra realAgent) {
	if testing.Short() {
		t.Skipf("real %s test: skipped under -short", ra.name)
	}
	bin, err := ra.find(context.Background())
	if err != nil {
		t.Skipf("real %s test: binary not found (%v); npm install it under ~/.cache/agentd/npm (see .ci/agents.sh)", ra.name, err)
	}
	// The daemon's own environment holds the real key, as it would in
	// production: the agent must still not get it.
	t.Setenv(ra.keyVar, ra.key)
	t.Setenv("IS_SANDBOX", "1") // claude skips permissions as root only in a sandbox
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	up := &upstream{fake: fakemodel.New(fakemodel.WithScenarios(envScenario))}
	t.Cleanup(up.fake.Close)
	upSrv := httptest.NewServer(up)
	t.Cleanup(upSrv.Close)
	proxy, err := New(Config{Upstreams: map[Provider]Upstream{ra.provider: {URL: upSrv.URL, Key: ra.key}}})
	if err != nil {
		t.Fatal(err)
	}
	counter := &statusCounter{next: proxy}
	proxySrv := httptest.NewServer(counter)
	t.Cleanup(proxySrv.Close)

	id := "mp-" + ra.name
	token := proxy.Issue(id)
	log, m := newEngine(t, ctx, ra.build(t, bin, proxySrv.URL, token))
	s := createSession(t, ctx, m, id, engine.CreateRequest{Agent: ra.name})

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
		if h.Get(ra.header) != ra.want {
			t.Errorf("upstream %s = %q, want the real key", ra.header, h.Get(ra.header))
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
	if !strings.Contains(env, ra.tokenVar+"="+token) {
		t.Errorf("the agent's env lacks its session token:\n%s", env)
	}
	if strings.Contains(env, ra.key) {
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

// newEngine runs an engine over agent, stopped at the test's end.
func newEngine(t *testing.T, ctx context.Context, agent adapters.Agent, opts ...engine.Option) (*eventlog.Log, *engine.Manager) {
	t.Helper()
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := engine.New(ctx, log, []adapters.Agent{agent}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		m.Shutdown(sctx)
		log.Close()
	})
	return log, m
}

// createSession creates a session that needs no permission for anything,
// in a directory of its own.
func createSession(t *testing.T, ctx context.Context, m *engine.Manager, id string, req engine.CreateRequest) *engine.Session {
	t.Helper()
	req.PermissionMode, req.Directory = "bypass", t.TempDir()
	if _, err := m.Create(ctx, id, req); err != nil {
		t.Fatal(err)
	}
	s, err := m.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
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
