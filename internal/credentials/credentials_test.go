package credentials

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

var now = time.UnixMilli(1_800_000_000_000)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	home := t.TempDir()
	for p, body := range files {
		full := filepath.Join(home, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home
}

// short describes credentials without values for compact comparisons.
func short(cs []Credential) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = string(c.Provider) + "/" + string(c.Kind) + "/" + c.Source + "=" + c.Value
	}
	return out
}

func TestDiscover(t *testing.T) {
	future := "1900000000000"
	past := "1700000000000"
	tests := []struct {
		name  string
		env   []string
		files map[string]string
		opts  func(*Options)
		want  []string
	}{
		{name: "nothing"},
		{
			name: "environment in priority order",
			env:  []string{"CODEX_API_KEY=c", "OPENAI_API_KEY=o", "CLAUDE_API_KEY=k2", "ANTHROPIC_API_KEY=k1", "AMP_API_KEY=a", "ANTHROPIC_AUTH_TOKEN=t"},
			want: []string{"anthropic/api_key/env:ANTHROPIC_API_KEY=k1", "anthropic/api_key/env:CLAUDE_API_KEY=k2",
				"anthropic/oauth/env:ANTHROPIC_AUTH_TOKEN=t", "openai/api_key/env:OPENAI_API_KEY=o",
				"openai/api_key/env:CODEX_API_KEY=c", "amp/api_key/env:AMP_API_KEY=a"},
		},
		{
			name: "blank variables are absent",
			env:  []string{"ANTHROPIC_API_KEY=  ", "OPENAI_API_KEY="},
		},
		{
			name: "every agent file",
			files: map[string]string{
				".claude/.credentials.json":       `{"claudeAiOauth":{"accessToken":"oat","refreshToken":"r","expiresAt":` + future + `}}`,
				".claude.json":                    `{"primaryApiKey":"ck","numStartups":3}`,
				".codex/auth.json":                `{"OPENAI_API_KEY":"ok","tokens":{"access_token":"cat"}}`,
				".local/share/opencode/auth.json": `{"anthropic":{"type":"api","key":"ock"},"openai":{"type":"oauth","access":"ooa","expires":` + future + `}}`,
				".local/share/amp/secrets.json":   `{"apiKey@https://ampcode.com/":"sgamp"}`,
			},
			want: []string{"anthropic/oauth/~/.claude/.credentials.json=oat", "anthropic/api_key/~/.claude.json=ck",
				"openai/api_key/~/.codex/auth.json=ok", "openai/oauth/~/.codex/auth.json=cat",
				"anthropic/api_key/~/.local/share/opencode/auth.json=ock", "openai/oauth/~/.local/share/opencode/auth.json=ooa",
				"amp/api_key/~/.local/share/amp/secrets.json=sgamp"},
		},
		{
			name: "expired tokens are skipped",
			files: map[string]string{
				".claude/.credentials.json":       `{"claudeAiOauth":{"accessToken":"oat","expiresAt":` + past + `}}`,
				".local/share/opencode/auth.json": `{"openai":{"type":"oauth","access":"ooa","expires":` + past + `}}`,
			},
		},
		{
			name:  "no oauth",
			env:   []string{"CLAUDE_CODE_OAUTH_TOKEN=t"},
			files: map[string]string{".codex/auth.json": `{"OPENAI_API_KEY":null,"tokens":{"access_token":"cat"}}`},
			opts:  func(o *Options) { o.NoOAuth = true },
		},
		{
			name: "malformed and wrongly typed files do not hide the next source",
			files: map[string]string{
				".claude/.credentials.json":       `{"claudeAiOauth":`,
				".claude.json":                    `{"primaryApiKey":42}`,
				".codex/auth.json":                `[1,2]`,
				".local/share/opencode/auth.json": `{"anthropic":"key","openai":{"type":"api","key":"good"}}`,
			},
			want: []string{"openai/api_key/~/.local/share/opencode/auth.json=good"},
		},
		{
			name:  "files are skipped without a home",
			files: map[string]string{".claude.json": `{"primaryApiKey":"ck"}`},
			opts:  func(o *Options) { o.Home = "" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Env: tt.env, Home: writeFiles(t, tt.files), Now: now}
			if tt.opts != nil {
				tt.opts(&o)
			}
			if got := short(Discover(o)); !reflect.DeepEqual(got, append([]string{}, tt.want...)) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestHostileFilesAreSkipped(t *testing.T) {
	home := writeFiles(t, map[string]string{
		// Larger than the read bound, though valid JSON.
		".claude.json": `{"primaryApiKey":"ck","pad":"` + strings.Repeat("x", maxFile) + `"}`,
	})
	// A FIFO would block a plain read forever.
	if err := os.MkdirAll(filepath.Join(home, ".codex"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(home, ".codex", "auth.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory where a file is expected.
	if err := os.MkdirAll(filepath.Join(home, ".local/share/opencode/auth.json"), 0o700); err != nil {
		t.Fatal(err)
	}
	done := make(chan []Credential, 1)
	go func() { done <- Discover(Options{Home: home, Now: now}) }()
	select {
	case got := <-done:
		if len(got) != 0 {
			t.Fatalf("got %q", short(got))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Discover blocked on a hostile file")
	}
}

func TestEnv(t *testing.T) {
	tests := []struct {
		name  string
		creds []Credential
		want  []string
	}{
		{"none", nil, nil},
		{
			"api keys, best per provider",
			[]Credential{
				{Provider: Anthropic, Kind: APIKey, Value: "a1"}, {Provider: Anthropic, Kind: OAuth, Value: "a2"},
				{Provider: OpenAI, Kind: APIKey, Value: "o1"}, {Provider: Amp, Kind: APIKey, Value: "m"},
			},
			[]string{"ANTHROPIC_API_KEY=a1", "CLAUDE_API_KEY=a1", "OPENAI_API_KEY=o1", "CODEX_API_KEY=o1", "AMP_API_KEY=m"},
		},
		{
			"oauth",
			[]Credential{{Provider: Anthropic, Kind: OAuth, Value: "t"}, {Provider: OpenAI, Kind: OAuth, Value: "chatgpt"}},
			[]string{"CLAUDE_CODE_OAUTH_TOKEN=t", "ANTHROPIC_AUTH_TOKEN=t"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Env(tt.creds); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q want %q", got, tt.want)
			}
		})
	}
}

func TestStringNeverShowsTheSecret(t *testing.T) {
	secret := "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"
	s := Credential{Provider: Anthropic, Kind: APIKey, Source: "env:ANTHROPIC_API_KEY", Value: secret}.String()
	if strings.Contains(s, secret[8:]) || !strings.Contains(s, "env:ANTHROPIC_API_KEY") {
		t.Fatalf("String() = %q", s)
	}
	if Redact("short") != "*****" {
		t.Fatalf("Redact(short) = %q", Redact("short"))
	}
}

// TestAgentLogins: the login files of an agent's own home, wherever
// agentd put it, count when they hold any usable login and only then.
func TestAgentLogins(t *testing.T) {
	tests := []struct {
		name  string
		check func(dir string) bool
		file  string // relative to the directory given to check
		body  string // "" writes no file
		want  bool
	}{
		{"codex: no file", CodexLogin, "auth.json", "", false},
		{"codex: api key", CodexLogin, "auth.json", `{"OPENAI_API_KEY":"sk"}`, true},
		{"codex: chatgpt login", CodexLogin, "auth.json", `{"OPENAI_API_KEY":null,"tokens":{"access_token":"a","refresh_token":"r"}}`, true},
		{"codex: logged out", CodexLogin, "auth.json", `{"OPENAI_API_KEY":null,"tokens":null}`, false},
		{"codex: malformed", CodexLogin, "auth.json", `{"OPENAI_API_KEY":`, false},
		{"opencode: no file", OpenCodeLogin, "opencode/auth.json", "", false},
		{"opencode: api key of any provider", OpenCodeLogin, "opencode/auth.json", `{"openrouter":{"type":"api","key":"k"}}`, true},
		{"opencode: oauth with only a refresh token", OpenCodeLogin, "opencode/auth.json", `{"anthropic":{"type":"oauth","refresh":"r","access":"","expires":0}}`, true},
		{"opencode: well-known token", OpenCodeLogin, "opencode/auth.json", `{"corp":{"type":"wellknown","key":"K","token":"t"}}`, true},
		{"opencode: empty entries", OpenCodeLogin, "opencode/auth.json", `{"anthropic":{"type":"api","key":""},"x":"y"}`, false},
		{"opencode: not an object", OpenCodeLogin, "opencode/auth.json", `[]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			if tt.body != "" {
				files[tt.file] = tt.body
			}
			if got := tt.check(writeFiles(t, files)); got != tt.want {
				t.Errorf("got %v want %v", got, tt.want)
			}
		})
	}
	if CodexLogin("") || OpenCodeLogin("") {
		t.Error("an unset home has a login")
	}
}
