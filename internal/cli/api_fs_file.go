package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiFsReadOptions struct {
	*apiFactory
	fsTarget
	Output string
	Range  string
}

func newAPIFsReadCmd(f *apiFactory, runF func(context.Context, *apiFsReadOptions) error) *cobra.Command {
	opts := &apiFsReadOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:     "read <path>",
		Aliases: []string{"cat"},
		Short:   "Print a file's raw bytes (GET /v1/fs/file)",
		Long: "Write the file's bytes, unchanged, to standard output or to the file -o names.\n" +
			"--range asks for part of it: FIRST-LAST, FIRST- or -SUFFIX bytes (HTTP Range syntax).",
		Example: "  agentd api fs read notes.txt\n  agentd api fs read build/app.bin -o app.bin\n  agentd api fs read big.log --range -4096",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if opts.Range != "" && !byteRange.MatchString(opts.Range) {
				return usageError{fmt.Errorf("--range %q is not FIRST-LAST, FIRST- or -SUFFIX", opts.Range)}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsRead(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&opts.Range, "range", "", "bytes to read: FIRST-LAST, FIRST- or -SUFFIX")
	return cmd
}

// byteRange is one range of an HTTP Range header, without its unit.
var byteRange = regexp.MustCompile(`^(\d+-\d*|-\d+)$`)

func runAPIFsRead(ctx context.Context, opts *apiFsReadOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	var editors []client.RequestEditorFn
	if opts.Range != "" {
		editors = append(editors, setHeader("Range", "bytes="+opts.Range))
	}
	res, err := c.FsReadFile(ctx, &client.FsReadFileParams{Path: opts.Path, SessionId: opts.session()}, editors...)
	return opts.download(res, err, opts.Output)
}

// download writes the body of a raw response (200, or 206 for a range)
// to output: a file, or standard output when empty or "-".
func (f *apiFactory) download(res *http.Response, err error, output string) error {
	if err != nil {
		return f.transportError(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusPartialContent {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		return f.problem(res.StatusCode, body)
	}
	if output == "" || output == "-" {
		if _, err := io.Copy(f.Out, res.Body); err != nil {
			return fmt.Errorf("download: %w", err)
		}
		return nil
	}
	return saveFile(output, res.Body)
}

// saveFile writes r to path, removing what it wrote if the copy fails so
// a cut download does not pass for a whole one.
func saveFile(path string, r io.Reader) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(file, r)
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("download to %s: %w", path, err)
	}
	return nil
}

func setHeader(name, value string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set(name, value)
		return nil
	}
}

type apiFsWriteOptions struct {
	*apiFactory
	fsTarget
	Input string // a file, or "-" for standard input
}

func newAPIFsWriteCmd(f *apiFactory, runF func(context.Context, *apiFsWriteOptions) error) *cobra.Command {
	opts := &apiFsWriteOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "write <path> [file|-]",
		Short: "Write a file from a local file or standard input (PUT /v1/fs/file)",
		Long: "Stream the bytes of a local file, or of standard input when the file is - or missing, to the\n" +
			"file at path, unchanged. Missing parent directories are created; the daemon replaces the file only\n" +
			"once every byte has arrived.",
		Example: "  agentd api fs write app.bin ./build/app.bin\n  echo hello | agentd api fs write notes/hello.txt",
		Args:    cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path, opts.Input = args[0], "-"
			if len(args) == 2 {
				opts.Input = args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsWrite(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	return cmd
}

func runAPIFsWrite(ctx context.Context, opts *apiFsWriteOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body, size, err := openInput(opts.IO, opts.Input)
	if err != nil {
		return err
	}
	defer body.Close()
	res, err := c.FsWriteFileWithBodyWithResponse(ctx, &client.FsWriteFileParams{Path: opts.Path, SessionId: opts.session()},
		"application/octet-stream", body, contentLength(size))
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	_, err = fmt.Fprintf(opts.Out, "wrote %d bytes to %s\n", res.JSON200.BytesWritten, res.JSON200.Path)
	return err
}

// openInput opens a request body: a file, or standard input for "-". size
// is the file's length, or -1 when unknown.
func openInput(streams IO, name string) (io.ReadCloser, int64, error) {
	if name == "-" {
		in := streams.In
		if in == nil {
			in = os.Stdin
		}
		return io.NopCloser(in), -1, nil
	}
	file, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	st, err := file.Stat()
	switch {
	case err != nil:
		file.Close()
		return nil, 0, err
	case st.IsDir():
		file.Close()
		return nil, 0, usageError{fmt.Errorf("%s is a directory", name)}
	case !st.Mode().IsRegular():
		return file, -1, nil
	}
	return file, st.Size(), nil
}

// contentLength announces a body's length when it is known, so the daemon
// can refuse one over its cap before it is sent; otherwise the body goes
// chunked.
func contentLength(size int64) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		if size > 0 {
			req.ContentLength = size
		}
		return nil
	}
}

// errTerminalOutput refuses to print binary data on a terminal.
var errTerminalOutput = usageError{errors.New("refusing to write binary data to a terminal: use -o or redirect standard output")}
