package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

// newAPIProcessesCmd is `agentd api processes`.
func newAPIProcessesCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("processes", "Start commands that outlive the request, follow their output, signal them",
		"Commands the daemon runs in process groups of their own. They outlive the request that started\n"+
			"them; their output is kept (the newest 1 MiB in memory, all of it in logs) and can be followed\n"+
			"live from any client.")
	cmd.AddCommand(
		newAPIProcessesStartCmd(f, nil),
		newAPIProcessesListCmd(f, nil),
		newAPIIDActionCmd(f, processGetAction, nil),
		newAPIProcessesOutputCmd(f, nil),
		newAPIProcessesFollowCmd(f, nil),
		newAPIProcessesStdinCmd(f, nil),
		newAPIProcessesSignalCmd(f, nil),
		newAPIIDActionCmd(f, processKillAction, nil),
		newAPIIDActionCmd(f, processDeleteAction, nil),
		newAPIProcessesLogsCmd(f, nil),
	)
	return cmd
}

// idAction is a call on one process or terminal by id whose answer is its
// state: get, kill, delete, close.
type idAction struct {
	use, short string
	call       func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error)
	// human prints the answer on a terminal.
	human func(f *apiFactory, body []byte) error
}

var (
	processGetAction = idAction{
		use: "get <process-id>", short: "Show a process: status, exit code or signal, output sizes (GET /v1/processes/{process_id})",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.GetProcessWithResponse(ctx, id)
		},
		human: printProcessBody,
	}
	processKillAction = idAction{
		use:   "kill <process-id>",
		short: "End a process's whole group: SIGTERM, then SIGKILL after a grace period (POST /v1/processes/{process_id}/kill)",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.KillProcessWithResponse(ctx, id)
		},
		human: printProcessBody,
	}
	processDeleteAction = idAction{
		use:   "delete <process-id>",
		short: "Kill a process if it runs, then forget it and delete its logs (DELETE /v1/processes/{process_id})",
		call: func(ctx context.Context, c *client.ClientWithResponses, id string) (apiResult, error) {
			return c.DeleteProcessWithResponse(ctx, id)
		},
		human: printProcessBody,
	}
)

type apiIDActionOptions struct {
	*apiFactory
	action idAction
	ID     string
}

func newAPIIDActionCmd(f *apiFactory, action idAction, runF func(context.Context, *apiIDActionOptions) error) *cobra.Command {
	opts := &apiIDActionOptions{apiFactory: f, action: action}
	return &cobra.Command{
		Use:   action.use,
		Short: action.short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIIDAction(cmd.Context(), opts)
		},
	}
}

func runAPIIDAction(ctx context.Context, opts *apiIDActionOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := opts.action.call(ctx, c, opts.ID)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	return opts.printState(res.GetBody(), opts.action.human)
}

// printState prints a process's or terminal's state: JSON as sent, or
// human on a terminal.
func (f *apiFactory) printState(body []byte, human func(*apiFactory, []byte) error) error {
	if f.wantJSON() {
		return f.printJSON(body)
	}
	return human(f, body)
}

func printProcessBody(f *apiFactory, body []byte) error {
	var p client.ProcessInfo
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("daemon sent a process this client cannot read: %w", err)
	}
	return printProcesses(f, []client.ProcessInfo{p})
}

func printProcesses(f *apiFactory, ps []client.ProcessInfo) error {
	tw := newTable(f.Out)
	fmt.Fprintln(tw, "ID\tSTATUS\tPID\tEXIT\tSTARTED\tCOMMAND")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", p.Id, p.Status, p.Pid, exitSummary(p.ExitCode, p.Signal, p.TimedOut),
			time.UnixMilli(p.StartedAt).Format(time.DateTime), strings.Join(p.Argv, " "))
	}
	return tw.Flush()
}

// exitSummary says how a process or terminal ended: its exit code, the
// signal that ended it, or "-" while it runs.
func exitSummary(code *int64, signal *string, timedOut bool) string {
	s := "-"
	switch {
	case code != nil:
		s = fmt.Sprint(*code)
	case signal != nil:
		s = *signal
	}
	if timedOut {
		s += " (timed out)"
	}
	return s
}

type apiProcessesListOptions struct{ *apiFactory }

func newAPIProcessesListCmd(f *apiFactory, runF func(context.Context, *apiProcessesListOptions) error) *cobra.Command {
	opts := &apiProcessesListOptions{apiFactory: f}
	return &cobra.Command{
		Use:   "list",
		Short: "List running processes and the exited ones still kept (GET /v1/processes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesList(cmd.Context(), opts)
		},
	}
}

func runAPIProcessesList(ctx context.Context, opts *apiProcessesListOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.ListProcessesWithResponse(ctx)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	return printProcesses(opts.apiFactory, res.JSON200.Processes)
}

type apiProcessesStartOptions struct {
	*apiFactory
	Argv    []string
	Cwd     string
	Env     []string // K=V
	Timeout time.Duration
	Stdin   bool
	Session string
}

func newAPIProcessesStartCmd(f *apiFactory, runF func(context.Context, *apiProcessesStartOptions) error) *cobra.Command {
	opts := &apiProcessesStartOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "start [flags] -- <command> [args...]",
		Short: "Start a command and return at once (POST /v1/processes)",
		Long: "Start the command in a process group of its own and print its state. The command is looked up in\n" +
			"the daemon's PATH unless it has a slash; put it after -- so its own flags are not read as ours.",
		Example: "  agentd api processes start -- make test\n" +
			"  agentd api processes start --cwd web --env PORT=3000 --timeout 10m -- npm run dev\n" +
			"  agentd api processes start --stdin -- cat",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Argv = args
			if _, err := envMap(opts.Env); err != nil {
				return err
			}
			if opts.Timeout < 0 {
				return usageError{fmt.Errorf("--timeout %s is negative", opts.Timeout)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesStart(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Cwd, "cwd", "", "working directory (default: the session's directory, else the root)")
	fl.StringArrayVar(&opts.Env, "env", nil, "environment variable K=V added to the daemon's (repeatable)")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "kill the process group after this long, e.g. 90s or 10m")
	fl.BoolVar(&opts.Stdin, "stdin", false, "keep standard input open for `processes stdin`")
	fl.StringVarP(&opts.Session, "session", "s", "", "session whose directory a relative --cwd resolves against")
	return cmd
}

// envMap reads K=V flags.
func envMap(kvs []string) (*map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	env := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--env %q is not K=V", kv)}
		}
		env[k] = v
	}
	return &env, nil
}

func runAPIProcessesStart(ctx context.Context, opts *apiProcessesStartOptions) error {
	env, err := envMap(opts.Env)
	if err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body := client.ProcessStartRequest{Argv: &opts.Argv, Cwd: optional(opts.Cwd), Env: env, SessionId: optional(opts.Session)}
	if opts.Stdin {
		body.Stdin = &opts.Stdin
	}
	if opts.Timeout > 0 {
		ms := max(opts.Timeout.Milliseconds(), 1)
		body.TimeoutMs = &ms
	}
	res, err := c.StartProcessWithResponse(ctx, body)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	return opts.printState(res.Body, printProcessBody)
}

type apiProcessesSignalOptions struct {
	*apiFactory
	ID     string
	Signal string
}

func newAPIProcessesSignalCmd(f *apiFactory, runF func(context.Context, *apiProcessesSignalOptions) error) *cobra.Command {
	opts := &apiProcessesSignalOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:     "signal <process-id> <signal>",
		Short:   "Send a signal to a process's whole group (POST /v1/processes/{process_id}/signal)",
		Example: "  agentd api processes signal proc_3f2a9c0b1d4e SIGINT\n  agentd api processes signal proc_3f2a9c0b1d4e HUP",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID, opts.Signal = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesSignal(cmd.Context(), opts)
		},
	}
	return cmd
}

func runAPIProcessesSignal(ctx context.Context, opts *apiProcessesSignalOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.SignalProcessWithResponse(ctx, opts.ID, client.ProcessSignalRequest{Signal: opts.Signal})
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	return opts.printState(res.Body, printProcessBody)
}
