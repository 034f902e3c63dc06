package mcptest

import (
	"bytes"
	"strings"
	"testing"
)

// TestServe: a whole exchange, as an MCP client has it, golden per line.
func TestServe(t *testing.T) {
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":"two","method":"tools/call","params":{"name":"lookup","arguments":{"query":"zebra"}}}`,
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope"}}`,
		`{"jsonrpc":"2.0","id":4,"method":"resources/list"}`,
	}, "\n")
	t.Setenv(EnvToken, "")
	var out bytes.Buffer
	if err := Serve(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"jsonrpc":"2.0","id":0,"result":{"capabilities":{"tools":{}},"protocolVersion":"2025-03-26","serverInfo":{"name":"mcptest","version":"1.0.0"}}}`,
		`{"jsonrpc":"2.0","id":1,"result":{"tools":[{"description":"Looks a word up in the test dictionary.","inputSchema":{"properties":{"query":{"description":"The word to look up","type":"string"}},"type":"object"},"name":"lookup"}]}}`,
		`{"jsonrpc":"2.0","id":"two","result":{"content":[{"text":"mcptest-answer-7f3a for zebra token:e3b0c442","type":"text"}],"isError":false}}`,
		`{"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"unknown tool"}}`,
		`{"jsonrpc":"2.0","id":4,"error":{"code":-32601,"message":"method not found: resources/list"}}`,
	}
	got := strings.Split(strings.TrimSpace(out.String()), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestServeRefusesGarbage(t *testing.T) {
	if err := Serve(strings.NewReader("not json\n"), &bytes.Buffer{}); err == nil {
		t.Error("garbage accepted")
	}
}
