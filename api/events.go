package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	sse "github.com/tmaxmax/go-sse"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/schema"
)

// StoredEvent is a UniversalEvent as stored: sent without decoding.
type StoredEvent json.RawMessage

func (e StoredEvent) MarshalJSON() ([]byte, error) { return e, nil }

func (StoredEvent) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeOf(schema.UniversalEvent{}), true, "")
}

type EventsResponse struct {
	Events  []StoredEvent `json:"events" nullable:"false"`
	HasMore bool          `json:"hasMore"`
}

// RawQueryParam accepts both spellings of include_raw, as the reference does.
type RawQueryParam struct {
	IncludeRaw      bool `query:"include_raw" doc:"Include raw provider payloads"`
	IncludeRawCamel bool `query:"includeRaw" doc:"Alias of include_raw"`
}

func (q RawQueryParam) raw() bool { return q.IncludeRaw || q.IncludeRawCamel }

type eventsInput struct {
	SessionPathParam
	Offset uint64 `query:"offset" doc:"Last seen event sequence (exclusive)"`
	Limit  uint64 `query:"limit" doc:"Maximum number of events to return"`
	RawQueryParam
}

type sseInput struct {
	SessionPathParam
	Offset      uint64 `query:"offset" doc:"Last seen event sequence (exclusive); Last-Event-ID takes precedence"`
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this sequence (sent by EventSource on reconnect)"`
	RawQueryParam
}

// maxPage bounds one unpaged events response; hasMore says when to page.
const maxPage = 100_000

// streamBatch is how many events a stream reads from the log at a time,
// which bounds a subscriber's memory whatever the backlog.
const streamBatch = 256

func sseResponses(desc string) map[string]*huma.Response {
	return map[string]*huma.Response{"200": {
		Description: desc,
		Content:     map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Ref: schema.RefPrefix + "UniversalEvent"}}},
	}}
}

func (s *server) registerEvents(a huma.API) {
	huma.Register(a, huma.Operation{
		OperationID: "get_events", Method: http.MethodGet, Path: "/v1/sessions/{session_id}/events", Tags: []string{"sessions"},
		Summary: "Get Events", Description: "Returns session events with optional offset-based pagination.",
		Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *eventsInput) (*struct{ Body EventsResponse }, error) {
		if _, err := s.Sessions.Get(in.SessionID); err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		limit := maxPage
		if in.Limit > 0 && in.Limit < maxPage {
			limit = int(in.Limit)
		}
		out := &struct{ Body EventsResponse }{Body: EventsResponse{Events: []StoredEvent{}}}
		if _, given := queryGiven(ctx, "limit"); given && in.Limit == 0 {
			recs, err := s.Log.Read(ctx, in.SessionID, in.Offset, 1)
			out.Body.HasMore = len(recs) > 0
			return out, problem(ctx, s.Logger, err)
		}
		recs, err := s.Log.Read(ctx, in.SessionID, in.Offset, limit+1)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		if len(recs) > limit {
			recs, out.Body.HasMore = recs[:limit], true
		}
		for _, r := range recs {
			out.Body.Events = append(out.Body.Events, StoredEvent(r.JSON(in.raw())))
		}
		return out, nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "get_events_sse", Method: http.MethodGet, Path: "/v1/sessions/{session_id}/events/sse", Tags: []string{"sessions"},
		Summary: "Subscribe to Events (SSE)",
		Description: "Opens an SSE stream of the session's events: every stored event after offset (or Last-Event-ID), " +
			"then live ones. Each frame's id is the event's sequence. The stream ends after an ended session's last event.",
		Responses: sseResponses("SSE event stream"), Errors: []int{http.StatusNotFound},
	}, func(ctx context.Context, in *sseInput) (*huma.StreamResponse, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		cursor := in.Offset
		if seq, err := strconv.ParseUint(in.LastEventID, 10, 64); err == nil {
			cursor = seq
		}
		return s.stream(sess, cursor, in.raw(), untilSessionEnds(sess)), nil
	})
	huma.Register(a, huma.Operation{
		OperationID: "post_message_stream", Method: http.MethodPost, Path: "/v1/sessions/{session_id}/messages/stream",
		Tags: []string{"sessions"}, Summary: "Send Message (Streaming)",
		Description: "Sends a message and returns an SSE stream of the session's events from then on; " +
			"it ends after turn.ended, session.ended, error, agent.unparsed, permission.requested or question.requested.",
		Responses: sseResponses("SSE event stream"),
		Errors:    []int{http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusInternalServerError, http.StatusBadGateway},
	}, func(ctx context.Context, in *struct {
		SessionPathParam
		RawQueryParam
		Body MessageRequest
	}) (*huma.StreamResponse, error) {
		sess, err := s.Sessions.Get(in.SessionID)
		if err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		cursor := sess.LastSequence()
		if err := s.send(ctx, in.SessionID, in.Body); err != nil {
			return nil, problem(ctx, s.Logger, err)
		}
		return s.stream(sess, cursor, in.raw(), untilTurnPause), nil
	})
}

// untilTurnPause ends a turn stream where the reference does.
func untilTurnPause(rec eventlog.Record) bool {
	switch schema.EventType(rec.Type) {
	case schema.EventTurnEnded, schema.EventSessionEnded, schema.EventError, schema.EventAgentUnparsed,
		schema.EventPermissionRequested, schema.EventQuestionRequested:
		return true
	}
	return false
}

// untilSessionEnds ends a subscription after the event that ended the
// session: nothing can follow it. (An agent may record a session.ended that
// leaves a resumable session open; the stream goes on past that one.)
func untilSessionEnds(sess *session.Session) func(eventlog.Record) bool {
	return func(rec eventlog.Record) bool {
		return schema.EventType(rec.Type) == schema.EventSessionEnded && sess.Info().Ended && rec.Seq >= sess.LastSequence()
	}
}

// stream sends the session's events after cursor as SSE frames, reading
// the log in batches and waiting for appends in between. A slow client
// only falls behind in the log; it never makes anyone lose events.
func (s *server) stream(sess *session.Session, cursor uint64, raw bool, stop func(eventlog.Record) bool) *huma.StreamResponse {
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humachi.Unwrap(hctx)
		ctx := r.Context()
		id := sess.Info().SessionID
		if last := sess.LastSequence(); sess.Info().Ended && cursor >= last && stop(eventlog.Record{Seq: last, Type: string(schema.EventSessionEnded)}) {
			// Nothing more will come: 204 tells EventSource not to reconnect.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Accel-Buffering", "no")
		conn, err := sse.Upgrade(w, r)
		if err != nil {
			s.Logger.Warn("sse upgrade", "err", err)
			return
		}
		if err := conn.Flush(); err != nil {
			return
		}
		keepAlive := time.NewTimer(s.KeepAlive)
		defer keepAlive.Stop()
		for {
			changed := s.Log.Changed(id)
			recs, err := s.Log.Read(ctx, id, cursor, streamBatch)
			if err != nil {
				return
			}
			done, err := sendRecords(conn, recs, raw, stop)
			if err != nil || done {
				return
			}
			if len(recs) > 0 {
				cursor = recs[len(recs)-1].Seq
				keepAlive.Reset(s.KeepAlive)
				continue
			}
			select {
			case <-changed:
			case <-keepAlive.C:
				if err := sendKeepAlive(conn); err != nil {
					return
				}
				keepAlive.Reset(s.KeepAlive)
			case <-ctx.Done():
				return
			case <-s.Done:
				return
			}
		}
	}}
}

func sendRecords(conn *sse.Session, recs []eventlog.Record, raw bool, stop func(eventlog.Record) bool) (bool, error) {
	for _, rec := range recs {
		msg := &sse.Message{ID: sse.ID(strconv.FormatUint(rec.Seq, 10))}
		msg.AppendData(string(rec.JSON(raw)))
		if err := conn.Send(msg); err != nil {
			return false, err
		}
		if stop(rec) {
			return true, conn.Flush()
		}
	}
	if len(recs) == 0 {
		return false, nil
	}
	return false, conn.Flush()
}

func sendKeepAlive(conn *sse.Session) error {
	msg := &sse.Message{}
	msg.AppendComment("keep-alive")
	if err := conn.Send(msg); err != nil {
		return err
	}
	return conn.Flush()
}

// queryGiven reports whether a query parameter was present at all, which
// huma's zero values cannot tell (limit=0 means "none", not "unlimited").
func queryGiven(ctx context.Context, name string) (string, bool) {
	r, ok := ctx.Value(requestKey{}).(*http.Request)
	if !ok {
		return "", false
	}
	v, given := r.URL.Query()[name]
	if !given || len(v) == 0 {
		return "", given
	}
	return v[0], true
}

type requestKey struct{}
