package cli

// Following process and terminal output: SSE streams whose frames carry
// ids the daemon resumes after (Last-Event-ID), ending with an `exit`
// frame; reconnecting after it answers 204.

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

// resumableStream follows one SSE stream across dropped connections. open
// sends the request, resuming after lastID when it is set; handle takes
// each frame and says when the stream is complete.
type resumableStream struct {
	f      *apiFactory
	open   func(ctx context.Context, lastID string) (*http.Response, error)
	handle func(frame sseFrame) (done bool, err error)
	lastID string
	// stalled says what keeps happening when reconnects bring nothing new
	// ("" : the stream keeps ending without new output).
	stalled string
	// connected is set once a stream was open: only then is a failure a
	// dropped connection worth retrying.
	connected bool
}

// run reads the stream until handle says it is complete, the daemon
// answers 204 (nothing more will come) or ctx ends (nil: the user stopped
// it). A dropped connection is resumed after a backoff, at most
// f.Retries times in a row without a frame in between.
func (s *resumableStream) run(ctx context.Context) error {
	backoff, failures := s.f.Backoff, 0
	for {
		before := s.lastID
		done, err := s.once(ctx)
		if done || ctx.Err() != nil {
			return nil
		}
		var ae *apiError
		var pe printError
		switch {
		case errors.As(err, &ae):
			return err
		case errors.As(err, &pe):
			return pe.error
		case !s.connected:
			return s.f.transportError(err)
		}
		if s.lastID != before {
			backoff, failures = s.f.Backoff, 0
			if err == nil {
				continue // the daemon closed a stream that brought frames: ask again at once
			}
		}
		failures++
		if failures > s.f.Retries {
			if err == nil {
				err = errors.New(cmp.Or(s.stalled, "the stream keeps ending without new output"))
			}
			return s.f.transportError(err)
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// once opens one connection and reads it; err is why it failed (nil when
// the daemon closed it before the stream was complete).
func (s *resumableStream) once(ctx context.Context) (done bool, err error) {
	res, err := s.open(ctx, s.lastID)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusNoContent:
		return true, nil
	case http.StatusOK:
	default:
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return false, s.f.problem(res.StatusCode, body)
	}
	s.connected = true
	r := newSSEReader(res.Body)
	for {
		frame, err := r.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return false, nil
			}
			return false, err
		}
		done, err := s.handle(frame)
		if err != nil {
			return false, printError{err}
		}
		// Past the handler only: a frame it could not print is not done.
		s.lastID = frame.ID
		if done {
			return true, nil
		}
	}
}

// lastEventID is the Last-Event-ID header of a resumed request.
func lastEventID(id string) *string { return optional(id) }

// outputPrinter prints the frames of an output stream: as JSON lines, or
// (raw) the decoded bytes, stdout to Out and stderr to Err.
type outputPrinter struct {
	f   *apiFactory
	raw bool
	// exited describes the exit frame's state for the human summary.
	exited func(data []byte) (string, error)
}

// chunk is the part of an output frame that raw printing reads.
type chunk struct {
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

func (p *outputPrinter) handle(frame sseFrame) (bool, error) {
	switch frame.Event {
	case "error":
		var e client.StreamError
		_ = json.Unmarshal([]byte(frame.Data), &e)
		return false, fmt.Errorf("the daemon ended the stream: %s", e.Message)
	case "output", "exit":
	default:
		return false, nil // an event this client does not know: skipped
	}
	if !p.raw {
		return frame.Event == "exit", p.f.printFrame(frame)
	}
	if frame.Event == "exit" {
		summary, err := p.exited([]byte(frame.Data))
		if err != nil {
			return false, err
		}
		_, err = fmt.Fprintln(p.f.Err, summary)
		return true, err
	}
	var c chunk
	if err := json.Unmarshal([]byte(frame.Data), &c); err != nil {
		return false, fmt.Errorf("daemon sent output this client cannot read: %w", err)
	}
	b, err := base64.StdEncoding.DecodeString(c.Data)
	if err != nil {
		return false, fmt.Errorf("daemon sent output this client cannot read: %w", err)
	}
	w := p.f.Out
	if c.Stream == string(client.OutputStreamStderr) {
		w = p.f.Err
	}
	_, err = w.Write(b)
	return false, err
}

// rawFlag adds --raw: decoded bytes even when output is not a terminal.
func rawFlag(cmd *cobra.Command, raw *bool) {
	cmd.Flags().BoolVar(raw, "raw", false, "write the output bytes as they are, even when standard output is not a terminal")
}

type apiProcessesFollowOptions struct {
	*apiFactory
	ID    string
	After uint64
	Raw   bool
}

func newAPIProcessesFollowCmd(f *apiFactory, runF func(context.Context, *apiProcessesFollowOptions) error) *cobra.Command {
	opts := &apiProcessesFollowOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "follow <process-id>",
		Short: "Print a process's output from the start, then live, until it exits (GET /v1/processes/{process_id}/output/sse)",
		Long: "Print the process's output from the start (or after chunk --after), then live, until it has exited\n" +
			"and everything was printed; a dropped connection is resumed with Last-Event-ID.\n" +
			"On a terminal (or with --raw) stdout goes to stdout and stderr to stderr, byte for byte, and the exit\n" +
			"is reported on stderr. In JSON each line is {\"event\":\"output\",\"data\":{seq,stream,offset,data}}\n" +
			"(data base64), and the last {\"event\":\"exit\",\"data\":<the process>}.",
		Example: "  agentd api processes follow proc_3f2a9c0b1d4e\n  agentd api processes follow proc_3f2a9c0b1d4e --raw > out.log",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if opts.After > 1<<62 {
				return usageError{errors.New("--after must fit in 63 bits")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesFollow(cmd.Context(), opts)
		},
	}
	cmd.Flags().Uint64Var(&opts.After, "after", 0, "start after this chunk sequence")
	rawFlag(cmd, &opts.Raw)
	return cmd
}

func runAPIProcessesFollow(ctx context.Context, opts *apiProcessesFollowOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	p := &outputPrinter{f: opts.apiFactory, raw: opts.Raw || !opts.wantJSON(), exited: processExit}
	s := &resumableStream{f: opts.apiFactory, handle: p.handle}
	s.open = func(ctx context.Context, lastID string) (*http.Response, error) {
		params := &client.FollowProcessOutputParams{LastEventID: lastEventID(lastID)}
		if opts.After > 0 {
			after := int64(opts.After)
			params.After = &after
		}
		return c.FollowProcessOutput(ctx, opts.ID, params, acceptEventStream)
	}
	return s.run(ctx)
}

func processExit(data []byte) (string, error) {
	var p client.ProcessInfo
	if err := json.Unmarshal(data, &p); err != nil {
		return "", fmt.Errorf("daemon sent a process this client cannot read: %w", err)
	}
	return fmt.Sprintf("[%s exited: %s]", p.Id, exitSummary(p.ExitCode, p.Signal, p.TimedOut)), nil
}
