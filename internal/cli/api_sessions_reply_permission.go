package cli

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsReplyPermissionOptions struct {
	*apiFactory
	SessionID    string
	PermissionID string
	Reply        string
}

// permissionReplies are the answers to a permission request.
var permissionReplies = []string{"once", "always", "reject"}

func newAPISessionsReplyPermissionCmd(f *apiFactory, runF func(context.Context, *apiSessionsReplyPermissionOptions) error) *cobra.Command {
	opts := &apiSessionsReplyPermissionOptions{apiFactory: f}
	sessions := completeSession(f)
	return &cobra.Command{
		Use:   "reply-permission <session-id> <permission-id> once|always|reject",
		Short: "Answer a permission request (POST /v1/sessions/{session_id}/permissions/{permission_id}/reply)",
		Long: "Answer the agent's permission request: once allows this call, always allows it for the rest of the\n" +
			"session, reject denies it. The permission id is in the permission.requested event.",
		Args: cobra.ExactArgs(3),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			switch len(args) {
			case 0:
				return sessions(cmd, args, prefix)
			case 2:
				return permissionReplies, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID, opts.PermissionID, opts.Reply = args[0], args[1], args[2]
			if !slices.Contains(permissionReplies, opts.Reply) {
				return usageError{fmt.Errorf("reply %q: want %s", opts.Reply, strings.Join(permissionReplies, ", "))}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsReplyPermission(cmd.Context(), opts)
		},
	}
}

func runAPISessionsReplyPermission(ctx context.Context, opts *apiSessionsReplyPermissionOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ReplyPermissionWithResponse(ctx, opts.SessionID, opts.PermissionID,
		client.PermissionReplyRequest{Reply: client.PermissionReply(opts.Reply)})
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil
	}
	_, err = fmt.Fprintf(opts.Out, "replied %s to %s\n", opts.Reply, opts.PermissionID)
	return err
}
