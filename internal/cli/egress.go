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
	return []session.Option{session.WithEgress(g.server.Gate())}
}

// stop lets requests in flight finish until ctx ends, then cuts tunnels.
func (g *egressGate) stop(ctx context.Context) {
	if g != nil {
		g.server.Close(ctx)
	}
}
