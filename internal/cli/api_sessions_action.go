package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

// sessionAction is a POST /v1/sessions/{id}/<action> with no body and a
// 204 answer: terminate and interrupt.
type sessionAction struct {
	use, short, past string
	call             func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error)
}

var (
	terminateAction = sessionAction{
		use:   "terminate <session-id>",
		short: "End a session and stop its agent (POST /v1/sessions/{session_id}/terminate)",
		past:  "terminated",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.TerminateSessionWithResponse(ctx, id)
		},
	}
	interruptAction = sessionAction{
		use:   "interrupt <session-id>",
		short: "Stop the running turn; the session stays open (POST /v1/sessions/{session_id}/interrupt)",
		past:  "interrupted",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.InterruptSessionWithResponse(ctx, id)
		},
	}
)

type apiSessionActionOptions struct {
	*apiFactory
	action    sessionAction
	SessionID string
}

func newAPISessionActionCmd(f *apiFactory, action sessionAction, runF func(context.Context, *apiSessionActionOptions) error) *cobra.Command {
	opts := &apiSessionActionOptions{apiFactory: f, action: action}
	return &cobra.Command{
		Use:               action.use,
		Short:             action.short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionAction(cmd.Context(), opts)
		},
	}
}

func runAPISessionAction(ctx context.Context, opts *apiSessionActionOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := opts.action.call(ctx, c, opts.SessionID)
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil
	}
	_, err = fmt.Fprintf(opts.Out, "%s %s\n", opts.action.past, opts.SessionID)
	return err
}
