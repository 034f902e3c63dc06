package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

type apiAgentsListOptions struct {
	*apiFactory
}

func newAPIAgentsListCmd(f *apiFactory, runF func(context.Context, *apiAgentsListOptions) error) *cobra.Command {
	opts := &apiAgentsListOptions{apiFactory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List the agents and whether they are installed (GET /v1/agents)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIAgentsList(cmd.Context(), opts)
		},
	}
}

func runAPIAgentsList(ctx context.Context, opts *apiAgentsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ListAgentsWithResponse(ctx)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "AGENT\tINSTALLED\tCREDENTIALS\tVERSION")
	for _, a := range res.JSON200.Agents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Id, yesNo(a.Installed), yesNo(a.CredentialsAvailable), deref(a.Version, "-"))
	}
	return tw.Flush()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// deref is *p, or def when p is nil or empty.
func deref(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}
