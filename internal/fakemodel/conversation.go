package fakemodel

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

// Conversation is the part of a model request the fake model looks at,
// the same for every wire API.
type Conversation struct {
	API    API
	Model  string
	Stream bool
	// Tools offered to the model.
	Tools []ToolDef
	// Messages in order. System prompts are not messages (see System).
	Messages []Message
	// System is the system prompt / instructions (text parts joined).
	System string
	// IncludeUsage: Chat stream_options.include_usage.
	IncludeUsage bool
	// IncludeEncrypted: Responses include has reasoning.encrypted_content.
	IncludeEncrypted bool
}

// ToolDef is a tool offered by the request.
type ToolDef struct {
	Name string
	// Type: "function" for ordinary tools; Responses also has "custom"
	// (freeform), and built-ins such as "web_search" (without a name).
	Type string
}

// Message is one message of the conversation.
type Message struct {
	// Role: user, assistant, system, developer or tool.
	Role string
	// Text is the text parts joined with newlines.
	Text        string
	ToolCalls   []ToolCallRef
	ToolResults []ToolResult
}

// ToolCallRef is a tool call the model made earlier in the conversation.
type ToolCallRef struct {
	ID, Name string
	// Arguments: JSON arguments, or the freeform input.
	Arguments string
}

// ToolResult is a tool result the agent sent back to the model.
type ToolResult struct {
	API    API
	CallID string
	// Content is the result's text (text parts joined with newlines).
	Content string
	IsError bool
}

var markerRE = regexp.MustCompile(`SCN:([A-Za-z0-9_.\-]+)`)

// Marker returns the scenario named by the most recent user message that
// carries a marker, and that message's index; ok is false when there is
// none.
func (c *Conversation) Marker() (name string, index int, ok bool) {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		m := c.Messages[i]
		if m.Role != "user" {
			continue
		}
		if sm := markerRE.FindStringSubmatch(m.Text); sm != nil {
			return sm[1], i, true
		}
	}
	return "", -1, false
}

// ToolResultsAfter counts tool results in messages after index i.
func (c *Conversation) ToolResultsAfter(i int) int {
	n := 0
	for _, m := range c.Messages[i+1:] {
		n += len(m.ToolResults)
	}
	return n
}

// MarkedUserMessages counts user messages carrying a marker.
func (c *Conversation) MarkedUserMessages() int {
	n := 0
	for _, m := range c.Messages {
		if m.Role == "user" && markerRE.MatchString(m.Text) {
			n++
		}
	}
	return n
}

// LastToolResult is the most recent tool result, if any.
func (c *Conversation) LastToolResult() (ToolResult, bool) {
	for i := len(c.Messages) - 1; i >= 0; i-- {
		if r := c.Messages[i].ToolResults; len(r) > 0 {
			return r[len(r)-1], true
		}
	}
	return ToolResult{}, false
}

// ToolResults lists every tool result in the conversation.
func (c *Conversation) ToolResults() []ToolResult {
	var out []ToolResult
	for _, m := range c.Messages {
		out = append(out, m.ToolResults...)
	}
	return out
}

// offers reports whether the request offers a tool named name, and its type.
func (c *Conversation) offers(name string) (string, bool) {
	for _, t := range c.Tools {
		if t.Name == name {
			return t.Type, true
		}
	}
	return "", false
}

var cwdREs = []*regexp.Regexp{
	regexp.MustCompile(`<cwd>([^<\n]+)</cwd>`),
	regexp.MustCompile(`(?m)Working directory: *(/[^\s<]*)`),
	regexp.MustCompile(`(?m)Primary working directory: *(/[^\s<]*)`),
}

// Cwd is the agent's working directory as its prompt states it.
func (c *Conversation) Cwd() (string, bool) {
	texts := []string{c.System}
	for _, m := range c.Messages {
		texts = append(texts, m.Text)
	}
	for _, re := range cwdREs {
		for _, t := range texts {
			if sm := re.FindStringSubmatch(t); sm != nil {
				return strings.TrimRight(sm[1], "/"), true
			}
		}
	}
	return "", false
}

// ParseConversation reads a request body of the given API.
func ParseConversation(api API, body []byte) (*Conversation, error) {
	switch api {
	case Anthropic:
		return parseAnthropic(body)
	case Responses:
		return parseResponses(body)
	case Chat:
		return parseChat(body)
	}
	return nil, fmt.Errorf("unknown API %q", api)
}

// contentText joins the text of a content value that is a string or an
// array of parts with a "text" field (text, input_text, output_text, …).
func contentText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var texts []string
	for _, p := range parts {
		if p.Text != "" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n")
}

func parseAnthropic(body []byte) (*Conversation, error) {
	var req struct {
		Model    string          `json:"model"`
		Stream   bool            `json:"stream"`
		System   json.RawMessage `json:"system"`
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Tools []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	c := &Conversation{API: Anthropic, Model: req.Model, Stream: req.Stream, System: contentText(req.System)}
	for _, t := range req.Tools {
		typ := "function"
		if t.Type != "" && t.Type != "custom" {
			typ = t.Type
		}
		c.Tools = append(c.Tools, ToolDef{Name: t.Name, Type: typ})
	}
	for _, rm := range req.Messages {
		m := Message{Role: rm.Role}
		var s string
		if json.Unmarshal(rm.Content, &s) == nil {
			m.Text = s
			c.Messages = append(c.Messages, m)
			continue
		}
		var blocks []struct {
			Type      string          `json:"type"`
			Text      string          `json:"text"`
			ID        string          `json:"id"`
			Name      string          `json:"name"`
			Input     json.RawMessage `json:"input"`
			ToolUseID string          `json:"tool_use_id"`
			Content   json.RawMessage `json:"content"`
			IsError   bool            `json:"is_error"`
		}
		if err := json.Unmarshal(rm.Content, &blocks); err != nil {
			return nil, fmt.Errorf("message content: %w", err)
		}
		var texts []string
		for _, b := range blocks {
			switch b.Type {
			case "text":
				texts = append(texts, b.Text)
			case "tool_use", "server_tool_use":
				m.ToolCalls = append(m.ToolCalls, ToolCallRef{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
			case "tool_result":
				m.ToolResults = append(m.ToolResults, ToolResult{API: Anthropic, CallID: b.ToolUseID,
					Content: contentText(b.Content), IsError: b.IsError})
			}
		}
		m.Text = strings.Join(texts, "\n")
		c.Messages = append(c.Messages, m)
	}
	return c, nil
}

func parseResponses(body []byte) (*Conversation, error) {
	var req struct {
		Model        string          `json:"model"`
		Stream       bool            `json:"stream"`
		Instructions string          `json:"instructions"`
		Input        json.RawMessage `json:"input"`
		Include      []string        `json:"include"`
		Tools        []struct {
			Type string `json:"type"`
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	c := &Conversation{API: Responses, Model: req.Model, Stream: req.Stream, System: req.Instructions}
	for _, inc := range req.Include {
		if inc == "reasoning.encrypted_content" {
			c.IncludeEncrypted = true
		}
	}
	for _, t := range req.Tools {
		c.Tools = append(c.Tools, ToolDef{Name: t.Name, Type: t.Type})
	}
	var s string
	if json.Unmarshal(req.Input, &s) == nil {
		c.Messages = append(c.Messages, Message{Role: "user", Text: s})
		return c, nil
	}
	var items []struct {
		Type      string          `json:"type"`
		Role      string          `json:"role"`
		Content   json.RawMessage `json:"content"`
		CallID    string          `json:"call_id"`
		Name      string          `json:"name"`
		Arguments string          `json:"arguments"`
		Input     string          `json:"input"`
		Output    json.RawMessage `json:"output"`
	}
	if len(req.Input) > 0 {
		if err := json.Unmarshal(req.Input, &items); err != nil {
			return nil, fmt.Errorf("input: %w", err)
		}
	}
	for _, it := range items {
		switch it.Type {
		case "message", "":
			c.Messages = append(c.Messages, Message{Role: it.Role, Text: contentText(it.Content)})
		case "function_call", "local_shell_call":
			c.Messages = append(c.Messages, Message{Role: "assistant",
				ToolCalls: []ToolCallRef{{ID: it.CallID, Name: it.Name, Arguments: it.Arguments}}})
		case "custom_tool_call":
			c.Messages = append(c.Messages, Message{Role: "assistant",
				ToolCalls: []ToolCallRef{{ID: it.CallID, Name: it.Name, Arguments: it.Input}}})
		case "function_call_output", "custom_tool_call_output", "local_shell_call_output":
			out := contentText(it.Output)
			if out == "" && len(it.Output) > 0 {
				// Some clients send {"content": …, "success": …}.
				var o struct {
					Content json.RawMessage `json:"content"`
				}
				if json.Unmarshal(it.Output, &o) == nil {
					out = contentText(o.Content)
				}
			}
			c.Messages = append(c.Messages, Message{Role: "tool",
				ToolResults: []ToolResult{{API: Responses, CallID: it.CallID, Content: out}}})
		}
	}
	return c, nil
}

func parseChat(body []byte) (*Conversation, error) {
	var req struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		Messages []struct {
			Role       string          `json:"role"`
			Content    json.RawMessage `json:"content"`
			ToolCallID string          `json:"tool_call_id"`
			ToolCalls  []struct {
				ID       string `json:"id"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"messages"`
		Tools []struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	c := &Conversation{API: Chat, Model: req.Model, Stream: req.Stream}
	c.IncludeUsage = req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	for _, t := range req.Tools {
		c.Tools = append(c.Tools, ToolDef{Name: t.Function.Name, Type: t.Type})
	}
	var system []string
	for _, rm := range req.Messages {
		text := contentText(rm.Content)
		switch rm.Role {
		case "system", "developer":
			system = append(system, text)
			continue
		case "tool":
			c.Messages = append(c.Messages, Message{Role: "tool",
				ToolResults: []ToolResult{{API: Chat, CallID: rm.ToolCallID, Content: text}}})
			continue
		}
		m := Message{Role: rm.Role, Text: text}
		for _, tc := range rm.ToolCalls {
			m.ToolCalls = append(m.ToolCalls, ToolCallRef{ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments})
		}
		c.Messages = append(c.Messages, m)
	}
	c.System = strings.Join(system, "\n")
	return c, nil
}
