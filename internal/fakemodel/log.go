package fakemodel

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// Request is one recorded HTTP request.
type Request struct {
	Seq    int // 1, 2, … in arrival order
	Time   time.Time
	Method string
	Path   string // as received, including any /scn/<name> prefix
	Query  string // raw query, e.g. "beta=true"
	// Header with credentials (Authorization, x-api-key, api-key, …)
	// replaced by Redacted.
	Header http.Header
	Body   []byte
	// API and Endpoint as routed ("" API for generic endpoints).
	API      API
	Endpoint string
	// For model calls: the request's model and stream flag, the scenario
	// chosen ("" = auxiliary reply TitleText) and the turn within it.
	Model    string
	Stream   bool
	Scenario string
	Turn     int
	// Status is the HTTP status the server answered with.
	Status int
}

// Redacted replaces credential header values in the log.
const Redacted = "[REDACTED]"

var secretHeaders = []string{"Authorization", "Proxy-Authorization", "X-Api-Key", "Api-Key", "Cookie"}

func redact(h http.Header) http.Header {
	c := h.Clone()
	if c == nil {
		c = http.Header{}
	}
	for _, k := range secretHeaders {
		if vs, ok := c[k]; ok {
			for i := range vs {
				vs[i] = Redacted
			}
		}
	}
	return c
}

// IsModelCall reports whether the request asked for a model reply.
func (r Request) IsModelCall() bool { return r.Endpoint == EndpointGenerate }

// Conversation parses the body of a model call.
func (r Request) Conversation() (*Conversation, error) { return ParseConversation(r.API, r.Body) }

// JSON decodes the body into v.
func (r Request) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// Line is a one-line summary for logs.
func (r Request) Line() string {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.Path)
	if r.Query != "" {
		b.WriteString("?" + r.Query)
	}
	if r.API != "" {
		b.WriteString(" api=" + string(r.API))
	}
	if r.IsModelCall() {
		sc := r.Scenario
		if sc == "" {
			sc = "(aux)"
		}
		b.WriteString(" model=" + r.Model + " scenario=" + sc + " turn=" + itoa(r.Turn))
		if r.Stream {
			b.WriteString(" stream")
		}
	}
	b.WriteString(" status=" + itoa(r.Status))
	return b.String()
}

func itoa(i int) string { return string(mustJSON(i)) }

// Requests returns a copy of the log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// ModelCalls returns the recorded model calls (messages, responses, chat).
func (s *Server) ModelCalls() []Request {
	var out []Request
	for _, r := range s.Requests() {
		if r.IsModelCall() {
			out = append(out, r)
		}
	}
	return out
}

// ToolResults returns every tool result the agents sent back, once per call
// id, in the order first seen.
func (s *Server) ToolResults() []ToolResult {
	seen := map[string]bool{}
	var out []ToolResult
	for _, r := range s.ModelCalls() {
		c, err := r.Conversation()
		if err != nil {
			continue
		}
		for _, tr := range c.ToolResults() {
			key := string(tr.API) + "\x00" + tr.CallID
			if !seen[key] {
				seen[key] = true
				out = append(out, tr)
			}
		}
	}
	return out
}

// ToolResult finds the tool result for a call id.
func (s *Server) ToolResult(callID string) (ToolResult, bool) {
	for _, tr := range s.ToolResults() {
		if tr.CallID == callID {
			return tr, true
		}
	}
	return ToolResult{}, false
}

// WaitFor blocks until a recorded request satisfies match (checking those
// already recorded first) or ctx ends.
func (s *Server) WaitFor(ctx context.Context, match func(Request) bool) (Request, error) {
	next := 0
	for {
		s.mu.Lock()
		reqs := s.requests[next:]
		next = len(s.requests)
		changed := s.changed
		s.mu.Unlock()
		for _, r := range reqs {
			if match(r) {
				return r, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return Request{}, ctx.Err()
		}
	}
}

// logJSON is the request log as served at /_fake/requests: bodies that are
// JSON are inlined, others are strings.
func (s *Server) logJSON() []any {
	reqs := s.Requests()
	out := make([]any, 0, len(reqs))
	for _, r := range reqs {
		var body any = string(r.Body)
		if json.Valid(r.Body) {
			body = json.RawMessage(r.Body)
		}
		out = append(out, obj{{"seq", r.Seq}, {"time", r.Time}, {"method", r.Method}, {"path", r.Path},
			{"query", r.Query}, {"header", r.Header}, {"api", r.API}, {"endpoint", r.Endpoint},
			{"model", r.Model}, {"stream", r.Stream}, {"scenario", r.Scenario}, {"turn", r.Turn},
			{"status", r.Status}, {"body", body}})
	}
	return out
}
