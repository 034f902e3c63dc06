// Package loopback serves agentd's side services (the model proxy, the
// egress proxy) each on a listener of its own, apart from agentd's API:
// agents reach them without agentd's bearer token, and they are never
// exposed beyond the machine.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is a handler served on 127.0.0.1 at a free port.
type Server struct {
	Addr string // host:port
	srv  *http.Server
	done chan struct{}
}

// Listen serves h until Close; name prefixes its errors and log lines.
func Listen(ctx context.Context, name string, h http.Handler, logger *slog.Logger) (*Server, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("%s: listen: %w", name, err)
	}
	s := &Server{Addr: ln.Addr().String(), done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			logger.Error(name+": serve", "err", err)
		}
	}()
	return s, nil
}

// Close stops the server, letting calls in flight finish until ctx ends,
// then cutting them. Connections taken over from the server (hijacked)
// are the handler's to end.
func (s *Server) Close(ctx context.Context) {
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}
