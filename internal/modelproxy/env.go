package modelproxy

// CodexTokenVar is the variable Codex reads its session token from: the
// env_key of the model provider pointed at the proxy.
const CodexTokenVar = "AGENTD_MODEL_TOKEN"

// PendingToken stands in for a session token in an agent's static
// environment: it satisfies the agent's own "is there a credential" checks,
// and the proxy refuses it, so an agent started without its session's
// token fails closed instead of falling back to a real key.
const PendingToken = TokenPrefix + "pending"

// ClaudeEnv is the environment that points Claude Code at the proxy with a
// session token. It blanks the other variables Claude would take a
// credential from, so one left in the daemon's environment cannot reach
// the agent.
func ClaudeEnv(proxyURL, token string) []string {
	return []string{"ANTHROPIC_BASE_URL=" + proxyURL, "ANTHROPIC_API_KEY=" + token,
		"ANTHROPIC_AUTH_TOKEN=", "CLAUDE_CODE_OAUTH_TOKEN=", "CLAUDE_API_KEY="}
}

// CodexEnv is the environment of a Codex session whose model provider is
// the proxy (base URL proxyURL+"/v1", env_key CodexTokenVar), with the
// variables Codex would otherwise take a key from blanked.
func CodexEnv(token string) []string {
	return []string{CodexTokenVar + "=" + token, "OPENAI_API_KEY=", "CODEX_API_KEY="}
}

// OpenCodeProviders names OpenCode's built-in provider for each of the
// proxy's: its base URL is the proxy's URL + "/v1".
var OpenCodeProviders = map[Provider]string{Anthropic: "anthropic", OpenAI: "openai"}

// OpenCodeEnv is the environment of an OpenCode server whose built-in
// providers for providers go to the proxy: their key variables hold token,
// and the other variables a real key could reach it by are blanked.
func OpenCodeEnv(token string, providers ...Provider) []string {
	env := []string{"CLAUDE_API_KEY=", "CODEX_API_KEY="}
	keyVar := map[Provider]string{Anthropic: "ANTHROPIC_API_KEY", OpenAI: "OPENAI_API_KEY"}
	for _, p := range providers {
		env = append(env, keyVar[p]+"="+token)
	}
	return env
}
