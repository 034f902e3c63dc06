package cli

// Event streams of the api commands: a small reader of SSE frames, the
// printing of events, and the loop that follows a session's events across
// dropped connections with Last-Event-ID.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/agentd-dev/agentd/api/client"
)

// sseFrame is one dispatched server-sent event.
type sseFrame struct {
	ID    string // the last event id as of this frame
	Event string
	Data  string
}

// sseReader splits a text/event-stream body into frames, as the HTML
// standard's event-stream interpretation does: comments and frames
// without data are skipped, an id field sets the last event id, and a
// frame cut off by the end of the body is dropped.
type sseReader struct {
	r      *bufio.Reader
	lastID string
}

func newSSEReader(r io.Reader) *sseReader { return &sseReader{r: bufio.NewReader(r)} }

// Next returns the next frame with data; io.EOF at the end of the body.
func (s *sseReader) Next() (sseFrame, error) {
	var data strings.Builder
	var event string
	hasData := false
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				return sseFrame{}, io.EOF // an unterminated frame is not dispatched
			}
			return sseFrame{}, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			if !hasData {
				event = ""
				continue
			}
			return sseFrame{ID: s.lastID, Event: event, Data: data.String()}, nil
		}
		if strings.HasPrefix(line, ":") {
			continue // comment, e.g. a keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "event":
			event = value
		case "id":
			if !strings.ContainsRune(value, 0) {
				s.lastID = value
			}
		}
	}
}

// turnPauses are the event types after which a turn's stream ends, as
// post_message_stream does on the server.
var turnPauses = map[string]bool{
	"turn.ended": true, "session.ended": true, "error": true, "agent.unparsed": true,
	"permission.requested": true, "question.requested": true,
}

// eventPrinter prints events as they arrive and remembers the last
// sequence printed, which is where a resumed stream starts. An event at or
// before that sequence is not printed again.
type eventPrinter struct {
	f    *apiFactory
	last uint64
}

// streamEvent is the part of a UniversalEvent the printer reads.
type streamEvent struct {
	Sequence uint64          `json:"sequence"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
}

// print writes one event (its JSON as sent, on one line, or a summary on a
// terminal without --json) and returns its type; printed is false for an
// event already printed.
func (p *eventPrinter) print(doc []byte) (typ string, printed bool, err error) {
	var ev streamEvent
	if err := json.Unmarshal(doc, &ev); err != nil {
		return "", false, fmt.Errorf("daemon sent an event this client cannot read: %w", err)
	}
	if ev.Sequence != 0 && ev.Sequence <= p.last {
		return ev.Type, false, nil
	}
	if p.f.wantJSON() {
		var buf bytes.Buffer
		if err := json.Compact(&buf, doc); err != nil {
			return "", false, err
		}
		buf.WriteByte('\n')
		_, err = p.f.Out.Write(buf.Bytes())
	} else {
		_, err = fmt.Fprintf(p.f.Out, "%5d  %-20s %s\n", ev.Sequence, ev.Type, summarize(ev))
	}
	if ev.Sequence > p.last {
		p.last = ev.Sequence
	}
	return ev.Type, true, err
}

// summarize describes an event's data in a few words for a terminal.
func summarize(ev streamEvent) string {
	var d struct {
		Phase        string `json:"phase"`
		Reason       string `json:"reason"`
		TerminatedBy string `json:"terminated_by"`
		Message      string `json:"message"`
		Error        string `json:"error"`
		Delta        string `json:"delta"`
		ItemID       string `json:"item_id"`
		PermissionID string `json:"permission_id"`
		Action       string `json:"action"`
		QuestionID   string `json:"question_id"`
		Prompt       string `json:"prompt"`
		Options      []string
		Status       string `json:"status"`
		Response     *string
		Metadata     map[string]any `json:"metadata"`
		Item         *struct {
			ItemID  string `json:"item_id"`
			Kind    string `json:"kind"`
			Role    string `json:"role"`
			Status  string `json:"status"`
			Content []struct {
				Type  string `json:"type"`
				Text  string `json:"text"`
				Name  string `json:"name"`
				Label string `json:"label"`
				Path  string `json:"path"`
			} `json:"content"`
		} `json:"item"`
	}
	_ = json.Unmarshal(ev.Data, &d)
	switch {
	case ev.Type == "session.started":
		return fmt.Sprintf("agent=%v model=%v", d.Metadata["agent"], d.Metadata["model"])
	case ev.Type == "session.ended":
		return join(d.Reason, "by "+d.TerminatedBy, d.Message)
	case strings.HasPrefix(ev.Type, "turn."):
		return d.Phase
	case ev.Type == "item.delta":
		return d.ItemID + " " + quote(d.Delta)
	case strings.HasPrefix(ev.Type, "item.") && d.Item != nil:
		var parts []string
		for _, c := range d.Item.Content {
			parts = append(parts, firstOf(c.Text, c.Name, c.Label, c.Path, c.Type))
		}
		return join(d.Item.ItemID, d.Item.Kind+"/"+d.Item.Role, d.Item.Status, quote(strings.Join(parts, " ")))
	case strings.HasPrefix(ev.Type, "permission."):
		return join(d.PermissionID, d.Action, d.Status)
	case strings.HasPrefix(ev.Type, "question."):
		s := join(d.QuestionID, d.Status, quote(d.Prompt))
		if len(d.Options) > 0 {
			s += " [" + strings.Join(d.Options, "|") + "]"
		}
		if d.Response != nil {
			s += " → " + *d.Response
		}
		return s
	case ev.Type == "error":
		return d.Message
	case ev.Type == "agent.unparsed":
		return d.Error
	}
	return ""
}

func join(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" && p != "by " && p != "/" {
			out = append(out, p)
		}
	}
	return strings.Join(out, " ")
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// quote shows text on one line, shortened.
func quote(s string) string {
	if s == "" {
		return ""
	}
	const limit = 60
	if r := []rune(s); len(r) > limit {
		s = string(r[:limit]) + "…"
	}
	return strconv.Quote(s)
}

// printError is an event that could not be read or written out; unlike a
// broken connection, reconnecting does not help.
type printError struct{ error }

func (e printError) Unwrap() error { return e.error }

// readStream prints every frame of an open SSE body until stop accepts an
// event's type (done), the body ends (nil) or reading fails.
func (p *eventPrinter) readStream(body io.Reader, stop func(string) bool) (done bool, err error) {
	r := newSSEReader(body)
	for {
		frame, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
		typ, _, err := p.print([]byte(frame.Data))
		if err != nil {
			return false, printError{err}
		}
		if stop != nil && stop(typ) {
			return true, nil
		}
	}
}

// follow prints a session's events after the printer's cursor as they are
// recorded, until stop accepts one, the daemon ends the stream for good
// (204: an ended session has nothing more) or ctx ends (nil: the user
// stopped it). A dropped connection is resumed with Last-Event-ID, after a
// backoff, at most f.Retries times in a row without an event in between.
func (p *eventPrinter) follow(ctx context.Context, id string, raw bool, stop func(string) bool) error {
	c, err := p.f.Client()
	if err != nil {
		return err
	}
	s := &resumableStream{f: p.f, stalled: "the event stream keeps ending without new events",
		// Resumed from the printer's cursor, which only moves past printed events.
		open: func(ctx context.Context, _ string) (*http.Response, error) {
			params := &client.GetEventsSseParams{}
			if p.last > 0 {
				offset := int64(p.last)
				lastID := strconv.FormatUint(p.last, 10)
				params.Offset, params.LastEventID = &offset, &lastID
			}
			if raw {
				params.IncludeRaw = &raw
			}
			return c.GetEventsSse(ctx, id, params, acceptEventStream)
		},
		handle: func(frame sseFrame) (bool, error) {
			typ, _, err := p.print([]byte(frame.Data))
			return err == nil && stop != nil && stop(typ), err
		},
	}
	return s.run(ctx)
}

func acceptEventStream(_ context.Context, req *http.Request) error {
	req.Header.Set("Accept", "text/event-stream")
	return nil
}
