package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// newAPISessionsCmd is `agentd api sessions`.
func newAPISessionsCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("sessions", "Create sessions, message them, follow their events and answer their requests", "")
	cmd.AddCommand(
		newAPISessionsListCmd(f, nil),
		newAPISessionsCreateCmd(f, nil),
		newAPISessionsSendMessageCmd(f, nil),
		newAPISessionsSendMessageStreamCmd(f, nil),
		newAPISessionsEventsCmd(f, nil),
		newAPISessionActionCmd(f, terminateAction, nil),
		newAPISessionActionCmd(f, interruptAction, nil),
		newAPISessionsReplyPermissionCmd(f, nil),
		newAPISessionsReplyQuestionCmd(f, nil),
		newAPISessionsRejectQuestionCmd(f, nil),
		newAPISessionsDiffCmd(f, nil),
		newAPISessionsUsageCmd(f, nil),
	)
	return cmd
}

// completeSession completes the first argument with the ids of the
// daemon's sessions; it offers nothing when the daemon cannot be asked.
func completeSession(f *apiFactory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 || bindAPIEnv(cmd.Flags()) != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		res, err := c.ListSessionsWithResponse(cmd.Context())
		if err != nil || res.JSON200 == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var ids []string
		for _, s := range res.JSON200.Sessions {
			if strings.HasPrefix(s.SessionId, prefix) {
				ids = append(ids, s.SessionId)
			}
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
}

// messageText is the text argument of send-message(-stream); "-" reads it
// from standard input.
func messageText(streams IO, arg string) (string, error) {
	if arg != "-" {
		return arg, nil
	}
	in := streams.In
	if in == nil {
		in = os.Stdin
	}
	b, err := io.ReadAll(in)
	if err != nil {
		return "", fmt.Errorf("read the message from standard input: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
