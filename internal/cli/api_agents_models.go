package cli

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

type apiAgentsModelsOptions struct {
	*apiFactory
	Agent string
}

func newAPIAgentsModelsCmd(f *apiFactory, runF func(context.Context, *apiAgentsModelsOptions) error) *cobra.Command {
	opts := &apiAgentsModelsOptions{apiFactory: f}
	return &cobra.Command{
		Use:               "models <agent>",
		Short:             "List an agent's models (GET /v1/agents/{agent}/models)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeAgent,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Agent = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIAgentsModels(cmd.Context(), opts)
		},
	}
}

func runAPIAgentsModels(ctx context.Context, opts *apiAgentsModelsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.GetAgentModelsWithResponse(ctx, opts.Agent)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	def := deref(res.JSON200.DefaultModel, "")
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "MODEL\tNAME\tVARIANTS\tDEFAULT")
	for _, m := range res.JSON200.Models {
		variants := "-"
		if m.Variants != nil && len(*m.Variants) > 0 {
			variants = strings.Join(*m.Variants, ",")
		}
		isDefault := ""
		if m.Id == def {
			isDefault = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Id, deref(m.Name, "-"), variants, isDefault)
	}
	return tw.Flush()
}
