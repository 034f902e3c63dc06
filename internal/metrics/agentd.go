package metrics

import (
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/agentd-dev/agentd/schema"
)

// Metrics are agentd's own metrics. All methods are safe for concurrent
// use; a nil *Metrics does nothing, so hooks need no guard.
type Metrics struct {
	reg             *Registry
	sessionsCreated Counter
	sessionsEnded   Counter
	turns           Counter
	events          Counter
	tokens          Counter
	errors          Counter
	installSeconds  Histogram
	httpRequests    Counter
	httpSeconds     Histogram
}

// New registers agentd's metrics.
func New() *Metrics {
	r := &Registry{}
	return &Metrics{
		reg:             r,
		sessionsCreated: r.Counter("agentd_sessions_created_total", "Sessions started, by agent.", "agent"),
		sessionsEnded:   r.Counter("agentd_sessions_ended_total", "Sessions ended, by agent and reason.", "agent", "reason"),
		turns:           r.Counter("agentd_turns_total", "Turns ended, by agent.", "agent"),
		events:          r.Counter("agentd_events_appended_total", "Events stored, by agent and event type.", "agent", "type"),
		tokens:          r.Counter("agentd_tokens_total", "Model tokens the agents reported at the end of their turns, by agent and kind.", "agent", "kind"),
		errors:          r.Counter("agentd_errors_total", "Error events, by agent and code.", "agent", "code"),
		installSeconds: r.Histogram("agentd_agent_install_duration_seconds", "Time to install an agent binary, by agent and result.",
			[]float64{1, 2.5, 5, 10, 30, 60, 120, 300}, "agent", "result"),
		httpRequests: r.Counter("agentd_http_requests_total", "HTTP requests, by route and status.", "route", "status"),
		httpSeconds: r.Histogram("agentd_http_request_duration_seconds", "Time to answer an HTTP request (to the end of a stream for SSE), by route.",
			[]float64{.001, .005, .01, .05, .1, .5, 1, 5, 30, 300}, "route"),
	}
}

// ServeHTTP answers GET /metrics.
func (m *Metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) { m.reg.ServeHTTP(w, r) }

// Observe counts one stored event of a session of the agent; data is the
// event's payload as the engine holds it (a schema.*Data value).
func (m *Metrics) Observe(agent string, typ schema.EventType, data any) {
	if m == nil {
		return
	}
	m.events.Inc(agent, string(typ))
	switch typ {
	case schema.EventSessionStarted:
		m.sessionsCreated.Inc(agent)
	case schema.EventSessionEnded:
		if d, ok := payload[schema.SessionEndedData](data); ok {
			m.sessionsEnded.Inc(agent, string(d.Reason))
		}
	case schema.EventTurnEnded:
		m.turns.Inc(agent)
		if d, ok := payload[schema.TurnEventData](data); ok {
			m.turnTokens(agent, d.Usage)
		}
	case schema.EventError:
		code := "none"
		if d, ok := payload[schema.ErrorData](data); ok && d.Code != nil {
			code = *d.Code
		}
		m.errors.Inc(agent, code)
	}
}

// payload takes a payload given by value or by pointer.
func payload[T any](data any) (T, bool) {
	switch d := data.(type) {
	case T:
		return d, true
	case *T:
		if d != nil {
			return *d, true
		}
	}
	var zero T
	return zero, false
}

// turnTokens counts a turn's normalised usage (turn.ended's usage, the
// same for every agent; reasoning is a part of output, counted again as
// its own kind).
func (m *Metrics) turnTokens(agent string, u *schema.Usage) {
	if u == nil {
		return
	}
	m.AddTokens(agent, "input", u.InputTokens)
	m.AddTokens(agent, "output", u.OutputTokens)
	m.AddTokens(agent, "cache_read", u.CacheReadTokens)
	m.AddTokens(agent, "cache_write", u.CacheWriteTokens)
	m.AddTokens(agent, "reasoning", u.ReasoningTokens)
}

// AddTokens counts n tokens of a kind (input, output, cache_read,
// cache_write, reasoning) for the agent.
func (m *Metrics) AddTokens(agent, kind string, n int64) {
	if m == nil || n <= 0 {
		return
	}
	m.tokens.Add(float64(n), agent, kind)
}

// InstallDone records how long installing an agent took and whether it
// worked.
func (m *Metrics) InstallDone(agent string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.installSeconds.Observe(d.Seconds(), agent, result)
}

// Middleware counts next's requests by route and status. route names a
// request's route with bounded cardinality (a pattern, never the raw
// path); nil uses the pattern the ServeMux matched, else "other".
func (m *Metrics) Middleware(next http.Handler, route func(*http.Request) string) http.Handler {
	if route == nil {
		route = func(r *http.Request) string {
			if r.Pattern != "" {
				return r.Pattern
			}
			return "other"
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		rt := route(r)
		m.httpRequests.Inc(rt, strconv.Itoa(sw.status))
		m.httpSeconds.Observe(time.Since(start).Seconds(), rt)
	})
}

// statusWriter remembers the status; Unwrap keeps Flush, Hijack and
// deadlines reachable through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 { // 1xx are interim; the final status follows
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom hands a copy to the wrapped writer's ReadFrom, so that a file
// served through the middleware still goes out with sendfile (io.Copy
// would otherwise read it through a 32 KiB buffer). The status stays
// what WriteHeader set, 200 by default, as for Write.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(w.ResponseWriter, r)
}
