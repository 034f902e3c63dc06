package modelproxy

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"

	"github.com/agentd-dev/agentd/schema"
)

// Usage is the token usage a provider reported, summed over a session's
// calls. The fields mean the same for every provider: InputTokens are the
// uncached input tokens (OpenAI's input minus its cached part), so
// InputTokens+CacheReadTokens+CacheWriteTokens is all the input, and
// ReasoningTokens are the part of OutputTokens spent reasoning.
type Usage struct {
	InputTokens      int64 `json:"input_tokens"`
	OutputTokens     int64 `json:"output_tokens"`
	CacheReadTokens  int64 `json:"cache_read_tokens"`
	CacheWriteTokens int64 `json:"cache_write_tokens"`
	ReasoningTokens  int64 `json:"reasoning_tokens"`
	Requests         int64 `json:"requests"` // model calls whose reply was read to the end
}

// Schema is the usage as agentd's events carry it, counted by the proxy.
func (u Usage) Schema() schema.Usage {
	return schema.Usage{
		InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadTokens: u.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens, ReasoningTokens: u.ReasoningTokens, Source: schema.UsageFromProxy,
	}.Totalled()
}

func (u Usage) plus(v Usage) Usage {
	return Usage{
		InputTokens:      u.InputTokens + v.InputTokens,
		OutputTokens:     u.OutputTokens + v.OutputTokens,
		CacheReadTokens:  u.CacheReadTokens + v.CacheReadTokens,
		CacheWriteTokens: u.CacheWriteTokens + v.CacheWriteTokens,
		ReasoningTokens:  u.ReasoningTokens + v.ReasoningTokens,
		Requests:         u.Requests + v.Requests,
	}
}

// api is the kind of call, which says where its usage is.
type api int

const (
	apiOther     api = iota // no usage to read (count_tokens, model lists)
	apiMessages             // Anthropic Messages
	apiResponses            // OpenAI Responses
	apiChat                 // OpenAI Chat Completions
)

// maxJSONReply caps what a non-streaming reply keeps for its usage; a
// larger one still passes through whole, its usage is just not counted.
const maxJSONReply = 8 << 20

// maxSSELine caps one SSE line kept for parsing, for the same reason.
const maxSSELine = 4 << 20

// usageTee hands the reply to the proxy unchanged while reading the usage
// out of the bytes that went by: SSE line by line as they stream, a JSON
// reply once it has ended. The call's usage is reported once, at EOF or
// Close.
type usageTee struct {
	body   io.ReadCloser
	api    api
	sse    bool
	report func(Usage)

	buf      []byte // the partial SSE line, or the JSON reply so far
	overflow bool   // buf outgrew its cap; the current line/reply is skipped
	got      Usage
	seen     bool // a usage was found
	once     sync.Once
}

func newUsageTee(body io.ReadCloser, a api, sse bool, report func(Usage)) *usageTee {
	return &usageTee{body: body, api: a, sse: sse, report: report}
}

func (t *usageTee) Read(p []byte) (int, error) {
	n, err := t.body.Read(p)
	if n > 0 {
		t.consume(p[:n])
	}
	if err == io.EOF {
		t.finish()
	}
	return n, err
}

func (t *usageTee) Close() error {
	t.finish()
	return t.body.Close()
}

func (t *usageTee) consume(b []byte) {
	if !t.sse {
		t.keep(b, maxJSONReply)
		return
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.keep(b, maxSSELine)
			return
		}
		t.keep(b[:i], maxSSELine)
		if !t.overflow {
			t.line(t.buf)
		}
		t.buf, t.overflow = t.buf[:0], false
		b = b[i+1:]
	}
}

func (t *usageTee) keep(b []byte, limit int) {
	if t.overflow {
		return
	}
	if len(t.buf)+len(b) > limit {
		t.buf, t.overflow = t.buf[:0], true
		return
	}
	t.buf = append(t.buf, b...)
}

func (t *usageTee) line(l []byte) {
	data, ok := bytes.CutPrefix(bytes.TrimRight(l, "\r"), []byte("data:"))
	if !ok {
		return
	}
	t.event(bytes.TrimSpace(data))
}

func (t *usageTee) finish() {
	t.once.Do(func() {
		if !t.sse && !t.overflow {
			t.event(t.buf)
		}
		t.buf = nil
		if t.seen {
			t.got.Requests = 1
			t.report(t.got)
		}
	})
}

// wireUsage is the union of the providers' usage objects.
type wireUsage struct {
	// Anthropic
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	// OpenAI Responses (input_tokens and output_tokens above)
	InputTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	// OpenAI Chat Completions
	PromptTokens        *int64 `json:"prompt_tokens"`
	CompletionTokens    *int64 `json:"completion_tokens"`
	PromptTokensDetails struct {
		CachedTokens int64 `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int64 `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
}

// wireEvent holds the usage wherever a reply or event carries it.
type wireEvent struct {
	Type    string     `json:"type"`
	Usage   *wireUsage `json:"usage"`
	Message *struct {
		Usage *wireUsage `json:"usage"`
	} `json:"message"` // Anthropic message_start
	Response *struct {
		Usage *wireUsage `json:"usage"`
	} `json:"response"` // Responses response.completed
}

// event reads the usage from one SSE data payload or JSON reply.
func (t *usageTee) event(data []byte) {
	if len(data) == 0 || data[0] != '{' || !bytes.Contains(data, []byte(`usage`)) {
		return // most stream events carry no usage: skip them unparsed
	}
	var e wireEvent
	if json.Unmarshal(data, &e) != nil {
		return
	}
	switch t.api {
	case apiMessages:
		t.anthropic(e)
	case apiResponses:
		// Streams carry it in response.completed (or .incomplete/.failed),
		// a plain reply at the top.
		if e.Response != nil && e.Response.Usage != nil {
			t.openAI(e.Response.Usage)
		} else {
			t.openAI(e.Usage)
		}
	case apiChat:
		t.openAI(e.Usage)
	}
}

// anthropic merges message_start's usage with message_delta's, whose
// counts are cumulative and so replace, not add to, the earlier ones.
func (t *usageTee) anthropic(e wireEvent) {
	u := e.Usage
	if e.Type == "message_start" && e.Message != nil {
		u = e.Message.Usage
	}
	if u == nil {
		return
	}
	t.seen = true
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&t.got.InputTokens, u.InputTokens)
	set(&t.got.OutputTokens, u.OutputTokens)
	set(&t.got.CacheReadTokens, u.CacheReadInputTokens)
	set(&t.got.CacheWriteTokens, u.CacheCreationInputTokens)
}

// openAI takes a final usage object (Responses or Chat), which replaces
// anything seen before in the same reply.
func (t *usageTee) openAI(u *wireUsage) {
	if u == nil {
		return
	}
	in, out := u.InputTokens, u.OutputTokens
	cached, reasoning := u.InputTokensDetails.CachedTokens, u.OutputTokensDetails.ReasoningTokens
	if u.PromptTokens != nil || u.CompletionTokens != nil {
		in, out = u.PromptTokens, u.CompletionTokens
		cached, reasoning = u.PromptTokensDetails.CachedTokens, u.CompletionTokensDetails.ReasoningTokens
	}
	t.seen = true
	t.got = Usage{
		InputTokens:     deref(in) - cached,
		OutputTokens:    deref(out),
		CacheReadTokens: cached,
		ReasoningTokens: reasoning,
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
