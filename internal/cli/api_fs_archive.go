package cli

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiFsUploadOptions struct {
	*apiFactory
	fsTarget
	Input string // a tar file, or "-" for standard input
}

func newAPIFsUploadCmd(f *apiFactory, runF func(context.Context, *apiFsUploadOptions) error) *cobra.Command {
	opts := &apiFsUploadOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "upload <dest-dir> <tar file|->",
		Short: "Extract a tar archive (plain or gzip-compressed) into a directory (POST /v1/fs/upload-batch)",
		Long: "Stream a tar archive, plain or gzip-compressed, from a file or standard input (-) and extract it\n" +
			"into dest-dir, which is created if missing. Entries must stay inside the directory.",
		Example: "  tar -C src -cz . | agentd api fs upload work/src -\n  agentd api fs upload . bundle.tar",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path, opts.Input = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsUpload(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	return cmd
}

func runAPIFsUpload(ctx context.Context, opts *apiFsUploadOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	body, size, err := openInput(opts.IO, opts.Input)
	if err != nil {
		return err
	}
	defer body.Close()
	// The daemon recognises gzip by its magic bytes, whatever the type says.
	res, err := c.FsUploadBatchWithBodyWithResponse(ctx, &client.FsUploadBatchParams{Path: &opts.Path, SessionId: opts.session()},
		"application/x-tar", body, contentLength(size))
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	for _, p := range res.JSON200.Paths {
		fmt.Fprintln(opts.Out, p)
	}
	if res.JSON200.Truncated {
		_, err = fmt.Fprintln(opts.Out, "… and more (only the first paths are listed)")
	}
	return err
}

type apiFsArchiveOptions struct {
	*apiFactory
	fsTarget
	Format string
	Output string
}

func newAPIFsArchiveCmd(f *apiFactory, runF func(context.Context, *apiFsArchiveOptions) error) *cobra.Command {
	opts := &apiFsArchiveOptions{apiFactory: f}
	formats := []string{string(client.FsArchiveFormatTarGz), string(client.FsArchiveFormatZip)}
	cmd := &cobra.Command{
		Use:   "archive <path>",
		Short: "Download a directory as a tar.gz or zip archive (GET /v1/fs/archive)",
		Long: "Download the directory as an archive, to the file -o names or to standard output (not a terminal).\n" +
			"Uploading the tar.gz with `agentd api fs upload` restores it.",
		Example: "  agentd api fs archive work -o work.tar.gz\n  agentd api fs archive work | tar -xz -C restored",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if !client.FsArchiveFormat(opts.Format).Valid() {
				return usageError{fmt.Errorf("--format %q: want tar.gz or zip", opts.Format)}
			}
			if (opts.Output == "" || opts.Output == "-") && f.isTerminal() {
				return errTerminalOutput
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPIFsArchive(cmd.Context(), opts)
		},
	}
	opts.addSessionFlag(cmd)
	cmd.Flags().StringVar(&opts.Format, "format", formats[0], "archive format: tar.gz or zip")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "", "write to this file instead of standard output")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions(formats, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runAPIFsArchive(ctx context.Context, opts *apiFsArchiveOptions) error {
	c, err := opts.Client()
	if err != nil {
		return err
	}
	format := client.FsArchiveFormat(opts.Format)
	res, err := c.FsArchive(ctx, &client.FsArchiveParams{Path: &opts.Path, Format: &format, SessionId: opts.session()})
	return opts.download(res, err, opts.Output)
}
