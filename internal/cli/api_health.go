package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

type apiHealthOptions struct {
	*apiFactory
}

func newAPIHealthCmd(f *apiFactory, runF func(context.Context, *apiHealthOptions) error) *cobra.Command {
	opts := &apiHealthOptions{apiFactory: f}
	return &cobra.Command{
		Use:   "health",
		Short: "Check that the daemon is up (GET /v1/health)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIHealth(cmd.Context(), opts)
		},
	}
}

func runAPIHealth(ctx context.Context, opts *apiHealthOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.GetHealthWithResponse(ctx)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() {
		return opts.printJSON(res.Body)
	}
	h := res.JSON200
	if h == nil {
		return fmt.Errorf("daemon at %s sent no health body", opts.Endpoint)
	}
	line := h.Status
	if h.Version != nil && *h.Version != "" {
		line += " (agentd " + *h.Version + ")"
	}
	_, err = fmt.Fprintln(opts.Out, line, "at", opts.Endpoint)
	return err
}
