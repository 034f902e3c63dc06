package fakemodel

import (
	"encoding/json"
	"net/http"
	"strings"
)

// respondJSON answers a non-streaming request with the whole reply.
// Stall and drop steps behave as in a stream; a stream error becomes an
// HTTP error.
func (s *Server) respondJSON(w http.ResponseWriter, r *http.Request, p plan, h http.Header) {
	var steps []Step
	for _, st := range p.steps {
		switch st.Kind {
		case KindStall:
			s.stall(r.Context(), st.Release)
			if r.Context().Err() != nil {
				return
			}
			s.abortIfClosing()
		case KindDrop:
			panic(http.ErrAbortHandler)
		case KindStreamError:
			s.writeError(w, p.api, *st.Error, nil)
			return
		default:
			steps = append(steps, st)
		}
	}
	p.steps = steps
	switch p.api {
	case Anthropic:
		writeJSON(w, http.StatusOK, h, s.anthropicMessage(p))
	case Responses:
		writeJSON(w, http.StatusOK, h, s.responsesObject(p))
	default:
		writeJSON(w, http.StatusOK, h, s.chatCompletion(p))
	}
}

func argsObject(c Call) json.RawMessage {
	if len(c.Arguments) == 0 {
		return json.RawMessage("{}")
	}
	return c.Arguments
}

func (s *Server) anthropicMessage(p plan) obj {
	id := s.id("msg_fake_")
	content := list()
	for _, st := range p.steps {
		switch st.Kind {
		case KindText:
			content = append(content, obj{{"type", "text"}, {"text", st.Text}})
		case KindThinking:
			content = append(content, obj{{"type", "thinking"}, {"thinking", st.Text}, {"signature", signature(st)}})
		case KindTool:
			c := st.Calls[0]
			content = append(content, obj{{"type", "tool_use"}, {"id", s.id("toolu_fake_")}, {"name", c.Name}, {"input", argsObject(c)}})
		}
	}
	stop := "end_turn"
	if hasTool(p.steps) {
		stop = "tool_use"
	}
	u := s.usage
	return obj{{"id", id}, {"type", "message"}, {"role", "assistant"}, {"model", p.model}, {"content", content},
		{"stop_reason", stop}, {"stop_sequence", nil},
		{"usage", obj{{"input_tokens", u.Input}, {"cache_creation_input_tokens", 0},
			{"cache_read_input_tokens", u.Cached}, {"output_tokens", u.Output}}}}
}

func (s *Server) responsesObject(p plan) obj {
	id := s.id("resp_fake_")
	output := list()
	for _, st := range p.steps {
		switch st.Kind {
		case KindText:
			output = append(output, obj{{"id", s.id("msg_fake_")}, {"type", "message"}, {"status", "completed"},
				{"content", list(outputText(st.Text))}, {"role", "assistant"}})
		case KindThinking:
			itemID := s.id("rs_fake_")
			item := obj{{"id", itemID}, {"type", "reasoning"}, {"summary", list(summaryText(st.Text))}}
			if st.Raw != "" {
				item = append(item, kv{"content", list(obj{{"type", "reasoning_text"}, {"text", st.Raw}})})
			}
			if p.conv.IncludeEncrypted {
				item = append(item, kv{"encrypted_content", "fake-encrypted:" + itemID})
			}
			output = append(output, item)
		case KindTool:
			c := st.Calls[0]
			if c.Input != "" {
				output = append(output, obj{{"id", s.id("ctc_fake_")}, {"type", "custom_tool_call"}, {"status", "completed"},
					{"call_id", s.id("call_fake_")}, {"input", c.Input}, {"name", c.Name}})
			} else {
				output = append(output, obj{{"id", s.id("fc_fake_")}, {"type", "function_call"}, {"status", "completed"},
					{"arguments", string(argsObject(c))}, {"call_id", s.id("call_fake_")}, {"name", c.Name}})
			}
		}
	}
	return responseObject(id, s.now().Unix(), "completed", p.model, nil, output, responsesUsage(s.usage))
}

func (s *Server) chatCompletion(p plan) obj {
	id := s.id("chatcmpl-fake-")
	var text, reasoning []string
	var calls []any
	for _, st := range p.steps {
		switch st.Kind {
		case KindText:
			text = append(text, st.Text)
		case KindThinking:
			reasoning = append(reasoning, st.Text)
		case KindTool:
			c := st.Calls[0]
			calls = append(calls, obj{{"id", s.id("call_fake_")}, {"type", "function"},
				{"function", obj{{"name", c.Name}, {"arguments", string(argsObject(c))}}}})
		}
	}
	msg := obj{{"role", "assistant"}}
	if len(text) > 0 {
		msg = append(msg, kv{"content", strings.Join(text, "")})
	} else {
		msg = append(msg, kv{"content", nil})
	}
	if len(reasoning) > 0 {
		msg = append(msg, kv{"reasoning_content", strings.Join(reasoning, "")})
	}
	if len(calls) > 0 {
		msg = append(msg, kv{"tool_calls", calls})
	}
	msg = append(msg, kv{"refusal", nil})
	reason := "stop"
	if len(calls) > 0 {
		reason = "tool_calls"
	}
	return obj{{"id", id}, {"object", "chat.completion"}, {"created", s.now().Unix()}, {"model", p.model},
		{"choices", list(obj{{"index", 0}, {"message", msg}, {"logprobs", nil}, {"finish_reason", reason}})},
		{"usage", chatUsage(s.usage)}, {"system_fingerprint", "fp_fake"}}
}
