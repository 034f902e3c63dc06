package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

// newAPITerminalsCmd is `agentd api terminals`.
func newAPITerminalsCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("terminals", "Run programs on pseudo-terminals: type into them, follow and resize them",
		"Programs (by default a shell) on pseudo-terminals the daemon holds. Any number of clients can follow\n"+
			"a terminal's output; a new follower first gets the recent output to repaint its screen.")
	cmd.AddCommand(
		newAPITerminalsCreateCmd(f, nil),
		newAPITerminalsListCmd(f, nil),
		newAPIIDActionCmd(f, terminalGetAction, nil),
		newAPITerminalsInputCmd(f, nil),
		newAPITerminalsFollowCmd(f, nil),
		newAPITerminalsResizeCmd(f, nil),
		newAPIIDActionCmd(f, terminalCloseAction, nil),
	)
	return cmd
}

var (
	terminalGetAction = idAction{
		use: "get <terminal-id>", short: "Show a terminal: program, size, status (GET /v1/terminals/{terminal_id})",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.GetTerminalWithResponse(ctx, id)
		},
		human: printTerminalBody,
	}
	terminalCloseAction = idAction{
		use:   "close <terminal-id>",
		short: "Hang up a terminal, ending every process of its session (DELETE /v1/terminals/{terminal_id})",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.CloseTerminalWithResponse(ctx, id)
		},
		human: printTerminalBody,
	}
)

func printTerminalBody(f *apiFactory, body []byte) error {
	var t client.TerminalInfo
	if err := json.Unmarshal(body, &t); err != nil {
		return fmt.Errorf("daemon sent a terminal this client cannot read: %w", err)
	}
	return printTerminals(f, []client.TerminalInfo{t})
}

func printTerminals(f *apiFactory, ts []client.TerminalInfo) error {
	tw := newTable(f.Out)
	fmt.Fprintln(tw, "ID\tSTATUS\tPID\tSIZE\tEXIT\tREADERS\tCOMMAND")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%dx%d\t%s\t%d\t%s\n", t.Id, t.Status, t.Pid, t.Cols, t.Rows,
			exitSummary(t.ExitCode, t.Signal, false), t.Readers, strings.Join(t.Argv, " "))
	}
	return tw.Flush()
}

type apiTerminalsListOptions struct{ *apiFactory }

func newAPITerminalsListCmd(f *apiFactory, runF func(context.Context, *apiTerminalsListOptions) error) *cobra.Command {
	opts := &apiTerminalsListOptions{apiFactory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List open terminals and those that ended lately (GET /v1/terminals)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPITerminalsList(cmd.Context(), opts)
		},
	}
}

func runAPITerminalsList(ctx context.Context, opts *apiTerminalsListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ListTerminalsWithResponse(ctx)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	return printTerminals(opts.apiFactory, res.JSON200.Terminals)
}

// terminalSize is --cols and --rows.
type terminalSize struct{ Cols, Rows uint16 }

func (s *terminalSize) addFlags(cmd *cobra.Command, what string) {
	cmd.Flags().Uint16Var(&s.Cols, "cols", 0, "columns"+what)
	cmd.Flags().Uint16Var(&s.Rows, "rows", 0, "rows"+what)
}

type apiTerminalsCreateOptions struct {
	*apiFactory
	terminalSize
	Argv    []string
	Cwd     string
	Env     []string
	Session string
}

func newAPITerminalsCreateCmd(f *apiFactory, runF func(context.Context, *apiTerminalsCreateOptions) error) *cobra.Command {
	opts := &apiTerminalsCreateOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "create [flags] [-- <program> [args...]]",
		Short: "Start a program (default: a shell) on a new terminal (POST /v1/terminals)",
		Example: "  agentd api terminals create\n" +
			"  agentd api terminals create --cwd web --cols 120 --rows 40 -- htop",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Argv = args
			if _, err := envMap(opts.Env); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPITerminalsCreate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.addFlags(cmd, " (default 80 by 24)")
	fl.StringVar(&opts.Cwd, "cwd", "", "working directory (default: the session's directory, else the root)")
	fl.StringArrayVar(&opts.Env, "env", nil, "environment variable K=V added to the daemon's (repeatable)")
	fl.StringVarP(&opts.Session, "session", "s", "", "session whose directory a relative --cwd resolves against")
	return cmd
}

func runAPITerminalsCreate(ctx context.Context, opts *apiTerminalsCreateOptions) error {
	env, err := envMap(opts.Env)
	if err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body := client.TerminalCreateRequest{Cwd: optional(opts.Cwd), Env: env, SessionId: optional(opts.Session)}
	if len(opts.Argv) > 0 {
		body.Argv = &opts.Argv
	}
	if opts.Cols > 0 {
		cols := int32(opts.Cols)
		body.Cols = &cols
	}
	if opts.Rows > 0 {
		rows := int32(opts.Rows)
		body.Rows = &rows
	}
	res, err := c.CreateTerminalWithResponse(ctx, body)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	return opts.printState(res.Body, printTerminalBody)
}

type apiTerminalsResizeOptions struct {
	*apiFactory
	terminalSize
	ID string
}

func newAPITerminalsResizeCmd(f *apiFactory, runF func(context.Context, *apiTerminalsResizeOptions) error) *cobra.Command {
	opts := &apiTerminalsResizeOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "resize <terminal-id> --cols N --rows N",
		Short: "Set a terminal's size; its program gets SIGWINCH (POST /v1/terminals/{terminal_id}/resize)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Cols == 0 || opts.Rows == 0 {
				return usageError{errors.New("--cols and --rows are required and at least 1")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPITerminalsResize(cmd.Context(), opts)
		},
	}
	opts.addFlags(cmd, " (required)")
	return cmd
}

func runAPITerminalsResize(ctx context.Context, opts *apiTerminalsResizeOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ResizeTerminalWithResponse(ctx, opts.ID, client.TerminalResizeRequest{Cols: int32(opts.Cols), Rows: int32(opts.Rows)})
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	return opts.printState(res.Body, printTerminalBody)
}

type apiTerminalsInputOptions struct {
	*apiFactory
	ID   string
	Text *string // nil: standard input
}

func newAPITerminalsInputCmd(f *apiFactory, runF func(context.Context, *apiTerminalsInputOptions) error) *cobra.Command {
	opts := &apiTerminalsInputOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "input <terminal-id> <text|->",
		Short: "Type into a terminal (POST /v1/terminals/{terminal_id}/input)",
		Long: "Send the text as keystrokes, as given (a shell runs a line on \\r or \\n), or this command's standard\n" +
			"input for - (at most 1 MiB).",
		Example: "  agentd api terminals input term_3f2a9c0b1d4e $'ls -l\\r'\n  printf '\\003' | agentd api terminals input term_3f2a9c0b1d4e -",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID, opts.Text = args[0], nil
			if args[1] != "-" {
				opts.Text = &args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPITerminalsInput(cmd.Context(), opts)
		},
	}
	return cmd
}

func runAPITerminalsInput(ctx context.Context, opts *apiTerminalsInputOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body, size := textOrStdin(opts.IO, opts.Text)
	res, err := c.WriteTerminalInputWithBodyWithResponse(ctx, opts.ID, "application/octet-stream", body, contentLength(size))
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	_, err = fmt.Fprintf(opts.Out, "wrote %d bytes\n", res.JSON200.BytesWritten)
	return err
}

type apiTerminalsFollowOptions struct {
	*apiFactory
	ID     string
	Offset int64
	Raw    bool
}

func newAPITerminalsFollowCmd(f *apiFactory, runF func(context.Context, *apiTerminalsFollowOptions) error) *cobra.Command {
	opts := &apiTerminalsFollowOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "follow <terminal-id>",
		Short: "Print a terminal's output, then live, until its program exits (GET /v1/terminals/{terminal_id}/output/sse)",
		Long: "Print the terminal's output from the oldest byte the daemon still holds (or from --offset), then live,\n" +
			"until its program has exited; a dropped connection is resumed with Last-Event-ID. On a terminal (or\n" +
			"with --raw) the bytes are written as they are and the exit is reported on stderr. In JSON each line is\n" +
			"{\"event\":\"output\",\"data\":{offset,data,skipped?}} (data base64), the last {\"event\":\"exit\",…}.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.Offset < -1 {
				return usageError{errors.New("--offset is a byte offset, or -1 for the oldest byte held")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPITerminalsFollow(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.Offset, "offset", -1, "start at this byte offset (-1: the oldest byte held)")
	rawFlag(cmd, &opts.Raw)
	return cmd
}

func runAPITerminalsFollow(ctx context.Context, opts *apiTerminalsFollowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	p := &outputPrinter{f: opts.apiFactory, raw: opts.Raw || !opts.wantJSON(), exited: terminalExit}
	s := &resumableStream{f: opts.apiFactory, handle: p.handle}
	s.open = func(ctx context.Context, lastID string) (*http.Response, error) {
		params := &client.FollowTerminalOutputParams{LastEventID: lastEventID(lastID)}
		if opts.Offset >= 0 {
			params.Offset = &opts.Offset
		}
		return c.FollowTerminalOutput(ctx, opts.ID, params, acceptEventStream)
	}
	return s.run(ctx)
}

func terminalExit(data []byte) (string, error) {
	var t client.TerminalInfo
	if err := json.Unmarshal(data, &t); err != nil {
		return "", fmt.Errorf("daemon sent a terminal this client cannot read: %w", err)
	}
	return fmt.Sprintf("[%s exited: %s]", t.Id, exitSummary(t.ExitCode, t.Signal, false)), nil
}
