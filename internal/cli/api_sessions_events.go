package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsEventsOptions struct {
	*apiFactory
	SessionID  string
	Offset     uint64
	Limit      uint64
	LimitSet   bool
	IncludeRaw bool
	Follow     bool
}

func newAPISessionsEventsCmd(f *apiFactory, runF func(context.Context, *apiSessionsEventsOptions) error) *cobra.Command {
	opts := &apiSessionsEventsOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "events <session-id>",
		Short: "Print a session's events (GET /v1/sessions/{session_id}/events, or …/events/sse with --follow)",
		Long: "Print the session's events after --offset (a sequence, exclusive). Without --follow: one page\n" +
			"(the API's {\"events\":[…],\"hasMore\":…} object in JSON). With --follow: every event, one per line,\n" +
			"then live ones as they are recorded, resuming with Last-Event-ID when the connection drops; it\n" +
			"stops when the session has ended and its last event is printed, or on Ctrl-C.",
		Example: "  agentd api sessions events s1 --offset 10 --limit 50\n" +
			"  agentd api sessions events s1 --follow --json | jq -r .type",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeSession(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			opts.LimitSet = cmd.Flags().Changed("limit")
			switch {
			case opts.Follow && opts.LimitSet:
				return usageError{errors.New("--limit and --follow exclude each other")}
			case opts.Offset > math.MaxInt64 || opts.Limit > math.MaxInt64:
				return usageError{errors.New("--offset and --limit must fit in 63 bits")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsEvents(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.Uint64Var(&opts.Offset, "offset", 0, "print events after this sequence")
	fl.Uint64Var(&opts.Limit, "limit", 0, "print at most this many events (without --follow)")
	fl.BoolVar(&opts.IncludeRaw, "include-raw", false, "include the agents' native payloads")
	fl.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing events as they are recorded")
	return cmd
}

func runAPISessionsEvents(ctx context.Context, opts *apiSessionsEventsOptions) error {
	if opts.Follow {
		p := &eventPrinter{f: opts.apiFactory, last: opts.Offset}
		return p.follow(ctx, opts.SessionID, opts.IncludeRaw, nil)
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	params := &client.GetEventsParams{}
	if opts.Offset > 0 {
		offset := int64(opts.Offset)
		params.Offset = &offset
	}
	if opts.LimitSet {
		limit := int64(opts.Limit)
		params.Limit = &limit
	}
	if opts.IncludeRaw {
		params.IncludeRaw = &opts.IncludeRaw
	}
	res, err := c.GetEventsWithResponse(ctx, opts.SessionID, params)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() {
		return opts.printJSON(res.Body)
	}
	var page struct {
		Events  []json.RawMessage `json:"events"`
		HasMore bool              `json:"hasMore"`
	}
	if err := json.Unmarshal(res.Body, &page); err != nil {
		return fmt.Errorf("daemon sent events this client cannot read: %w", err)
	}
	p := &eventPrinter{f: opts.apiFactory, last: opts.Offset}
	for _, ev := range page.Events {
		if _, _, err := p.print(ev); err != nil {
			return err
		}
	}
	if page.HasMore {
		_, err = fmt.Fprintf(opts.Out, "more events follow: --offset %d\n", p.last)
	}
	return err
}
