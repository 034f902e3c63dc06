package credentials

import (
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// credFile is one agent's credential file and how to read it.
type credFile struct {
	path  string // relative to HOME, slash-separated
	parse func(source string, raw map[string]any) []Credential
}

// files are read in this order, after the environment.
var files = []credFile{
	{".claude/.credentials.json", parseClaudeCredentials},
	{".claude.json", parseClaudeConfig},
	{".codex/auth.json", parseCodexAuth},
	{".local/share/opencode/auth.json", parseOpenCodeAuth},
	{".local/share/amp/secrets.json", parseAmpSecrets},
	{".amp/config.json", parseAmpSecrets},
}

func (f credFile) read(home string) []Credential {
	var raw map[string]any
	if err := readJSON(rel(home, f.path), &raw); err != nil {
		return nil
	}
	return f.parse("~/"+f.path, raw)
}

// CodexLogin reports whether the auth.json in a Codex home (CODEX_HOME)
// holds an API key or a ChatGPT login. Agents do not always run with the
// user's home (agentd may give Codex a home of its own), so the file is
// looked up where that agent will look, not under ~.
func CodexLogin(codexHome string) bool {
	if codexHome == "" {
		return false
	}
	var raw map[string]any
	if readJSON(filepath.Join(codexHome, "auth.json"), &raw) != nil {
		return false
	}
	return len(parseCodexAuth("", raw)) > 0
}

// OpenCodeLogin reports whether the auth.json OpenCode reads under its
// data directory ($XDG_DATA_HOME) holds a login for any provider: an API
// key, an OAuth login (its refresh token is enough, OpenCode renews the
// access token) or a well-known provider's token. Any provider counts, not
// only those Discover hands to other agents: OpenCode speaks to many.
func OpenCodeLogin(dataHome string) bool {
	if dataHome == "" {
		return false
	}
	var raw map[string]any
	if readJSON(filepath.Join(dataHome, "opencode", "auth.json"), &raw) != nil {
		return false
	}
	for _, v := range raw {
		e, _ := v.(map[string]any)
		for _, k := range []string{"key", "access", "refresh", "token"} {
			if str(e, k) != "" {
				return true
			}
		}
	}
	return false
}

// parseClaudeCredentials reads Claude Code's login:
// {"claudeAiOauth":{"accessToken":…,"expiresAt":<ms>}}.
func parseClaudeCredentials(source string, raw map[string]any) []Credential {
	o, _ := raw["claudeAiOauth"].(map[string]any)
	tok := str(o, "accessToken")
	if tok == "" {
		return nil
	}
	return []Credential{{Provider: Anthropic, Kind: OAuth, Source: source, Value: tok, Expires: millis(o["expiresAt"])}}
}

// parseClaudeConfig reads the API key Claude Code keeps in ~/.claude.json.
func parseClaudeConfig(source string, raw map[string]any) []Credential {
	if k := str(raw, "primaryApiKey"); k != "" {
		return []Credential{{Provider: Anthropic, Kind: APIKey, Source: source, Value: k}}
	}
	return nil
}

// parseCodexAuth reads {"OPENAI_API_KEY": …, "tokens": {"access_token": …}}.
func parseCodexAuth(source string, raw map[string]any) []Credential {
	var out []Credential
	if k := str(raw, "OPENAI_API_KEY"); k != "" {
		out = append(out, Credential{Provider: OpenAI, Kind: APIKey, Source: source, Value: k})
	}
	if t, _ := raw["tokens"].(map[string]any); str(t, "access_token") != "" {
		out = append(out, Credential{Provider: OpenAI, Kind: OAuth, Source: source, Value: str(t, "access_token")})
	}
	return out
}

// parseOpenCodeAuth reads OpenCode's per-provider logins:
// {"anthropic":{"type":"api","key":…}, "openai":{"type":"oauth","access":…,"expires":<ms>}}.
func parseOpenCodeAuth(source string, raw map[string]any) []Credential {
	var out []Credential
	for _, p := range []Provider{Anthropic, OpenAI} {
		e, _ := raw[string(p)].(map[string]any)
		switch str(e, "type") {
		case "api":
			if k := str(e, "key"); k != "" {
				out = append(out, Credential{Provider: p, Kind: APIKey, Source: source, Value: k})
			}
		case "oauth":
			if k := str(e, "access"); k != "" {
				out = append(out, Credential{Provider: p, Kind: OAuth, Source: source, Value: k, Expires: millis(e["expires"])})
			}
		}
	}
	return out
}

// parseAmpSecrets reads Amp's stored access token, kept under a key that
// names the service URL ("apiKey@https://ampcode.com/"); an "apiKey" entry
// is taken too.
func parseAmpSecrets(source string, raw map[string]any) []Credential {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		if k == "apiKey" || strings.HasPrefix(k, "apiKey@") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // several service URLs: pick one deterministically
	for _, k := range keys {
		if v := str(raw, k); v != "" {
			return []Credential{{Provider: Amp, Kind: APIKey, Source: source, Value: v}}
		}
	}
	return nil
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return strings.TrimSpace(s)
}

// millis reads an expiry in Unix milliseconds; anything else means unknown.
func millis(v any) *time.Time {
	f, ok := v.(float64)
	if !ok || f <= 0 {
		return nil
	}
	t := time.UnixMilli(int64(f))
	return &t
}
