package opencode

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
)

// TestCredentials: a session is refused before the server starts unless
// OpenCode has a credential for some provider, and the problem names the
// variables to set.
func TestCredentials(t *testing.T) {
	// Whatever provider keys the machine has must not decide the cases.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasSuffix(k, "_API_KEY") {
			t.Setenv(k, "")
		}
	}
	tests := []struct {
		name string
		opts []Option
		auth string // the state directory's opencode auth.json; "" writes none
		ok   bool
	}{
		{name: "nothing"},
		{name: "ANTHROPIC_API_KEY", opts: []Option{WithEnv("ANTHROPIC_API_KEY=k")}, ok: true},
		{name: "another provider's key", opts: []Option{WithEnv("OPENROUTER_API_KEY=k")}, ok: true},
		{name: "a blank key", opts: []Option{WithEnv("OPENAI_API_KEY=")}},
		{name: "configured provider", opts: []Option{WithProvider(Provider{ID: "gw", BaseURL: "http://gw/v1"})}, ok: true},
		{name: "login in its auth.json", auth: `{"anthropic":{"type":"oauth","refresh":"r","access":"a","expires":1}}`, ok: true},
		{name: "empty auth.json", auth: `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			if tt.auth != "" {
				p := filepath.Join(state, "data", "opencode", "auth.json")
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(tt.auth), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			started := filepath.Join(t.TempDir(), "started")
			bin := filepath.Join(t.TempDir(), "opencode")
			if err := os.WriteFile(bin, []byte("#!/bin/sh\ntouch "+started+"\nexit 1\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			a := New(append([]Option{WithResolver(func(context.Context) (string, error) { return bin, nil }), WithStateDir(state)},
				tt.opts...)...)
			if got := a.credentialsAvailable(); got != tt.ok {
				t.Fatalf("credentialsAvailable %v", got)
			}
			if tt.ok {
				return // starting a session is the real-binary tests' job
			}
			for name, start := range map[string]func() error{
				"start": func() error {
					_, err := a.Start(t.Context(), adapters.StartRequest{SessionID: "s", Directory: t.TempDir()}, newRecorder())
					return err
				},
				"resume": func() error {
					_, err := a.Resume(t.Context(), adapters.StartRequest{SessionID: "s", Directory: t.TempDir()}, "ses_1", newRecorder())
					return err
				},
			} {
				e, ok := apierr.As(start())
				if !ok || e.Kind != apierr.InvalidRequest || e.Agent != "opencode" ||
					!reflect.DeepEqual(e.Details["missingCredentials"], []string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY"}) ||
					!strings.Contains(e.Detail, "ANTHROPIC_API_KEY or OPENAI_API_KEY") {
					t.Errorf("%s: error %#v", name, e)
				}
			}
			if _, err := os.Stat(started); err == nil {
				t.Error("the server was started without credentials")
			}
		})
	}
}

// TestConfigBaseURLs: WithBaseURL points a built-in provider elsewhere
// (the model proxy) next to a configured custom provider.
func TestConfigBaseURLs(t *testing.T) {
	a := New(WithBaseURL("anthropic", "http://127.0.0.1:1/v1"),
		WithProvider(Provider{ID: "fake", BaseURL: "http://127.0.0.1:2/v1", Models: []string{"m"}}))
	b, err := json.Marshal(a.config()["provider"])
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]struct {
		NPM     string            `json:"npm"`
		Options map[string]string `json:"options"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["anthropic"].NPM != "" || got["anthropic"].Options["baseURL"] != "http://127.0.0.1:1/v1" ||
		got["fake"].Options["baseURL"] != "http://127.0.0.1:2/v1" || len(got) != 2 {
		t.Errorf("providers %s", b)
	}
	if _, ok := New().config()["provider"]; ok {
		t.Error("a provider section without providers")
	}
}
