package session

import (
	"context"
	"errors"
	"log/slog"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/schema"
)

// Egress confines sessions' agents to allowlisted hosts (agentd's egress
// proxy).
type Egress interface {
	// Open registers a session of agent with the hosts its request adds to
	// the daemon's list and returns the variables that point the agent at
	// the proxy; an error refuses the session. record keeps a connection's
	// outcome in the session's events.
	Open(agent, sessionID string, allow []string, record func(context.Context, schema.NetworkConnectionData)) ([]string, error)
	// Close forgets the session: its agent's proxy credential stops working.
	Close(sessionID string)
}

// WithEgress puts every session's agent behind e.
func WithEgress(e Egress) Option { return func(m *Manager) { m.egress = e } }

// openEgress registers s with the egress proxy, if there is one, and
// returns the variables its agent needs.
func (m *Manager) openEgress(s *Session, policy *NetworkPolicy) ([]string, error) {
	if m.egress == nil {
		if policy != nil {
			return nil, apierr.New(apierr.InvalidRequest, "network: agentd runs without --egress, so it cannot confine the agent's connections")
		}
		return nil, nil
	}
	var allow []string
	if policy != nil {
		allow = policy.Allow
	}
	env, err := m.egress.Open(s.info.Agent, s.id, allow, s.recordConnection)
	if err != nil {
		return nil, apierr.New(apierr.InvalidRequest, "network: %v", err)
	}
	return env, nil
}

// closeEgress forgets a session at the egress proxy, if there is one.
func (m *Manager) closeEgress(id string) {
	if m.egress != nil {
		m.egress.Close(id)
	}
}

// recordConnection records what the egress proxy did with a connection.
func (s *Session) recordConnection(ctx context.Context, d schema.NetworkConnectionData) {
	err := s.recordDaemon(ctx, adapters.Event{Type: schema.EventNetworkConnection, Data: d})
	if err != nil && !errors.Is(err, errEnded) {
		s.m.logger.Warn("recording a network connection", slog.String("session", s.id), slog.Any("err", err))
	}
}
