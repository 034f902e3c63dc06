package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/tmaxmax/go-sse"

	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/session"
)

// InstallDone is the last frame of an install stream that succeeded.
type InstallDone struct {
	Agent AgentInfo `json:"agent" doc:"The agent as GET /v1/agents now reports it"`
}

func (s *server) registerInstallStream(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "install_agent_stream", Method: http.MethodPost, Path: "/v1/agents/{agent}/install/stream", Tags: []string{"agents"},
		Summary: "Install Agent, Streaming Progress",
		Description: "Additive: installs like POST /v1/agents/{agent}/install, answering with a server-sent event stream: " +
			"`progress` events (InstallProgress: phase, package, bytes downloaded of total) as the install goes on, then one " +
			"`done` event (InstallDone) or one `error` event (a problem details object, as the plain install would answer). " +
			"An unknown agent is refused before the stream starts.",
		Errors: []int{http.StatusBadRequest},
		Responses: map[string]*huma.Response{"200": {Description: "progress, then done or error", Content: map[string]*huma.MediaType{
			"text/event-stream": {Schema: &huma.Schema{Type: huma.TypeString}},
		}}},
	}, func(ctx context.Context, in *struct {
		AgentPathParam
		Body AgentInstallRequest
	}) (*huma.StreamResponse, error) {
		ag, err := s.Sessions.Agent(in.Agent)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		reinstall := in.Body.Reinstall != nil && *in.Body.Reinstall
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			r, w := humachi.Unwrap(hctx)
			s.installStream(r, w, ag.ID(), reinstall)
		}}, nil
	})
	for _, v := range []any{session.InstallProgress{}, InstallDone{}} {
		a.OpenAPI().Components.Schemas.Schema(reflect.TypeOf(v), true, "")
	}
}

// installStream runs the install in its own goroutine and forwards its
// progress. The install goes on if the client leaves: another session may
// be waiting for the same download.
func (s *server) installStream(r *http.Request, w http.ResponseWriter, agent string, reinstall bool) {
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	conn, err := sse.Upgrade(w, r)
	if err != nil {
		s.Logger.Warn("sse upgrade", "err", err)
		return
	}
	q := &progressQueue{wake: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() {
		done <- s.Sessions.Install(context.WithoutCancel(r.Context()), agent, "", reinstall, q.push)
	}()
	for {
		select {
		case <-q.wake:
			if send(conn, "progress", q.drain()...) != nil {
				return
			}
		case err := <-done:
			if send(conn, "progress", q.drain()...) != nil {
				return
			}
			_ = s.finishInstall(r.Context(), conn, agent, err)
			return
		case <-r.Context().Done():
			return
		case <-s.Done:
			return
		}
	}
}

func (s *server) finishInstall(ctx context.Context, conn *sse.Session, agent string, err error) error {
	if err != nil {
		var e *apierr.Error
		if !errors.As(err, &e) {
			e = apierr.New(apierr.InstallFailed, "%s", agent)
		}
		return send(conn, "error", fromKind(e))
	}
	ag, aerr := s.Sessions.Agent(agent)
	if aerr != nil {
		return send(conn, "error", fromKind(apierr.New(apierr.InstallFailed, "%s", agent)))
	}
	return send(conn, "done", InstallDone{Agent: agentInfo(agent, ag.Info(ctx))})
}

// send writes one frame per value under the event name, then flushes.
func send[T any](conn *sse.Session, event string, vs ...T) error {
	if len(vs) == 0 {
		return nil
	}
	for _, v := range vs {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		msg := &sse.Message{Type: sse.Type(event)}
		msg.AppendData(string(b))
		if err := conn.Send(msg); err != nil {
			return err
		}
	}
	return conn.Flush()
}

// progressQueue hands progress from the installer to the stream without
// ever blocking the installer: a slow client sees fewer download steps
// (the latest of a phase replaces the one before), never a missed phase.
type progressQueue struct {
	mu      sync.Mutex
	pending []session.InstallProgress
	wake    chan struct{}
}

func (q *progressQueue) push(p session.InstallProgress) {
	q.mu.Lock()
	if n := len(q.pending); n > 0 && q.pending[n-1].Phase == p.Phase {
		q.pending[n-1] = p
	} else {
		q.pending = append(q.pending, p)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *progressQueue) drain() []session.InstallProgress {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.pending
	q.pending = nil
	return out
}
