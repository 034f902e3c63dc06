package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
)

type apiSessionsTerminateOptions struct {
	*apiFactory
	SessionID string
}

func newAPISessionsTerminateCmd(f *apiFactory, runF func(context.Context, *apiSessionsTerminateOptions) error) *cobra.Command {
	opts := &apiSessionsTerminateOptions{apiFactory: f}
	return &cobra.Command{
		Use:               "terminate <session-id>",
		Short:             "End a session and stop its agent (POST /v1/sessions/{session_id}/terminate)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsTerminate(cmd.Context(), opts)
		},
	}
}

func runAPISessionsTerminate(ctx context.Context, opts *apiSessionsTerminateOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.TerminateSessionWithResponse(ctx, opts.SessionID)
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil
	}
	_, err = fmt.Fprintf(opts.Out, "terminated %s\n", opts.SessionID)
	return err
}
