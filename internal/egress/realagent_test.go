package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/adapters/codex"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/fakemodel"
	engine "github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

var _ engine.Egress = Gate{}

// allowedBody is what the allowed host serves, so the agent's tool output
// proves the tunnel reached it.
const allowedBody = "egress-allowed-ok"

// realAgent is an agent under proof, built to call the model at base.
type realAgent struct {
	name  string
	find  func(context.Context) (string, error)
	build func(t *testing.T, bin, base string) adapters.Agent
}

var realAgents = []realAgent{
	{name: "claude", find: claude.DefaultResolver, build: func(t *testing.T, bin, base string) adapters.Agent {
		return claude.New(claude.WithResolver(func(context.Context) (string, error) { return bin, nil }),
			claude.WithHome(t.TempDir()), claude.WithGrace(3*time.Second),
			claude.WithEnv("ANTHROPIC_BASE_URL="+base, "ANTHROPIC_API_KEY=x", "ANTHROPIC_AUTH_TOKEN=", "CLAUDE_CODE_OAUTH_TOKEN=",
				"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1", "CLAUDE_CODE_MAX_RETRIES=0"))
	}},
	{name: "codex", find: codex.DefaultResolver, build: func(t *testing.T, bin, base string) adapters.Agent {
		return codex.New(codex.WithResolver(func(context.Context) (string, error) { return bin, nil }),
			codex.WithHome(t.TempDir()), codex.WithGrace(3*time.Second),
			codex.WithProvider(codex.Provider{ID: "fake", Name: "Fake", BaseURL: base + "/v1", EnvKey: "FAKE_API_KEY"}),
			codex.WithConfig(`model="gpt-5.5"`, "model_providers.fake.request_max_retries=0", "model_providers.fake.stream_max_retries=0"),
			codex.WithDefaultPolicy("untrusted", "danger-full-access"),
			codex.WithEnv("FAKE_API_KEY=x", "OPENAI_API_KEY=", "CODEX_API_KEY="))
	}},
}

// TestRealAgentEgress is the proof with the real agents on the scripted
// model: their shell tool runs curl, which honours the proxy variables
// agentd gave the agent; the denied host is refused by the proxy and
// recorded with allowed=false, the allowed one (a local TLS server, named
// allowed.test, which the session's network field adds) is reached through
// a tunnel and recorded with allowed=true. With the model named by a host
// name that only the proxy resolves, the agent's own calls must go through
// the proxy too (plain HTTP), which proves its HTTP stack honours the
// variables. Skipped under -short and when a binary or curl is missing.
func TestRealAgentEgress(t *testing.T) {
	for _, ra := range realAgents {
		t.Run(ra.name+"/model on loopback, reached directly", func(t *testing.T) { proveEgress(t, ra, false) })
		t.Run(ra.name+"/model by name, reached through the proxy", func(t *testing.T) { proveEgress(t, ra, true) })
	}
}

func proveEgress(t *testing.T, ra realAgent, modelByName bool) {
	if testing.Short() {
		t.Skipf("real %s test: skipped under -short", ra.name)
	}
	bin, err := ra.find(context.Background())
	if err != nil {
		t.Skipf("real %s test: binary not found (%v); npm install it under ~/.cache/agentd/npm (see .ci/agents.sh)", ra.name, err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skipf("real %s test: no curl on PATH for the agent's shell tool to run", ra.name)
	}
	t.Setenv("IS_SANDBOX", "1") // claude skips permissions as root only in a sandbox
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)

	var hits atomic.Int64
	target := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		fmt.Fprint(w, allowedBody)
	}))
	t.Cleanup(target.Close)
	targetPort := target.Listener.Addr().(*net.TCPAddr).Port

	fake := fakemodel.New(fakemodel.WithScenarios(fakemodel.Scenario{Name: "egress", Turns: []fakemodel.Turn{
		{fakemodel.Shell("curl -sS https://denied.example/ 2>&1; echo exit=$?", "Fetch a denied host")},
		{fakemodel.Shell(fmt.Sprintf("curl -sS -k https://allowed.test:%d/ 2>&1; echo exit=$?", targetPort), "Fetch an allowed host")},
		{fakemodel.Text(fakemodel.StepDoneText)},
	}}))
	t.Cleanup(fake.Close)
	model := httptest.NewServer(fake)
	t.Cleanup(model.Close)
	modelURL, _ := url.Parse(model.URL)
	modelBase, modelHost := model.URL, modelURL.Hostname()
	if modelByName {
		modelBase, modelHost = "http://model.test:"+modelURL.Port(), "model.test"
	}

	// The daemon's list: the model (as agentd allows its model proxy) and
	// the loopback address the test's names resolve to, on their ports
	// only. The session adds allowed.test.
	proxy, err := New(Config{
		Allow:    []string{modelURL.Host, "model.test", fmt.Sprintf("127.0.0.1:%d", targetPort)},
		Resolver: fakeDNS{"allowed.test": localhost4, "model.test": localhost4},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen(ctx, proxy)
	if err != nil {
		t.Fatal(err)
	}
	log, err := eventlog.Open(ctx, t.TempDir(), eventlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	agent := ra.build(t, bin, modelBase)
	m, err := engine.New(ctx, log, []adapters.Agent{agent}, engine.WithEgress(srv.Gate()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer scancel()
		m.Shutdown(sctx)
		srv.Close(sctx)
		log.Close()
	})
	id := "egress-" + ra.name
	_, err = m.Create(ctx, id, engine.CreateRequest{Agent: ra.name, PermissionMode: "bypass", Directory: t.TempDir(),
		Network: &engine.NetworkPolicy{Allow: []string{"allowed.test"}}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(ctx, adapters.Message{Text: "SCN:egress fetch two hosts"}); err != nil {
		t.Fatal(err)
	}
	events := waitForTurnEnd(t, ctx, log, id)

	results := fake.ToolResults()
	if len(results) != 2 {
		t.Fatalf("got %d tool results, want the two curl outputs", len(results))
	}
	denied, allowed := results[0].Content, results[1].Content
	t.Logf("denied curl: %s\nallowed curl: %s", denied, allowed)
	if !strings.Contains(denied, "403") || strings.Contains(denied, "exit=0") {
		t.Errorf("the denied host was not refused by the proxy:\n%s", denied)
	}
	if !strings.Contains(allowed, allowedBody) || hits.Load() != 1 {
		t.Errorf("the allowed host was not reached through the proxy (%d hits):\n%s", hits.Load(), allowed)
	}

	var conns []schema.NetworkConnectionData
	for _, e := range events {
		if e.Type != schema.EventNetworkConnection {
			continue
		}
		if !e.Synthetic || e.Source != schema.SourceDaemon {
			t.Errorf("network.connection not from the daemon: %+v", e)
		}
		var d schema.NetworkConnectionData
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, d)
	}
	t.Logf("network.connection events: %+v", conns)
	want := []schema.NetworkConnectionData{
		{Host: "denied.example", Port: 443, Method: "CONNECT", Allowed: false, Reason: ReasonHost},
		{Host: "allowed.test", Port: targetPort, Method: "CONNECT", Allowed: true, Reason: ReasonAllowed},
	}
	for _, w := range want {
		if !slices.Contains(conns, w) {
			t.Errorf("no network.connection %+v", w)
		}
	}
	modelCalls := slices.ContainsFunc(conns, func(d schema.NetworkConnectionData) bool {
		return d.Host == modelHost && d.Allowed
	})
	if modelCalls != modelByName {
		t.Errorf("model calls through the proxy: %v, want %v", modelCalls, modelByName)
	}
}

// waitForTurnEnd waits for the session's first turn.ended and returns the
// events up to it.
func waitForTurnEnd(t *testing.T, ctx context.Context, log *eventlog.Log, id string) []schema.UniversalEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var events []schema.UniversalEvent
	var from uint64
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
			events = append(events, e)
			from = r.Seq
			switch e.Type {
			case schema.EventTurnEnded:
				return events
			case schema.EventSessionEnded:
				t.Fatalf("session ended before the turn: %s", r.Body)
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("no turn.ended; events so far: %+v", events)
		}
	}
}
