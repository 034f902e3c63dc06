package claude

import "encoding/json"

// The shapes of Claude Code's stream-json lines, as far as the translator
// reads them (../shared/agents/claude.md). One struct covers every line type
// so a line is decoded once; fields whose JSON type varies between line
// types or versions are kept raw and read leniently.

type nativeLine struct {
	Type            string  `json:"type"`
	Subtype         string  `json:"subtype"`
	SessionID       string  `json:"session_id"`
	UUID            string  `json:"uuid"`
	ParentToolUseID *string `json:"parent_tool_use_id"`

	// assistant, user
	Message           *nativeMessage  `json:"message"`
	Error             json.RawMessage `json:"error"` // assistant: string code; api_retry: string
	IsAPIErrorMessage bool            `json:"is_api_error_message"`
	APIErrorStatus    json.RawMessage `json:"api_error_status"`
	APIErrorType      json.RawMessage `json:"api_error_type"`
	// RequestID is the control request's id (control_request,
	// control_cancel_request) or, on API error lines, the HTTP request id.
	RequestID     json.RawMessage `json:"request_id"`
	Aborted       bool            `json:"aborted"`
	IsSynthetic   bool            `json:"isSynthetic"`
	IsReplay      bool            `json:"isReplay"`
	ToolUseResult json.RawMessage `json:"tool_use_result"`

	// stream_event
	Event        *streamEvent `json:"event"`
	APIMessageID string       `json:"api_message_id"`

	// control_request, control_response, control_cancel_request
	Request  *controlRequest  `json:"request"`
	Response *controlResponse `json:"response"`

	// result
	IsError           bool            `json:"is_error"`
	Result            json.RawMessage `json:"result"`
	Errors            json.RawMessage `json:"errors"`
	TerminalReason    string          `json:"terminal_reason"`
	StopReason        json.RawMessage `json:"stop_reason"`
	NumTurns          json.RawMessage `json:"num_turns"`
	DurationMS        json.RawMessage `json:"duration_ms"`
	DurationAPIMS     json.RawMessage `json:"duration_api_ms"`
	TotalCostUSD      json.RawMessage `json:"total_cost_usd"`
	Usage             *nativeUsage    `json:"usage"`
	ModelUsage        json.RawMessage `json:"modelUsage"`
	PermissionDenials json.RawMessage `json:"permission_denials"`

	// system
	Status            json.RawMessage `json:"status"`
	Attempt           json.RawMessage `json:"attempt"`
	MaxRetries        json.RawMessage `json:"max_retries"`
	RetryDelayMS      json.RawMessage `json:"retry_delay_ms"`
	ErrorStatus       json.RawMessage `json:"error_status"`
	Model             string          `json:"model"`
	Cwd               string          `json:"cwd"`
	PermissionMode    string          `json:"permissionMode"`
	ClaudeCodeVersion string          `json:"claude_code_version"`
}

type nativeMessage struct {
	ID    string       `json:"id"`
	Usage *nativeUsage `json:"usage"`
	Role  string       `json:"role"`
	Model string       `json:"model"`
	// Content is a string (user prompts) or a list of blocks.
	Content json.RawMessage `json:"content"`
}

type contentBlock struct {
	Type     string          `json:"type"`
	Text     string          `json:"text"`
	Thinking string          `json:"thinking"`
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Input    json.RawMessage `json:"input"`
	// tool_result
	ToolUseID string          `json:"tool_use_id"`
	Content   json.RawMessage `json:"content"`
	IsError   bool            `json:"is_error"`
}

type streamEvent struct {
	Type         string         `json:"type"`
	Usage        *nativeUsage   `json:"usage"` // message_delta: the call's final counts
	Index        int            `json:"index"`
	Message      *nativeMessage `json:"message"`
	ContentBlock *contentBlock  `json:"content_block"`
	Delta        *struct {
		Type        string `json:"type"`
		Text        string `json:"text"`
		Thinking    string `json:"thinking"`
		PartialJSON string `json:"partial_json"`
	} `json:"delta"`
}

type controlRequest struct {
	Subtype               string          `json:"subtype"`
	ToolName              string          `json:"tool_name"`
	Input                 json.RawMessage `json:"input"`
	ToolUseID             string          `json:"tool_use_id"`
	Description           json.RawMessage `json:"description"`
	PermissionSuggestions json.RawMessage `json:"permission_suggestions"`
	BlockedPath           json.RawMessage `json:"blocked_path"`
	DecisionReasonType    json.RawMessage `json:"decision_reason_type"`
}

type controlResponse struct {
	Subtype   string          `json:"subtype"`
	RequestID string          `json:"request_id"`
	Error     json.RawMessage `json:"error"`
}

type nativeUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	OutputTokensDetails      *struct {
		ThinkingTokens *int64 `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// askInput is the input of the AskUserQuestion tool.
type askInput struct {
	Questions []struct {
		Question    string `json:"question"`
		Header      string `json:"header"`
		MultiSelect bool   `json:"multiSelect"`
		Options     []struct {
			Label       string `json:"label"`
			Description string `json:"description"`
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

// rawOrNull returns r, or nil (JSON null when marshalled) when r is absent.
func rawOrNull(r json.RawMessage) json.RawMessage {
	if len(r) == 0 {
		return nil
	}
	return r
}
