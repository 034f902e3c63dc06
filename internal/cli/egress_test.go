package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/egress"
	"github.com/agentd-dev/agentd/internal/modelproxy"
	"github.com/agentd-dev/agentd/schema"
)

// TestEgressE2E drives the egress flags and the per-session network field
// through the built binary.
func TestEgressE2E(t *testing.T) {
	requireAgentdBin(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"allowlist without the proxy", []string{"--egress-allow", "example.com"}, "--egress-allow needs --egress"},
		{"bad allowlist entry", []string{"--egress", "--egress-allow", "exa mple.com"}, `allow entry "exa mple.com"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e2eRun(t, nil, append([]string{"server", "--no-token", "-p", "0", "--data-dir", t.TempDir()}, tc.args...)...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, tc.want)
			}
		})
	}

	on := startAgentdServer(t, "--no-token", "--egress", "--egress-allow", "example.com,*.example.org")
	off := startAgentdServer(t, "--no-token")
	for _, tc := range []struct {
		name   string
		d      *e2eDaemon
		body   string
		status int
		detail string
	}{
		{"session adds hosts", on, `{"agent":"mock","network":{"allow":["api.test","10.0.0.0/8:443"]}}`, 200, ""},
		{"session without a network field", on, `{"agent":"mock"}`, 200, ""},
		{"bad session entry", on, `{"agent":"mock","network":{"allow":["http://x.test"]}}`, 400, `network: egress: allow entry "http://x.test"`},
		{"network asked of a daemon without --egress", off, `{"agent":"mock","network":{"allow":["api.test"]}}`, 400, "runs without --egress"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(tc.d.URL+"/v1/sessions/"+strings.ReplaceAll(tc.name, " ", "-"), "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var problem struct{ Detail string }
			_ = json.NewDecoder(resp.Body).Decode(&problem)
			if resp.StatusCode != tc.status || !strings.Contains(problem.Detail, tc.detail) {
				t.Fatalf("status %d, detail %q; want %d and %q", resp.StatusCode, problem.Detail, tc.status, tc.detail)
			}
		})
	}
	list := on.api(t, "sessions", "list", "--json")
	if !strings.Contains(list, `"network":{"allow":["api.test","10.0.0.0/8:443"]}`) {
		t.Errorf("session list lacks the session's network policy:\n%s", list)
	}
}

// OpenCode's shared server cannot take one session's credential, so the
// gate refuses its sessions rather than run them unconfined.
func TestEgressRefusesOpenCode(t *testing.T) {
	_, err := (&egressGate{}).Open("opencode", "s", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot be confined per session") {
		t.Fatalf("err = %v", err)
	}
}

// With the model proxy on, its loopback address is on every session's
// list, for agents that ignore NO_PROXY; other loopback ports are not.
func TestEgressAllowsTheModelProxy(t *testing.T) {
	models := &modelProxy{server: &modelproxy.Server{URL: "http://127.0.0.1:1"}}
	gate, err := startEgress(t.Context(), egressOptions{Enabled: true}, models, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer gate.stop(context.Background())
	var mu sync.Mutex
	var got []schema.NetworkConnectionData
	env, err := gate.Open("claude", "s", nil, func(_ context.Context, d schema.NetworkConnectionData) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	proxyURL, err := url.Parse(agentproc.Getenv(env, "HTTPS_PROXY"))
	if err != nil || agentproc.Getenv(env, "NO_PROXY") != egress.NoProxy {
		t.Fatalf("env %q: %v", env, err)
	}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for _, target := range []string{"http://127.0.0.1:1/v1/models", "http://127.0.0.1:2/"} {
		resp, err := client.Get(target)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !got[0].Allowed || got[0].Port != 1 || got[1].Allowed || got[1].Port != 2 {
		t.Fatalf("decisions %+v: want port 1 (the model proxy) allowed, port 2 refused", got)
	}
}
