package modelproxy

import (
	"context"

	"github.com/agentd-dev/agentd/internal/credentials"
	"github.com/agentd-dev/agentd/internal/loopback"
)

// Server is a proxy serving on its own loopback listener.
type Server struct {
	URL string // e.g. http://127.0.0.1:41234, without /v1
	ls  *loopback.Server
}

// Listen serves p on 127.0.0.1 at a free port until Close.
func Listen(ctx context.Context, p *Proxy) (*Server, error) {
	ls, err := loopback.Listen(ctx, "modelproxy", p, p.logger)
	if err != nil {
		return nil, err
	}
	return &Server{URL: "http://" + ls.Addr, ls: ls}, nil
}

// Close stops the server, letting calls in flight finish until ctx ends,
// then cutting them.
func (s *Server) Close(ctx context.Context) { s.ls.Close(ctx) }

// UpstreamsFrom pairs each provider's base URL with the best API key among
// creds. OAuth logins are left out: they authenticate a subscription, not
// calls to the API URLs the proxy forwards to.
func UpstreamsFrom(creds []credentials.Credential, anthropicURL, openAIURL string) map[Provider]Upstream {
	key := func(p credentials.Provider) string {
		for _, c := range creds {
			if c.Provider == p && c.Kind == credentials.APIKey {
				return c.Value
			}
		}
		return ""
	}
	return map[Provider]Upstream{
		Anthropic: {URL: anthropicURL, Key: key(credentials.Anthropic)},
		OpenAI:    {URL: openAIURL, Key: key(credentials.OpenAI)},
	}
}

// Has reports whether the proxy holds a key for the provider.
func (p *Proxy) Has(prov Provider) bool { return p.keys[prov] != "" }
