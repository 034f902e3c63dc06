package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiFsWatchOptions struct {
	*apiFactory
	fsTarget
}

func newAPIFsWatchCmd(f *apiFactory, runF func(context.Context, *apiFsWatchOptions) error) *cobra.Command {
	opts := &apiFsWatchOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "watch [path]",
		Short: "Print changes below a directory as they happen (GET /v1/fs/watch)",
		Long: "Print the changes below the directory, recursively: first a ready line once the daemon has taken\n" +
			"its snapshot, then one line per created, modified or deleted path, until Ctrl-C. In JSON, each line\n" +
			"is {\"event\":\"ready\"|\"change\"|\"error\",\"data\":{…}}. The stream cannot be resumed: when it\n" +
			"ends (the directory was removed, the daemon stopped) the command fails.",
		Example: "  agentd api fs watch src\n  agentd api fs watch . --json | jq -r 'select(.event==\"change\") | .data.path'",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = "."
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsWatch(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	return cmd
}

func runAPIFsWatch(ctx context.Context, opts *apiFsWatchOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.FsWatch(ctx, &client.FsWatchParams{Path: &opts.Path, SessionId: opts.session()}, acceptEventStream)
	body, err := opts.openStream(res, err)
	if err != nil {
		return err
	}
	defer body.Close()
	r := newSSEReader(body)
	for {
		frame, err := r.Next()
		if ctx.Err() != nil {
			return nil // stopped by the user
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("the daemon ended the watch stream")
			}
			return opts.transportError(err)
		}
		if err := opts.printWatchFrame(frame); err != nil {
			return err
		}
	}
}

// openStream checks the answer to an SSE request: the open body on 200,
// else the problem (or network error) it stands for.
func (f *apiFactory) openStream(res *http.Response, err error) (io.ReadCloser, error) {
	if err != nil {
		return nil, f.transportError(err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return nil, f.problem(res.StatusCode, body)
	}
	return res.Body, nil
}

func (f *apiFactory) printWatchFrame(frame sseFrame) error {
	if frame.Event == "error" {
		var e client.StreamError
		_ = json.Unmarshal([]byte(frame.Data), &e)
		if f.wantJSON() {
			if err := f.printFrame(frame); err != nil {
				return err
			}
		}
		return fmt.Errorf("watch ended: %s", e.Message)
	}
	if f.wantJSON() {
		return f.printFrame(frame)
	}
	var err error
	switch frame.Event {
	case "ready":
		var r client.FsWatchReady
		if err := json.Unmarshal([]byte(frame.Data), &r); err != nil {
			return fmt.Errorf("daemon sent a frame this client cannot read: %w", err)
		}
		_, err = fmt.Fprintf(f.Out, "watching %s (%d entries)\n", r.Path, r.Entries)
	case "change":
		var ch client.FsChange
		if err := json.Unmarshal([]byte(frame.Data), &ch); err != nil {
			return fmt.Errorf("daemon sent a frame this client cannot read: %w", err)
		}
		_, err = fmt.Fprintf(f.Out, "%-8s  %-9s  %s\n", ch.Type, ch.EntryType, ch.Path)
	}
	return err
}

// printFrame writes one SSE frame as a JSON line: its event name and its
// data, which the daemon sends as JSON.
func (f *apiFactory) printFrame(frame sseFrame) error {
	return f.printValue(struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}{frame.Event, json.RawMessage(frame.Data)})
}
