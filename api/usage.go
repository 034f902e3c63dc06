package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/internal/session"
)

func (s *server) registerUsage(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "get_session_usage", Method: http.MethodGet, Path: "/v1/sessions/{session_id}/usage", Tags: []string{"sessions"},
		Summary: "Session Usage",
		Description: "Additive: the session's token usage — each ended turn's (the usage on its turn.ended event), their total, " +
			"and the running turn so far when the model proxy counts the session's calls — with where the counts come from " +
			"(`proxy`, authoritative, or the `agent`'s own reports) and how the session stands against its budgets. " +
			"Derived from the event log, so it survives a restart.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *SessionPathParam) (*struct{ Body session.SessionUsage }, error) {
		u, err := s.Sessions.Usage(ctx, in.SessionID)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		return &struct{ Body session.SessionUsage }{Body: u}, nil
	})
}
