package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/internal/credentials"
)

type credentialsOptions struct {
	IO
	Export  bool
	NoOAuth bool
	Reveal  bool
	JSON    bool
}

func newCredentialsCmd(streams IO) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credentials",
		Short: "Find the model-provider keys and agent logins on this machine",
		Long: "Looks in the environment (ANTHROPIC_API_KEY, CLAUDE_API_KEY, CLAUDE_CODE_OAUTH_TOKEN, ANTHROPIC_AUTH_TOKEN,\n" +
			"OPENAI_API_KEY, CODEX_API_KEY, AMP_API_KEY) and in the agents' own files (~/.claude/.credentials.json,\n" +
			"~/.claude.json, ~/.codex/auth.json, ~/.local/share/opencode/auth.json, ~/.local/share/amp/secrets.json).",
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newCredentialsExtractEnvCmd(streams), newCredentialsExtractCmd(streams))
	return cmd
}

func newCredentialsExtractEnvCmd(streams IO) *cobra.Command {
	opts := &credentialsOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "extract-env",
		Short: "Print the credentials found as environment variables (KEY=value, or export lines)",
		Example: "  eval \"$(agentd credentials extract-env --export)\"\n" +
			"  agentd credentials extract-env > sandbox.env",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runCredentialsExtractEnv(opts) },
	}
	cmd.Flags().BoolVar(&opts.Export, "export", false, "print `export KEY='value'` lines for a POSIX shell")
	cmd.Flags().BoolVar(&opts.NoOAuth, "no-oauth", false, "leave out OAuth tokens (subscription logins)")
	return cmd
}

func newCredentialsExtractCmd(streams IO) *cobra.Command {
	opts := &credentialsOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "List the credentials found, with their sources (values redacted unless --reveal)",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return runCredentialsExtract(opts) },
	}
	cmd.Flags().BoolVar(&opts.Reveal, "reveal", false, "show the secret values")
	cmd.Flags().BoolVar(&opts.NoOAuth, "no-oauth", false, "leave out OAuth tokens (subscription logins)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func discoverCredentials(noOAuth bool) []credentials.Credential {
	home, _ := os.UserHomeDir() // no home: environment only
	return credentials.Discover(credentials.Options{Env: os.Environ(), Home: home, NoOAuth: noOAuth})
}

func runCredentialsExtractEnv(opts *credentialsOptions) error {
	for _, kv := range credentials.Env(discoverCredentials(opts.NoOAuth)) {
		if opts.Export {
			k, v, _ := strings.Cut(kv, "=")
			kv = "export " + k + "=" + shellQuote(v)
		}
		if _, err := fmt.Fprintln(opts.Out, kv); err != nil {
			return err
		}
	}
	return nil
}

func runCredentialsExtract(opts *credentialsOptions) error {
	creds := discoverCredentials(opts.NoOAuth)
	if !opts.Reveal {
		for i := range creds {
			creds[i].Value = credentials.Redact(creds[i].Value)
		}
	}
	if opts.JSON || !isTerminal(opts.Out) {
		if creds == nil {
			creds = []credentials.Credential{}
		}
		enc := json.NewEncoder(opts.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(creds)
	}
	if len(creds) == 0 {
		_, err := fmt.Fprintln(opts.Out, "no credentials found")
		return err
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "PROVIDER\tKIND\tSOURCE\tVALUE")
	for _, c := range creds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Provider, c.Kind, c.Source, c.Value)
	}
	return tw.Flush()
}

// shellQuote single-quotes v for a POSIX shell.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}
