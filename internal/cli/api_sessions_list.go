package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

type apiSessionsListOptions struct {
	*apiFactory
}

func newAPISessionsListCmd(f *apiFactory, runF func(context.Context, *apiSessionsListOptions) error) *cobra.Command {
	opts := &apiSessionsListOptions{apiFactory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List sessions, newest first (GET /v1/sessions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsList(cmd.Context(), opts)
		},
	}
}

func runAPISessionsList(ctx context.Context, opts *apiSessionsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ListSessionsWithResponse(ctx)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "SESSION\tAGENT\tMODE\tPERMISSIONS\tSTATE\tEVENTS\tUPDATED\tTITLE")
	for _, s := range res.JSON200.Sessions {
		state := "running"
		if s.Ended {
			state = "ended"
		}
		updated := time.UnixMilli(s.UpdatedAt).Local().Format(time.DateTime)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s.SessionId, s.Agent, s.AgentMode, s.PermissionMode,
			state, s.EventCount, updated, deref(s.Title, "-"))
	}
	return tw.Flush()
}
