package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

type apiAgentsModesOptions struct {
	*apiFactory
	Agent string
}

func newAPIAgentsModesCmd(f *apiFactory, runF func(context.Context, *apiAgentsModesOptions) error) *cobra.Command {
	opts := &apiAgentsModesOptions{apiFactory: f}
	return &cobra.Command{
		Use:               "modes <agent>",
		Short:             "List an agent's modes (GET /v1/agents/{agent}/modes)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeAgent,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Agent = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIAgentsModes(cmd.Context(), opts)
		},
	}
}

func runAPIAgentsModes(ctx context.Context, opts *apiAgentsModesOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.GetAgentModesWithResponse(ctx, opts.Agent)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "MODE\tNAME\tDESCRIPTION")
	for _, m := range res.JSON200.Modes {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", m.Id, m.Name, m.Description)
	}
	return tw.Flush()
}
