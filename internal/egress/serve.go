package egress

import (
	"context"
	"net/url"
	"strings"

	"github.com/agentd-dev/agentd/internal/loopback"
	"github.com/agentd-dev/agentd/schema"
)

// NoProxy is what agents are told to reach directly: loopback, where
// agentd's own services (the model proxy) listen.
const NoProxy = "127.0.0.1,localhost,::1"

// Server is a proxy serving on its own loopback listener.
type Server struct {
	Addr  string // host:port it listens on
	proxy *Proxy
	ls    *loopback.Server
}

// Listen serves p on 127.0.0.1 at a free port until Close.
func Listen(ctx context.Context, p *Proxy) (*Server, error) {
	ls, err := loopback.Listen(ctx, "egress", p, p.logger)
	if err != nil {
		return nil, err
	}
	return &Server{Addr: ls.Addr, proxy: p, ls: ls}, nil
}

// Close stops the server, letting plain-HTTP requests in flight finish
// until ctx ends, then cuts every tunnel and waits for them to end.
func (s *Server) Close(ctx context.Context) {
	s.ls.Close(ctx)
	s.proxy.shutdown()
}

// URL is the proxy URL of the session whose credential is token.
func (s *Server) URL(token string) string {
	u := url.URL{Scheme: "http", User: url.UserPassword(proxyUser, token), Host: s.Addr}
	return u.String()
}

// Env is the environment that points an agent, and the tools it runs, at
// proxyURL, in both the spellings programs read.
func Env(proxyURL string) []string {
	var env []string
	for _, name := range []string{"HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"} {
		env = append(env, name+"="+proxyURL, strings.ToLower(name)+"="+proxyURL)
	}
	return append(env, "NO_PROXY="+NoProxy, "no_proxy="+NoProxy)
}

// Gate is the proxy as agentd's session engine uses it (session.Egress):
// a session opens with its allowlist and a recorder of its connections,
// and closes when it ends.
type Gate struct{ srv *Server }

// Gate returns the server's Gate.
func (s *Server) Gate() Gate { return Gate{srv: s} }

// Open registers a session and returns the variables that point its agent
// at the proxy with the session's own credential. Every agent is treated
// alike: the agent's variables reach its whole process tree.
func (g Gate) Open(_, sessionID string, allow []string, record func(context.Context, schema.NetworkConnectionData)) ([]string, error) {
	token, err := g.srv.proxy.Open(sessionID, allow, func(ctx context.Context, d Decision) {
		record(ctx, schema.NetworkConnectionData{Host: d.Host, Port: d.Port, Method: d.Method, Allowed: d.Allowed, Reason: d.Reason})
	})
	if err != nil {
		return nil, err
	}
	return Env(g.srv.URL(token)), nil
}

// Close revokes the session's credential and cuts its tunnels.
func (g Gate) Close(sessionID string) { g.srv.proxy.Close(sessionID) }
