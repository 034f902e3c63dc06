package modelproxy

import (
	"encoding/json"
	"net/http"
)

// writeError answers in the provider's own error shape, so the agent's SDK
// reports it the way it would a provider's refusal. kind is the proxy's
// reason, mapped to each provider's vocabulary.
func writeError(w http.ResponseWriter, prov Provider, status int, kind, msg string) {
	var body any
	switch prov {
	case Anthropic:
		body = map[string]any{"type": "error", "error": map[string]any{"type": anthropicTypes[kind], "message": msg}}
	default:
		body = map[string]any{"error": map[string]any{"message": msg, "type": openAITypes[kind], "param": nil, "code": openAICodes[kind]}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

var anthropicTypes = map[string]string{
	"authentication": "authentication_error",
	"not_found":      "not_found_error",
	"too_large":      "request_too_large",
	"unavailable":    "api_error",
	"upstream":       "api_error",
}

var openAITypes = map[string]string{
	"authentication": "invalid_request_error",
	"not_found":      "invalid_request_error",
	"too_large":      "invalid_request_error",
	"unavailable":    "server_error",
	"upstream":       "server_error",
}

var openAICodes = map[string]any{
	"authentication": "invalid_api_key",
	"not_found":      "unknown_url",
	"too_large":      "request_too_large",
	"unavailable":    nil,
	"upstream":       nil,
}
