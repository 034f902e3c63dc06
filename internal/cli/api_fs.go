package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

// newAPIFsCmd is `agentd api fs`.
func newAPIFsCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("fs", "List, read, write, move and watch files under the daemon's root",
		"Files under the daemon's root (--fs-root of `agentd server`). Paths are absolute (inside the root)\n"+
			"or relative: to the directory of --session when given, else to the root. The daemon refuses\n"+
			"`..` and paths or symlinks leading out of the root.")
	cmd.AddCommand(
		newAPIFsEntriesCmd(f, nil),
		newAPIFsStatCmd(f, nil),
		newAPIFsReadCmd(f, nil),
		newAPIFsWriteCmd(f, nil),
		newAPIFsDeleteCmd(f, nil),
		newAPIFsMkdirCmd(f, nil),
		newAPIFsMoveCmd(f, nil),
		newAPIFsUploadCmd(f, nil),
		newAPIFsArchiveCmd(f, nil),
		newAPIFsWatchCmd(f, nil),
	)
	return cmd
}

// fsTarget is what every fs command takes: a path and the session that
// relative paths resolve against.
type fsTarget struct {
	Path    string
	Session string
}

func (t *fsTarget) addSessionFlag(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&t.Session, "session", "s", "", "session whose directory relative paths resolve against")
}

// session is the session query parameter: absent when not given.
func (t fsTarget) session() *string { return optional(t.Session) }

// shortTime shows an RFC 3339 time of the daemon in local time, to the
// second; "-" when there is none.
func shortTime(rfc3339 *string) string {
	if rfc3339 == nil {
		return "-"
	}
	t, err := time.Parse(time.RFC3339Nano, *rfc3339)
	if err != nil {
		return *rfc3339
	}
	return t.Local().Format(time.DateTime)
}

// optional is nil for an empty string, so an unset flag is not sent.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type apiFsEntriesOptions struct {
	*apiFactory
	fsTarget
}

func newAPIFsEntriesCmd(f *apiFactory, runF func(context.Context, *apiFsEntriesOptions) error) *cobra.Command {
	opts := &apiFsEntriesOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:     "entries [path]",
		Aliases: []string{"ls"},
		Short:   "List a directory (GET /v1/fs/entries)",
		Example: "  agentd api fs entries src\n  agentd api fs entries --session s1 .",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = "."
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsEntries(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	return cmd
}

func runAPIFsEntries(ctx context.Context, opts *apiFsEntriesOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.FsEntriesWithResponse(ctx, &client.FsEntriesParams{Path: &opts.Path, SessionId: opts.session()})
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	tw := newTable(opts.Out)
	fmt.Fprintln(tw, "NAME\tTYPE\tSIZE\tMODIFIED")
	for _, e := range *res.JSON200 {
		name := e.Name
		if e.Symlink != nil && *e.Symlink {
			name += "@"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", name, e.EntryType, e.Size, deref(e.Modified, "-"))
	}
	return tw.Flush()
}

type apiFsStatOptions struct {
	*apiFactory
	fsTarget
}

func newAPIFsStatCmd(f *apiFactory, runF func(context.Context, *apiFsStatOptions) error) *cobra.Command {
	opts := &apiFsStatOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "stat <path>",
		Short: "Show a path's type, size and modification time (GET /v1/fs/stat)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsStat(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	return cmd
}

func runAPIFsStat(ctx context.Context, opts *apiFsStatOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.FsStatWithResponse(ctx, &client.FsStatParams{Path: opts.Path, SessionId: opts.session()})
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	s := res.JSON200
	_, err = fmt.Fprintf(opts.Out, "path:      %s\ntype:      %s\nsize:      %d\nmodified:  %s\n", s.Path, s.EntryType, s.Size, shortTime(s.Modified))
	return err
}

// fsAction is an fs call on one path whose answer is {"path": …}: mkdir
// and delete.
type fsAction struct {
	use, short, past string
	recursive        bool // takes --recursive
	call             func(ctx context.Context, c *client.ClientWithResponses, o *apiFsActionOptions) (apiResult, error)
}

var (
	fsMkdirAction = fsAction{
		use:   "mkdir <path>",
		short: "Create a directory and its missing parents (POST /v1/fs/mkdir)",
		past:  "created",
		call: func(ctx context.Context, c *client.ClientWithResponses, o *apiFsActionOptions) (apiResult, error) {
			return c.FsMkdirWithResponse(ctx, &client.FsMkdirParams{Path: o.Path, SessionId: o.session()})
		},
	}
	fsDeleteAction = fsAction{
		use:       "delete <path>",
		short:     "Delete a file, a symlink or an empty directory; --recursive for a whole tree (DELETE /v1/fs/entry)",
		past:      "deleted",
		recursive: true,
		call: func(ctx context.Context, c *client.ClientWithResponses, o *apiFsActionOptions) (apiResult, error) {
			p := &client.FsDeleteEntryParams{Path: o.Path, SessionId: o.session()}
			if o.Recursive {
				p.Recursive = &o.Recursive
			}
			return c.FsDeleteEntryWithResponse(ctx, p)
		},
	}
)

type apiFsActionOptions struct {
	*apiFactory
	fsTarget
	action    fsAction
	Recursive bool
}

func newAPIFsMkdirCmd(f *apiFactory, runF func(context.Context, *apiFsActionOptions) error) *cobra.Command {
	return newAPIFsActionCmd(f, fsMkdirAction, runF)
}

func newAPIFsDeleteCmd(f *apiFactory, runF func(context.Context, *apiFsActionOptions) error) *cobra.Command {
	return newAPIFsActionCmd(f, fsDeleteAction, runF)
}

func newAPIFsActionCmd(f *apiFactory, action fsAction, runF func(context.Context, *apiFsActionOptions) error) *cobra.Command {
	opts := &apiFsActionOptions{apiFactory: f, action: action}
	cmd := &cobra.Command{
		Use:   action.use,
		Short: action.short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsAction(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	if action.recursive {
		cmd.Flags().BoolVarP(&opts.Recursive, "recursive", "r", false, "delete a directory and everything in it")
	}
	return cmd
}

func runAPIFsAction(ctx context.Context, opts *apiFsActionOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := opts.action.call(ctx, c, opts)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() {
		return opts.printJSON(res.GetBody())
	}
	var done client.FsActionResponse
	if err := json.Unmarshal(res.GetBody(), &done); err != nil {
		return fmt.Errorf("daemon sent an answer this client cannot read: %w", err)
	}
	_, err = fmt.Fprintf(opts.Out, "%s %s\n", opts.action.past, done.Path)
	return err
}

type apiFsMoveOptions struct {
	*apiFactory
	From, To  string
	Session   string
	Overwrite bool
}

func newAPIFsMoveCmd(f *apiFactory, runF func(context.Context, *apiFsMoveOptions) error) *cobra.Command {
	opts := &apiFsMoveOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:     "move <from> <to>",
		Aliases: []string{"mv"},
		Short:   "Move or rename a file or directory (POST /v1/fs/move)",
		Long:    "Move or rename, creating the destination's parents. An existing destination is an error unless\n--overwrite, which removes it first (recursively for a directory).",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.From, opts.To = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsMove(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Session, "session", "s", "", "session whose directory relative paths resolve against")
	cmd.Flags().BoolVar(&opts.Overwrite, "overwrite", false, "replace an existing destination")
	return cmd
}

func runAPIFsMove(ctx context.Context, opts *apiFsMoveOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body := client.FsMoveRequest{From: opts.From, To: opts.To}
	if opts.Overwrite {
		body.Overwrite = &opts.Overwrite
	}
	res, err := c.FsMoveWithResponse(ctx, &client.FsMoveParams{SessionId: optional(opts.Session)}, body)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	_, err = fmt.Fprintf(opts.Out, "moved %s → %s\n", res.JSON200.From, res.JSON200.To)
	return err
}
