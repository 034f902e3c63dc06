package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsUsageOptions struct {
	*apiFactory
	SessionID string
}

func newAPISessionsUsageCmd(f *apiFactory, runF func(context.Context, *apiSessionsUsageOptions) error) *cobra.Command {
	opts := &apiSessionsUsageOptions{apiFactory: f}
	return &cobra.Command{
		Use:               "usage <session-id>",
		Short:             "Show the session's token usage per turn and its budget (GET /v1/sessions/{id}/usage)",
		Example:           "  agentd api sessions usage my-session\n  agentd api sessions usage my-session --json | jq .total",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsUsage(cmd.Context(), opts)
		},
	}
}

func runAPISessionsUsage(ctx context.Context, opts *apiSessionsUsageOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.GetSessionUsageWithResponse(ctx, opts.SessionID)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	u := res.JSON200
	if opts.wantJSON() || u == nil {
		return opts.printJSON(res.Body)
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "TURN\tINPUT\tCACHE READ\tCACHE WRITE\tOUTPUT\tREASONING\tTOTAL\tCOST USD")
	row := func(name string, x client.Usage) {
		cost := "-"
		if x.CostUsd != nil {
			cost = fmt.Sprintf("%.6f", *x.CostUsd)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", name, x.InputTokens, x.CacheReadTokens,
			x.CacheWriteTokens, x.OutputTokens, x.ReasoningTokens, x.TotalTokens, cost)
	}
	for _, t := range u.Turns {
		row(fmt.Sprintf("#%d", t.Sequence), t.Usage)
	}
	if u.Current != nil {
		row("running", *u.Current)
	}
	row("total", u.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.Out, "source: %s\n%s", u.Source, budgetLine(u.Budget))
	return err
}

// budgetLine says how the session stands against its budgets, if it has any.
func budgetLine(b client.BudgetState) string {
	switch {
	case b.Exceeded != nil:
		return fmt.Sprintf("budget exceeded (%s cap): %s\n", b.Exceeded.Cap, b.Exceeded.Message)
	case b.MaxTokens != nil && b.DaemonMaxTokens != nil:
		return fmt.Sprintf("budget: %d tokens for the session, %d of %d for the daemon\n", *b.MaxTokens, b.DaemonUsedTokens, *b.DaemonMaxTokens)
	case b.MaxTokens != nil:
		return fmt.Sprintf("budget: %d tokens for the session\n", *b.MaxTokens)
	case b.DaemonMaxTokens != nil:
		return fmt.Sprintf("budget: %d of %d tokens for the daemon\n", b.DaemonUsedTokens, *b.DaemonMaxTokens)
	}
	return ""
}
