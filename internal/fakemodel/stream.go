package fakemodel

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// An emitter writes one wire API's stream. Blocks are opened by open,
// fed by delta and closed by closeBlock (a no-op when none is open).
type emitter interface {
	begin()
	open(st Step)
	// delta adds a piece to the open block; part 1 is the raw reasoning of
	// a thinking step, part 0 everything else.
	delta(part int, piece string)
	closeBlock()
	finish()
	fail(e ErrorSpec)
}

// stream plays p's steps through em.
func (s *Server) stream(ctx context.Context, out *sse, em emitter, p plan) {
	em.begin()
	for _, st := range p.steps {
		if out.err != nil || ctx.Err() != nil {
			return
		}
		switch st.Kind {
		case KindText, KindThinking, KindTool:
			em.closeBlock()
			em.open(st)
			for _, pc := range pieces(st) {
				if st.Delay > 0 && !s.wait(ctx, st.Delay) {
					s.abortIfClosing()
					return
				}
				em.delta(pc.part, pc.text)
				if out.err != nil {
					return
				}
			}
		case KindStall:
			s.stall(ctx, st.Release)
			s.abortIfClosing()
		case KindDrop:
			// Aborting the handler cuts the connection without the end of the
			// chunked body (HTTP/1.1) or resets the stream (HTTP/2).
			panic(http.ErrAbortHandler)
		case KindStreamError:
			// The block in progress is finished first, as providers do
			// (Claude Code keeps it and retries with a "cut off" note; an
			// error inside an open block makes it fall back to a
			// non-streaming request instead).
			em.closeBlock()
			em.fail(*st.Error)
			return
		}
	}
	if ctx.Err() != nil {
		return
	}
	em.closeBlock()
	em.finish()
}

// wait sleeps for d unless the request or the server ends first.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

// abortIfClosing cuts the connection when the server is closing, so a
// reply cut short by Close does not look complete to the client.
func (s *Server) abortIfClosing() {
	select {
	case <-s.closing:
		panic(http.ErrAbortHandler)
	default:
	}
}

// stall blocks until the request ends, the server closes or release is
// closed.
func (s *Server) stall(ctx context.Context, release <-chan struct{}) {
	select {
	case <-ctx.Done():
	case <-s.closing:
	case <-release:
	}
}

type piece struct {
	part int
	text string
}

// pieces splits a step into its deltas.
func pieces(st Step) []piece {
	n := st.Chunk
	if n <= 0 {
		n = 3
	}
	var out []piece
	switch st.Kind {
	case KindText, KindThinking:
		for _, c := range chunkWords(st.Text, n) {
			out = append(out, piece{0, c})
		}
		if st.Kind == KindThinking {
			for _, c := range chunkWords(st.Raw, n) {
				out = append(out, piece{1, c})
			}
		}
	case KindTool:
		c := st.Calls[0]
		src := c.Input
		if src == "" {
			src = string(c.Arguments)
		}
		for _, b := range chunkBytes(src, 40) {
			out = append(out, piece{0, b})
		}
	}
	return out
}

// chunkWords splits s into pieces of n words, each keeping the spaces
// that follow it: "a b c d" by 3 is "a b c ", "d".
func chunkWords(s string, n int) []string {
	var out []string
	start, words := 0, 0
	inWord := false
	for i, r := range s {
		space := unicode.IsSpace(r)
		if !space && !inWord {
			if words == n {
				out = append(out, s[start:i])
				start, words = i, 0
			}
			words++
		}
		inWord = !space
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// chunkBytes splits s into pieces of about n bytes on rune boundaries.
func chunkBytes(s string, n int) []string {
	var out []string
	for len(s) > n {
		i := n
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// hasTool reports whether a reply calls a tool.
func hasTool(steps []Step) bool {
	for _, st := range steps {
		if st.Kind == KindTool {
			return true
		}
	}
	return false
}

// ---- Anthropic Messages ----

type anthropicEmitter struct {
	s     *Server
	out   *sse
	p     plan
	index int
	cur   *Step // open block
}

func (e *anthropicEmitter) ev(typ string, fields ...kv) {
	e.out.event(typ, mustJSON(append(obj{{"type", typ}}, fields...)))
}

func (e *anthropicEmitter) begin() {
	u := e.s.usage
	e.ev("message_start", kv{"message", obj{
		{"id", e.s.id("msg_fake_")}, {"type", "message"}, {"role", "assistant"}, {"model", e.p.model},
		{"content", list()}, {"stop_reason", nil}, {"stop_sequence", nil},
		{"usage", obj{{"input_tokens", u.Input}, {"cache_creation_input_tokens", 0},
			{"cache_read_input_tokens", u.Cached}, {"output_tokens", 1}}},
	}})
	e.ev("ping")
	e.index = -1
}

func (e *anthropicEmitter) open(st Step) {
	e.index++
	var block obj
	switch st.Kind {
	case KindText:
		block = obj{{"type", "text"}, {"text", ""}}
	case KindThinking:
		block = obj{{"type", "thinking"}, {"thinking", ""}, {"signature", ""}}
	case KindTool:
		c := st.Calls[0]
		block = obj{{"type", "tool_use"}, {"id", e.s.id("toolu_fake_")}, {"name", c.Name}, {"input", obj{}}}
	}
	e.ev("content_block_start", kv{"index", e.index}, kv{"content_block", block})
	e.cur = &st
}

func (e *anthropicEmitter) delta(part int, p string) {
	var d obj
	switch e.cur.Kind {
	case KindText:
		d = obj{{"type", "text_delta"}, {"text", p}}
	case KindThinking:
		if part != 0 {
			return
		}
		d = obj{{"type", "thinking_delta"}, {"thinking", p}}
	case KindTool:
		d = obj{{"type", "input_json_delta"}, {"partial_json", p}}
	}
	e.ev("content_block_delta", kv{"index", e.index}, kv{"delta", d})
}

func (e *anthropicEmitter) closeBlock() {
	if e.cur == nil {
		return
	}
	if e.cur.Kind == KindThinking {
		e.ev("content_block_delta", kv{"index", e.index},
			kv{"delta", obj{{"type", "signature_delta"}, {"signature", signature(*e.cur)}}})
	}
	e.ev("content_block_stop", kv{"index", e.index})
	e.cur = nil
}

func (e *anthropicEmitter) finish() {
	stop := "end_turn"
	if hasTool(e.p.steps) {
		stop = "tool_use"
	}
	e.ev("message_delta", kv{"delta", obj{{"stop_reason", stop}, {"stop_sequence", nil}}},
		kv{"usage", obj{{"output_tokens", e.s.usage.Output}}})
	e.ev("message_stop")
}

func (e *anthropicEmitter) fail(er ErrorSpec) {
	e.out.event("error", mustJSON(anthropicErrorBody(er, "")))
}

func signature(st Step) string {
	if st.Signature != "" {
		return st.Signature
	}
	return "fakesig=="
}

// ---- OpenAI Responses ----

type responsesEmitter struct {
	s       *Server
	out     *sse
	p       plan
	seq     int
	respID  string
	created int64
	output  []any // done items
	cur     *Step
	item    obj // open item's id etc.
	itemID  string
	callID  string
	outIdx  int
	text    strings.Builder // open item's text / arguments
	raw     strings.Builder // open reasoning item's raw text
	sumDone bool
}

func (e *responsesEmitter) ev(typ string, fields ...kv) {
	o := append(obj{{"type", typ}, {"sequence_number", e.seq}}, fields...)
	e.seq++
	e.out.event(typ, mustJSON(o))
}

func (e *responsesEmitter) response(status string, errObj, usage any) obj {
	return responseObject(e.respID, e.created, status, e.p.model, errObj, list(e.output...), usage)
}

func responseObject(id string, created int64, status, model string, errObj any, output []any, usage any) obj {
	return obj{{"id", id}, {"object", "response"}, {"created_at", created}, {"status", status},
		{"error", errObj}, {"incomplete_details", nil}, {"model", model}, {"output", output},
		{"parallel_tool_calls", true}, {"store", false}, {"tool_choice", "auto"}, {"usage", usage}}
}

func responsesUsage(u Usage) obj {
	return obj{{"input_tokens", u.Input}, {"input_tokens_details", obj{{"cached_tokens", u.Cached}}},
		{"output_tokens", u.Output}, {"output_tokens_details", obj{{"reasoning_tokens", u.Reasoning}}},
		{"total_tokens", u.Input + u.Output}}
}

func (e *responsesEmitter) begin() {
	e.respID = e.s.id("resp_fake_")
	e.created = e.s.now().Unix()
	e.ev("response.created", kv{"response", e.response("in_progress", nil, nil)})
	e.ev("response.in_progress", kv{"response", e.response("in_progress", nil, nil)})
	e.outIdx = -1
}

func (e *responsesEmitter) open(st Step) {
	e.outIdx++
	e.cur = &st
	e.text.Reset()
	e.raw.Reset()
	e.sumDone = false
	var item obj
	switch st.Kind {
	case KindText:
		e.itemID = e.s.id("msg_fake_")
		item = obj{{"id", e.itemID}, {"type", "message"}, {"status", "in_progress"}, {"content", list()}, {"role", "assistant"}}
	case KindThinking:
		e.itemID = e.s.id("rs_fake_")
		item = obj{{"id", e.itemID}, {"type", "reasoning"}, {"summary", list()}}
	case KindTool:
		c := st.Calls[0]
		if c.Input != "" {
			e.itemID = e.s.id("ctc_fake_")
			e.callID = e.s.id("call_fake_")
			item = obj{{"id", e.itemID}, {"type", "custom_tool_call"}, {"status", "in_progress"},
				{"call_id", e.callID}, {"input", ""}, {"name", c.Name}}
		} else {
			e.itemID = e.s.id("fc_fake_")
			e.callID = e.s.id("call_fake_")
			item = obj{{"id", e.itemID}, {"type", "function_call"}, {"status", "in_progress"},
				{"arguments", ""}, {"call_id", e.callID}, {"name", c.Name}}
		}
	}
	e.ev("response.output_item.added", kv{"output_index", e.outIdx}, kv{"item", item})
	switch st.Kind {
	case KindText:
		e.ev("response.content_part.added", kv{"item_id", e.itemID}, kv{"output_index", e.outIdx},
			kv{"content_index", 0}, kv{"part", outputText("")})
	case KindThinking:
		e.ev("response.reasoning_summary_part.added", kv{"item_id", e.itemID}, kv{"output_index", e.outIdx},
			kv{"summary_index", 0}, kv{"part", summaryText("")})
	}
}

func outputText(t string) obj {
	return obj{{"type", "output_text"}, {"annotations", list()}, {"logprobs", list()}, {"text", t}}
}

func summaryText(t string) obj { return obj{{"type", "summary_text"}, {"text", t}} }

func (e *responsesEmitter) ids() []kv {
	return []kv{{"item_id", e.itemID}, {"output_index", e.outIdx}}
}

func (e *responsesEmitter) delta(part int, p string) {
	switch e.cur.Kind {
	case KindText:
		e.text.WriteString(p)
		e.ev("response.output_text.delta", append(e.ids(), kv{"content_index", 0}, kv{"delta", p}, kv{"logprobs", list()})...)
	case KindThinking:
		if part == 0 {
			e.text.WriteString(p)
			e.ev("response.reasoning_summary_text.delta", append(e.ids(), kv{"summary_index", 0}, kv{"delta", p})...)
			return
		}
		e.endSummary()
		e.raw.WriteString(p)
		e.ev("response.reasoning_text.delta", append(e.ids(), kv{"content_index", 0}, kv{"delta", p})...)
	case KindTool:
		e.text.WriteString(p)
		if e.cur.Calls[0].Input != "" {
			e.ev("response.custom_tool_call_input.delta", append(e.ids(), kv{"delta", p})...)
		} else {
			e.ev("response.function_call_arguments.delta", append(e.ids(), kv{"delta", p})...)
		}
	}
}

// endSummary ends the summary part of the open reasoning item.
func (e *responsesEmitter) endSummary() {
	if e.sumDone {
		return
	}
	e.sumDone = true
	t := e.text.String()
	e.ev("response.reasoning_summary_text.done", append(e.ids(), kv{"summary_index", 0}, kv{"text", t})...)
	e.ev("response.reasoning_summary_part.done", append(e.ids(), kv{"summary_index", 0}, kv{"part", summaryText(t)})...)
}

func (e *responsesEmitter) closeBlock() {
	if e.cur == nil {
		return
	}
	t := e.text.String()
	var item obj
	switch e.cur.Kind {
	case KindText:
		e.ev("response.output_text.done", append(e.ids(), kv{"content_index", 0}, kv{"text", t}, kv{"logprobs", list()})...)
		e.ev("response.content_part.done", append(e.ids(), kv{"content_index", 0}, kv{"part", outputText(t)})...)
		item = obj{{"id", e.itemID}, {"type", "message"}, {"status", "completed"},
			{"content", list(outputText(t))}, {"role", "assistant"}}
	case KindThinking:
		e.endSummary()
		item = obj{{"id", e.itemID}, {"type", "reasoning"}, {"summary", list(summaryText(t))}}
		if e.raw.Len() > 0 {
			r := e.raw.String()
			e.ev("response.reasoning_text.done", append(e.ids(), kv{"content_index", 0}, kv{"text", r})...)
			item = append(item, kv{"content", list(obj{{"type", "reasoning_text"}, {"text", r}})})
		}
		if e.p.conv.IncludeEncrypted {
			item = append(item, kv{"encrypted_content", "fake-encrypted:" + e.itemID})
		}
	case KindTool:
		c := e.cur.Calls[0]
		if c.Input != "" {
			e.ev("response.custom_tool_call_input.done", append(e.ids(), kv{"input", t})...)
			item = obj{{"id", e.itemID}, {"type", "custom_tool_call"}, {"status", "completed"},
				{"call_id", e.callID}, {"input", t}, {"name", c.Name}}
		} else {
			e.ev("response.function_call_arguments.done", append(e.ids(), kv{"arguments", t})...)
			item = obj{{"id", e.itemID}, {"type", "function_call"}, {"status", "completed"},
				{"arguments", t}, {"call_id", e.callID}, {"name", c.Name}}
		}
	}
	e.ev("response.output_item.done", kv{"output_index", e.outIdx}, kv{"item", item})
	e.output = append(e.output, item)
	e.cur = nil
}

func (e *responsesEmitter) finish() {
	e.ev("response.completed", kv{"response", e.response("completed", nil, responsesUsage(e.s.usage))})
}

func (e *responsesEmitter) fail(er ErrorSpec) {
	code := er.OpenAICode
	if code == "" {
		code = "server_error"
	}
	e.ev("response.failed", kv{"response", e.response("failed", obj{{"code", code}, {"message", er.Message}}, nil)})
}

// ---- OpenAI Chat Completions ----

type chatEmitter struct {
	s       *Server
	out     *sse
	p       plan
	id      string
	created int64
	cur     *Step
	tools   int // tool calls so far
}

func (e *chatEmitter) chunk(choices []any, usage any) {
	o := obj{{"id", e.id}, {"object", "chat.completion.chunk"}, {"created", e.created}, {"model", e.p.model},
		{"system_fingerprint", "fp_fake"}, {"choices", choices}}
	if usage != nil {
		o = append(o, kv{"usage", usage})
	}
	e.out.event("", mustJSON(o))
}

func (e *chatEmitter) deltaChunk(delta obj, finish any) {
	e.chunk(list(obj{{"index", 0}, {"delta", delta}, {"logprobs", nil}, {"finish_reason", finish}}), nil)
}

func (e *chatEmitter) begin() {
	e.id = e.s.id("chatcmpl-fake-")
	e.created = e.s.now().Unix()
	e.deltaChunk(obj{{"role", "assistant"}, {"content", ""}, {"refusal", nil}}, nil)
}

func (e *chatEmitter) open(st Step) {
	e.cur = &st
	if st.Kind == KindTool {
		c := st.Calls[0]
		e.deltaChunk(obj{{"tool_calls", list(obj{{"index", e.tools}, {"id", e.s.id("call_fake_")}, {"type", "function"},
			{"function", obj{{"name", c.Name}, {"arguments", ""}}}})}}, nil)
	}
}

func (e *chatEmitter) delta(part int, p string) {
	switch e.cur.Kind {
	case KindText:
		e.deltaChunk(obj{{"content", p}}, nil)
	case KindThinking:
		if part == 0 {
			e.deltaChunk(obj{{"reasoning_content", p}}, nil)
		}
	case KindTool:
		e.deltaChunk(obj{{"tool_calls", list(obj{{"index", e.tools}, {"function", obj{{"arguments", p}}}})}}, nil)
	}
}

func (e *chatEmitter) closeBlock() {
	if e.cur != nil && e.cur.Kind == KindTool {
		e.tools++
	}
	e.cur = nil
}

func (e *chatEmitter) finish() {
	reason := "stop"
	if hasTool(e.p.steps) {
		reason = "tool_calls"
	}
	e.deltaChunk(obj{}, reason)
	if e.p.conv.IncludeUsage {
		e.chunk(list(), chatUsage(e.s.usage))
	}
	e.out.event("", []byte("[DONE]"))
}

func chatUsage(u Usage) obj {
	return obj{{"prompt_tokens", u.Input}, {"completion_tokens", u.Output}, {"total_tokens", u.Input + u.Output},
		{"prompt_tokens_details", obj{{"cached_tokens", u.Cached}}}}
}

func (e *chatEmitter) fail(er ErrorSpec) {
	e.out.event("", mustJSON(openAIErrorBody(er)))
}
