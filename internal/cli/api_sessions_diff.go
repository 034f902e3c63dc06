package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsDiffOptions struct {
	*apiFactory
	SessionID string
	Patch     bool
}

func newAPISessionsDiffCmd(f *apiFactory, runF func(context.Context, *apiSessionsDiffOptions) error) *cobra.Command {
	opts := &apiSessionsDiffOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "diff <session-id>",
		Short: "Show what changed in the session's git work tree (GET /v1/sessions/{id}/diff)",
		Example: "  agentd api sessions diff my-session\n" +
			"  agentd api sessions diff my-session --patch | less -R",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsDiff(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Patch, "patch", false, "print only the unified diff, as git prints it")
	return cmd
}

func runAPISessionsDiff(ctx context.Context, opts *apiSessionsDiffOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	withPatch := opts.Patch || opts.wantJSON()
	res, err := c.GetSessionDiffWithResponse(ctx, opts.SessionID, &client.GetSessionDiffParams{Patch: &withPatch})
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	d := res.JSON200
	switch {
	case opts.Patch && d != nil:
		_, err := io.WriteString(opts.Out, deref(d.Patch, ""))
		return err
	case opts.wantJSON() || d == nil:
		return opts.printJSON(res.Body)
	case !d.Repository:
		_, err := fmt.Fprintf(opts.Out, "%s is not in a git work tree\n", d.Directory)
		return err
	case d.Files == nil || len(*d.Files) == 0:
		_, err := fmt.Fprintln(opts.Out, "no changes since", deref(d.Base, "the start of the repository"))
		return err
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "STATUS\tPATH\t+\t-")
	for _, f := range *d.Files {
		path := f.Path
		if f.OldPath != nil {
			path = *f.OldPath + " → " + f.Path
		}
		add, del := "bin", "bin"
		if f.Additions != nil && f.Deletions != nil {
			add, del = fmt.Sprint(*f.Additions), fmt.Sprint(*f.Deletions)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Status, path, add, del)
	}
	if d.Truncated {
		fmt.Fprintln(tw, "…\t(truncated)\t\t")
	}
	return tw.Flush()
}
