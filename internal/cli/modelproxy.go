package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/pflag"

	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/adapters/codex"
	"github.com/agentd-dev/agentd/adapters/opencode"
	"github.com/agentd-dev/agentd/internal/credentials"
	"github.com/agentd-dev/agentd/internal/modelproxy"
)

// modelProxyOptions are the daemon's flags for the model proxy, with which
// agents hold per-session tokens instead of the user's API keys.
type modelProxyOptions struct {
	Enabled      bool
	AnthropicURL string
	OpenAIURL    string
}

func (o *modelProxyOptions) register(f *pflag.FlagSet) {
	f.BoolVar(&o.Enabled, "model-proxy", false, "keep the model API keys in the daemon: agents get per-session tokens for a loopback proxy that adds the real key")
	f.StringVar(&o.AnthropicURL, "model-proxy-anthropic-url", modelproxy.DefaultAnthropicURL, "where the model proxy forwards Anthropic calls (an Anthropic-compatible gateway works too)")
	f.StringVar(&o.OpenAIURL, "model-proxy-openai-url", modelproxy.DefaultOpenAIURL, "where the model proxy forwards OpenAI calls")
}

// modelProxy is the running proxy and what the agents need to use it. A
// nil *modelProxy (the proxy is off) leaves the agents as they are.
type modelProxy struct {
	proxy  *modelproxy.Proxy
	server *modelproxy.Server
}

// startModelProxy starts the proxy when it is enabled, with the API keys
// found in the daemon's environment.
func startModelProxy(ctx context.Context, o modelProxyOptions, logger *slog.Logger, onUsage func(sessionID string, u modelproxy.Usage)) (*modelProxy, error) {
	if !o.Enabled {
		return nil, nil
	}
	creds := credentials.Discover(credentials.Options{Env: os.Environ(), NoOAuth: true})
	p, err := modelproxy.New(modelproxy.Config{
		Upstreams: modelproxy.UpstreamsFrom(creds, o.AnthropicURL, o.OpenAIURL),
		Logger:    logger,
		OnUsage:   onUsage,
	})
	if err != nil {
		return nil, err
	}
	if !p.Has(modelproxy.Anthropic) && !p.Has(modelproxy.OpenAI) {
		return nil, usageError{errors.New("--model-proxy: no ANTHROPIC_API_KEY or OPENAI_API_KEY in the daemon's environment")}
	}
	s, err := modelproxy.Listen(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("model proxy: %w", err)
	}
	logger.Info("model proxy listening", "addr", s.URL,
		"anthropic", p.Has(modelproxy.Anthropic), "openai", p.Has(modelproxy.OpenAI))
	return &modelProxy{proxy: p, server: s}, nil
}

// claudeOptions point Claude at the proxy. Until a session's own token is
// set (sessionEnv), Claude holds only modelproxy.PendingToken, which the
// proxy refuses: it fails closed rather than reaching for a real key.
func (m *modelProxy) claudeOptions() []claude.Option {
	if m == nil || !m.proxy.Has(modelproxy.Anthropic) {
		return nil
	}
	return []claude.Option{claude.WithEnv(modelproxy.ClaudeEnv(m.server.URL, modelproxy.PendingToken)...)}
}

// codexOptions make the proxy Codex's model provider.
func (m *modelProxy) codexOptions() []codex.Option {
	if m == nil || !m.proxy.Has(modelproxy.OpenAI) {
		return nil
	}
	return []codex.Option{
		codex.WithProvider(codex.Provider{ID: "agentd", Name: "agentd model proxy",
			BaseURL: m.server.URL + "/v1", EnvKey: modelproxy.CodexTokenVar}),
		codex.WithEnv(modelproxy.CodexEnv(modelproxy.PendingToken)...),
	}
}

// openCodeTokenID names the proxy token of the one OpenCode server every
// OpenCode session shares. It lives as long as the daemon: the server
// cannot carry a token per session, so usage through it is not split by
// session either. The NUL keeps it apart from any session's id.
const openCodeTokenID = "\x00opencode-server"

// openCodeOptions send OpenCode's built-in Anthropic and OpenAI providers
// to the proxy, with the server's token where their keys would be.
func (m *modelProxy) openCodeOptions() []opencode.Option {
	if m == nil {
		return nil
	}
	var opts []opencode.Option
	var proxied []modelproxy.Provider
	for _, p := range []modelproxy.Provider{modelproxy.Anthropic, modelproxy.OpenAI} {
		if m.proxy.Has(p) {
			proxied = append(proxied, p)
			opts = append(opts, opencode.WithBaseURL(modelproxy.OpenCodeProviders[p], m.server.URL+"/v1"))
		}
	}
	return append(opts, opencode.WithEnv(modelproxy.OpenCodeEnv(m.proxy.Issue(openCodeTokenID), proxied...)...))
}

// sessionEnv is the environment that gives one session of the agent its
// token; nil for agents the proxy does not serve.
func (m *modelProxy) sessionEnv(agent, sessionID string) []string {
	switch {
	case !m.meters(agent):
		return nil
	case agent == "claude":
		return modelproxy.ClaudeEnv(m.server.URL, m.proxy.Issue(sessionID))
	}
	return modelproxy.CodexEnv(m.proxy.Issue(sessionID))
}

// meters says whether the agent's model calls go through the proxy, which
// then counts its sessions' usage.
func (m *modelProxy) meters(agent string) bool {
	switch {
	case m == nil:
		return false
	case agent == "claude":
		return m.proxy.Has(modelproxy.Anthropic)
	case agent == "codex":
		return m.proxy.Has(modelproxy.OpenAI)
	}
	return false
}

// sessionEnded revokes the session's token and returns the usage the
// provider reported for it.
func (m *modelProxy) sessionEnded(sessionID string) modelproxy.Usage {
	if m == nil {
		return modelproxy.Usage{}
	}
	return m.proxy.Revoke(sessionID)
}

// stop lets calls in flight finish until ctx ends.
func (m *modelProxy) stop(ctx context.Context) {
	if m != nil {
		m.server.Close(ctx)
	}
}
