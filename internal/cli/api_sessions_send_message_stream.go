package cli

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsSendMessageStreamOptions struct {
	*apiFactory
	SessionID   string
	Message     string
	Attachments []string
	IncludeRaw  bool
}

func newAPISessionsSendMessageStreamCmd(f *apiFactory, runF func(context.Context, *apiSessionsSendMessageStreamOptions) error) *cobra.Command {
	opts := &apiSessionsSendMessageStreamOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "send-message-stream <session-id> <text>",
		Short: "Send a message and print the turn's events (POST /v1/sessions/{session_id}/messages/stream)",
		Long: "Send a message and print the session's events as they arrive, until the turn pauses: turn.ended,\n" +
			"session.ended, error, agent.unparsed, permission.requested or question.requested.\n" +
			"If the connection drops, the rest of the turn is read from the event stream with Last-Event-ID.\n" +
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
			return runAPISessionsSendMessageStream(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Attachments, "attachment", nil, "path of a file to attach (repeatable)")
	cmd.Flags().BoolVar(&opts.IncludeRaw, "include-raw", false, "include the agents' native payloads")
	return cmd
}

func runAPISessionsSendMessageStream(ctx context.Context, opts *apiSessionsSendMessageStreamOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	params := &client.PostMessageStreamParams{}
	if opts.IncludeRaw {
		params.IncludeRaw = &opts.IncludeRaw
	}
	res, err := c.PostMessageStream(ctx, opts.SessionID, params, messageRequest(opts.Message, opts.Attachments), acceptEventStream)
	if err != nil {
		return opts.transportError(err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusNoContent:
		return nil // nothing will come
	default:
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return opts.problem(res.StatusCode, body)
	}
	p := &eventPrinter{f: opts.apiFactory}
	stop := func(typ string) bool { return turnPauses[typ] }
	done, err := p.readStream(res.Body, stop)
	if done {
		return nil
	}
	if ctx.Err() != nil {
		return nil // interrupted by the user
	}
	var pe printError
	if errors.As(err, &pe) {
		return pe.error
	}
	if p.last == 0 {
		// Without an event we do not know where the turn started.
		if err == nil {
			err = errors.New("the stream ended before any event")
		}
		return opts.transportError(err)
	}
	// The connection dropped mid-turn: read the rest of it from the log.
	return p.follow(ctx, opts.SessionID, opts.IncludeRaw, stop)
}
