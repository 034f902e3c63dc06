package modelproxy

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/internal/credentials"
)

func TestUpstreamsFromTakesAPIKeysOnly(t *testing.T) {
	creds := []credentials.Credential{
		{Provider: credentials.Anthropic, Kind: credentials.OAuth, Value: "oauth"},
		{Provider: credentials.Anthropic, Kind: credentials.APIKey, Value: anthropicKey},
		{Provider: credentials.OpenAI, Kind: credentials.OAuth, Value: "chatgpt"},
	}
	got := UpstreamsFrom(creds, "https://a.example", "")
	if got[Anthropic] != (Upstream{URL: "https://a.example", Key: anthropicKey}) || got[OpenAI] != (Upstream{}) {
		t.Fatalf("upstreams %+v", got)
	}
	p, err := New(Config{Upstreams: got})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Has(Anthropic) || p.Has(OpenAI) {
		t.Fatal("Has disagrees with the keys given")
	}
}

func TestListenServesOnLoopbackUntilClose(t *testing.T) {
	p, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q is not loopback", s.URL)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL+"/v1/messages", strings.NewReader("{}"))
	req.Header = anthropicHeader("unknown")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s.Close(ctx)
	if _, err := http.DefaultClient.Do(req.Clone(t.Context())); err == nil {
		t.Fatal("still serving after Close")
	}
}
