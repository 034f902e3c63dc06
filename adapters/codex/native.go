package codex

import (
	"encoding/json"

	"github.com/agentd-dev/agentd/schema"
)

// The shapes of `codex app-server` JSON-RPC messages, as far as the
// translator reads them (../shared/agents/codex.md; the schema dumped by
// codex 0.169.0 is under captures/codex/schema). One envelope covers
// requests, responses and notifications so a line is decoded once; params
// are decoded a second time, into the struct their method needs.

// envelope is any message: a request or server request has a method and
// an id, a notification a method only, a response an id and a result or
// an error. Messages carry no "jsonrpc" field.
type envelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

type rpcError struct {
	Code    int64           `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

// thread is the part of a Thread the adapter reads.
type thread struct {
	ID            string `json:"id"`
	Path          string `json:"path"`
	Cwd           string `json:"cwd"`
	Model         string `json:"model"`
	ModelProvider string `json:"modelProvider"`
}

type threadStarted struct {
	Thread thread `json:"thread"`
}

// threadResult is the result of thread/start and thread/resume.
type threadResult struct {
	Thread thread `json:"thread"`
	Model  string `json:"model"`
}

type turn struct {
	ID         string          `json:"id"`
	Status     string          `json:"status"`
	Error      *turnError      `json:"error"`
	DurationMS json.RawMessage `json:"durationMs"`
}

type turnError struct {
	Message           string          `json:"message"`
	CodexErrorInfo    json.RawMessage `json:"codexErrorInfo"`
	AdditionalDetails json.RawMessage `json:"additionalDetails"`
}

type turnParams struct {
	Turn turn `json:"turn"`
}

// turnResult is the result of turn/start.
type turnResult struct {
	Turn turn `json:"turn"`
}

type itemParams struct {
	Item json.RawMessage `json:"item"`
}

// item is a ThreadItem; which fields are set depends on its type.
type item struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// userMessage
	Content json.RawMessage `json:"content"`
	// agentMessage
	Text string `json:"text"`
	// reasoning: summary and raw content, each a list of strings
	Summary []string `json:"summary"`
	// commandExecution
	Command          string          `json:"command"`
	Cwd              string          `json:"cwd"`
	Status           string          `json:"status"`
	AggregatedOutput *string         `json:"aggregatedOutput"`
	ExitCode         *int64          `json:"exitCode"`
	DurationMS       json.RawMessage `json:"durationMs"`
	// fileChange
	Changes []fileChange `json:"changes"`
	// mcpToolCall
	Server    string          `json:"server"`
	Tool      string          `json:"tool"`
	Arguments json.RawMessage `json:"arguments"`
	Result    json.RawMessage `json:"result"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error"`
	// webSearch
	Query string `json:"query"`
}

type fileChange struct {
	Path string `json:"path"`
	Kind struct {
		Type     string  `json:"type"`
		MovePath *string `json:"move_path"`
	} `json:"kind"`
	Diff string `json:"diff"`
}

type userInput struct {
	Type string `json:"type"`
	Text string `json:"text"`
	URL  string `json:"url"`
	Path string `json:"path"`
}

type deltaParams struct {
	ItemID string `json:"itemId"`
	Delta  string `json:"delta"`
	// terminalInteraction
	Stdin string `json:"stdin"`
}

type errorParams struct {
	Error     turnError `json:"error"`
	WillRetry bool      `json:"willRetry"`
}

type tokenUsageParams struct {
	TokenUsage struct {
		Last               tokenCounts     `json:"last"`
		ModelContextWindow json.RawMessage `json:"modelContextWindow"`
	} `json:"tokenUsage"`
}

type tokenCounts struct {
	TotalTokens           int64 `json:"totalTokens"`
	InputTokens           int64 `json:"inputTokens"`
	CachedInputTokens     int64 `json:"cachedInputTokens"`
	CacheWriteInputTokens int64 `json:"cacheWriteInputTokens"`
	OutputTokens          int64 `json:"outputTokens"`
	ReasoningOutputTokens int64 `json:"reasoningOutputTokens"`
}

func (c *tokenCounts) add(o tokenCounts) {
	c.TotalTokens += o.TotalTokens
	c.InputTokens += o.InputTokens
	c.CachedInputTokens += o.CachedInputTokens
	c.CacheWriteInputTokens += o.CacheWriteInputTokens
	c.OutputTokens += o.OutputTokens
	c.ReasoningOutputTokens += o.ReasoningOutputTokens
}

// normalized turns Codex's counts (OpenAI's: input includes the cached
// part) into agentd's, whose input is the uncached part only.
func (c tokenCounts) normalized() *schema.Usage {
	u := schema.Usage{
		InputTokens:     max(0, c.InputTokens-c.CachedInputTokens-c.CacheWriteInputTokens),
		CacheReadTokens: c.CachedInputTokens, CacheWriteTokens: c.CacheWriteInputTokens,
		OutputTokens: c.OutputTokens, ReasoningTokens: c.ReasoningOutputTokens,
		Source: schema.UsageFromAgent,
	}.Totalled()
	return &u
}

type planParams struct {
	Plan json.RawMessage `json:"plan"`
}

type resolvedParams struct {
	RequestID json.RawMessage `json:"requestId"`
}

// approvalParams are the params of item/commandExecution/requestApproval
// and item/fileChange/requestApproval.
type approvalParams struct {
	ThreadID       string          `json:"threadId"`
	TurnID         string          `json:"turnId"`
	ItemID         string          `json:"itemId"`
	Command        *string         `json:"command"`
	Cwd            *string         `json:"cwd"`
	Reason         *string         `json:"reason"`
	GrantRoot      *string         `json:"grantRoot"`
	CommandActions json.RawMessage `json:"commandActions"`
}

type userInputParams struct {
	Questions []struct {
		ID       string `json:"id"`
		Question string `json:"question"`
		Options  []struct {
			Label string `json:"label"`
		} `json:"options"`
	} `json:"questions"`
}

// rawString reads a JSON string, or "" for anything else.
func rawString(r json.RawMessage) string {
	var s string
	if len(r) == 0 || json.Unmarshal(r, &s) != nil {
		return ""
	}
	return s
}

// nonNull returns r, or nil when r is absent or JSON null.
func nonNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 || string(r) == "null" {
		return nil
	}
	return r
}
