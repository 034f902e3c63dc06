package cli

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// newAPIPresetsCmd is `agentd api presets`.
func newAPIPresetsCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("presets", "List the session presets the daemon was started with", "")
	cmd.AddCommand(newAPIPresetsListCmd(f, nil))
	return cmd
}

type apiPresetsListOptions struct {
	*apiFactory
}

func newAPIPresetsListCmd(f *apiFactory, runF func(context.Context, *apiPresetsListOptions) error) *cobra.Command {
	opts := &apiPresetsListOptions{apiFactory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List the session presets (GET /v1/presets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIPresetsList(cmd.Context(), opts)
		},
	}
}

func runAPIPresetsList(ctx context.Context, opts *apiPresetsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ListPresetsWithResponse(ctx)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "PRESET\tAGENT\tMODEL\tMCP")
	for _, p := range res.JSON200.Presets {
		mcp := "-"
		if p.Mcp != nil {
			mcp = strings.Join(slices.Sorted(maps.Keys(*p.Mcp)), ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, deref(p.Agent, "any"), deref(p.Model, "-"), mcp)
	}
	return tw.Flush()
}
