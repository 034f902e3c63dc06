package adapters

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestParseMCP(t *testing.T) {
	env := map[string]string{"TOK": "t0k", "ORG": "acme"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	raw := json.RawMessage(`{
		"argv": {"type":"local","command":["node","srv.js"],"args":["--x"],"env":{"A":"${env:TOK}","B":"plain"},"cwd":"/w","timeoutMs":500},
		"str": {"type":"local","command":"srv"},
		"web": {"type":"remote","url":"https://h/mcp","headers":{"Authorization":"Bearer ${env:TOK} for ${env:ORG}"},"oauth":false},
		"sse": {"type":"remote","url":"https://h/sse","transport":"sse","oauth":{"clientId":"c"},"bearerTokenEnvVar":"T","envHeaders":{"X":"Y"}},
		"off": {"type":"local","command":"x","enabled":false}
	}`)
	got, err := ParseMCP(raw, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]MCPServer{
		"argv": {Local: true, Command: "node", Args: []string{"srv.js", "--x"}, Cwd: "/w", TimeoutMs: 500,
			Env: map[string]string{"A": "t0k", "B": "plain"}},
		"str": {Local: true, Command: "srv"},
		"web": {URL: "https://h/mcp", Transport: "http", Headers: map[string]string{"Authorization": "Bearer t0k for acme"}},
		"sse": {URL: "https://h/sse", Transport: "sse", OAuth: true, BearerTokenEnvVar: "T", EnvHeaders: map[string]string{"X": "Y"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if s, err := ParseMCP(nil, lookup); s != nil || err != nil {
		t.Errorf("no mcp: %v %v", s, err)
	}
}

func TestIsSecretRef(t *testing.T) {
	for v, want := range map[string]bool{"${env:A}": true, "${env:A}${env:B}": true, "Bearer ${env:A}": false, "": false, "$A": false} {
		if IsSecretRef(v) != want {
			t.Errorf("IsSecretRef(%q) = %v", v, !want)
		}
	}
}
