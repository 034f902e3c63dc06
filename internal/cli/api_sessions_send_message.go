package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsSendMessageOptions struct {
	*apiFactory
	SessionID   string
	Message     string
	Attachments []string
}

func newAPISessionsSendMessageCmd(f *apiFactory, runF func(context.Context, *apiSessionsSendMessageOptions) error) *cobra.Command {
	opts := &apiSessionsSendMessageOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "send-message <session-id> <text>",
		Short: "Send a message and return at once (POST /v1/sessions/{session_id}/messages)",
		Long: "Send a message to a session; the agent's answer arrives as events (see `events --follow`).\n" +
			"A text of - is read from standard input.",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			text, err := messageText(f.IO, args[1])
			if err != nil {
				return err
			}
			opts.Message = text
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsSendMessage(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Attachments, "attachment", nil, "path of a file to attach (repeatable)")
	return cmd
}

// messageRequest is the body of both send commands.
func messageRequest(text string, attachments []string) client.MessageRequest {
	req := client.MessageRequest{Message: text}
	if len(attachments) > 0 {
		list := make([]client.MessageAttachment, len(attachments))
		for i, p := range attachments {
			list[i] = client.MessageAttachment{Path: p}
		}
		req.Attachments = &list
	}
	return req
}

func runAPISessionsSendMessage(ctx context.Context, opts *apiSessionsSendMessageOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.PostMessageWithResponse(ctx, opts.SessionID, messageRequest(opts.Message, opts.Attachments))
	if err := opts.check(res, err, http.StatusNoContent); err != nil {
		return err
	}
	if opts.wantJSON() {
		return nil
	}
	_, err = fmt.Fprintf(opts.Out, "sent to %s\n", opts.SessionID)
	return err
}
