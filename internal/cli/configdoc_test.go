package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const configDoc = "../../docs/configuration.md"

// The generated part of docs/configuration.md sits between these lines; the
// prose around it is hand-written.
const (
	configBegin = "<!-- BEGIN GENERATED: agentd server flags (go test ./internal/cli -run TestConfigurationReference -update) -->\n"
	configEnd   = "<!-- END GENERATED -->\n"
)

// TestConfigurationReference keeps the flag table of docs/configuration.md
// equal to `agentd server`'s flags: each with the variable bindEnv reads for
// it, its default and its help text, in the order they are defined. -update
// rewrites the table and leaves the rest of the file alone.
func TestConfigurationReference(t *testing.T) {
	// Defaults that come from the environment are shown for a typical user.
	t.Setenv("HOME", "/home/you")
	for _, k := range []string{"XDG_DATA_HOME", "XDG_CONFIG_HOME", "AGENTD_DATA_DIR"} {
		t.Setenv(k, "")
	}
	doc, err := os.ReadFile(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := bytes.Cut(doc, []byte(configBegin))
	_, after, ok2 := bytes.Cut(rest, []byte(configEnd))
	if !ok || !ok2 {
		t.Fatalf("%s lacks the marker lines %q and %q around the flag table", configDoc, configBegin, configEnd)
	}
	var b bytes.Buffer
	b.Write(before)
	b.WriteString(configBegin)
	writeServerFlagTable(&b, t)
	b.WriteString(configEnd)
	b.Write(after)
	if *update {
		if err := os.WriteFile(configDoc, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(doc, b.Bytes()) {
		t.Fatalf("the flag table of %s is not what `agentd server` defines; run: go test ./internal/cli -run TestConfigurationReference -update", configDoc)
	}
}

func writeServerFlagTable(b *bytes.Buffer, t *testing.T) {
	t.Helper()
	server, _, err := newRootCmd(IO{}).Find([]string{"server"})
	if err != nil {
		t.Fatal(err)
	}
	flags := server.Flags()
	flags.SortFlags = false // definition order keeps related flags together
	b.WriteString("\n| flag | variable | default | meaning |\n|---|---|---|---|\n")
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "`--" + f.Name + "`"
		if f.Shorthand != "" {
			name = "`-" + f.Shorthand + ", --" + f.Name + "`"
		}
		fmt.Fprintf(b, "| %s | `%s` | %s | %s |\n", name, envVar(f.Name), defaultCell(f), strings.ReplaceAll(f.Usage, "|", `\|`))
	})
	b.WriteString("\n")
}

func defaultCell(f *pflag.Flag) string {
	switch f.DefValue {
	case "", "[]":
		return ""
	}
	return "`" + f.DefValue + "`"
}
