package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/spf13/pflag"

	"github.com/agentd-dev/agentd/internal/egress"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// egressOptions are the daemon's flags for the egress proxy, which lets
// agents reach only allowlisted hosts.
type egressOptions struct {
	Enabled bool
	Allow   []string
}

func (o *egressOptions) register(f *pflag.FlagSet) {
	f.BoolVar(&o.Enabled, "egress", false, "point agents at a loopback forward proxy that lets them reach only allowlisted hosts, recording every connection as a network.connection event")
	f.StringSliceVar(&o.Allow, "egress-allow", nil, "hosts every session may reach through the egress proxy: example.com, *.example.com, an IP or CIDR, each optionally with :port (repeatable)")
}

// egressGate is the running egress proxy; nil when it is off.
type egressGate struct{ server *egress.Server }

// startEgress starts the proxy when it is enabled. The model proxy, when
// on, is allowed too: agents are told to reach loopback directly, but one
// that ignores NO_PROXY must still reach its model.
func startEgress(ctx context.Context, o egressOptions, models *modelProxy, logger *slog.Logger) (*egressGate, error) {
	if !o.Enabled {
		if len(o.Allow) > 0 {
			return nil, usageError{errors.New("--egress-allow needs --egress")}
		}
		return nil, nil
	}
	allow := append([]string(nil), o.Allow...)
	if models != nil {
		if u, err := url.Parse(models.server.URL); err == nil {
			allow = append(allow, u.Host)
		}
	}
	p, err := egress.New(egress.Config{Allow: allow, Logger: logger})
	if err != nil {
		return nil, usageError{fmt.Errorf("--egress-allow: %w", err)}
	}
	s, err := egress.Listen(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("egress proxy: %w", err)
	}
	logger.Info("egress proxy listening", "addr", s.Addr, "allow", o.Allow)
	return &egressGate{server: s}, nil
}

// sessionOptions put sessions behind the proxy; none when it is off.
func (g *egressGate) sessionOptions() []session.Option {
	if g == nil {
		return nil
	}
	return []session.Option{session.WithEgress(g)}
}

// Open refuses OpenCode, whose one server serves every session and so
// cannot carry one session's credential: running it unconfined while the
// daemon promises confinement would be worse than saying no.
func (g *egressGate) Open(agent, sessionID string, allow []string, record func(context.Context, schema.NetworkConnectionData)) ([]string, error) {
	if agent == "opencode" {
		return nil, errors.New("opencode runs one server for every session, which cannot be confined per session: run it on a daemon without --egress, behind the sandbox provider's network rules")
	}
	return g.server.Gate().Open(agent, sessionID, allow, record)
}

// Close revokes the session's credential and cuts its tunnels.
func (g *egressGate) Close(sessionID string) { g.server.Gate().Close(sessionID) }

// stop lets requests in flight finish until ctx ends, then cuts tunnels.
func (g *egressGate) stop(ctx context.Context) {
	if g != nil {
		g.server.Close(ctx)
	}
}
