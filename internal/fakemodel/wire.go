package fakemodel

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// obj is a JSON object that keeps its keys in the order given, so the bytes
// on the wire match the providers' field order (type first, and so on).
type obj []kv

type kv struct {
	k string
	v any
}

// MarshalJSON writes the members in order, without HTML escaping.
func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(m.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := marshal(m.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping and without the newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// mustJSON marshals values built by this package, which cannot fail.
func mustJSON(v any) []byte {
	b, err := marshal(v)
	if err != nil {
		panic("fakemodel: marshal: " + err.Error())
	}
	return b
}

// list is a JSON array that marshals as [] when empty (never null).
func list(vs ...any) []any {
	if vs == nil {
		return []any{}
	}
	return vs
}

// sse writes Server-Sent Events and flushes after each one.
type sse struct {
	w   http.ResponseWriter
	f   http.Flusher
	err error
}

func newSSE(w http.ResponseWriter, h http.Header) *sse {
	for k, v := range h {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	s := &sse{w: w, f: f}
	s.flush()
	return s
}

// event writes "event: name" (when name is not empty) and one data line.
func (s *sse) event(name string, data []byte) {
	if s.err != nil {
		return
	}
	var b strings.Builder
	if name != "" {
		b.WriteString("event: ")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	_, s.err = s.w.Write([]byte(b.String()))
	s.flush()
}

func (s *sse) flush() {
	if s.f != nil && s.err == nil {
		s.f.Flush()
	}
}

// writeJSON answers with one JSON document.
func writeJSON(w http.ResponseWriter, status int, h http.Header, v any) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b := mustJSON(v)
	_, _ = w.Write(append(b, '\n'))
}
