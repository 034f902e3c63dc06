package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

const cliDoc = "../../docs/cli.md"

var update = flag.Bool("update", false, "rewrite the generated docs: docs/cli.md, the flag table of docs/configuration.md")

// TestCLIReference keeps docs/cli.md equal to the command tree: every
// command, its usage, description, examples and flags. -update rewrites it.
func TestCLIReference(t *testing.T) {
	// Defaults that come from the environment are shown for a typical user.
	t.Setenv("HOME", "/home/you")
	for _, k := range []string{"XDG_DATA_HOME", "XDG_CONFIG_HOME", "AGENTD_DATA_DIR"} {
		t.Setenv(k, "")
	}
	var b bytes.Buffer
	b.WriteString("# Command-line reference\n\n")
	b.WriteString("Generated from the command tree by `go test ./internal/cli -run TestCLIReference -update`; do not edit.\n")
	b.WriteString("Every command also prints this with `--help`. Flags of `agentd server` can be set with `AGENTD_<FLAG>`\n")
	b.WriteString("variables (see [configuration](configuration.md)); `agentd api` reads `AGENTD_ENDPOINT` and `AGENTD_TOKEN`.\n\n")
	root := newRootCmd(IO{})
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	var index, body bytes.Buffer
	walk(root, func(c *cobra.Command) {
		depth := strings.Count(c.CommandPath(), " ")
		fmt.Fprintf(&index, "%s- [`%s`](#%s)\n", strings.Repeat("  ", depth), c.CommandPath(), anchor(c))
		writeCommand(&body, c)
	})
	b.Write(index.Bytes())
	b.WriteByte('\n')
	b.Write(body.Bytes())
	if *update {
		if err := os.WriteFile(cliDoc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(cliDoc)
	if err != nil || !bytes.Equal(want, b.Bytes()) {
		t.Fatalf("%s is not what the command tree says (%v); run: go test ./internal/cli -run TestCLIReference -update", cliDoc, err)
	}
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	if c.Hidden || c.Name() == "help" || (c.HasParent() && c.Parent().Name() == "completion" && c.Name() != "bash") {
		return
	}
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func anchor(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

func writeCommand(b *bytes.Buffer, c *cobra.Command) {
	fmt.Fprintf(b, "<a id=\"%s\"></a>\n## `%s`\n\n%s\n\n", anchor(c), c.CommandPath(), c.Short)
	if c.Long != "" && c.Long != c.Short {
		fmt.Fprintf(b, "%s\n\n", c.Long)
	}
	if c.Runnable() {
		fmt.Fprintf(b, "```\n%s\n```\n\n", c.UseLine())
	}
	if c.Example != "" {
		fmt.Fprintf(b, "Examples:\n\n```\n%s\n```\n\n", c.Example)
	}
	if fl := c.NonInheritedFlags(); fl.HasAvailableFlags() {
		fmt.Fprintf(b, "Flags:\n\n```\n%s```\n\n", fl.FlagUsages())
	}
	if fl := c.InheritedFlags(); fl.HasAvailableFlags() {
		fmt.Fprintf(b, "Inherited flags:\n\n```\n%s```\n\n", fl.FlagUsages())
	}
}
