package cli

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiProcessesOutputOptions struct {
	*apiFactory
	ID       string
	Encoding string
	Raw      bool
}

func newAPIProcessesOutputCmd(f *apiFactory, runF func(context.Context, *apiProcessesOutputOptions) error) *cobra.Command {
	opts := &apiProcessesOutputOptions{apiFactory: f}
	encodings := []string{string(client.GetProcessOutputParamsEncodingUtf8), string(client.GetProcessOutputParamsEncodingBase64)}
	cmd := &cobra.Command{
		Use:   "output <process-id>",
		Short: "Print the end of a process's stdout and stderr kept in memory (GET /v1/processes/{process_id}/output)",
		Long: "Print the newest output the daemon holds in memory (1 MiB); `processes logs` has all of it.\n" +
			"On a terminal (or with --raw) stdout goes to stdout and stderr to stderr, byte for byte. In JSON, the\n" +
			"API's object, with the streams as UTF-8 (invalid bytes replaced) or, with --encoding base64, exact.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if !client.GetProcessOutputParamsEncoding(opts.Encoding).Valid() {
				return usageError{fmt.Errorf("--encoding %q: want utf8 or base64", opts.Encoding)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesOutput(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Encoding, "encoding", encodings[0], "encoding of the streams in JSON: utf8 or base64")
	rawFlag(cmd, &opts.Raw)
	_ = cmd.RegisterFlagCompletionFunc("encoding", cobra.FixedCompletions(encodings, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runAPIProcessesOutput(ctx context.Context, opts *apiProcessesOutputOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	raw := opts.Raw || !opts.wantJSON()
	enc := client.GetProcessOutputParamsEncoding(opts.Encoding)
	if raw {
		enc = client.GetProcessOutputParamsEncodingBase64 // exact bytes
	}
	res, err := c.GetProcessOutputWithResponse(ctx, opts.ID, &client.GetProcessOutputParams{Encoding: &enc})
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if !raw || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	for _, s := range []struct {
		data string
		w    io.Writer
	}{{res.JSON200.Stdout, opts.Out}, {res.JSON200.Stderr, opts.Err}} {
		b, err := base64.StdEncoding.DecodeString(s.data)
		if err != nil {
			return fmt.Errorf("daemon sent output this client cannot read: %w", err)
		}
		if _, err := s.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

type apiProcessesLogsOptions struct {
	*apiFactory
	ID     string
	Stream string
	Output string
}

func newAPIProcessesLogsCmd(f *apiFactory, runF func(context.Context, *apiProcessesLogsOptions) error) *cobra.Command {
	opts := &apiProcessesLogsOptions{apiFactory: f}
	streams := []string{string(client.OutputStreamStdout), string(client.OutputStreamStderr)}
	cmd := &cobra.Command{
		Use:   "logs <process-id> stdout|stderr",
		Short: "Download the whole of one output stream, byte for byte (GET /v1/processes/{process_id}/logs/{stream})",
		Args:  cobra.ExactArgs(2),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return streams, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID, opts.Stream = args[0], args[1]
			if !client.OutputStream(opts.Stream).Valid() {
				return usageError{fmt.Errorf("stream %q: want stdout or stderr", opts.Stream)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesLogs(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

func runAPIProcessesLogs(ctx context.Context, opts *apiProcessesLogsOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.GetProcessLog(ctx, opts.ID, client.OutputStream(opts.Stream))
	return opts.download(res, err, opts.Output)
}

type apiProcessesStdinOptions struct {
	*apiFactory
	ID    string
	Text  *string // nil: stream standard input
	Close bool
}

func newAPIProcessesStdinCmd(f *apiFactory, runF func(context.Context, *apiProcessesStdinOptions) error) *cobra.Command {
	opts := &apiProcessesStdinOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "stdin <process-id> [text|-]",
		Short: "Write to a process's standard input (POST /v1/processes/{process_id}/stdin)",
		Long: "Write the text, as given (add the newline yourself), or stream this command's standard input when\n" +
			"the text is - or missing. --close closes the process's stdin afterwards. The process must have been\n" +
			"started with --stdin.",
		Example: "  agentd api processes stdin proc_3f2a9c0b1d4e $'hello\\n'\n  cat data.csv | agentd api processes stdin proc_3f2a9c0b1d4e --close",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID, opts.Text = args[0], nil
			if len(args) == 2 && args[1] != "-" {
				opts.Text = &args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIProcessesStdin(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Close, "close", false, "close the process's stdin after writing")
	return cmd
}

func runAPIProcessesStdin(ctx context.Context, opts *apiProcessesStdinOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body, size := textOrStdin(opts.IO, opts.Text)
	params := &client.WriteProcessStdinParams{}
	if opts.Close {
		params.Close = &opts.Close
	}
	res, err := c.WriteProcessStdinWithBodyWithResponse(ctx, opts.ID, params, "application/octet-stream", body, contentLength(size))
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	_, err = fmt.Fprintf(opts.Out, "wrote %d bytes\n", res.JSON200.BytesWritten)
	return err
}

// textOrStdin is the body of an input command: the text given, or this
// command's standard input streamed as it comes.
func textOrStdin(streams IO, text *string) (io.Reader, int64) {
	if text != nil {
		return strings.NewReader(*text), int64(len(*text))
	}
	in, _, _ := openInput(streams, "-")
	return in, -1
}
