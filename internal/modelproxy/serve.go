package modelproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/agentd-dev/agentd/internal/credentials"
)

// Server is a proxy serving on its own loopback listener, apart from
// agentd's API: agents reach it without agentd's bearer token, and it is
// never exposed beyond the machine.
type Server struct {
	URL  string // e.g. http://127.0.0.1:41234, without /v1
	srv  *http.Server
	done chan struct{}
}

// Listen serves p on 127.0.0.1 at a free port until Close.
func Listen(ctx context.Context, p *Proxy) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("modelproxy: listen: %w", err)
	}
	s := &Server{URL: "http://" + ln.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			p.logger.Error("modelproxy: serve", "err", err)
		}
	}()
	return s, nil
}

// Close stops the server, letting calls in flight finish until ctx ends,
// then cutting them.
func (s *Server) Close(ctx context.Context) {
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

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
