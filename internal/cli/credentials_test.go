package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// credentialEnv isolates the binary from the machine's own keys: blank
// variables count as unset, and HOME holds only the files the test writes.
func credentialEnv(t *testing.T, home string, set ...string) []string {
	t.Helper()
	env := []string{"HOME=" + home}
	for _, k := range []string{"ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN",
		"OPENAI_API_KEY", "CODEX_API_KEY", "AMP_API_KEY"} {
		env = append(env, k+"=")
	}
	return append(env, set...)
}

func TestCredentialsThroughBinary(t *testing.T) {
	requireAgentdBin(t)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".codex"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".codex", "auth.json"), []byte(`{"OPENAI_API_KEY":"sk-proj-from-codex-file-0123456789"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := "sk-ant-it's-a-secret-0123456789"
	env := credentialEnv(t, home, "ANTHROPIC_API_KEY="+secret)

	t.Run("extract-env", func(t *testing.T) {
		r := e2eRun(t, env, "credentials", "extract-env")
		want := "ANTHROPIC_API_KEY=" + secret + "\nCLAUDE_API_KEY=" + secret +
			"\nOPENAI_API_KEY=sk-proj-from-codex-file-0123456789\nCODEX_API_KEY=sk-proj-from-codex-file-0123456789\n"
		if r.code != 0 || r.stdout != want {
			t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s", r.code, r.stdout, want)
		}
	})

	t.Run("extract-env --export is valid shell", func(t *testing.T) {
		r := e2eRun(t, env, "credentials", "extract-env", "--export")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		out, err := exec.Command("sh", "-c", r.stdout+`printf %s "$ANTHROPIC_API_KEY"`).Output()
		if err != nil || string(out) != secret {
			t.Fatalf("sourced export lines gave %q (%v); lines:\n%s", out, err, r.stdout)
		}
	})

	t.Run("extract redacts unless --reveal", func(t *testing.T) {
		r := e2eRun(t, env, "credentials", "extract")
		var got []struct{ Provider, Kind, Source, Value string }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 {
			t.Fatalf("exit %d, %v: %s", r.code, err, r.stdout)
		}
		if strings.Contains(r.stdout+r.stderr, "secret-0123456789") || len(got) != 2 ||
			got[0].Source != "env:ANTHROPIC_API_KEY" || got[1].Source != "~/.codex/auth.json" {
			t.Fatalf("redacted listing: %s", r.stdout)
		}
		r = e2eRun(t, env, "credentials", "extract", "--reveal")
		if !strings.Contains(r.stdout, `"value": "`+secret+`"`) {
			t.Fatalf("--reveal: %s", r.stdout)
		}
	})

	t.Run("nothing found", func(t *testing.T) {
		r := e2eRun(t, credentialEnv(t, t.TempDir()), "credentials", "extract-env")
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("exit %d stdout %q", r.code, r.stdout)
		}
	})
}
