// Package credentials finds the model-provider keys and agent logins a user
// already has — environment variables and the agents' own credential files —
// so that agents can be started with them and `agentd credentials` can print
// them. Nothing here logs a value; Credential.String redacts it.
package credentials

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agentd-dev/agentd/internal/agentproc"
	"github.com/agentd-dev/agentd/internal/apierr"
)

// Provider is who a credential authenticates with.
type Provider string

// The providers agentd knows.
const (
	Anthropic Provider = "anthropic"
	OpenAI    Provider = "openai"
	Amp       Provider = "amp"
)

// Kind says how a credential is used.
type Kind string

// The credential kinds.
const (
	APIKey Kind = "api_key"
	OAuth  Kind = "oauth"
)

// Credential is one key or token and where it was found.
type Credential struct {
	Provider Provider `json:"provider"`
	Kind     Kind     `json:"kind"`
	// Source is the variable or file it came from, e.g. "env:ANTHROPIC_API_KEY".
	Source string `json:"source"`
	Value  string `json:"value"`
	// Expires is set for OAuth tokens whose file records an expiry.
	Expires *time.Time `json:"expires,omitempty"`
}

// String shows the credential without its secret.
func (c Credential) String() string {
	return string(c.Provider) + " " + string(c.Kind) + " from " + c.Source + " (" + Redact(c.Value) + ")"
}

// Redact keeps a short prefix of a secret so a user can tell keys apart.
func Redact(v string) string {
	if len(v) <= 12 {
		return strings.Repeat("*", len(v))
	}
	return v[:7] + "…" + strings.Repeat("*", 4)
}

// Options tunes discovery.
type Options struct {
	// Env is the environment to read ("KEY=value"); nil means none.
	Env []string
	// Home is the home directory whose agent files are read; "" skips files.
	Home string
	// NoOAuth leaves out OAuth tokens (subscription logins).
	NoOAuth bool
	// Now is the clock used to skip expired tokens; zero means time.Now.
	Now time.Time
}

// maxFile bounds how much of a credential file is read: they are small,
// and a huge or endless one (a FIFO, /dev/zero via a symlink) must not hang
// or exhaust the daemon.
const maxFile = 1 << 20

// envSources are the variables read, in priority order per provider.
var envSources = []struct {
	name     string
	provider Provider
	kind     Kind
}{
	{"ANTHROPIC_API_KEY", Anthropic, APIKey},
	{"CLAUDE_API_KEY", Anthropic, APIKey},
	{"CLAUDE_CODE_OAUTH_TOKEN", Anthropic, OAuth},
	{"ANTHROPIC_AUTH_TOKEN", Anthropic, OAuth},
	{"OPENAI_API_KEY", OpenAI, APIKey},
	{"CODEX_API_KEY", OpenAI, APIKey},
	{"AMP_API_KEY", Amp, APIKey},
}

// Discover returns every usable credential, environment first, then files,
// in priority order within each provider. Unreadable or malformed files are
// skipped: a broken file must not hide the next source.
func Discover(o Options) []Credential {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	var out []Credential
	for _, s := range envSources {
		if v := strings.TrimSpace(agentproc.Getenv(o.Env, s.name)); v != "" {
			out = append(out, Credential{Provider: s.provider, Kind: s.kind, Source: "env:" + s.name, Value: v})
		}
	}
	if o.Home != "" {
		for _, f := range files {
			out = append(out, f.read(o.Home)...)
		}
	}
	kept := out[:0]
	for _, c := range out {
		if (o.NoOAuth && c.Kind == OAuth) || (c.Expires != nil && !c.Expires.After(o.Now)) {
			continue
		}
		kept = append(kept, c)
	}
	return kept
}

// Best returns the first credential of the provider, if any.
func Best(creds []Credential, p Provider) (Credential, bool) {
	for _, c := range creds {
		if c.Provider == p {
			return c, true
		}
	}
	return Credential{}, false
}

// Env turns the best credential of each provider into the variables the
// agents read. Anthropic API keys and OAuth tokens go to different variables
// because Claude Code sends them in different headers.
func Env(creds []Credential) []string {
	var out []string
	for _, p := range []Provider{Anthropic, OpenAI, Amp} {
		c, ok := Best(creds, p)
		if !ok {
			continue
		}
		for _, name := range envNames(c) {
			out = append(out, name+"="+c.Value)
		}
	}
	return out
}

func envNames(c Credential) []string {
	switch {
	case c.Provider == Anthropic && c.Kind == OAuth:
		return []string{"CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"}
	case c.Provider == Anthropic:
		return []string{"ANTHROPIC_API_KEY", "CLAUDE_API_KEY"}
	case c.Provider == OpenAI && c.Kind == APIKey:
		return []string{"OPENAI_API_KEY", "CODEX_API_KEY"}
	case c.Provider == Amp:
		return []string{"AMP_API_KEY"}
	}
	// An OpenAI OAuth login (ChatGPT) only works through Codex's own
	// auth.json; no variable carries it.
	return nil
}

// readJSON reads a small regular file into v. Symlinks are followed (dot
// files are often linked from a dotfiles repo) but the target must be a
// regular file.
func readJSON(path string, v any) error {
	// O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return err
	}
	if len(b) > maxFile {
		return errors.New("file too large")
	}
	return json.Unmarshal(b, v)
}

func rel(home, p string) string { return filepath.Join(home, filepath.FromSlash(p)) }

// Missing is the error for a session whose agent has no credential: it
// names the variables that would give it one, so the user can fix it
// before any turn runs instead of reading an agent's login prompt.
func Missing(agent string, vars ...string) error {
	e := apierr.New(apierr.InvalidRequest, "%s has no credentials: set %s in agentd's environment (see `agentd credentials extract`)",
		agent, strings.Join(vars, " or "))
	e.Agent = agent
	e.Details = map[string]any{"missingCredentials": vars}
	return e
}
