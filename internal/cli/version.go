package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api"
)

type versionOptions struct {
	IO
	JSON bool
}

func newVersionCmd(streams IO) *cobra.Command {
	opts := &versionOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print agentd's version, commit and build date",
		Args:  cobra.NoArgs,
		RunE:  func(*cobra.Command, []string) error { return runVersion(opts) },
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func runVersion(opts *versionOptions) error {
	b := api.Build()
	if opts.JSON {
		return json.NewEncoder(opts.Out).Encode(b)
	}
	var extra []string
	if b.Commit != "" {
		extra = append(extra, "commit "+b.Commit)
	}
	if b.Date != "" {
		extra = append(extra, "built from a commit of "+b.Date)
	}
	line := "agentd " + b.Version
	if len(extra) > 0 {
		line += " (" + strings.Join(extra, ", ") + ")"
	}
	_, err := fmt.Fprintln(opts.Out, line)
	return err
}
