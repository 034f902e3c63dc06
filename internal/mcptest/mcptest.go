// Package mcptest is a tiny MCP server for tests: JSON-RPC 2.0 over stdio,
// one JSON message a line, with one tool, lookup, that answers a fixed
// string. A test binary becomes the server when its TestMain calls
// ServeIfAsked, so tests can configure an agent with os.Args[0] as the MCP
// server's command and no other binary.
package mcptest

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

const (
	// Tool is the one tool the server offers.
	Tool = "lookup"
	// Answer is in every result of the tool: finding it in a session's
	// events proves the agent called the server.
	Answer = "mcptest-answer-7f3a"
	// EnvServe makes ServeIfAsked serve.
	EnvServe = "AGENTD_MCPTEST_SERVE"
	// EnvToken is a variable the server does not reveal but fingerprints
	// in its answers, so a test can see a secret reach it and nowhere else.
	EnvToken = "MCPTEST_TOKEN"
)

// Fingerprint is how answers show the token: enough to compare, not to
// recover it.
func Fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:4])
}

// ServeIfAsked serves MCP on stdin and stdout and exits when EnvServe is
// set; otherwise it returns at once. Call it first in TestMain.
func ServeIfAsked() {
	if os.Getenv(EnvServe) == "" {
		return
	}
	if err := Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "mcptest:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Command is the command and environment that run this test binary as the
// server.
func Command() (string, map[string]string) {
	return os.Args[0], map[string]string{EnvServe: "1"}
}

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

// Serve answers requests read from in on out until in ends.
// Notifications (no id) get no answer.
func Serve(in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var req request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return fmt.Errorf("decode request: %w", err)
		}
		if len(req.ID) == 0 {
			continue
		}
		res := response{JSONRPC: "2.0", ID: req.ID}
		res.Result, res.Error = answer(req)
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write response: %w", err)
		}
	}
	return sc.Err()
}

func answer(req request) (any, *rpcError) {
	switch req.Method {
	case "initialize":
		var p struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(req.Params, &p) // an unreadable version gets the default below
		if p.ProtocolVersion == "" {
			p.ProtocolVersion = "2025-06-18"
		}
		return map[string]any{
			"protocolVersion": p.ProtocolVersion,
			"capabilities":    map[string]any{"tools": map[string]any{}},
			"serverInfo":      map[string]any{"name": "mcptest", "version": "1.0.0"},
		}, nil
	case "ping":
		return map[string]any{}, nil
	case "tools/list":
		return map[string]any{"tools": []any{map[string]any{
			"name": Tool, "description": "Looks a word up in the test dictionary.",
			"inputSchema": map[string]any{"type": "object", "properties": map[string]any{
				"query": map[string]any{"type": "string", "description": "The word to look up"}}},
		}}}, nil
	case "tools/call":
		var p struct {
			Name      string `json:"name"`
			Arguments struct {
				Query string `json:"query"`
			} `json:"arguments"`
		}
		if err := json.Unmarshal(req.Params, &p); err != nil || p.Name != Tool {
			return nil, &rpcError{Code: -32602, Message: "unknown tool"}
		}
		return map[string]any{"content": []any{map[string]any{
			"type": "text", "text": Answer + " for " + p.Arguments.Query + " " + Fingerprint(os.Getenv(EnvToken))}}, "isError": false}, nil
	}
	return nil, &rpcError{Code: -32601, Message: "method not found: " + req.Method}
}
